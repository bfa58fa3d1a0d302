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
    at 500 dependencies a hit stats 1,500 paths, and this is most of what it costs).
    """
    stat = os.stat
    facts: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            st = stat(path)
        except OSError:
            facts.append(None)
        else:
            facts.append((st.st_ino, st.st_mtime_ns, st.st_size))
    return hex_digest(marshal.dumps(facts, 2))  # version 2: no back-references, the same bytes for equal facts


def file_digest(f: BinaryIO) -> str:
    """SHA-256 of an open binary file's remaining bytes."""
    return hex_digest(f.read())
