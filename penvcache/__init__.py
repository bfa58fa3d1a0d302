"""penvcache: "this venv satisfies these dependencies" as a cached, cross-process fact."""

from __future__ import annotations

from ._coordinator import EnsureResult, InUse, ensure, use
from ._errors import (
    CacheDirError,
    CacheMiss,
    InstallFailed,
    InvalidDeps,
    InvalidInput,
    LockTimeout,
    OfflineUnavailable,
    PenvcacheError,
)
from .version import __version__

__all__ = [
    "CacheDirError",
    "CacheMiss",
    "EnsureResult",
    "InUse",
    "InstallFailed",
    "InvalidDeps",
    "InvalidInput",
    "LockTimeout",
    "OfflineUnavailable",
    "PenvcacheError",
    "__version__",
    "ensure",
    "use",
]
