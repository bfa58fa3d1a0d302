"""Virtual environment paths, the identity of a venv instance, and health checks."""

from __future__ import annotations

import os
import sys

from ._digest import hex_digest
from ._errors import InvalidInput

_BIN, _EXE = ("Scripts", "python.exe") if sys.platform == "win32" else ("bin", "python")
_UV_VENV_LAYOUT = {"CACHEDIR.TAG", ".gitignore", ".lock", "pyvenv.cfg", _BIN, "lib", "Lib", "lib64", "include", "share"}


class Venv:
    """A virtual environment at an absolute path (it may not exist yet)."""

    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.abspath(os.fspath(path))

    @property
    def python(self) -> str:
        """The venv's own interpreter."""
        return os.path.join(self.path, _BIN, _EXE)

    @property
    def cfg(self) -> str:
        return os.path.join(self.path, "pyvenv.cfg")

    def check_path(self) -> None:
        """Raise :class:`InvalidInput` when the path can never hold a venv."""
        try:
            self.path.encode("utf-8")
        except UnicodeEncodeError as e:
            msg = f"venv path {self.path!r} is not valid UTF-8 (uv and the venv's scripts could not use it)"
            raise InvalidInput(msg) from e
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            msg = f"venv path {self.path} exists and is not a directory"
            raise InvalidInput(msg)

    def problem(self) -> str | None:
        """Why this venv cannot be used as it is, or ``None`` when it looks healthy."""
        if not os.path.isdir(self.path):
            return f"{self.path} does not exist"
        if not os.path.isfile(self.cfg):
            return f"{self.cfg} is missing"
        if not os.path.exists(self.python):  # follows the link to the base interpreter
            return f"its interpreter {self.python} is missing or points at nothing"
        return None

    def is_replaceable(self) -> bool:
        """True when the directory may be cleared to make a venv: empty, or something that was a venv."""
        try:
            entries = set(os.listdir(self.path))
        except FileNotFoundError:
            return True
        return not entries or "pyvenv.cfg" in entries or (_BIN in entries and ("lib" in entries or "Lib" in entries))

    def is_partial(self) -> bool:
        """True when the directory holds nothing but what ``uv venv`` writes (a creation that may be unfinished)."""
        try:
            entries = set(os.listdir(self.path))
        except FileNotFoundError:
            return True
        return entries <= _UV_VENV_LAYOUT

    def identity(self) -> dict[str, object]:
        """Cheap facts (stat calls and one small read) that change when the venv is recreated or its Python changes."""
        with open(self.cfg, "rb") as f:
            cfg = f.read()
        cfg_stat = os.stat(self.cfg)
        base = os.path.realpath(self.python)
        base_stat = os.stat(base)
        return {
            "pyvenv_cfg": [hex_digest(cfg), cfg_stat.st_ino, cfg_stat.st_mtime_ns],
            "base_python": [base, base_stat.st_ino, base_stat.st_size, base_stat.st_mtime_ns],
        }
