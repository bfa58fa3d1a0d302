"""Writing the CLI's lines: a reader that has gone (``penvcache list | head -1``) ends the output, not the command."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from typing import TextIO


def write_line(text: str, out: TextIO) -> None:
    """Write ``text`` and a newline to ``out`` and flush; a closed pipe silences ``out`` for the rest of the run."""
    try:
        out.write(text + "\n")
        out.flush()
    except BrokenPipeError:
        silence(out)


def silence(out: TextIO) -> None:
    """Point ``out``'s descriptor at the null device, so later writes and the final flush at exit go nowhere."""
    try:
        fd = out.fileno()
    except (OSError, ValueError):  # not a real file (a test's StringIO): nothing will flush it at exit
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)
