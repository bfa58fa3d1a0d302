"""``ensure``: check, lock, check again, create, validate, install, validate, record."""

from __future__ import annotations

import os
import sys
import time

from . import _fingerprint, _stamp, _state, _stats
from ._digest import digest, hex_digest
from ._errors import PenvcacheError
from ._venv import Venv

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
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


_DYING_GRACE = 5.0  #: seconds a killed holder's uv may take to die and release <venv>/.lock, whatever the timeout

_RESULT_FIELDS = ("status", "venv", "python", "fingerprint", "elapsed", "waited", "offline_fallback")


class _Key:
    """The current key's components; the deps are parsed only when their raw inputs differ from the record."""

    def __init__(self, inputs: str, files: dict[str, str], requirements: str, file_sources: list[str]) -> None:
        self.fingerprint: str | None = None  # None while a component is unknown
        self.components: dict[str, str | None] = {}
        self.inputs = inputs
        self.files = files
        self.requirements = requirements
        self.file_sources = file_sources
        self.deps: DepsSet | None = None
        self.identity: dict[str, Any] | None = None  # the venv's, while it is usable
        self.salt: list[list[str]] = []
        self.installer: dict[str, Any] | None = None  # identified for real (a miss), not the hit's stand-in
        self.components_sources: list[str] = []
        self.python_request = ""


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
    salt: Iterable[str] = (),
    salt_files: Iterable[str | os.PathLike[str]] = (),
    options: Iterable[str] = (),
    require_hit: bool = False,
    store: Iterable[str] = (),
    store_write: bool = True,
) -> EnsureResult:
    """Make sure ``venv`` holds ``requirements`` and the deps files; install with uv only on a miss.

    A hit takes no lock and starts no process. A miss takes the venv's exclusive lock (waiting at most
    ``lock_timeout`` seconds, else :class:`LockTimeout`), creates the venv if it is missing or broken,
    validates by importing every dependency in it, installs what is missing, validates again and records.
    ``salt`` texts and the content of ``salt_files`` (and ``PENVCACHE_SALT``) are part of the key. With
    ``require_hit``, a miss raises :class:`CacheMiss` naming why, and installs nothing. ``options`` are the
    command line's uv options, one per string, e.g. ``["--index-url https://host/simple", "-e ./pkg",
    "--project .", "--group dev", "--extra test", "--exact", "--pre"]`` (paths relative to the current directory).
    ``store`` names shared stores (URLs; default ``$PENVCACHE_STORE``) that a miss installs from when they
    hold the set, and publishes to after an install from elsewhere unless ``store_write`` is false.
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
        salt=salt,
        salt_files=salt_files,
        require_hit=require_hit,
        store=store,
        store_write=store_write,
        options=options,
    )


def make_inputs(
    requirements: Iterable[str],
    *,
    deps_files: Iterable[str | os.PathLike[str]],
    python: str | None,
    offline: bool,
    find_links: Iterable[str | os.PathLike[str]],
    salt: Iterable[str],
    salt_files: Iterable[str | os.PathLike[str]],
    store: Iterable[str] = (),
    store_write: bool = True,
    options: Iterable[str] = (),
) -> _fingerprint.Inputs:
    """The inputs of one call, with the environment's say (``PENVCACHE_OFFLINE``, ``PENVCACHE_SALT``...)."""
    salts = tuple(("--salt", text) for text in salt)
    env_salt = os.environ.get("PENVCACHE_SALT")
    if env_salt:
        salts += (("PENVCACHE_SALT", env_salt),)
    return _fingerprint.Inputs(
        requirements=tuple(requirements),
        deps_files=tuple(os.path.abspath(os.fspath(f)) for f in deps_files),
        python=python,
        find_links=tuple(_link(os.fspath(f)) for f in find_links),
        offline=offline or _flag("PENVCACHE_OFFLINE") or _flag("UV_OFFLINE"),
        salts=salts,
        salt_files=tuple(os.path.abspath(os.fspath(f)) for f in salt_files),
        installer=os.environ.get("PENVCACHE_UV", ""),
        stores=tuple(store),
        store_write=store_write,
        options=_options(options),
        uv_env=_fingerprint.uv_environment(),
    )


def _options(options: Iterable[str]) -> tuple[str, ...]:
    """Option lines, sorted (their order does not matter); a lone string is refused, not split into letters."""
    if isinstance(options, (str, bytes, os.PathLike)):
        from ._errors import InvalidInput

        msg = f"options must be a list of option lines, not one string: {options!r}"
        raise InvalidInput(msg)
    return tuple(sorted(set(options)))


def cache_entry(cache_dir: str | os.PathLike[str] | None, venv: Venv) -> tuple[str, str]:
    """The cache dir and the venv's entry (directory) in it."""
    cache = os.fspath(cache_dir) if cache_dir else _state.default_cache_dir()
    directory = _state.venv_dir(cache, venv.path)
    _state.check_owned(directory)  # a few lstat calls: refuse an entry another user could have written
    return cache, directory


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
    salt: Iterable[str] = (),
    salt_files: Iterable[str | os.PathLike[str]] = (),
    options: Iterable[str] = (),
    require_hit: bool = False,
    verbose: bool = False,
    store: Iterable[str] = (),
    store_write: bool = True,
) -> EnsureResult:
    """:func:`ensure`, plus the CLI's ``verbose`` (uv's output on stderr)."""
    start = time.monotonic()
    if not lock_timeout >= 0:  # also catches nan
        from ._errors import InvalidInput

        msg = f"lock timeout must be a number of seconds >= 0, not {lock_timeout!r}"
        raise InvalidInput(msg)
    target, inputs, cache, directory = prepare(
        venv,
        requirements,
        deps_files,
        python,
        offline,
        find_links,
        cache_dir,
        salt,
        salt_files,
        options,
        store,
        store_write,
    )

    def result(status: Status, key: _Key, waited: float = 0.0, fallback: bool = False) -> EnsureResult:
        return _result(status, target, key, cache, start, waited, fallback)

    state = _state.read(directory)
    key = _key(inputs, target, state)
    if _is_hit(state, key):
        return result("hit", key)

    if require_hit:
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
            unchanged = key.deps is not None and _file_digests(key.files) == key.files
            key = _key(inputs, target, state, exact=True, deps=key.deps if unchanged else None)
            if _is_hit(state, key):  # another process did the work while we waited
                assert state is not None
                if state["installer"] != key.installer:  # uv was reinstalled as the same version
                    _state.write(directory, {**state, "installer": key.installer})
                return result("hit", key, waited)
            lock.exclude_users()  # no `run`/`use` of the venv may see it change
            waited = lock.waited
            status, fallback, report = _repair(target, inputs, key, directory, verbose=verbose, state=state)
            # the venv may have been (re)created: its identity now
            key = _key(inputs, target, None, exact=True, deps=key.deps, installer=key.installer)
            _record(directory, target, key, status, report)
            return result(status, key, waited, fallback)
    except PenvcacheError as e:
        from ._errors import InstallFailed, LockTimeout

        if isinstance(e, LockTimeout):
            waited = e.waited
        _stats.record(cache, _stats.event("miss", status="failed", waited=waited))
        if isinstance(e, InstallFailed):  # the venv is what failed (a timeout or bad input changed nothing)
            last = {"venv": target.path, "status": "failed", "error": str(e), "when": time.time()}
            import contextlib

            with contextlib.suppress(OSError):
                _state.summarise(directory, last)
        raise


def check_hit(
    venv: str | os.PathLike[str],
    requirements: Iterable[str] = (),
    *,
    deps_files: Iterable[str | os.PathLike[str]] = (),
    python: str | None = None,
    offline: bool = False,
    find_links: Iterable[str | os.PathLike[str]] = (),
    cache_dir: str | os.PathLike[str] | None = None,
    salt: Iterable[str] = (),
    salt_files: Iterable[str | os.PathLike[str]] = (),
    options: Iterable[str] = (),
) -> EnsureResult | None:
    """The result of :func:`ensure` when it is a hit, else ``None``: no lock, no process, nothing changed."""
    start = time.monotonic()
    target, inputs, cache, directory = prepare(
        venv, requirements, deps_files, python, offline, find_links, cache_dir, salt, salt_files, options
    )
    state = _state.read(directory)
    key = _key(inputs, target, state)
    return _result("hit", target, key, cache, start) if _is_hit(state, key) else None


def prepare(  # noqa: PLR0917 (the arguments of ensure)
    venv: str | os.PathLike[str],
    requirements: Iterable[str],
    deps_files: Iterable[str | os.PathLike[str]],
    python: str | None,
    offline: bool,
    find_links: Iterable[str | os.PathLike[str]],
    cache_dir: str | os.PathLike[str] | None,
    salt: Iterable[str],
    salt_files: Iterable[str | os.PathLike[str]],
    options: Iterable[str] = (),
    store: Iterable[str] = (),
    store_write: bool = True,
) -> tuple[Venv, _fingerprint.Inputs, str, str]:
    """The venv, what it must hold, the cache dir and the venv's entry in it."""
    target = Venv(venv)
    target.check_path()
    inputs = make_inputs(
        requirements,
        deps_files=deps_files,
        python=python,
        offline=offline,
        find_links=find_links,
        salt=salt,
        salt_files=salt_files,
        store=store,
        store_write=store_write,
        options=options,
    )
    return (target, inputs, *cache_entry(cache_dir, target))


def _result(  # noqa: PLR0917
    status: Status, target: Venv, key: _Key, cache: str, start: float, waited: float = 0.0, fallback: bool = False
) -> EnsureResult:
    """The result of a call, counted in the cache dir's stats."""
    assert key.fingerprint is not None
    elapsed = time.monotonic() - start
    _stats.record(
        cache, _stats.event("hit" if status == "hit" else "miss", status=status, elapsed=elapsed, waited=waited)
    )
    return EnsureResult(status, target.path, target.python, key.fingerprint, elapsed, waited, fallback)


def _require_hit(
    inputs: _fingerprint.Inputs,
    target: Venv,
    cache: str,
    directory: str,
    result: Callable[[Status, _Key], EnsureResult],
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


def _record(directory: str, target: Venv, key: _Key, status: Status, report: Report) -> None:
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
                # VCS references that can move (a branch, a tag): the commit each was installed at
                "vcs": resolved_commits(key.deps, report.stamp_paths),
            },
            "installer": key.installer,
            "stamp": _stamp.take(report.stamp_paths),
            "stamp_paths": report.stamp_paths,
            "python": report.python,
            "venv": target.path,
            "status": status,
            "when": when,
        },
    )
    import contextlib

    with contextlib.suppress(OSError):  # what `list` shows: the state above is what counts
        _state.summarise(directory, {"venv": target.path, "status": status, "when": when})


def _link(link: str) -> str:
    return link if "://" in link else os.path.abspath(link)


def parse(inputs: _fingerprint.Inputs) -> DepsSet:
    from ._requirements import read_deps

    return read_deps(inputs.requirements, inputs.deps_files, inputs.options)


def _key(
    inputs: _fingerprint.Inputs,
    venv: Venv,
    state: dict[str, Any] | None,
    *,
    exact: bool = False,
    deps: DepsSet | None = None,
    installer: dict[str, Any] | None = None,
) -> _Key:
    """The current key. The deps are parsed only when their raw bytes differ from what ``state`` recorded;
    the installer is identified only when ``exact`` (else its recorded stand-in must still hold)."""
    key = None if deps else _recorded_deps(inputs, state)
    if key is None:
        deps = deps or parse(inputs)
        key = _Key(
            _fingerprint.inputs_digest(inputs, deps.files),
            deps.files,
            digest(deps.requirement_lines()),
            deps.source_lines(),
        )
        key.deps = deps
    key.components_sources = _fingerprint.sources(inputs, key.file_sources)
    key.python_request = inputs.python or ""
    key.salt = _salt(inputs)
    components = key.components
    components["requirements"] = key.requirements
    components["sources"] = digest(key.components_sources)
    components["salt"] = digest(key.salt) if key.salt else ""
    if exact:
        from ._installer import identify

        key.installer = installer or identify(inputs.installer)
        components["installer"] = key.installer["version"]
    else:
        components["installer"] = _installer_stand_in(inputs, state)
    components["python"] = components["venv"] = None
    if venv.problem() is None:
        try:
            key.identity = venv.identity()
        except OSError:  # the venv changed under us; treat it as broken
            key.identity = None
        else:
            components["python"] = digest([key.python_request, key.identity["base_python"]])
            components["venv"] = digest(key.identity["pyvenv_cfg"])
    key.fingerprint = _fingerprint.fingerprint(components)
    return key


def _salt(inputs: _fingerprint.Inputs) -> list[list[str]]:
    """Each salt as [where it came from, SHA-256 of its text or its file's bytes]."""
    parts = [[where, hex_digest(text.encode("utf-8", "surrogateescape"))] for where, text in inputs.salts]
    for path in inputs.salt_files:
        data = _state.read_regular(path)  # never a FIFO or a device: a hit must not hang
        if data is None:
            from ._errors import InvalidInput

            why = "no such file" if not os.path.lexists(path) else "not a readable regular file, or too big"
            msg = f"--salt-file {path}: cannot read it: {why}"
            raise InvalidInput(msg)
        parts.append([f"--salt-file {path}", hex_digest(data)])
    return parts


def _installer_stand_in(inputs: _fingerprint.Inputs, state: dict[str, Any] | None) -> str | None:
    """The recorded installer version while its stand-in holds (same request, same prefix, same binary)."""
    if state is None:
        return None
    recorded = state["installer"]
    if recorded.get("request") != inputs.installer or recorded.get("prefix") != sys.prefix:
        return None
    try:
        st = os.stat(recorded["bin"])
    except (OSError, KeyError, TypeError):
        return None
    if recorded.get("stat") != [st.st_ino, st.st_size, st.st_mtime_ns]:
        return None
    version: str | None = recorded.get("version")
    return version


def _file_digests(paths: Iterable[str]) -> dict[str, str] | None:
    """Each file's SHA-256, or None if one cannot be read, or is not a regular file of at most the deps-file cap
    (then the parser says why)."""
    import stat

    files: dict[str, str] = {}
    for path in paths:
        if path.startswith("${"):  # an environment variable a deps file expanded
            files[path] = _fingerprint.env_digest(path[2:-1])
            continue
        try:  # O_NONBLOCK: a FIFO put in a deps file's place must not block a hit
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except (OSError, ValueError):
            return None
        with open(fd, "rb") as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > _fingerprint.MAX_FILE_BYTES:
                return None
            files[path] = hex_digest(f.read(_fingerprint.MAX_FILE_BYTES + 1))
    return files


def _recorded_deps(inputs: _fingerprint.Inputs, state: dict[str, Any] | None) -> _Key | None:
    """A key built from the recorded requirements component, when the deps files are byte for byte as recorded."""
    if state is None:
        return None
    files = _file_digests(state["files"])
    if files is None or _fingerprint.inputs_digest(inputs, files) != state["inputs"]:
        return None
    requirements = state["components"].get("requirements")
    if not isinstance(requirements, str):
        return None
    return _Key(state["inputs"], files, requirements, state["file_sources"])


def _is_hit(state: dict[str, Any] | None, key: _Key) -> bool:
    return _matches(state, key.fingerprint)


def _matches(state: dict[str, Any] | None, fingerprint: str | None) -> bool:
    """``state`` was recorded for ``fingerprint`` and the venv's content stamp has not changed since."""
    return (
        state is not None
        and fingerprint is not None
        and state["fingerprint"] == fingerprint
        and _stamp.take(state["stamp_paths"]) == state["stamp"]
    )


def _changed_local(deps: DepsSet, state: dict[str, Any] | None) -> list[str]:
    """The local projects and archives whose files changed since ``state`` was recorded (all, without a state):
    validation cannot see that a project's source changed, so these are reinstalled."""
    from ._requirements import normalise

    recorded = {line for lines in (state or {}).get("details", {}).get("lines", {}).values() for line in lines}
    return sorted({r.name for r in deps.requirements if normalise(r) in deps.local and deps.pinned(r) not in recorded})


def _repair(
    venv: Venv,
    inputs: _fingerprint.Inputs,
    key: _Key,
    directory: str,
    *,
    verbose: bool,
    state: dict[str, Any] | None = None,
) -> tuple[Status, bool, Report]:
    """Under the lock: create the venv if needed, validate, install what is missing, validate again."""
    from dataclasses import replace

    from ._errors import InstallFailed
    from ._installer import create_venv, find_python, install
    from ._probe import validate
    from ._requirements import read_deps
    from ._venv import CreationMark, make_room

    if key.deps is None:
        key.deps = read_deps(inputs.requirements, inputs.deps_files, inputs.options)
    deps = key.deps
    links = list(inputs.find_links)  # the arguments' find-links first, then the deps files'
    links += (link for link in deps.find_links if link not in links)
    deps = replace(deps, find_links=links)
    created = False
    venv.check_target()
    wanted = find_python(inputs.python) if inputs.python else None
    mark = CreationMark(directory, venv)
    problem = venv.problem()
    if problem is None:  # a creation killed after uv finished left its mark: the venv is whole
        mark.remove()
    if problem is None and wanted and os.path.realpath(wanted) != os.path.realpath(venv.python):
        problem = f"it runs {os.path.realpath(venv.python)}, not {wanted}"
    if problem is not None:
        make_room(venv, mark)  # refuses what penvcache may not clear; the mark stays until the venv is whole
        create_venv(venv, wanted, offline=inputs.offline, verbose=verbose)
        mark.remove()
        created = True
    if created and deps.requirements:  # a new, empty venv: everything is missing, skip the first validation
        missing, broken = sorted({r.name for r in deps.requirements}), []
    else:
        report = validate(venv.python, deps)
        changed = _changed_local(deps, state)
        if report.satisfied and not changed and not deps.exact:  # exact: uv says whether anything is extra
            return ("installed" if created else "adopted"), False, report
        missing, broken = sorted({*report.failures, *changed}), sorted({*report.broken, *changed})
    stores = _stores(inputs)
    attempt = None
    if stores:
        from ._store import install_from_store

        attempt = install_from_store(stores, venv, inputs, key.components, deps, verbose=verbose)
    fallback = False
    if attempt is None or attempt.served_by is None:
        fallback = install(venv, deps, missing=missing, reinstall=broken, offline=inputs.offline, verbose=verbose)
    report = validate(venv.python, deps)
    if not report.satisfied:
        msg = f"{venv.path} still fails validation after installing: {report.summary()}"
        raise InstallFailed(msg)
    if attempt is not None:
        _store_stats(directory, stores, attempt, venv, inputs, deps)
    return "installed", fallback, report


def _stores(inputs: _fingerprint.Inputs) -> list[str]:
    if not inputs.stores and not os.environ.get("PENVCACHE_STORE"):
        return []
    from ._store import store_urls

    return store_urls(inputs.stores)


def _store_stats(  # noqa: PLR0917
    directory: str, stores: list[str], attempt: Any, venv: Venv, inputs: _fingerprint.Inputs, deps: DepsSet
) -> None:
    """Publish what was installed (unless the store is read-only here) and count the store's traffic."""
    from ._store import publish_after

    published = 0
    if inputs.store_write:
        published = publish_after(stores, attempt, venv, inputs, deps, [str(r) for r in deps.requirements])
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
    store: Iterable[str] = (),
    store_write: bool = True,
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
        salt=tuple(salt),
        salt_files=tuple(salt_files),
        require_hit=require_hit,
        store=tuple(store),
        store_write=store_write,
        options=tuple(options),
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

        options = dict(self.options)
        timeout: float = options.pop("lock_timeout", 300.0)
        target = Venv(self.venv)
        path, directory = target.path, cache_entry(options.get("cache_dir"), target)[1]
        deadline = time.monotonic() + timeout
        left = timeout
        while True:
            result = run_ensure(self.venv, self.requirements, lock_timeout=left, **options)
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
