"""Making room for a venv: the paths penvcache refuses to make one in, and what it may clear (never what it did not
create), with the mark that licenses clearing a partial venv a killed creation left. Only a miss that must
create the venv imports this.
"""

from __future__ import annotations

import os
import sys

from ._errors import InstallFailed, InvalidInput
from ._venv import BIN, Venv

#: The file penvcache writes in a venv directory it made or emptied, before uv creates the venv in it: it holds the
#: nonce the mark in the cache entry records, so a directory made again at the path is never taken for that one.
TOKEN = ".penvcache-creating"
# What `uv venv` writes (and `.lock`, taken by uv's installs), and the token: the only names a partial venv may be
# cleared of.
_UV_VENV_LAYOUT = {"CACHEDIR.TAG", ".gitignore", ".lock", "pyvenv.cfg", BIN, "lib", "Lib", "lib64", "include", TOKEN}


def check_target(venv: Venv) -> None:
    """Raise :class:`InvalidInput` for a path penvcache must never make into a venv or replace (on a miss only).

    ``/``, the home directory and its parents, the base interpreter's prefix and the system's own directories.
    """
    real = os.path.realpath(venv.path)
    refused = _refused_paths()
    if real in refused:
        msg = f"--venv {venv.path} is {refused[real]}: refusing to make a venv there; choose a directory of its own"
        raise InvalidInput(msg)


def _refused_paths() -> dict[str, str]:
    """Real paths never used as a venv, each with what it is."""
    refused = {os.path.realpath(path): "a system directory" for path in _SYSTEM_DIRS}
    for path in (sys.base_prefix, sys.base_exec_prefix):
        refused[os.path.realpath(path)] = f"the prefix of the base interpreter ({path})"
    homes = {os.path.expanduser("~")}
    try:
        import pwd

        homes.add(pwd.getpwuid(os.getuid()).pw_dir)
    except (ImportError, KeyError, OSError):
        pass
    for home in homes:
        real = os.path.realpath(home)
        parent = os.path.dirname(real)
        while parent != os.path.dirname(parent):  # the parents of the home directory, up to /
            refused.setdefault(parent, "a parent of the home directory")
            parent = os.path.dirname(parent)
        refused[real] = "the home directory"
    refused[os.path.realpath(os.sep)] = "the root directory"
    return refused


_SYSTEM_DIRS = (
    "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/media", "/mnt", "/nix", "/opt", "/proc",
    "/root", "/run", "/sbin", "/snap", "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/lib", "/usr/local",
    "/usr/local/bin", "/usr/local/lib", "/var",
)  # fmt: skip


class CreationMark:
    """The licence to clear a partial venv penvcache was creating: the identity (st_dev, st_ino) of the directory it
    made or emptied, and a nonce, recorded in the venv's cache entry and written into the directory (:data:`TOKEN`)
    before uv creates the venv there; a kill leaves both behind.

    The next creation may clear the directory only while it is the same directory (same identity), still holds the
    same nonce (a directory made again at the path can get the old one's inode number, as ext4 gives it, but not
    the file) and holds nothing but uv's layout.
    """

    def __init__(self, directory: str, venv: Venv) -> None:
        self.path = os.path.join(directory, "creating")
        self.venv = venv
        self.token = os.path.join(venv.path, TOKEN)
        self._nonce = ""

    def _recorded(self) -> dict[str, object] | None:
        import json

        try:
            with open(self.path, "rb") as f:
                data = json.loads(f.read(4096))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("venv") != self.venv.path:
            return None
        return data

    def matches(self, st: os.stat_result) -> bool:
        """True when the mark names this very directory: its identity and the nonce of the token in it."""
        data = self._recorded()
        if data is None or data.get("identity") != [st.st_dev, st.st_ino] or type(data.get("nonce")) is not str:
            return False
        return self._token_nonce() == data["nonce"]

    def _token_nonce(self) -> str | None:
        """The nonce in the directory's token, or None (missing, not a regular file, unreadable)."""
        import stat

        try:
            fd = os.open(self.token, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            return None
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return f.read(128).decode("ascii", "replace")

    def write(self, st: os.stat_result) -> None:
        """Record the directory, with a new nonce; :meth:`place` puts it in the directory once that is empty."""
        import secrets

        from ._state import write_json

        nonce = secrets.token_hex(16)
        write_json(self.path, {"venv": self.venv.path, "identity": [st.st_dev, st.st_ino], "nonce": nonce})
        self._nonce = nonce

    def place(self) -> None:
        """Put the recorded nonce in the (empty) directory: a kill before leaves an empty directory, which needs no
        licence to be used."""
        nonce = self._nonce
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.token, flags, 0o644)
        with os.fdopen(fd, "w") as f:
            f.write(nonce)

    def remove(self) -> None:
        """Drop the record (a mark that names another directory, or none: it can never licence this one)."""
        import contextlib  # not on the hit path

        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)

    def release(self) -> None:
        """The venv is whole: remove the token (only while it holds the recorded nonce) and the record."""
        import contextlib

        data = self._recorded()
        if data is not None and type(data.get("nonce")) is str and self._token_nonce() == data["nonce"]:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.token)
        self.remove()


def make_room(venv: Venv, mark: CreationMark) -> None:
    """Leave an empty directory at the venv's path for ``uv venv``, deleting only what penvcache may delete.

    * absent: penvcache makes it (and its parents);
    * empty: used as it is;
    * a venv (it has ``pyvenv.cfg``): emptied, ``pyvenv.cfg`` last, so that a kill part way leaves a venv;
    * a partial venv penvcache was creating (the mark names this very directory) that holds only uv's layout:
      emptied;
    * anything else: :class:`InvalidInput`, nothing touched.

    The mark records the directory's identity and puts its token in it before uv writes anything there (uv is
    then run with ``--allow-existing``); the caller releases it once the venv is whole.
    """
    path = venv.path
    doing = f"cannot create the venv directory {path}"
    try:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            os.makedirs(path)
            doing = f"cannot record in the cache entry that penvcache is creating {path}"
            mark.write(os.stat(path))
            mark.place()
            return
        doing = f"cannot list the venv directory {path}"
        entries = set(os.listdir(path))
        if entries == {TOKEN}:  # a creation killed before uv wrote anything, its record gone since: empty
            os.remove(os.path.join(path, TOKEN))
            entries = set()
        if entries and "pyvenv.cfg" not in entries and not (mark.matches(st) and _only_uv_layout(path, entries)):
            mark.remove()  # it names another directory (or nothing): it can never licence this one
            listed = ", ".join(sorted(entries)[:3]) + (", ..." if len(entries) > 3 else "")
            msg = (
                f"{path} is not empty ({listed}) and is not a virtual environment (no pyvenv.cfg): refusing to "
                "replace it; choose another --venv or remove it yourself"
            )
            raise InvalidInput(msg)
        doing = f"cannot record in the cache entry that penvcache is creating {path}"
        mark.write(st)
        doing = f"cannot clear the old venv {path}"
        for name in sorted(entries - {"pyvenv.cfg"}) + sorted(entries & {"pyvenv.cfg"}):
            _remove(os.path.join(path, name))
        doing = f"cannot mark the venv directory {path} as penvcache's"
        mark.place()
    except OSError as e:
        raise _fault(doing, e) from e


def _only_uv_layout(path: str, entries: set[str]) -> bool:
    """True when the directory holds nothing but what an unfinished ``uv venv`` writes, down to the files.

    A second check after the identity and the token: ``bin``, ``lib`` and ``include`` are directories, ``bin``
    holds only interpreters and activation scripts, ``lib/pythonX.Y`` only ``site-packages`` with uv's
    ``_virtualenv`` files.
    """
    if not entries <= _UV_VENV_LAYOUT:
        return False
    for name in entries:
        full = os.path.join(path, name)
        if os.path.islink(full) or not os.path.isdir(full):
            if name in _UV_DIRECTORIES:
                return False  # uv makes these directories: a file or link by that name is someone else's
        elif not _holds_only_uvs(name, full):
            return False
    return True  # the rest: files or links of uv's layout (lib64 -> lib, CACHEDIR.TAG, .gitignore, .lock, token)


def _holds_only_uvs(name: str, full: str) -> bool:
    """True when the directory ``name`` of a partial venv holds only what uv writes there."""
    if name == BIN:
        return all(n.startswith(_SCRIPT_PREFIXES) for n in os.listdir(full))
    if name not in ("lib", "Lib"):
        return not os.listdir(full)  # include: uv leaves it empty
    for version in os.listdir(full):
        if not version.lower().startswith("python") and version != "site-packages":
            return False
        inner = os.path.join(full, version)
        sites = [inner] if version == "site-packages" else [os.path.join(inner, n) for n in os.listdir(inner)]
        for site in sites:
            if os.path.basename(site) != "site-packages" or not set(os.listdir(site)) <= _UV_SITE:
                return False
    return True


_UV_DIRECTORIES = {BIN, "lib", "Lib", "include"}
_SCRIPT_PREFIXES = ("python", "pypy", "activate", "deactivate", "pydoc")
_UV_SITE = {"_virtualenv.py", "_virtualenv.pth", "__pycache__"}


def _remove(path: str) -> None:
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)


def _fault(what: str, e: OSError) -> InstallFailed:
    """A file-system fault (full disk, read-only, no permission, I/O error) as one line naming the path."""
    where = f" ({e.filename})" if e.filename and e.filename not in what else ""
    return InstallFailed(f"{what}{where}: {e.strerror or e}")
