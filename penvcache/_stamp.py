"""The venv content stamp: stat calls over the paths validation depended on, no file hashing."""

from __future__ import annotations

import os

from ._digest import hex_digest, sha256

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import BinaryIO


def take(paths: Iterable[str]) -> str:
    """A digest that changes when any path appears, disappears, is replaced or is modified."""
    h = sha256()
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            h.update(f"{path}\0missing\n".encode())
        else:
            h.update(f"{path}\0{st.st_ino}\0{st.st_mtime_ns}\0{st.st_size}\n".encode())
    return str(h.hexdigest())


def file_digest(f: BinaryIO) -> str:
    """SHA-256 of an open binary file's remaining bytes."""
    return hex_digest(f.read())
