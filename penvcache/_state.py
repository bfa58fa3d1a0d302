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

FORMAT = 2  # 1 was state.json
STATE = "state.marshal"  #: the state file in a venv's cache entry
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
    return os.path.join(cache_dir, "venvs", hex_digest(os.path.realpath(venv_path).encode())[:32])


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
    """Record the state atomically: a reader sees the old file or the new one, never part of one."""
    _write_atomically(os.path.join(directory, STATE), marshal.dumps({"format": FORMAT, **state}))


def write_json(path: str, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON, atomically."""
    import json

    _write_atomically(path, json.dumps(data, indent=1, sort_keys=True).encode())


def _write_atomically(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
