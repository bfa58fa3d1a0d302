"""The venv content stamp: stat calls over the paths validation depended on, no file hashing."""

from __future__ import annotations

import marshal
import os

from ._digest import hex_digest

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import BinaryIO


def take(paths: Iterable[str]) -> str:
    """A digest that changes when any path appears, disappears, is replaced or is modified.

    The paths themselves are recorded beside the stamp, so only their stat facts are hashed (in one call:
    at 500 dependencies a hit stats 1,500 paths, and this is most of what it costs). They are stat'ed
    relative to their common directory (site-packages), which spares the kernel walking each full path.
    """
    paths = list(paths)
    base, fd = _open_common_dir(paths)
    skip = len(base) + 1
    facts: list[tuple[int, int, int] | None] = []
    try:
        for path in paths:
            try:
                st = os.stat(path[skip:] or ".", dir_fd=fd) if fd is not None else os.stat(path)
            except OSError:
                facts.append(None)
            else:
                facts.append((st.st_ino, st.st_mtime_ns, st.st_size))
    finally:
        if fd is not None:
            os.close(fd)
    return hex_digest(marshal.dumps(facts, 2))  # version 2: no back-references, the same bytes for equal facts


def _open_common_dir(paths: list[str]) -> tuple[str, int | None]:
    """The directory every path is in (or is), opened; ``None`` when that cannot help or cannot be done."""
    if not paths or os.stat not in os.supports_dir_fd:
        return "", None
    try:
        base = os.path.commonpath(paths)
        if len(base) <= 1:
            return "", None
        return base, os.open(base, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (OSError, ValueError):
        return "", None


def file_digest(f: BinaryIO) -> str:
    """SHA-256 of an open binary file's remaining bytes."""
    return hex_digest(f.read())
