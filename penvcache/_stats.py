"""Per cache dir counters, safe across processes: one appended line per ``ensure`` call, summed on demand.

A call appends one short line to ``<cache>/stats.log`` with a single ``write`` on an ``O_APPEND`` file,
which the kernel applies whole, so concurrent processes never interleave or lose lines and a hit pays one
open and one write. ``penvcache stats`` sums the log; ``--zero`` empties it under a lock.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from typing import Any

LOG = "stats.log"
#: a wait for the lock this long or longer counts as contended (an uncontended acquire takes microseconds)
CONTENDED = 0.01


def record(cache_dir: str, line: str) -> None:
    """Append one event line; never fails the caller (stats are best effort)."""
    try:
        fd = os.open(os.path.join(cache_dir, LOG), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:
        return
    try:
        os.write(fd, f"{line}\n".encode())
    except OSError:
        pass
    finally:
        os.close(fd)


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
    """The counters of one cache dir (lines it cannot read are skipped)."""
    counts = empty()
    try:
        with open(os.path.join(cache_dir, LOG), "rb") as f:
            data = f.read()
    except OSError:
        return counts
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
    return counts


def zero(cache_dir: str) -> None:
    """Reset the counters: empty the log in place (appenders keep appending to the same file)."""
    from filelock import FileLock

    os.makedirs(cache_dir, exist_ok=True)
    with FileLock(os.path.join(cache_dir, "stats.lock")), open(os.path.join(cache_dir, LOG), "ab") as f:
        f.truncate(0)


def _count_store(counts: dict[str, Any], words: list[str]) -> None:
    """A store line: ``store_hit|store_miss fetched=BYTES published=BYTES``."""
    counts["store_hits" if words[0] == "store_hit" else "store_misses"] += 1
    for word in words[1:]:
        name, _, value = word.partition("=")
        if name in {"fetched", "published"} and value.isdigit():
            counts[f"store_bytes_{name}"] += int(value)
