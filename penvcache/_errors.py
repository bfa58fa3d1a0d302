"""The exceptions penvcache raises, each also a matching built-in, and their CLI exit codes."""

from __future__ import annotations


class PenvcacheError(Exception):
    """Base class of every error penvcache raises on purpose."""

    exit_code = 1

    def __str__(self) -> str:
        """The message, with the credentials of any URL in it hidden (``user:****@``)."""
        from ._redact import redact

        return redact(super().__str__())


class InvalidInput(PenvcacheError, ValueError):
    """A caller's input is wrong: a venv path that is a file, a ``--python`` that does not exist."""

    exit_code = 2


class InvalidDeps(InvalidInput):
    """A deps file is missing, unreadable or malformed; the message names the file and line."""


class LockTimeout(PenvcacheError, TimeoutError):
    """The venv's lock was not acquired in time; nothing was changed."""

    exit_code = 3

    def __init__(self, message: str, *, waited: float = 0.0) -> None:
        super().__init__(message)
        self.waited = waited  #: seconds spent waiting before giving up


class InstallFailed(PenvcacheError, RuntimeError):
    """Installing or validating the dependencies failed; nothing was recorded."""

    exit_code = 1


class OfflineUnavailable(InstallFailed):
    """Offline, and the dependencies cannot be satisfied from the cache or the find-links."""

    exit_code = 4


class CacheDirError(PenvcacheError, OSError):
    """The cache dir cannot be used: a full disk, a read-only mount, no permission, a bad disk. The message
    names the path and the error."""

    exit_code = 1

    def __str__(self) -> str:  # OSError's own __str__ would show "[Errno ...]" around the message
        from ._redact import redact

        return redact(str(self.args[0]) if self.args else "")


class CacheMiss(PenvcacheError, LookupError):
    """``require_hit`` was asked and the call missed; nothing was installed. The message says why."""

    exit_code = 5
