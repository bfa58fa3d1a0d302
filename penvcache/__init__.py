"""penvcache: "this venv satisfies these dependencies" as a cached, cross-process fact."""

from __future__ import annotations

from ._coordinator import EnsureResult, InUse, ensure, use
from ._errors import (
    CacheDirError,
    CacheMiss,
    InstallFailed,
    InvalidArgumentType,
    InvalidDeps,
    InvalidInput,
    LockTimeout,
    OfflineUnavailable,
    PenvcacheError,
    ValidationFailed,
)
from .version import __version__

__all__ = [
    "CacheDirError",
    "CacheMiss",
    "EnsureResult",
    "InUse",
    "InstallFailed",
    "InvalidArgumentType",
    "InvalidDeps",
    "InvalidInput",
    "LockTimeout",
    "OfflineUnavailable",
    "PenvcacheError",
    "ValidationFailed",
    "__version__",
    "ensure",
    "use",
]
