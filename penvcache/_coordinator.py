"""``ensure``: check, lock, check again, create, validate, install, validate, record."""

from __future__ import annotations

import os
import time

from . import _fingerprint, _stamp, _state
from ._venv import Venv

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from ._probe import Report
    from ._requirements import DepsSet

Status = str  # "hit" | "installed" | "adopted"


class EnsureResult:
    """What :func:`ensure` did and for which venv (a plain class: dataclasses cost a hit 20 ms to import)."""

    __slots__ = ("elapsed", "fingerprint", "offline_fallback", "python", "status", "venv", "waited")

    def __init__(  # noqa: PLR0917 (positional, like the dataclass it replaced)
        self,
        status: Status,
        venv: str,
        python: str,
        fingerprint: str,
        elapsed: float,
        waited: float = 0.0,
        offline_fallback: bool = False,
    ) -> None:
        self.status = status  #: "hit", "installed" or "adopted"
        self.venv = venv  #: the venv's absolute path
        self.python = python  #: the venv's interpreter
        self.fingerprint = fingerprint  #: hex digest of every input of the key
        self.elapsed = elapsed  #: seconds the call took
        self.waited = waited  #: seconds spent waiting for another process's lock
        self.offline_fallback = offline_fallback  #: the index was unreachable and the install was retried offline

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _RESULT_FIELDS}

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _RESULT_FIELDS)
        return f"EnsureResult({fields})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EnsureResult) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]


_RESULT_FIELDS = ("status", "venv", "python", "fingerprint", "elapsed", "waited", "offline_fallback")


class _Key:
    def __init__(self, inputs: str, deps_digest: str, files: dict[str, str], deps: DepsSet | None) -> None:
        self.fingerprint: str | None = None  # None while the venv is missing or broken
        self.inputs = inputs
        self.deps_digest = deps_digest
        self.files = files
        self.deps = deps  # parsed only when the raw inputs differ from the recorded ones


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def ensure(
    venv: str | os.PathLike[str],
    requirements: Iterable[str] = (),
    *,
    deps_files: Iterable[str | os.PathLike[str]] = (),
    python: str | None = None,
    offline: bool = False,
    find_links: Iterable[str | os.PathLike[str]] = (),
    lock_timeout: float = 300.0,
    cache_dir: str | os.PathLike[str] | None = None,
) -> EnsureResult:
    """Make sure ``venv`` holds ``requirements`` and the deps files; install with uv only on a miss.

    A hit takes no lock and starts no process. A miss takes the venv's exclusive lock (waiting at most
    ``lock_timeout`` seconds, else :class:`LockTimeout`), creates the venv if it is missing or broken,
    validates by importing every dependency in it, installs what is missing, validates again and records.
    """
    return run_ensure(
        venv,
        requirements,
        deps_files=deps_files,
        python=python,
        offline=offline,
        find_links=find_links,
        lock_timeout=lock_timeout,
        cache_dir=cache_dir,
    )


def run_ensure(
    venv: str | os.PathLike[str],
    requirements: Iterable[str] = (),
    *,
    deps_files: Iterable[str | os.PathLike[str]] = (),
    python: str | None = None,
    offline: bool = False,
    find_links: Iterable[str | os.PathLike[str]] = (),
    lock_timeout: float = 300.0,
    cache_dir: str | os.PathLike[str] | None = None,
    verbose: bool = False,
) -> EnsureResult:
    """:func:`ensure`, plus the CLI's ``verbose`` (uv's output on stderr)."""
    start = time.monotonic()
    target, inputs, directory = _prepare(venv, requirements, deps_files, python, offline, find_links, cache_dir)
    hit = _hit(target, inputs, directory, start)
    if hit is not None:
        return hit

    def result(status: Status, key: _Key, waited: float = 0.0, fallback: bool = False) -> EnsureResult:
        return _result(status, target, key, start, waited, fallback)

    from ._locking import VenvLock

    with VenvLock(directory, target.path, lock_timeout) as lock:
        state = _state.read(directory)
        key = _key(inputs, target, state)
        if _matches(state, key.fingerprint):  # another process did the work while we waited
            return result("hit", key, lock.waited)
        lock.exclude_users()  # no `run`/`use` of the venv may see it change
        status, fallback, report = _repair(target, inputs, key, directory, verbose=verbose)
        key.fingerprint = _fingerprint.fingerprint(inputs, key.deps_digest, target.identity())
        _state.write(
            directory,
            {
                "fingerprint": key.fingerprint,
                "inputs": key.inputs,
                "deps_digest": key.deps_digest,
                "files": key.files,
                "stamp": _stamp.take(report.stamp_paths),
                "stamp_paths": report.stamp_paths,
                "python": report.python,
                "venv": target.path,
                "status": status,
                "when": time.time(),
            },
        )
        return result(status, key, lock.waited, fallback)


def check_hit(
    venv: str | os.PathLike[str],
    requirements: Iterable[str] = (),
    *,
    deps_files: Iterable[str | os.PathLike[str]] = (),
    python: str | None = None,
    offline: bool = False,
    find_links: Iterable[str | os.PathLike[str]] = (),
    cache_dir: str | os.PathLike[str] | None = None,
) -> EnsureResult | None:
    """The result of :func:`ensure` when it is a hit, else ``None``: no lock, no process, nothing changed."""
    start = time.monotonic()
    target, inputs, directory = _prepare(venv, requirements, deps_files, python, offline, find_links, cache_dir)
    return _hit(target, inputs, directory, start)


def _prepare(  # noqa: PLR0917 (the arguments of ensure, resolved)
    venv: str | os.PathLike[str],
    requirements: Iterable[str],
    deps_files: Iterable[str | os.PathLike[str]],
    python: str | None,
    offline: bool,
    find_links: Iterable[str | os.PathLike[str]],
    cache_dir: str | os.PathLike[str] | None,
) -> tuple[Venv, _fingerprint.Inputs, str]:
    """The venv, what it must hold (paths made absolute) and its cache entry."""
    target = Venv(venv)
    target.check_path()
    inputs = _fingerprint.Inputs(
        requirements=tuple(requirements),
        deps_files=tuple(os.path.abspath(os.fspath(f)) for f in deps_files),
        python=python,
        find_links=tuple(_link(os.fspath(f)) for f in find_links),
        offline=offline or _flag("PENVCACHE_OFFLINE") or _flag("UV_OFFLINE"),
    )
    directory = _state.venv_dir(os.fspath(cache_dir) if cache_dir else _state.default_cache_dir(), target.path)
    return target, inputs, directory


def _hit(target: Venv, inputs: _fingerprint.Inputs, directory: str, start: float) -> EnsureResult | None:
    state = _state.read(directory)
    key = _key(inputs, target, state)
    return _result("hit", target, key, start) if _matches(state, key.fingerprint) else None


def _result(  # noqa: PLR0917
    status: Status, target: Venv, key: _Key, start: float, waited: float = 0.0, fallback: bool = False
) -> EnsureResult:
    assert key.fingerprint is not None
    return EnsureResult(status, target.path, target.python, key.fingerprint, time.monotonic() - start, waited, fallback)


def _link(link: str) -> str:
    return link if "://" in link else os.path.abspath(link)


def _key(inputs: _fingerprint.Inputs, venv: Venv, state: dict[str, Any] | None) -> _Key:
    """The current key; parses the deps only when their raw bytes differ from what ``state`` recorded."""
    key = _recorded_deps(inputs, state)
    if key is None:
        from ._requirements import read_deps

        deps = read_deps(inputs.requirements, inputs.deps_files)
        raw = _fingerprint.inputs_digest(inputs, deps.files)
        key = _Key(raw, _fingerprint.deps_digest(deps.normalised()), deps.files, deps)
    if venv.problem() is None:
        try:
            key.fingerprint = _fingerprint.fingerprint(inputs, key.deps_digest, venv.identity())
        except OSError:  # the venv changed under us; treat it as broken
            key.fingerprint = None
    return key


def _recorded_deps(inputs: _fingerprint.Inputs, state: dict[str, Any] | None) -> _Key | None:
    """A key built from the recorded deps digest, when the deps files are byte for byte as recorded."""
    if state is None:
        return None
    files: dict[str, str] = {}
    for path in state["files"]:
        try:
            with open(path, "rb") as f:
                files[path] = _stamp.file_digest(f)
        except OSError:
            return None
    if _fingerprint.inputs_digest(inputs, files) != state["inputs"]:
        return None
    return _Key(state["inputs"], state["deps_digest"], files, None)


def _matches(state: dict[str, Any] | None, fingerprint: str | None) -> bool:
    """``state`` was recorded for ``fingerprint`` and the venv's content stamp has not changed since."""
    return (
        state is not None
        and fingerprint is not None
        and state["fingerprint"] == fingerprint
        and _stamp.take(state["stamp_paths"]) == state["stamp"]
    )


def _repair(
    venv: Venv, inputs: _fingerprint.Inputs, key: _Key, directory: str, *, verbose: bool
) -> tuple[Status, bool, Report]:
    """Under the lock: create the venv if needed, validate, install what is missing, validate again."""
    from ._errors import InstallFailed, InvalidInput
    from ._installer import create_venv, find_python, install
    from ._probe import validate
    from ._requirements import read_deps

    deps = key.deps or read_deps(inputs.requirements, inputs.deps_files)
    deps.find_links[:0] = inputs.find_links
    created = False
    wanted = find_python(inputs.python) if inputs.python else None
    problem = venv.problem()
    if problem is None and wanted and os.path.realpath(wanted) != os.path.realpath(venv.python):
        problem = f"it runs {os.path.realpath(venv.python)}, not {wanted}"
    if problem is not None:
        exists = os.path.isdir(venv.path)
        creating = os.path.join(directory, "creating")  # present while uv creates it: a kill leaves it behind
        if exists and os.path.exists(creating):  # a creation that was killed part way: uv will not clear it
            import shutil

            shutil.rmtree(venv.path)
            exists = False
        elif exists and not venv.is_replaceable():
            msg = f"{venv.path} is not a virtual environment and is not empty; refusing to replace it"
            raise InvalidInput(msg)
        with open(creating, "w", encoding="utf-8") as f:
            f.write(venv.path)
        create_venv(venv, wanted, clear=exists, offline=inputs.offline, verbose=verbose)
        os.remove(creating)
        created = True
    if created and deps.requirements:  # a new, empty venv: everything is missing, skip the first validation
        missing, broken = sorted({r.name for r in deps.requirements}), []
    else:
        report = validate(venv.python, deps)
        if report.satisfied:
            return ("installed" if created else "adopted"), False, report
        missing, broken = sorted(report.failures), sorted(report.broken)
    fallback = install(venv, deps, missing=missing, reinstall=broken, offline=inputs.offline, verbose=verbose)
    report = validate(venv.python, deps)
    if not report.satisfied:
        msg = f"{venv.path} still fails validation after installing: {report.summary()}"
        raise InstallFailed(msg)
    return "installed", fallback, report


def use(
    venv: str | os.PathLike[str],
    requirements: Iterable[str] = (),
    *,
    deps_files: Iterable[str | os.PathLike[str]] = (),
    python: str | None = None,
    offline: bool = False,
    find_links: Iterable[str | os.PathLike[str]] = (),
    lock_timeout: float = 300.0,
    cache_dir: str | os.PathLike[str] | None = None,
) -> InUse:
    """:func:`ensure`, then keep the venv from being changed while the ``with`` block uses it.

    ``with penvcache.use(".venv", ["rich"]) as result:`` holds the venv's shared lock until the block ends:
    other users and hits go on, an ``ensure`` that must change the venv waits (and times out with
    :class:`LockTimeout`). ``lock_timeout`` bounds all the waiting on entry.
    """
    return InUse(
        venv,
        tuple(requirements),
        deps_files=tuple(deps_files),
        python=python,
        offline=offline,
        find_links=tuple(find_links),
        lock_timeout=lock_timeout,
        cache_dir=cache_dir,
    )


class InUse:
    """The context manager :func:`use` returns; ``run_ensure``'s keyword arguments are passed through."""

    def __init__(self, venv: str | os.PathLike[str], requirements: tuple[str, ...], **options: Any) -> None:
        self.venv = venv
        self.requirements = requirements
        self.options = options
        self._lock: Any = None

    def __enter__(self) -> EnsureResult:
        from ._errors import LockTimeout
        from ._locking import UseLock

        timeout: float = self.options.pop("lock_timeout")
        cache_dir = self.options["cache_dir"]
        path = Venv(self.venv).path
        directory = _state.venv_dir(os.fspath(cache_dir) if cache_dir else _state.default_cache_dir(), path)
        deadline = time.monotonic() + timeout
        left = timeout
        while True:
            result = run_ensure(self.venv, self.requirements, lock_timeout=left, **self.options)
            lock = UseLock(directory, path, max(deadline - time.monotonic(), 0.0)).__enter__()
            if _matches(_state.read(directory), result.fingerprint):
                self._lock = lock
                result.waited += lock.waited
                return result
            lock.__exit__(None, None, None)  # changed between the ensure and the shared lock: again
            left = deadline - time.monotonic()
            if left <= 0:
                msg = f"timed out after {timeout:g}s: {path} kept changing before it could be used"
                raise LockTimeout(msg)

    def __exit__(self, *exc_info: object) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.__exit__(None, None, None)
