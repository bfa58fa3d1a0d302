"""The hit (level 1): a request answered from its venv's record, and the result every ``ensure`` returns.

:func:`check_hit` is all a command-line hit runs of the ensure flow (:mod:`._coordinator` runs the same check
first, then the rest of a miss). It takes no lock, starts no process and parses nothing.
"""

from __future__ import annotations

import time

from . import _key, _state, _stats
from ._request import check_timeouts, prepare

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from typing import Any

    from ._request import Request
    from ._venv import Venv

Status = str  # "hit" | "installed" | "adopted"


class EnsureResult:
    """What :func:`ensure` did and for which venv (a plain class: dataclasses cost a hit 20 ms to import)."""

    __slots__ = ("elapsed", "fingerprint", "offline_fallback", "python", "status", "venv", "waited", "warnings")

    def __init__(  # noqa: PLR0917 (positional, like the dataclass it replaced)
        self,
        status: Status,
        venv: str,
        python: str,
        fingerprint: str,
        elapsed: float,
        waited: float = 0.0,
        offline_fallback: bool = False,
        warnings: list[str] | None = None,
    ) -> None:
        self.status = status  #: "hit", "installed" or "adopted"
        self.venv = venv  #: the venv's absolute path
        self.python = python  #: the venv's interpreter
        self.fingerprint = fingerprint  #: hex digest of every input of the key
        self.elapsed = elapsed  #: seconds the call took
        self.waited = waited  #: seconds spent waiting for another process's lock
        self.offline_fallback = offline_fallback  #: the index was unreachable and the install was retried offline
        #: what validation found but does not count as a failure (an import of an optional dependency that is missing)
        self.warnings = [] if warnings is None else warnings

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _RESULT_FIELDS}

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _RESULT_FIELDS)
        return f"EnsureResult({fields})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EnsureResult) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]


_RESULT_FIELDS = ("status", "venv", "python", "fingerprint", "elapsed", "waited", "offline_fallback", "warnings")


class FirstLook:
    """A request checked against its venv's record, before any lock: what it names, the record, the key, and
    the result when that is a hit (``None`` on a miss, which :func:`._coordinator.run_ensure` goes on from)."""

    __slots__ = ("cache", "directory", "hit", "inputs", "key", "start", "state", "target")

    def __init__(self, request: Request) -> None:
        self.start = time.monotonic()
        check_timeouts(request)  # bad input, as for a miss
        self.target, self.inputs, self.cache, self.directory = prepare(request)
        self.state = _state.read(self.directory)
        self.key = _key.build(self.inputs, self.target, self.state)
        self.hit: EnsureResult | None = None
        if _key.is_hit(self.state, self.key):
            assert self.state is not None
            self.hit = result("hit", self.target, self.key, self.cache, self.start, warnings=self.state.get("warnings"))


def check_hit(request: Request) -> EnsureResult | None:
    """The result of :func:`ensure` when it is a hit, else ``None``: no lock, no process, nothing changed."""
    return FirstLook(request).hit


def result(  # noqa: PLR0917
    status: Status,
    target: Venv,
    key: _key.Key,
    cache: str,
    start: float,
    waited: float = 0.0,
    fallback: bool = False,
    warnings: list[str] | None = None,
) -> EnsureResult:
    """The result of a call, counted in the cache dir's stats."""
    assert key.fingerprint is not None
    elapsed = time.monotonic() - start
    _stats.record(
        cache, _stats.event("hit" if status == "hit" else "miss", status=status, elapsed=elapsed, waited=waited)
    )
    return EnsureResult(status, target.path, target.python, key.fingerprint, elapsed, waited, fallback, warnings)
