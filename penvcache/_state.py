"""The cache dir and per-venv state files: written atomically, and anything unreadable is a miss."""

from __future__ import annotations

import hashlib
import json
import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from typing import Any

FORMAT = 1
_KEYS = {
    "format": int,
    "fingerprint": str,
    "inputs": str,
    "deps_digest": str,
    "files": dict,
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
    digest = hashlib.sha256(os.path.realpath(venv_path).encode()).hexdigest()
    return os.path.join(cache_dir, "venvs", digest[:32])


def read(directory: str) -> dict[str, Any] | None:
    """The recorded state, or ``None`` when there is none or it is truncated, garbage or foreign."""
    try:
        with open(os.path.join(directory, "state.json"), "rb") as f:
            state = json.loads(f.read())
    except (OSError, ValueError):
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
    write_json(os.path.join(directory, "state.json"), {"format": FORMAT, **state}, durable=False)


def write_json(path: str, data: dict[str, Any], *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file, ``os.replace``); with ``durable``, fsync it first."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
