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

    def result(status: Status, key: _Key, waited: float = 0.0, fallback: bool = False) -> EnsureResult:
        assert key.fingerprint is not None
        return EnsureResult(
            status, target.path, target.python, key.fingerprint, time.monotonic() - start, waited, fallback
        )

    state = _state.read(directory)
    key = _key(inputs, target, state)
    if _is_hit(state, key):
        return result("hit", key)

    from ._locking import VenvLock

    with VenvLock(directory, target.path, lock_timeout) as lock:
        state = _state.read(directory)
        key = _key_again(inputs, target, state, key)
        if _is_hit(state, key):  # another process did the work while we waited
            return result("hit", key, lock.waited)
        status, fallback, report = _repair(target, inputs, key, verbose=verbose)
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


def _key_again(inputs: _fingerprint.Inputs, venv: Venv, state: dict[str, Any] | None, before: _Key) -> _Key:
    """:func:`_key` under the lock; the deps parsed just before it are reused if their files have not changed."""
    files = _file_digests(before.files) if before.deps is not None else None
    if files is None or files != before.files or _recorded_deps(inputs, state) is not None:
        return _key(inputs, venv, state)
    key = _Key(before.inputs, before.deps_digest, files, before.deps)
    if venv.problem() is None:
        try:
            key.fingerprint = _fingerprint.fingerprint(inputs, key.deps_digest, venv.identity())
        except OSError:  # the venv changed under us; treat it as broken
            key.fingerprint = None
    return key


def _file_digests(paths: Iterable[str]) -> dict[str, str] | None:
    """Each file's SHA-256, or None if one cannot be read."""
    files: dict[str, str] = {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                files[path] = _stamp.file_digest(f)
        except OSError:
            return None
    return files


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


def _is_hit(state: dict[str, Any] | None, key: _Key) -> bool:
    return (
        state is not None
        and key.fingerprint is not None
        and state["fingerprint"] == key.fingerprint
        and _stamp.take(state["stamp_paths"]) == state["stamp"]
    )


def _repair(venv: Venv, inputs: _fingerprint.Inputs, key: _Key, *, verbose: bool) -> tuple[Status, bool, Report]:
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
        if exists and not venv.is_replaceable():
            msg = f"{venv.path} is not a virtual environment and is not empty; refusing to replace it"
            raise InvalidInput(msg)
        create_venv(venv, wanted, clear=exists, offline=inputs.offline, verbose=verbose)
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
