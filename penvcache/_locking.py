"""The per-venv exclusive lock under the cache dir, with who holds it written beside it."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from types import TracebackType

from filelock import FileLock, Timeout

from ._errors import InvalidInput, LockTimeout
from ._state import write_json


class VenvLock:
    """Exclusive lock for one venv; waits at most ``timeout`` seconds, then raises :class:`LockTimeout`.

    The lock file lives in the venv's cache entry, never at ``<venv>/.lock`` (uv flocks that one itself).
    """

    def __init__(self, directory: str, venv_path: str, timeout: float) -> None:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as e:
            msg = f"cannot use the cache dir: {directory}: {e.strerror or e}"
            raise InvalidInput(msg) from e
        self.venv_path = venv_path
        self.timeout = timeout
        self.holder_file = os.path.join(directory, "holder.json")
        self._lock = FileLock(os.path.join(directory, "lock"))
        self.waited = 0.0

    def holder(self) -> str:
        """Who holds the lock, as the holder described itself."""
        try:
            with open(self.holder_file, encoding="utf-8") as f:
                info = json.load(f)
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["since"]))
            return f"pid {info['pid']} on {info['host']} ({info['command']}) since {since}"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process (it has not said who)"

    def __enter__(self) -> VenvLock:
        start = time.monotonic()
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            where = f"the lock on {self.venv_path}"
            sys.stderr.write(f"penvcache: waiting up to {self.timeout:g}s for {where}, held by {self.holder()}\n")
            try:
                self._lock.acquire(timeout=max(self.timeout - (time.monotonic() - start), 0))
            except Timeout as e:
                msg = f"timed out after {self.timeout:g}s waiting for {where}, held by {self.holder()}"
                raise LockTimeout(msg) from e
        self.waited = time.monotonic() - start
        command = " ".join(sys.argv) or sys.executable
        write_json(
            self.holder_file,
            {"pid": os.getpid(), "host": socket.gethostname(), "command": command, "since": time.time()},
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(OSError):
            os.remove(self.holder_file)
        self._lock.release()
