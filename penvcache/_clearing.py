"""Making room for a venv: the paths penvcache refuses to make one in, and what it may clear (never what it did not
create), with the mark that licenses clearing a partial venv a killed creation left. Only a miss that must
create the venv imports this.
"""

from __future__ import annotations

import os
import sys

from ._errors import InstallFailed, InvalidInput
from ._venv import BIN, Venv

# What `uv venv` writes (and `.lock`, taken by uv's installs): the only names a partial venv may be cleared of.
_UV_VENV_LAYOUT = {"CACHEDIR.TAG", ".gitignore", ".lock", "pyvenv.cfg", BIN, "lib", "Lib", "lib64", "include"}


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
    """The licence to clear a partial venv: the identity (st_dev, st_ino) of a directory penvcache made or emptied.

    It lives in the venv's cache entry while uv creates the venv; a kill leaves it behind. The next creation may
    clear the directory only while it is the same directory (same identity) and holds nothing but uv's layout.
    """

    def __init__(self, directory: str, venv: Venv) -> None:
        self.path = os.path.join(directory, "creating")
        self.venv = venv

    def _recorded(self) -> list[object] | None:
        import json

        try:
            with open(self.path, "rb") as f:
                data = json.loads(f.read(4096))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("venv") != self.venv.path:
            return None
        identity = data.get("identity")
        return identity if isinstance(identity, list) else None

    def matches(self, st: os.stat_result) -> bool:
        return self._recorded() == [st.st_dev, st.st_ino]

    def write(self, st: os.stat_result) -> None:
        from ._state import write_json

        write_json(self.path, {"venv": self.venv.path, "identity": [st.st_dev, st.st_ino]})

    def remove(self) -> None:
        import contextlib  # not on the hit path

        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)


def make_room(venv: Venv, mark: CreationMark) -> None:
    """Leave an empty directory at the venv's path for ``uv venv``, deleting only what penvcache may delete.

    * absent: penvcache makes it (and its parents);
    * empty: used as it is;
    * a venv (it has ``pyvenv.cfg``): emptied, ``pyvenv.cfg`` last, so that a kill part way leaves a venv;
    * a partial venv penvcache was creating (the mark names this very directory) that holds only uv's layout:
      emptied;
    * anything else: :class:`InvalidInput`, nothing touched.

    The mark records the directory's identity before anything is written into it; the caller removes it once
    the venv is whole.
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
            return
        doing = f"cannot list the venv directory {path}"
        entries = set(os.listdir(path))
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
    except OSError as e:
        raise _fault(doing, e) from e


def _only_uv_layout(path: str, entries: set[str]) -> bool:
    """True when the directory holds nothing but what an unfinished ``uv venv`` writes, down to the files.

    A second check after the identity (an inode number can be reused): ``bin`` holds only interpreters and
    activation scripts, ``lib/pythonX.Y`` only ``site-packages`` with uv's ``_virtualenv`` files.
    """
    if not entries <= _UV_VENV_LAYOUT:
        return False
    for name in entries:
        full = os.path.join(path, name)
        if os.path.islink(full) or not os.path.isdir(full):
            continue  # a file or link of uv's layout (lib64 -> lib, CACHEDIR.TAG, .gitignore, .lock)
        if name == BIN:
            if not all(n.startswith(_SCRIPT_PREFIXES) for n in os.listdir(full)):
                return False
        elif name in ("lib", "Lib"):
            for version in os.listdir(full):
                if not version.lower().startswith("python") and version != "site-packages":
                    return False
                inner = os.path.join(full, version)
                sites = [inner] if version == "site-packages" else [os.path.join(inner, n) for n in os.listdir(inner)]
                for site in sites:
                    if os.path.basename(site) != "site-packages" or not set(os.listdir(site)) <= _UV_SITE:
                        return False
        elif os.listdir(full):  # include: uv leaves it empty
            return False
    return True


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
