"""Virtual environment paths, the identity of a venv instance, and health checks (what a hit needs of a venv;
making room for a new one is :mod:`._clearing`'s)."""

from __future__ import annotations

import os
import sys

from ._digest import hex_digest

#: the directory of a venv's scripts, and its interpreter's name
BIN, _EXE = ("Scripts", "python.exe") if sys.platform == "win32" else ("bin", "python")


class Venv:
    """A virtual environment at an absolute path (it may not exist yet)."""

    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.abspath(os.fspath(path))

    @property
    def python(self) -> str:
        """The venv's own interpreter."""
        return os.path.join(self.path, BIN, _EXE)

    @property
    def cfg(self) -> str:
        return os.path.join(self.path, "pyvenv.cfg")

    def check_path(self) -> None:
        """Raise :class:`InvalidInput` when the path can never hold a venv."""
        try:
            self.path.encode("utf-8")
        except UnicodeEncodeError as e:
            msg = f"venv path {self.path!r} is not valid UTF-8 (uv and the venv's scripts could not use it)"
            raise _invalid(msg) from e
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            msg = f"venv path {self.path} exists and is not a directory"
            raise _invalid(msg)

    def problem(self) -> str | None:
        """Why this venv cannot be used as it is, or ``None`` when it looks healthy."""
        if not os.path.isdir(self.path):
            return f"{self.path} does not exist"
        if not os.path.isfile(self.cfg):
            return f"{self.cfg} is missing"
        if not os.path.exists(self.python):  # follows the link to the base interpreter
            return f"its interpreter {self.python} is missing or points at nothing"
        return None

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


def _invalid(msg: str) -> Exception:
    from ._errors import InvalidInput  # here: a hit that raises nothing does not import the exceptions

    return InvalidInput(msg)
