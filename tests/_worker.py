"""Test helpers run as separate processes.

``python -m tests._worker START_FILE ARGS...`` waits for START_FILE, then runs ``penvcache ARGS``.
``python -m tests._worker --hold-lock CACHE_DIR VENV READY STOP`` holds the venv's lock until STOP exists.
``python -m tests._worker --hold-users CACHE_DIR VENV READY STOP`` does too, as an installer does once it has
waited for the venv's ``run``/``use`` users: they cannot start until STOP exists.
"""

from __future__ import annotations

import os
import sys
import time

DEADLINE = 60.0


def _wait_for(path: str) -> None:
    end = time.monotonic() + DEADLINE
    while not os.path.exists(path):
        if time.monotonic() > end:
            sys.exit(f"gave up waiting for {path}")
        time.sleep(0.01)


def main() -> int:
    if sys.argv[1] in ("--hold-lock", "--hold-users"):
        from penvcache._locking import VenvLock
        from penvcache._state import venv_dir

        cache_dir, venv, ready, stop = sys.argv[2:6]
        with VenvLock(venv_dir(cache_dir, os.path.abspath(venv)), venv, timeout=10) as lock:
            if sys.argv[1] == "--hold-users":
                lock.exclude_users()
            open(ready, "w").close()
            _wait_for(stop)
        return 0
    _wait_for(sys.argv[1])
    from penvcache.cli import main as penvcache_main

    return penvcache_main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
