"""The cache dir and per-venv state files: written atomically, and anything unreadable is a miss.

The state is stored with :mod:`marshal` (built in, no import cost, about 5x faster to load than JSON) because
every hit reads it; ``penvcache explain``/``list --json`` show it to people.
"""

from __future__ import annotations

import marshal
import os
import sys

from ._digest import hex_digest

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from typing import Any

FORMAT = 3  # 1: state.json; 2: the key's components and the installer's stand-in; 3: in marshal
STATE = "state.marshal"  #: the state file in a venv's cache entry
_KEYS = {
    "format": int,
    "fingerprint": str,
    "inputs": str,
    "files": dict,
    "file_sources": list,
    "components": dict,
    "details": dict,
    "installer": dict,
    "stamp": str,
    "stamp_paths": list,
}


def default_cache_dir() -> str:
    """``PENVCACHE_CACHE_DIR``, else platformdirs' user cache dir for penvcache."""
    env = os.environ.get("PENVCACHE_CACHE_DIR")
    if env:
        return os.path.abspath(env)
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        # platformdirs' XDG rule, inlined so that a hit does not pay ~10 ms to import platformdirs;
        # tests/test_state.py checks that it agrees with platformdirs.user_cache_dir.
        base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.expanduser("~/.cache")
        return os.path.join(base, "penvcache")
    from platformdirs import user_cache_dir

    return user_cache_dir("penvcache", appauthor=False)


def venv_dir(cache_dir: str, venv_path: str) -> str:
    """The directory that holds one venv's state, lock and holder info."""
    return os.path.join(cache_dir, "venvs", hex_digest(os.fsencode(os.path.realpath(venv_path)))[:32])


def read(directory: str) -> dict[str, Any] | None:
    """The recorded state, or ``None`` when there is none or it is truncated, garbage or foreign."""
    try:
        with open(os.path.join(directory, STATE), "rb") as f:
            state = marshal.loads(f.read())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        return None
    if not all(isinstance(state.get(key), kind) for key, kind in _KEYS.items()):
        return None
    return state


def write(directory: str, state: dict[str, Any]) -> None:
    """Record the state atomically: a reader sees the old file or the new one, never part of one.

    Not fsynced: after a crash the file may be empty or garbage, which :func:`read` calls a miss, so the worst
    case is one more validation, not a false hit. Every miss would otherwise wait about a millisecond for the disk.
    """
    _write_atomically(os.path.join(directory, STATE), marshal.dumps({"format": FORMAT, **state}), durable=False)


def write_json(path: str, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON, atomically and durably."""
    import json

    _write_atomically(path, json.dumps(data, indent=1, sort_keys=True).encode(), durable=True)


def _write_atomically(path: str, data: bytes, *, durable: bool) -> None:
    """Write ``path`` through a temp file and ``os.replace``; with ``durable``, fsync it first."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


def entries(cache_dir: str) -> list[tuple[str, dict[str, Any]]]:
    """Every venv the cache dir knows: (its entry directory, what was last recorded: venv, status, when...)."""
    import json

    root = os.path.join(cache_dir, "venvs")
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    found = []
    for name in names:
        directory = os.path.join(root, name)
        latest: dict[str, Any] | None = None
        for file, loads in ((STATE, marshal.loads), ("last.json", json.loads)):  # last.json: a later failure
            try:
                with open(os.path.join(directory, file), "rb") as f:
                    info = loads(f.read())
            except (OSError, ValueError, EOFError, TypeError):
                continue
            usable = (
                isinstance(info, dict) and isinstance(info.get("venv"), str) and isinstance(info.get("when"), float)
            )
            if usable and (latest is None or info["when"] > latest["when"]):
                latest = info
        if latest is not None:
            found.append((directory, latest))
    return found


def forget(directory: str) -> None:
    """Drop what an entry recorded (the caller holds the venv's lock; the lock file itself stays)."""
    import contextlib

    for file in (STATE, "last.json"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(directory, file))
