"""Local projects in the key: what would change the metadata of a local directory or archive requirement.

A directory's key follows uv's ``[tool.uv] cache-keys`` (by default its ``pyproject.toml``, ``setup.py`` and
``setup.cfg``), by content where uv uses modification times: ``{ file = "GLOB" }`` (or a plain string) hashes
every matching file, ``{ dir = "PATH" }`` takes the directory's modification time as uv does, ``{ env = "NAME" }``
the variable's value, ``{ git = ... }`` the checked-out commit (and with ``tags = true`` the tags). The
``pyproject.toml`` is always in the key: it holds the keys themselves. An archive's key is its bytes, hashed
again only when its stat changes.

:func:`describe` reads a project once (on a miss, ``tomllib`` allowed); :func:`digest_of` recomputes the key of
a recorded description on every hit with plain reads and stat calls (``glob`` only for a configured pattern).
"""

from __future__ import annotations

import os
import sys

from ._digest import sha256

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from typing import Any

#: uv's default cache keys for a local directory
DEFAULT_KEYS = (["file", "pyproject.toml"], ["file", "setup.py"], ["file", "setup.cfg"])
_GLOB = "*?["


def describe(path: str) -> list[Any]:
    """What to record for a local path or archive: ``[path, "dir", keys, digest]`` or
    ``[path, "archive", stat, digest]``. A path that cannot be read is ``[path, "missing", None, "missing"]``."""
    if os.path.isdir(path):
        keys = _cache_keys(path)
        return [path, "dir", keys, _dir_digest(path, keys)]
    try:
        st = os.stat(path)
    except OSError:
        return [path, "missing", None, "missing"]
    found = _read(path)
    if found is None:
        return [path, "missing", None, "missing"]
    return [path, "archive", [st.st_ino, st.st_size, st.st_mtime_ns], found]


def digest_of(recorded: list[Any]) -> tuple[str, list[Any]]:
    """The key of a recorded project now, and its description (the same list when nothing had to be read again)."""
    path, kind, keys, digest = recorded
    if kind == "dir" and os.path.isdir(path):
        # the pyproject.toml holds the keys: while its bytes are the same, the recorded keys are the current ones
        now = _dir_digest(path, keys)
        return now, recorded if now == digest else [path, kind, keys, now]
    if kind == "archive":
        try:
            st = os.stat(path)
        except OSError:
            return "missing", [path, "missing", None, "missing"]
        if [st.st_ino, st.st_size, st.st_mtime_ns] == keys:
            return digest, recorded
    fresh = describe(path)
    return fresh[3], fresh


def _cache_keys(path: str) -> list[list[str]]:
    """``[tool.uv] cache-keys`` of a project directory as ``[kind, value]`` pairs; uv's defaults without it."""
    text = _bytes(os.path.join(path, "pyproject.toml"))
    if text is None:
        return [list(k) for k in DEFAULT_KEYS]
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        keys = tomllib.loads(text.decode("utf-8")).get("tool", {}).get("uv", {}).get("cache-keys")
    except (ValueError, UnicodeDecodeError, AttributeError):  # uv will say what is wrong with it
        return [list(k) for k in DEFAULT_KEYS]
    if not isinstance(keys, list):
        return [list(k) for k in DEFAULT_KEYS]
    found: list[list[str]] = []
    for key in keys:
        if isinstance(key, str):
            found.append(["file", key])
        elif isinstance(key, dict):
            for kind in ("file", "dir", "env"):
                if isinstance(key.get(kind), str):
                    found.append([kind, key[kind]])
            git = key.get("git")
            if git is True or isinstance(git, dict):
                tags = isinstance(git, dict) and git.get("tags") is True
                commit = git is True or git.get("commit", True) is not False
                found += [["git", "commit"]] * commit + [["git", "tags"]] * tags
    return found


def _dir_digest(path: str, keys: list[list[str]]) -> str:
    parts: list[object] = [_read(os.path.join(path, "pyproject.toml"))]
    for kind, value in keys:
        if kind == "file":
            parts.append([value, *_files(path, value)])
        elif kind == "dir":
            try:
                parts.append([value, os.stat(os.path.join(path, value)).st_mtime_ns])
            except OSError:
                parts.append([value, None])
        elif kind == "env":
            parts.append([value, os.environ.get(value)])
        else:  # "git": _cache_keys makes no other kind
            parts.append([value, *_git(path, value)])
    from ._digest import digest

    return digest(parts)


def _open(path: str) -> int | None:
    """A descriptor on a regular file, or ``None``: never a FIFO or a device (a hit must not hang), never a dir."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return None
    import stat

    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def _read(path: str) -> str | None:
    """SHA-256 of a regular file's bytes (read in chunks: an archive may be large), or ``None`` when there is none."""
    fd = _open(path)
    if fd is None:
        return None
    h = sha256()
    try:
        with os.fdopen(fd, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError:
        return None
    return str(h.hexdigest())


def _bytes(path: str) -> bytes | None:
    """A regular file's bytes, or ``None``."""
    fd = _open(path)
    if fd is None:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            return f.read()
    except OSError:
        return None


def _files(root: str, pattern: str) -> list[object]:
    if not any(c in pattern for c in _GLOB):
        return [_read(os.path.join(root, pattern))]
    import glob

    matches = sorted(glob.glob(pattern, root_dir=root, recursive=True))
    return [[match, _read(os.path.join(root, match))] for match in matches if os.path.isfile(os.path.join(root, match))]


def _git(root: str, what: str) -> list[object]:
    """The checked-out commit (``HEAD`` and the ref it names) or the tags, read from the files of ``.git``."""
    git = os.path.join(root, ".git")
    if what == "commit":
        head = _text(os.path.join(git, "HEAD"))
        if head and head.startswith("ref: "):
            ref = head[5:].strip()
            return [head, _text(os.path.join(git, *ref.split("/"))), _text(os.path.join(git, "packed-refs"))]
        return [head]
    try:
        tags = sorted(os.listdir(os.path.join(git, "refs", "tags")))
    except OSError:
        tags = []
    return [tags, _text(os.path.join(git, "packed-refs"))]


def _text(path: str) -> str | None:
    data = _bytes(path)
    return None if data is None else data.decode("utf-8", "replace")
