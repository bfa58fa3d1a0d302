"""Per cache dir counters, safe across processes: one appended line per ``ensure`` call, folded into a summary.

A call appends one short line to ``<cache>/stats.log`` with a single ``write`` on an ``O_APPEND`` file,
which the kernel applies whole, so concurrent processes never interleave or lose lines and a hit pays one
open, one write and one fstat: no lock. Folding (``penvcache stats``, and any call that finds the log over
:data:`FOLD_AT` bytes, if no other process is folding) counts the lines after the offset ``stats.json``
recorded for the log and adds them to the counters there, under ``stats.lock``. A log over :data:`FOLD_AT`
is renamed aside (appenders open the log by name for every line, so the next line starts a new log); an
aside file is read on by later folds for the lines a slow appender still writes into it, and removed
:data:`GRACE` seconds after its rename. ``--zero`` folds, then zeroes the counters.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from typing import Any

LOG = "stats.log"
SUMMARY = "stats.json"  #: the folded counters, and how far each log file has been counted
LOCK = "stats.lock"
FOLD_AT = 1 << 20  #: bytes; a log this big is folded and renamed aside by the call that sees it
GRACE = 60.0  #: seconds an aside log is kept for appenders that opened it before its rename
#: a wait for the lock this long or longer counts as contended (an uncontended acquire takes microseconds)
CONTENDED = 0.01
# O_NONBLOCK: a FIFO in the log's place is ENXIO (no reader), not a hit waiting forever for one
_FLAGS = (
    os.O_WRONLY
    | os.O_APPEND
    | os.O_CREAT
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NONBLOCK", 0)
)


def record(cache_dir: str, line: str) -> None:
    """Append one event line; never fails the caller (stats are best effort)."""
    try:
        fd = os.open(os.path.join(cache_dir, LOG), _FLAGS, 0o600)
    except OSError:
        return
    try:
        os.write(fd, f"{line}\n".encode())
        big = os.fstat(fd).st_size >= FOLD_AT
    except OSError:
        big = False
    finally:
        os.close(fd)
    if big:  # best effort: if it fails or another process is folding, a later call or `penvcache stats` folds
        import contextlib  # here: a hit must not import contextlib (collections, functools...), ~2 ms

        with contextlib.suppress(Exception):
            fold(cache_dir, wait=False)


def event(outcome: str, *, status: str = "", elapsed: float = 0.0, waited: float = 0.0) -> str:
    """The line for one call: ``hit`` or ``miss``, then ``installed=S``/``adopted=S``/``failed``, ``wait=S``."""
    words = [outcome]
    if status == "failed":
        words.append("failed")
    elif status in {"installed", "adopted"}:
        words.append(f"{status}={elapsed:.6f}")
    if waited >= CONTENDED:
        words.append(f"wait={waited:.6f}")
    return " ".join(words)


def empty() -> dict[str, Any]:
    return {
        "hits": 0,
        "misses": 0,
        "installs": 0,
        "adoptions": 0,
        "failures": 0,
        "lock_waits": 0,
        "lock_wait_seconds": 0.0,
        "longest_lock_wait": 0.0,
        "install_seconds": 0.0,
        "store_hits": 0,
        "store_misses": 0,
        "store_bytes_fetched": 0,
        "store_bytes_published": 0,
    }


def summary(cache_dir: str) -> dict[str, Any]:
    """The counters of one cache dir, folded first when the cache dir can be written (lines it cannot read are
    skipped)."""
    try:
        return fold(cache_dir)
    except OSError:  # a read-only cache dir: count without folding
        counts, files = _load(cache_dir)
        files.setdefault(LOG, [-1, 0, 0.0])
        for name, (inode, offset, _) in files.items():
            _count(_read_from(os.path.join(cache_dir, name), offset, inode)[0], counts)
        return counts


def fold(cache_dir: str, *, wait: bool = True) -> dict[str, Any]:
    """Fold the log into the summary (see the module's docstring) and return the counters.

    Raises ``OSError`` when the cache dir cannot be written, ``filelock.Timeout`` when ``wait`` is false and
    another process is folding.
    """
    import time

    from filelock import FileLock

    from ._state import make_dir, remove_stale_temps

    if not os.path.isdir(cache_dir):
        return empty()
    make_dir(cache_dir, follow=True)  # checks who owns it
    with FileLock(os.path.join(cache_dir, LOCK), mode=0o600, timeout=-1 if wait else 0):
        counts, files = _load(cache_dir)
        now = time.time()
        log = files.pop(LOG, [-1, 0, 0.0])
        done = []
        for name in sorted(os.listdir(cache_dir)):
            if not name.startswith(f"{LOG}.") or not name[len(LOG) + 1 :].isdigit():
                continue
            if name not in files and int(name[len(LOG) + 1 :]) == log[0]:  # renamed, then killed before saving
                files[name], log = [log[0], log[1], now], [-1, 0, 0.0]
            if name not in files:  # counted and forgotten, then killed before its removal
                done.append(name)
        for name, (was_inode, was_offset, renamed) in list(files.items()):
            data, inode, offset = _read_from(os.path.join(cache_dir, name), was_offset, was_inode)
            _count(data, counts)
            files[name] = [inode, offset, renamed]
            if inode < 0 or now - renamed > GRACE:
                done.append(name)
                del files[name]
        data, inode, offset = _read_from(os.path.join(cache_dir, LOG), log[1], log[0])
        _count(data, counts)
        files[LOG] = [inode, offset, 0.0]
        if inode >= 0 and offset >= FOLD_AT:
            aside = f"{LOG}.{inode}"
            os.replace(os.path.join(cache_dir, LOG), os.path.join(cache_dir, aside))
            files[aside] = [inode, offset, now]
            del files[LOG]
        _save(cache_dir, counts, files)
        remove_stale_temps(cache_dir)
        import contextlib

        for name in done:
            with contextlib.suppress(OSError):
                os.remove(os.path.join(cache_dir, name))
        return counts


def zero(cache_dir: str) -> None:
    """Reset the counters: fold the log, then zero the summary (appenders keep appending to the log)."""
    from filelock import FileLock

    from ._state import make_dirs

    make_dirs(cache_dir)
    fold(cache_dir)
    with FileLock(os.path.join(cache_dir, LOCK), mode=0o600):
        _save(cache_dir, empty(), _load(cache_dir)[1])


def _load(cache_dir: str) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The folded counters, and for each log file counted: [inode, offset counted up to, when renamed aside]."""
    import json

    from ._state import read_regular

    counts = empty()
    data = read_regular(os.path.join(cache_dir, SUMMARY), limit=1 << 20, follow=False)
    try:
        saved = json.loads(data) if data is not None else None
    except ValueError:
        saved = None
    if not isinstance(saved, dict):
        return counts, {}
    for name, zero_value in counts.items():
        value: Any = saved.get(name)
        if type(value) is type(zero_value) and value == value and value >= 0:  # noqa: PLR0124 (not nan)
            counts[name] = value
    files: dict[str, list[Any]] = {}
    recorded = saved.get("files")
    for name, record in recorded.items() if isinstance(recorded, dict) else ():
        if (
            isinstance(name, str)
            and name.startswith(LOG)
            and "/" not in name
            and isinstance(record, list)
            and len(record) == 3
            and all(type(n) is int for n in record[:2])
            and type(record[2]) is float
        ):
            files[name] = record
    return counts, files


def _save(cache_dir: str, counts: dict[str, Any], files: dict[str, list[Any]]) -> None:
    from ._state import write_json

    write_json(os.path.join(cache_dir, SUMMARY), {**counts, "files": files}, durable=False)


def _read_from(path: str, offset: int, inode: int) -> tuple[bytes, int, int]:
    """The whole lines of ``path`` after ``offset`` (from 0 when ``path`` is not the file ``inode`` named), and
    the file's inode and the offset after them; (b"", -1, 0) when there is no such regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return b"", -1, 0
    try:
        st = os.fstat(fd)
        if st.st_mode & 0o170000 != 0o100000:
            return b"", -1, 0
        if st.st_ino != inode or offset > st.st_size:
            offset = 0
        os.lseek(fd, offset, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    whole = data[: data.rfind(b"\n") + 1]  # a line still being written is counted by the next fold
    return whole, st.st_ino, offset + len(whole)


def _count(data: bytes, counts: dict[str, Any]) -> None:
    """Add the event lines in ``data`` to ``counts`` (lines it cannot read are skipped)."""
    for raw in data.decode("utf-8", "replace").splitlines():
        words = raw.split()
        if words and words[0] in {"store_hit", "store_miss"}:
            _count_store(counts, words)
            continue
        if not words or words[0] not in {"hit", "miss"}:
            continue
        counts["hits" if words[0] == "hit" else "misses"] += 1
        for word in words[1:]:
            name, _, value = word.partition("=")
            try:
                seconds = float(value) if value else 0.0
            except ValueError:
                continue
            if name == "failed":
                counts["failures"] += 1
            elif name in {"installed", "adopted"}:
                counts["installs" if name == "installed" else "adoptions"] += 1
                if name == "installed":
                    counts["install_seconds"] += seconds
            elif name == "wait":
                counts["lock_waits"] += 1
                counts["lock_wait_seconds"] += seconds
                counts["longest_lock_wait"] = max(counts["longest_lock_wait"], seconds)


def _count_store(counts: dict[str, Any], words: list[str]) -> None:
    """A store line: ``store_hit|store_miss fetched=BYTES published=BYTES``."""
    counts["store_hits" if words[0] == "store_hit" else "store_misses"] += 1
    for word in words[1:]:
        name, _, value = word.partition("=")
        if name in {"fetched", "published"} and value.isdigit():
            counts[f"store_bytes_{name}"] += int(value)
