"""The cache dir and per-venv state files: written atomically, and anything unreadable is a miss."""

from __future__ import annotations

import hashlib
import json
import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from typing import Any

FORMAT = 2  # 2: the key's components, what explain compares and the installer's stand-in are recorded
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
    """Record the state atomically: a reader sees the old file or the new one, never part of one."""
    write_json(os.path.join(directory, "state.json"), {"format": FORMAT, **state})


def write_json(path: str, data: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def entries(cache_dir: str) -> list[tuple[str, dict[str, Any]]]:
    """Every venv the cache dir knows: (its entry directory, what was last recorded: venv, status, when...)."""
    root = os.path.join(cache_dir, "venvs")
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    found = []
    for name in names:
        directory = os.path.join(root, name)
        latest: dict[str, Any] | None = None
        for file in ("state.json", "last.json"):  # last.json: a failure since the state was recorded
            try:
                with open(os.path.join(directory, file), "rb") as f:
                    info = json.loads(f.read())
            except (OSError, ValueError):
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

    for file in ("state.json", "last.json"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(directory, file))
