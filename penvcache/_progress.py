"""What a miss is doing, on stderr: a line before each long step; then, on a terminal, uv's own display, and
elsewhere a line every ``EVERY`` seconds saying what is still running and for how long."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from types import TracebackType

from ._output import write_line

EVERY = 10.0  #: seconds between "still ..." lines


def uv_on_terminal(progress: bool) -> bool:
    """Whether uv's own progress display is shown: progress is on and stderr is a terminal we can pass it to."""
    if not progress or sys.platform == "win32":
        return False
    try:
        return os.isatty(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):  # no stderr, or not a real file
        return False


class Step:
    """``with Step("installing 3 packages", " into /x/.venv", enabled=True):`` says so on stderr, then (unless
    ``heartbeat`` is off, e.g. while uv draws on the terminal) every ``EVERY`` seconds how long it has run."""

    def __init__(self, what: str, detail: str = "", *, enabled: bool, heartbeat: bool = True) -> None:
        self.what = what
        self.detail = detail
        self.enabled = enabled
        self.heartbeat = heartbeat
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Step:
        if self.enabled:
            write_line(f"penvcache: {self.what}{self.detail}", sys.stderr)
            if self.heartbeat:
                self._thread = threading.Thread(target=self._beat, name="penvcache-progress", daemon=True)
                self._thread.start()
        return self

    def _beat(self) -> None:
        start = time.monotonic()
        while not self._done.wait(EVERY):
            write_line(f"penvcache: still {self.what} after {time.monotonic() - start:.0f}s", sys.stderr)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()


def open_terminal() -> tuple[int, int]:
    """A pseudo-terminal (master, slave) the size of our stderr's terminal, for uv to draw its progress on."""
    import contextlib
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()
    with contextlib.suppress(OSError):  # uv sizes its display to the terminal
        fcntl.ioctl(slave, termios.TIOCSWINSZ, fcntl.ioctl(sys.stderr.fileno(), termios.TIOCGWINSZ, b"\0" * 8))
    return master, slave


def copy_terminal(master: int, proc: subprocess.Popen[str]) -> str:
    """Copy what ``proc`` writes on the pseudo-terminal to our stderr as it comes, until it ends; returns it all
    as plain text (no colours, each line as it was last redrawn), for the error message."""
    import select

    err = sys.stderr.fileno()
    sys.stderr.flush()
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if proc.poll() is not None:  # it has ended; a straggler of its own may hold the terminal
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO (Linux): every writer has closed the terminal
            data = b""
        if not data:  # ... or the end of the file (BSD, macOS)
            break
        chunks.append(data)
        _write_all(err, data)
    proc.wait()
    return plain(b"".join(chunks).decode("utf-8", "replace"))


def _write_all(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(fd, data) :]
    except BrokenPipeError:
        pass  # the terminal has gone: uv's output is still kept for the error message


def plain(text: str) -> str:
    """Terminal output as lines of text: escape sequences removed, each line as it was last redrawn."""
    import re

    text = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)", "", text)
    lines = (line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))
    return "\n".join(lines)
