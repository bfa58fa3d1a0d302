"""Per-venv locks under the cache dir, and who holds them.

Two locks guard each venv, both in its cache entry (never ``<venv>/.lock``, which uv flocks itself):

* ``lock``: exclusive, taken by whoever may change the venv (a miss). A ``filelock.FileLock``: the OS
  releases it when its holder dies, so a crashed installer never leaves it held.
* ``users.db``: a ``filelock.ReadWriteLock``. ``penvcache run`` and ``penvcache.use()`` hold it shared for
  as long as the venv is in use; an installer takes it exclusively, after ``lock``, before changing anything.

Waiting for either says once who holds it, then every ``REPORT_EVERY`` seconds how long it has waited.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from types import TracebackType

from filelock import FileLock, ReadWriteLock, Timeout

from . import _state
from ._errors import CacheDirError, InvalidInput, LockTimeout
from ._redact import redact
from ._state import write_json

REPORT_EVERY = 10.0  #: seconds between "still waiting" lines


def _cache_entry(directory: str) -> str:
    """The venv's entry, made owner-only if missing; refused if another user owns it or may write it."""
    return _state.make_dirs(directory)


def _lock_file(path: str) -> str:
    """``path`` for a lock: absent or a regular file (a planted symlink is refused, never followed)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError as e:
        raise _state.fault(path, e) from e
    if st.st_mode & 0o170000 != 0o100000:
        msg = f"refusing the lock file {path}: it is not a regular file (a symlink?); remove it"
        raise InvalidInput(msg)
    return path


def _users_db(directory: str) -> str:
    """The shared use lock's database, created owner-only (SQLite would make it 0644)."""
    path = os.path.join(directory, "users.db")
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600))
    except FileExistsError:
        pass
    except OSError as e:
        raise _state.fault(path, e, "cannot lock") from e
    return _lock_file(path)


def _describe_me() -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": redact(" ".join(sys.argv) or sys.executable),
        "since": time.time(),
    }


def _alive(info: dict[str, object]) -> bool:
    """False when ``info`` names a process on this host that has exited (its locks are gone with it)."""
    if info.get("host") != socket.gethostname():
        return True  # cannot tell; assume it is alive
    try:
        os.kill(int(info["pid"]), 0)  # type: ignore[call-overload]
    except ProcessLookupError:
        return False
    except (OSError, ValueError, TypeError, KeyError):
        return True
    return True


def _read_info(path: str, *, remove_stale: bool = False) -> dict[str, object] | None:
    """What a holder or user file says, unless its process has exited (then, with ``remove_stale``, it goes)."""
    data = _state.read_regular(path, limit=1 << 16, follow=False)
    try:
        info = json.loads(data) if data is not None else None
    except ValueError:
        info = None
    if not isinstance(info, dict):
        return None
    if not _alive(info):
        if remove_stale:
            with contextlib.suppress(OSError):
                os.remove(path)
        return None
    return info


def _format(info: dict[str, object]) -> str:
    try:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))  # type: ignore[arg-type]
        return f"pid {info['pid']} on {info['host']} ({info['command']}) since {since}"
    except (KeyError, TypeError, ValueError):
        return "another process (it has not said who)"


def _wait(acquire: Callable[[float], object], timeout: float, what: str, holder: Callable[[], str]) -> float:
    """Acquire with ``acquire(seconds)``; say who holds it, then report every ``REPORT_EVERY`` seconds.

    Returns the seconds waited; raises :class:`LockTimeout` after ``timeout`` seconds.
    """
    start = time.monotonic()
    try:
        acquire(0)
    except Timeout:
        pass
    else:
        return 0.0
    sys.stderr.write(f"penvcache: waiting up to {round(timeout, 1):g}s for {what}, held by {holder()}\n")
    while True:
        waited = time.monotonic() - start
        left = timeout - waited
        if left <= 0:
            msg = f"timed out after {round(timeout, 1):g}s waiting for {what}, held by {holder()}"
            raise LockTimeout(msg, waited=waited)
        try:
            acquire(min(left, REPORT_EVERY))
        except Timeout:
            if time.monotonic() - start < timeout:
                sys.stderr.write(f"penvcache: still waiting for {what} after {round(time.monotonic() - start, 1):g}s\n")
        else:
            return time.monotonic() - start


class VenvLock:
    """Exclusive lock for one venv; waits at most ``timeout`` seconds, then raises :class:`LockTimeout`.

    Inside it, :meth:`exclude_users` waits (within the same deadline) for the ``run``/``use`` callers of the
    venv to finish and keeps new ones out until the lock is released.
    """

    def __init__(self, directory: str, venv_path: str, timeout: float) -> None:
        self.directory = _cache_entry(directory)
        self.venv_path = venv_path
        self.timeout = timeout
        self.holder_file = os.path.join(directory, "holder.json")
        self._lock = FileLock(_lock_file(os.path.join(directory, "lock")), mode=0o600)
        self._users: ReadWriteLock | None = None
        self._start = 0.0
        self.waited = 0.0

    def holder(self) -> str:
        """Who holds the lock, as the holder described itself (never a process that has exited)."""
        info = _read_info(self.holder_file)
        return _format(info) if info else "another process (it has not said who)"

    def __enter__(self) -> VenvLock:
        self._start = time.monotonic()
        where = f"the lock on {self.venv_path}"
        try:
            self.waited = _wait(lambda s: self._lock.acquire(timeout=s), self.timeout, where, self.holder)
        except LockTimeout:  # a TimeoutError, so an OSError too
            raise
        except OSError as e:  # a read-only cache dir, a full disk: nobody can lock, so nothing can change
            raise _state.fault(os.path.join(self.directory, "lock"), e, f"cannot lock {self.venv_path}") from e
        try:
            write_json(self.holder_file, _describe_me())
        except BaseException:
            self._lock.release()
            raise
        _state.remove_stale_temps(self.directory)
        return self

    def exclude_users(self) -> None:
        """Wait for every ``run``/``use`` of the venv to end; none starts until this lock is released."""
        if self._users is not None:
            return
        mine = [info for info in _users(self.directory) if _is_lineage(info)]
        if mine:
            msg = (
                f"{self.venv_path} cannot change while it is in use by this process or one of its parents "
                f"({_format(mine[0])}): change it before `penvcache run` or `penvcache.use()`, not inside"
            )
            raise LockTimeout(msg)
        db = _users_db(self.directory)
        try:
            users = ReadWriteLock(db, is_singleton=False)
        except OSError as e:
            raise _state.fault(db, e, f"cannot lock {self.venv_path}") from e
        left = self.timeout - (time.monotonic() - self._start)
        what = f"the commands using {self.venv_path} to finish"
        try:
            waited = _wait(lambda s: users.acquire_write(timeout=s), left, what, lambda: users_of(self.directory))
        except LockTimeout as e:
            self.waited += e.waited
            e.waited = self.waited
            users.close()
            raise
        except OSError as e:
            users.close()
            raise _state.fault(db, e, f"cannot lock {self.venv_path}") from e
        except BaseException:
            users.close()
            raise
        self.waited += waited
        self._users = users

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._users is not None:
            self._users.release()
            self._users.close()
            self._users = None
        with contextlib.suppress(OSError):
            os.remove(self.holder_file)
        self._lock.release()


def _users(directory: str) -> list[dict[str, object]]:
    """The live processes that said they use the venv (``run``/``use``)."""
    try:
        names = sorted(os.listdir(os.path.join(directory, "users")))
    except OSError:
        names = []
    found = (_read_info(os.path.join(directory, "users", name), remove_stale=True) for name in names)
    return [info for info in found if info]


def users_of(directory: str) -> str:
    """The live processes that said they use the venv, for messages."""
    live = _users(directory)
    if not live:
        return "a process using it (it has not said who)"
    return "; ".join(_format(info) for info in live)


def _is_lineage(info: dict[str, object]) -> bool:
    """``info`` describes this process or one of its parents (which would wait for itself)."""
    if info.get("host") != socket.gethostname():
        return False
    pid, lineage = os.getpid(), set()
    while pid > 1 and pid not in lineage:
        lineage.add(pid)
        try:  # Linux: the parent is the 4th field of /proc/PID/stat, after the parenthesised command
            with open(f"/proc/{pid}/stat", "rb") as f:
                pid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            lineage.add(os.getppid())
            break
    return info.get("pid") in lineage


class UseLock:
    """Shared lock for one venv while it is used: any number of users, no installer (see :class:`VenvLock`)."""

    def __init__(self, directory: str, venv_path: str, timeout: float) -> None:
        self.directory = directory
        self.venv_path = venv_path
        self.timeout = timeout
        self._users: ReadWriteLock | None = None
        self._me = os.path.join(directory, "users", f"{os.getpid()}-{id(self):x}.json")
        self.waited = 0.0
        try:
            _cache_entry(directory)
            self._users = ReadWriteLock(_users_db(directory), is_singleton=False)
        except OSError as e:  # CacheDirError included
            if not _state.is_read_only(directory):
                if isinstance(e, CacheDirError):
                    raise
                raise _state.fault(os.path.join(directory, "users.db"), e, f"cannot lock {venv_path}") from e
            # A read-only cache dir: nobody can take the install lock either, so the venv cannot change through
            # penvcache while it is used; there is nothing to lock and nowhere to say who uses it.

    def __enter__(self) -> UseLock:
        users = self._users
        if users is None:
            return self
        what = f"the installer of {self.venv_path} to finish"
        holder = lambda: _format(_read_info(os.path.join(self.directory, "holder.json")) or {})  # noqa: E731
        try:
            self.waited = _wait(lambda s: users.acquire_read(timeout=s), self.timeout, what, holder)
        except BaseException:
            users.close()
            raise
        try:
            _state.make_dir(os.path.dirname(self._me))
            write_json(self._me, _describe_me(), durable=False)
        except BaseException:
            users.release()
            users.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._users is None:
            return
        with contextlib.suppress(OSError):
            os.remove(self._me)
        self._users.release()
        self._users.close()
