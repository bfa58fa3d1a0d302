"""``ensure``: check, lock, check again, create, validate, install, validate, record."""

from __future__ import annotations

import os
import sys
import time

from . import _key, _state, _stats
from ._errors import PenvcacheError
from ._hit import EnsureResult, FirstLook, Status
from ._hit import result as _result
from ._request import Request, cache_entry, check_arguments
from ._venv import Venv

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from ._probe import Report
    from ._requirements import DepsSet

_DYING_GRACE = 5.0  #: seconds a killed holder's uv may take to die and release <venv>/.lock, whatever the timeout


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
    salt: Iterable[str] = (),
    salt_files: Iterable[str | os.PathLike[str]] = (),
    options: Iterable[str] = (),
    require_hit: bool = False,
    retry: bool = False,
    store: Iterable[str] = (),
    store_write: bool = True,
    skip_imports: Iterable[str] = (),
    validate_timeout: float = 300.0,
) -> EnsureResult:
    """Make sure ``venv`` holds ``requirements`` and the deps files; install with uv only on a miss.

    A hit takes no lock and starts no process. A miss takes the venv's exclusive lock (waiting at most
    ``lock_timeout`` seconds, else :class:`LockTimeout`), creates the venv if it is missing or broken,
    validates by importing every dependency in it, installs what is missing, validates again and records.
    ``salt`` texts and the content of ``salt_files`` (and ``PENVCACHE_SALT``) are part of the key. With
    ``require_hit``, a miss raises :class:`CacheMiss` naming why, and installs nothing. ``options`` are the
    command line's uv options, one per string, e.g. ``["--index-url https://host/simple", "-e ./pkg",
    "--project .", "--group dev", "--extra test", "--exact", "--pre"]`` (paths relative to the current directory).
    A set that still failed validation after an install fails again at once (:class:`ValidationFailed`, nothing
    installed) until an input or the venv changes; ``retry`` installs and validates again anyway.
    ``skip_imports``: module (or distribution) names validation does not import (also ``PENVCACHE_SKIP_IMPORT``,
    comma-separated; part of the key); their versions, metadata and files are still checked.
    ``validate_timeout`` bounds a validation. ``store`` names shared stores (URLs; default ``$PENVCACHE_STORE``)
    that a miss installs from when they hold the set, and publishes to after an install from elsewhere unless
    ``store_write`` is false.
    """
    request = Request(
        venv,
        requirements,
        deps_files=deps_files,
        python=python,
        offline=offline,
        find_links=find_links,
        lock_timeout=lock_timeout,
        cache_dir=cache_dir,
        salt=salt,
        salt_files=salt_files,
        options=options,
        require_hit=require_hit,
        retry=retry,
        store=store,
        store_write=store_write,
        skip_imports=skip_imports,
        validate_timeout=validate_timeout,
    )
    return run_ensure(request)


def run_ensure(request: Request, first: FirstLook | None = None) -> EnsureResult:
    """:func:`ensure` for ``request``, with the CLI's ``verbose``, ``progress`` and ``python_downloads``; ``first``
    is the look at the record a caller has taken already (the command line's fast path), not taken again."""
    if first is None:
        first = FirstLook(request)
    if first.hit is not None:
        return first.hit
    start, target, inputs, cache, directory = first.start, first.target, first.inputs, first.cache, first.directory
    state, key = first.state, first.key
    lock_timeout = request.lock_timeout

    def result(
        status: Status, key: _key.Key, waited: float = 0.0, fallback: bool = False, warnings: list[str] | None = None
    ) -> EnsureResult:
        return _result(status, target, key, cache, start, waited, fallback, warnings)

    if request.require_hit:
        return _require_hit(inputs, target, cache, directory, result)

    from ._locking import VenvLock

    waited = 0.0
    try:
        with VenvLock(directory, target.path, lock_timeout) as lock:
            waited = lock.waited
            from ._installer import wait_for_installs

            # a uv left by a killed holder (or the user's own) must be gone before we look: it holds <venv>/.lock
            wait_for_installs(target, max(lock_timeout - waited, _DYING_GRACE))
            state = _state.read(directory)
            # the deps parsed just before the lock are reused while their files are byte for byte the same
            unchanged = key.deps is not None and _key.file_digests(key.files) == key.files
            key = _key.build(inputs, target, state, exact=True, deps=key.deps if unchanged else None)
            if _key.is_hit(state, key):  # another process did the work while we waited
                assert state is not None
                if state["installer"] != key.installer:  # uv was reinstalled as the same version
                    _state.write(directory, {**state, "installer": key.installer})
                return result("hit", key, waited, warnings=state.get("warnings"))
            if not request.retry:
                _fail_as_recorded(directory, key)
            if key.deps is None:  # built from the record: parse, and describe the local projects afresh
                key = _key.build(inputs, target, state, exact=True, deps=_key.parse(inputs), installer=key.installer)
            lock.exclude_users()  # no `run`/`use` of the venv may see it change
            waited = lock.waited
            output = _Output(request.verbose, request.progress, request.python_downloads)
            status, fallback, report = _repair(
                target, inputs, key, directory, output, state=state, validate_timeout=request.validate_timeout
            )
            # What is recorded is what the install and the validation acted on: the inputs read before the install
            # (deps files, local projects, salts), and the venv as it was when the last validation started (it
            # may have been (re)created since the key was built). A change made since then misses next time.
            _key.set_identity(key, report.venv_identity)
            _record(directory, target, key, status, report)  # its summary replaces a recorded failure
            return result(status, key, waited, fallback, report.warnings)
    except PenvcacheError as e:
        from ._errors import InstallFailed, LockTimeout, ValidationFailed

        if isinstance(e, LockTimeout):
            waited = e.waited
        _stats.record(cache, _stats.event("miss", status="failed", waited=waited))
        if isinstance(e, ValidationFailed) and e.report is None:  # read back from the record: keep it as it is
            raise
        if isinstance(e, InstallFailed):  # the venv is what failed (a timeout or bad input changed nothing)
            last: dict[str, Any] = {"venv": target.path, "status": "failed", "error": str(e), "when": time.time()}
            if isinstance(e, ValidationFailed):  # it still failed after an install: not again until something changes
                # as for a success: the inputs and the venv the install and the validation acted on
                _key.set_identity(key, getattr(e.report, "venv_identity", None))
                if key.fingerprint is not None:
                    last["failure"] = {
                        "fingerprint": key.fingerprint,
                        "stamp_paths": getattr(e.report, "stamp_paths", []),
                        "stamp": getattr(e.report, "stamp", ""),
                    }
            import contextlib

            with contextlib.suppress(OSError):
                _state.summarise(directory, last)
        raise


def _fail_as_recorded(directory: str, key: _key.Key) -> None:
    """Raise the recorded failure again when nothing has changed since the install that ended in it."""
    last = _key.recorded_failure(directory, key)
    if last is None:
        return
    from ._errors import ValidationFailed

    try:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last.get("when", 0)))
    except (OverflowError, OSError, ValueError):  # a time no calendar holds: the record is still the failure
        when = "an unknown time"
    msg = (
        f"{last['error']} [recorded at {when} and not retried: nothing changed since; "
        "change the dependencies or the venv, or pass --retry]"
    )
    raise ValidationFailed(msg)


def _require_hit(
    inputs: _key.Inputs,
    target: Venv,
    cache: str,
    directory: str,
    result: Callable[[Status, _key.Key], EnsureResult],
) -> EnsureResult:
    """``require_hit`` after the quick check missed: the exact check, then :class:`CacheMiss` with the reasons."""
    from ._errors import CacheMiss
    from ._explain import explain

    check = explain(inputs, target, directory, probe=False)
    if check.hit:
        return result("hit", check.key)
    _stats.record(cache, "miss")
    msg = f"{target.path}: cache miss: " + "; ".join(check.reasons)
    raise CacheMiss(msg)


def _record(directory: str, target: Venv, key: _key.Key, status: Status, report: Report) -> None:
    from ._requirements import resolved_commits

    when = time.time()
    assert key.deps is not None
    assert key.identity is not None
    _state.write(
        directory,
        {
            "fingerprint": key.fingerprint,
            "inputs": key.inputs,
            "files": key.files,
            "file_sources": key.file_sources,
            "components": key.components,
            "details": {
                "lines": key.deps.lines,
                "sources": key.components_sources,
                "python": key.identity["base_python"],
                "python_request": key.python_request,
                "pyvenv_cfg": key.identity["pyvenv_cfg"],
                "salt": key.salt,
                "skip_imports": list(key.skip_imports),
                # VCS references that can move (a branch, a tag): the commit each was installed at
                "vcs": resolved_commits(key.deps, report.stamp_paths),
            },
            "installer": key.installer,
            "local": key.local,
            "stamp": report.stamp,  # the paths as validation found them, not as they are now
            "stamp_paths": report.stamp_paths,
            "python": report.python,
            "warnings": report.warnings,
            "venv": target.path,
            "status": status,
            "when": when,
        },
    )
    import contextlib

    with contextlib.suppress(OSError):  # what `list` shows: the state above is what counts
        _state.summarise(directory, {"venv": target.path, "status": status, "when": when})


def _changed_local_projects(deps: DepsSet, now: list[list[Any]], state: dict[str, Any] | None) -> list[str]:
    """The local projects whose key (``now``: the current key's ``local``) is not the one recorded for this venv:
    reinstall them even if they validate."""
    from packaging.utils import canonicalize_name

    from ._local import describe
    from ._requirements import normalise

    recorded = {project[0]: project[3] for project in (state or {}).get("local", [])}
    current = {project[0]: project[3] for project in now}
    changed = set()
    for req in deps.requirements:
        path = deps.local.get(normalise(req))
        if path is not None and recorded.get(path) != (current.get(path) or describe(path)[3]):
            changed.add(canonicalize_name(req.name))
    return sorted(changed)


class _Output:
    """How a miss shows itself: uv's output (``verbose``), its steps (``progress``); and if a Python may be fetched."""

    def __init__(self, verbose: bool, progress: bool, python_downloads: bool) -> None:
        from ._progress import uv_on_terminal

        self.verbose = verbose
        self.progress = progress
        self.python_downloads = python_downloads
        self.uv_display = uv_on_terminal(progress)  # uv draws its own progress on our terminal

    def step(self, what: str, detail: str = "", *, uv: bool = False, enabled: bool = True) -> Any:
        """A :class:`._progress.Step`; no "still ..." lines while uv draws its own display."""
        from ._progress import Step

        return Step(what, detail, enabled=self.progress and enabled, heartbeat=not (uv and self.uv_display))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _validating(deps: DepsSet, venv: Venv) -> tuple[str, str]:
    return f"validating {_plural(len({r.name for r in deps.requirements}), 'distribution')}", f" in {venv.path}"


def _installing(missing: list[str], venv: Venv) -> tuple[str, str]:
    if not missing:  # exact mode, with everything there: uv removes what the set does not need
        return "syncing with uv", f" {venv.path} (--exact: removing what the set does not need)"
    names = ", ".join(missing) if len(missing) <= 5 else ", ".join(missing[:5]) + ", ..."
    return f"installing {_plural(len(missing), 'package')}", f" into {venv.path}: {names}"


def _repair(
    venv: Venv,
    inputs: _key.Inputs,
    key: _key.Key,
    directory: str,
    output: _Output,
    *,
    state: dict[str, Any] | None = None,
    validate_timeout: float = 300.0,
) -> tuple[Status, bool, Report]:
    """Under the lock: create the venv if needed, validate, install what is missing, validate again."""

    from ._clearing import CreationMark, check_target, make_room
    from ._installer import create_venv, find_python, install
    from ._probe import validate

    if key.deps is None:
        key.deps = _key.parse(inputs)
    # the arguments' find-links first, then the deps files'; with what uv's UV_CONSTRAINT, UV_OVERRIDE and
    # UV_EXCLUDE files say (parse read them): validated too
    deps = key.deps.with_find_links(inputs.find_links)
    created = False
    verbose = output.verbose
    check_target(venv)
    wanted = (
        find_python(inputs.python, offline=inputs.offline, downloads=output.python_downloads) if inputs.python else None
    )
    mark = CreationMark(directory, venv)
    problem = venv.problem()
    if problem is None:  # a creation killed after uv finished left its mark: the venv is whole
        mark.release()
    if problem is None and wanted and os.path.realpath(wanted) != os.path.realpath(venv.python):
        problem = f"it runs {os.path.realpath(venv.python)}, not {wanted}"
    if problem is None and inputs.python and wanted is None:  # not installed: uv venv downloads it
        problem = f"--python {inputs.python} is not installed"
    if problem is not None:
        make_room(venv, mark)  # refuses what penvcache may not clear; the mark stays until the venv is whole
        python = wanted or inputs.python or sys.executable
        fetch = " (not installed: uv downloads it)" if inputs.python and wanted is None else ""
        with output.step(f"creating venv {venv.path}", f" with {python}{fetch}", uv=True):
            create_venv(
                venv,
                python,
                offline=inputs.offline,
                verbose=verbose,
                downloads=output.python_downloads,
                display=output.uv_display,
            )
        mark.release()
        created = True

    def validated() -> Report:
        with output.step(*_validating(deps, venv), enabled=bool(deps.requirements)):
            identity = _key.identity_of(venv)  # before validation: a venv recreated during it is not the one validated
            report = validate(venv.python, deps, skip_imports=inputs.skip_imports, timeout=validate_timeout)
            report.venv_identity = identity
            return report

    def installed(missing: list[str], reinstall: list[str], *, fresh: bool) -> bool:
        """uv installs from the set's own sources; True when it fell back to offline."""
        with output.step(*_installing(missing, venv), uv=True):
            return install(
                venv,
                deps,
                missing=missing,
                reinstall=reinstall,
                offline=inputs.offline,
                verbose=verbose,
                fresh=fresh,
                display=output.uv_display,
            )

    fresh = False
    if created and deps.requirements:  # a new, empty venv: everything is missing, skip the first validation
        missing, broken = sorted({r.name for r in deps.requirements}), []
    else:
        # a local project whose metadata may have changed validates as it was: uv must build and install it again
        changed = _changed_local_projects(deps, key.local, state)
        report = validated()
        if report.satisfied and not changed and not deps.exact:  # exact: uv says whether anything is extra
            return ("installed" if created else "adopted"), False, report
        missing, broken = sorted({*report.failures, *changed}), sorted({*report.broken, *changed})
        fresh = bool(report.refetch)
    stores = _stores(inputs)
    attempt = None
    if stores:
        from ._store import install_from_store

        attempt = install_from_store(stores, venv, inputs, key.components, deps, verbose=verbose)
    fallback = False
    if attempt is None or attempt.served_by is None:
        fallback = installed(missing, broken, fresh=fresh)
    report = validated()
    if not report.satisfied and attempt is not None and attempt.served_by is not None:
        from ._store import reject

        again = reject(attempt, report.summary())  # a store's entry that installs but fails: the set's own sources
        fallback = installed(again, again, fresh=bool(report.refetch))
        report = validated()
    if not report.satisfied:
        from ._errors import ValidationFailed

        msg = f"{venv.path} still fails validation after installing: {report.summary()}"
        raise ValidationFailed(msg, report=report)
    if attempt is not None:
        _store_stats(directory, stores, attempt, venv, inputs, deps)
    return "installed", fallback, report


def _stores(inputs: _key.Inputs) -> list[str]:
    if not inputs.stores and not os.environ.get("PENVCACHE_STORE"):
        return []
    from ._store import store_urls

    return store_urls(inputs.stores)


def _store_stats(  # noqa: PLR0917
    directory: str, stores: list[str], attempt: Any, venv: Venv, inputs: _key.Inputs, deps: DepsSet
) -> None:
    """Publish what was installed (unless the store is read-only here) and count the store's traffic."""
    from ._store import publish_after

    published = 0
    if inputs.store_write:
        published = publish_after(stores, attempt, venv.python, inputs, deps)
    if attempt.key is not None:
        cache = os.path.dirname(os.path.dirname(directory))
        outcome = "store_hit" if attempt.served_by else "store_miss"
        _stats.record(cache, f"{outcome} fetched={attempt.bytes_fetched} published={published}")


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
    salt: Iterable[str] = (),
    salt_files: Iterable[str | os.PathLike[str]] = (),
    options: Iterable[str] = (),
    require_hit: bool = False,
    retry: bool = False,
    store: Iterable[str] = (),
    store_write: bool = True,
    skip_imports: Iterable[str] = (),
    validate_timeout: float = 300.0,
) -> InUse:
    """:func:`ensure`, then keep the venv from being changed while the ``with`` block uses it.

    ``with penvcache.use(".venv", ["rich"]) as result:`` holds the venv's shared lock until the block ends:
    other users and hits go on, an ``ensure`` that must change the venv waits (and times out with
    :class:`LockTimeout`). ``lock_timeout`` bounds all the waiting on entry.
    """
    check_arguments(requirements, deps_files, find_links, salt, salt_files, options)
    request = Request(  # tuples: each try of the ``with`` reads them again
        venv,
        tuple(requirements),
        deps_files=tuple(deps_files),
        python=python,
        offline=offline,
        find_links=tuple(find_links),
        lock_timeout=lock_timeout,
        cache_dir=cache_dir,
        salt=tuple(salt),
        salt_files=tuple(salt_files),
        options=tuple(options),
        require_hit=require_hit,
        retry=retry,
        store=tuple(store),
        store_write=store_write,
        skip_imports=tuple(skip_imports),
        validate_timeout=validate_timeout,
    )
    return InUse(request)


class InUse:
    """The context manager :func:`use` returns: the request ensured, then the venv's shared lock held.

    Made by :func:`use` from a :class:`._request.Request`; ``InUse(venv, requirements, **keywords)`` (the keywords
    of :func:`ensure`) still works as before.
    """

    def __init__(
        self, request: Request | str | os.PathLike[str], requirements: Iterable[str] = (), **keywords: Any
    ) -> None:
        self.request = request if isinstance(request, Request) else Request(request, requirements, **keywords)
        self._lock: Any = None

    def __enter__(self) -> EnsureResult:
        from ._errors import LockTimeout
        from ._locking import UseLock

        timeout = self.request.lock_timeout
        target = Venv(self.request.venv)
        path, directory = target.path, cache_entry(self.request.cache_dir, target)[1]
        deadline = time.monotonic() + timeout
        left = timeout
        while True:
            result = run_ensure(self.request.copy(lock_timeout=left))
            lock = UseLock(directory, path, max(deadline - time.monotonic(), 0.0)).__enter__()
            if _key.matches(_state.read(directory), result.fingerprint):
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
