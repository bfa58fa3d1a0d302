"""penvcache: "this venv satisfies these dependencies" as a cached, cross-process fact.

The public names are imported on first use (PEP 562): ``python -m penvcache`` and the ``penvcache`` command
import this package before anything else, and a command-line hit needs none of the modules behind these names.
"""

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from ._coordinator import InUse, ensure, use
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
    from ._hit import EnsureResult
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

#: the module of the package that defines each public name
_HOMES = {
    "EnsureResult": "_hit",
    "InUse": "_coordinator",
    "__version__": "version",
    "ensure": "_coordinator",
    "use": "_coordinator",
}
_HOMES.update((name, "_errors") for name in __all__ if name not in _HOMES)


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:  # a submodule (``from penvcache import _state``) is then imported by the import system
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(__import__(f"{__name__}.{home}", fromlist=[name]), name)
    globals()[name] = value  # the next lookup finds it without calling this
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
