"""Validation: does a venv hold a dependency set, proven by its own interpreter importing every dependency."""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion

from ._errors import InstallFailed
from ._requirements import DepsSet, marker_applies, normalise, top_level_extra

_DIR = os.path.dirname(os.path.abspath(__file__))
# Import the probe (so its bytecode is cached like any module's), with penvcache's directory on sys.path only for
# that import, and out of sys.modules before it checks anything: none of penvcache's modules can shadow a dependency.
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, {dir!r}); import _probe_script as probe; "
    "del sys.path[0], sys.modules['_probe_script']; probe.main()"
)


def probe_command(python: str) -> list[str]:
    """The command that runs the probe in ``python``, isolated from the environment and the user site."""
    return [python, "-I", "-c", _BOOTSTRAP.format(dir=_DIR)]


@dataclass
class Report:
    """What validation found: failures per distribution and what the content stamp must cover."""

    failures: dict[str, list[str]] = field(default_factory=dict)
    #: distributions that are installed but damaged or do not import: uv counts them satisfied, so they need a reinstall
    broken: set[str] = field(default_factory=set)
    stamp_paths: list[str] = field(default_factory=list)
    #: the content stamp of ``stamp_paths`` as validation found them, before it read or imported what they hold
    #: (:func:`._key.take` of the same paths later may differ: the venv changed meanwhile)
    stamp: str = ""
    #: the venv's identity (:func:`._key.identity_of`) taken before validation started, when the caller took it
    venv_identity: dict[str, Any] | None = None
    python: dict[str, str] = field(default_factory=dict)
    #: broken distributions with a file of another size: uv hardlinks from its cache, which may hold the same damage
    refetch: set[str] = field(default_factory=set)
    #: imports that failed for a module nobody declares (an optional dependency): said, but not failures
    warnings: list[str] = field(default_factory=list)

    @property
    def satisfied(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        """One line naming each failing dependency and why."""
        return "; ".join(f"{name}: {', '.join(reasons)}" for name, reasons in sorted(self.failures.items()))

    def fail(self, name: str, reason: str) -> None:
        self.failures.setdefault(name, []).append(reason)


def validate(python: str, deps: DepsSet, *, skip_imports: Sequence[str] = (), timeout: float = 300.0) -> Report:
    """Run the probe in ``python`` and check every applicable requirement, its extras, its dependencies (recursively,
    from metadata) and constraints; imports that fail are tried again alone in a fresh interpreter.

    ``timeout`` bounds the whole validation: past it the probe is killed and :class:`InstallFailed` names the module
    it was importing.
    """
    return _Validation(python, deps, tuple(skip_imports), timeout).run()


class _Probe:
    """One probe process: requests on a pipe of its own (imports get ``/dev/null`` as stdin), answers read
    with a deadline, and the module being imported known from the probe's ``>DIST MODULE`` lines."""

    def __init__(self, python: str, skip_imports: Sequence[str], deadline: float, timeout: float) -> None:
        self.python = python
        self.deadline = deadline
        self.timeout = timeout
        self.current: list[str] = []
        self.buffer = bytearray()
        self.errors: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        read_end, self.requests = os.pipe()
        # The probe's lifeline: only this process holds its write end (os.pipe's are not inherited), so it ends
        # when this process does, and the probe, in a session of its own, exits then (see _probe_script).
        life_end, self.lifeline = os.pipe()
        command = [*probe_command(python), f"--requests={read_end}", f"--lifeline={life_end}"]
        if skip_imports:
            command.append("--skip-import=" + ",".join(skip_imports))
        try:
            try:
                self.proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=self.errors,
                    pass_fds=(read_end, life_end),
                    start_new_session=True,  # what an import starts is killed with it on a timeout
                )
            except OSError as e:  # not executable, not a program: the venv is damaged
                msg = f"validation probe in {python} cannot start: {e.strerror or e}; remove the venv to have it remade"
                raise InstallFailed(msg) from e
        except BaseException:
            os.close(self.requests)
            os.close(self.lifeline)
            self.errors.close()
            raise
        finally:
            os.close(read_end)
            os.close(life_end)

    def ask(self, words: Sequence[str]) -> dict[str, Any]:
        try:
            os.write(self.requests, (" ".join(words) + "\n").encode())  # canonical names have no spaces
            while True:
                line = self._line()
                if line.startswith(b">"):
                    self.current = line[1:].decode("utf-8", "replace").split()
                    continue
                answer: dict[str, Any] = json.loads(line)
                return answer
        except (OSError, ValueError, EOFError) as e:
            self._kill()
            self.errors.seek(0)
            tail = self.errors.read().decode(errors="replace").strip().splitlines()[-1:]
            why = tail[0].strip() if tail else f"exit code {self.proc.returncode}"
            doing = f"importing {self.current[1]} (of {self.current[0]})" if self.current else "starting"
            skip = f"; to skip this import: --skip-import {self.current[1]}" if self.current else ""
            msg = f"validation probe in {self.python} died while {doing}: {why}{skip}"
            raise InstallFailed(msg) from e

    def _line(self) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        poller = select.poll()  # not select.select: it fails on a descriptor numbered 1024 or more
        poller.register(fd, select.POLLIN)
        while (end := self.buffer.find(b"\n")) < 0:
            left = self.deadline - time.monotonic()
            # poll never returns empty before its timeout (rounded up here), so an empty poll is the deadline
            if left <= 0 or not poller.poll(math.ceil(left * 1000)):
                self._kill()
                if self.current:
                    dist, module = self.current
                    doing = f"while importing {module} (of {dist}); skip it with --skip-import {module} or"
                else:
                    doing = "while reading the venv's metadata;"
                msg = (
                    f"validation in {self.python} timed out after {self.timeout:g}s {doing} "
                    f"allow more time with --validate-timeout SECONDS"
                )
                raise InstallFailed(msg)
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        return line

    def _kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def __enter__(self) -> _Probe:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:  # Ctrl-C or a failure: an import may take long, do not wait for it
            self._kill()
        self.close()

    def close(self) -> None:
        """End the probe: it exits when its requests end (killed if it does not)."""
        with contextlib.suppress(OSError):
            os.close(self.requests)
        try:
            self.proc.wait(timeout=max(self.deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            self._kill()
        finally:
            assert self.proc.stdout is not None  # stdout=PIPE
            self.proc.stdout.close()
            self.errors.close()
            os.close(self.lifeline)  # the probe has exited (or was killed): its lifeline is no longer needed


class _Wanted:
    """Why a distribution is checked: a requirement, and the distribution that requires it (None: listed)."""

    __slots__ = ("by", "req")

    def __init__(self, req: Requirement, by: str | None) -> None:
        self.req = req
        self.by = by


class _Validation:
    def __init__(self, python: str, deps: DepsSet, skip_imports: tuple[str, ...], timeout: float) -> None:
        self.python = python
        self.deps = deps
        self.skip_imports = skip_imports
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.report = Report()
        self.answers: dict[str, Any] = {}  # canonical name: the probe's answer (None: not installed)
        self.imported: set[str] = set()  # the names whose answer has their imports
        self.wanted: dict[str, list[_Wanted]] = {}
        self.base: dict[str, list[Requirement]] = {}  # each distribution's required (non-extra) dependencies
        self.env: dict[str, str] = {}
        self.stamped: set[str] = set()  # the paths in report.stamp_paths (a list scan was quadratic)
        #: each path's stat facts as a probe first saw them (the earliest, when probes saw it more than once)
        self.facts: dict[str, tuple[int, int, int] | None] = {}
        self.constraints: dict[str, list[Requirement]] = {}
        for c in [*deps.constraints, *deps.uv_constraints]:
            self.constraints.setdefault(canonicalize_name(c.name), []).append(c)
        #: uv's overrides by name: they replace every requirement on it, the set's and any distribution's, marker
        #: included ("overrides replace the requirement"); an excluded name's requirements are replaced by none
        self.overrides = deps.replacements()
        #: the uv variable a constraint or an override came from, by id (said in a failure)
        self.origin = {id(c): "UV_CONSTRAINT" for c in deps.uv_constraints}
        self.origin.update({id(o): "UV_OVERRIDE" for o in deps.overrides})

    def probe(self) -> _Probe:
        return _Probe(self.python, self.skip_imports, self.deadline, self.timeout)

    def run(self) -> Report:
        with self.probe() as probe:
            self.collect(probe)
        for name in sorted(self.imported):
            if any(self.classify(name, root)[0] == "failure" for root in self.failed_imports(name)):
                with self.probe() as alone:  # one package's import must never fail another's
                    self.answers[name] = self.ask(alone, [name])["dists"][name]
        for name in sorted(self.wanted):
            self.check(name)
        from ._key import facts, stamp_of

        paths = self.report.stamp_paths
        unseen = [path for path in paths if path not in self.facts]  # none: the probe states each path's facts
        self.facts.update(zip(unseen, facts(unseen), strict=True))
        self.report.stamp = stamp_of([self.facts[path] for path in paths])
        return self.report

    def ask(self, probe: _Probe, words: Sequence[str]) -> dict[str, Any]:
        """The probe's answer, whose stat facts are kept (the first seen of each path)."""
        answer = probe.ask(words)
        self.keep_facts(answer["site_packages"], answer["site_facts"])
        for dist in answer["dists"].values():
            if dist is not None:
                self.keep_facts(dist["paths"], dist["facts"])
        return answer

    def keep_facts(self, paths: list[str], facts: list[list[int] | None]) -> None:
        for path, found in zip(paths, facts, strict=True):
            if path not in self.facts:
                self.facts[path] = None if found is None else (found[0], found[1], found[2])

    def collect(self, probe: _Probe) -> None:
        """Ask the probe about every checked distribution: the listed ones and what their extras add (imports
        too), and their required dependencies, recursively (metadata and files)."""
        first = self.ask(probe, [])
        self.env = first["environment"]
        self.report.python = first["python"]
        for path in first["site_packages"]:
            self.stamp(path)
        listed = self.deps.overridden()
        applicable = [r for r in listed if marker_applies(r.marker, self.env)]
        pending: list[tuple[Requirement, str | None, bool]] = [(r, None, True) for r in applicable]
        done: set[tuple[str, str | None, bool]] = set()
        while pending:
            words: set[str] = set()
            for req, _, full in pending:
                name = canonicalize_name(req.name)
                if full and name not in self.imported:
                    words.add(name)
                elif name not in self.answers:
                    words.add("~" + name)
            words -= {"~" + name for name in words}  # a full check reads the metadata too
            if words:
                self.answers.update(self.ask(probe, sorted(words))["dists"])
                self.imported.update(w for w in words if not w.startswith("~"))
            later: list[tuple[Requirement, str | None, bool]] = []
            for req, by, full in pending:
                key = (normalise(req), by, full)
                if key in done:
                    continue
                done.add(key)
                name = canonicalize_name(req.name)
                self.wanted.setdefault(name, []).append(_Wanted(req, by))
                dist = self.answers[name]
                if dist is None:
                    continue
                if name not in self.base:
                    self.base[name] = self.required(dist)
                    later += ((dep, name, False) for dep in self.base[name])
                if full:
                    added = _extra_requirements(dist["requires"], req.extras, self.env, self.overrides)
                    later += ((dep, name, True) for dep in added)
            pending = later

    def required(self, dist: dict[str, Any]) -> list[Requirement]:
        """A distribution's required dependencies that apply here (no extra, marker true)."""
        found = []
        for text in dist["requires"]:
            try:
                dep = Requirement(text)
            except InvalidRequirement:
                continue  # a distribution's own bad metadata is not ours to judge
            overrides = self.overrides.get(canonicalize_name(dep.name))
            if overrides is None:
                if marker_applies(dep.marker, {**self.env, "extra": ""}):
                    found.append(dep)
            elif top_level_extra(dep.marker) is None:  # uv: a required dependency, whatever its marker says
                found += (o for o in overrides if marker_applies(o.marker, {**self.env, "extra": ""}))
        return found

    def failed_imports(self, name: str) -> list[str]:
        dist = self.answers.get(name)
        return [] if dist is None else [root for root, reason in dist["modules"].items() if reason is not None]

    def closure(self, name: str) -> list[str]:
        """The distributions ``name`` requires, recursively (without extras)."""
        seen: list[str] = []
        todo = [canonicalize_name(dep.name) for dep in self.base.get(name, ())]
        while todo:
            dep = todo.pop()
            if dep != name and dep not in seen:
                seen.append(dep)
                todo += (canonicalize_name(d.name) for d in self.base.get(dep, ()))
        return seen

    def classify(self, name: str, root: str) -> tuple[str, str | None]:
        """A failed import: ("failure", the distribution to reinstall or None) or ("optional", None) for a module
        that neither the distribution nor any of its required dependencies ships."""
        dist = self.answers[name]
        missing = dist["missing"].get(root)
        if missing is None:
            return "failure", name
        module, shipped = missing
        if shipped:
            return "failure", name
        for dep in self.closure(name):
            found = self.answers.get(dep)
            if found is None:
                return "failure", None  # not installed: installing it may bring the module
            if any(module == r or module.startswith(r + ".") or r.startswith(module + ".") for r in found["roots"]):
                return "failure", dep
        return "optional", None

    def check(self, name: str) -> None:
        """Check one distribution against every requirement on it, its files and its imports."""
        dist = self.answers[name]
        wanted = self.wanted[name]
        if dist is None:
            for w in wanted[:1]:
                why = "" if w.by is None else f" (required by {w.by})"
                self.report.fail(name, f"{w.req}{why}{self.said(w.req)} is not installed")
            return
        version = dist["version"]
        if not isinstance(version, str):  # no METADATA, no Version in it, or a metadata file that is not UTF-8
            self.report.fail(name, "its metadata has no version or is not UTF-8 (a damaged .dist-info)")
            self.report.broken.add(name)
            version = "0"
        specs: list[tuple[Requirement, str | None]] = [(w.req, w.by) for w in wanted]
        specs += [(c, None) for c in self.constraints.get(name, ())]
        for spec, by in specs:
            if by is None and not marker_applies(spec.marker, self.env):
                continue
            if not _satisfies(spec, version):
                needs = "is required" if by is None else f"is required by {by}"
                self.report.fail(name, f"{version} is installed but {spec} {needs}{self.said(spec)}")
        damaged = dist["damaged"]
        if damaged:
            path, found, size = damaged[0]
            what = "is missing" if found is None else f"has {found} bytes, its RECORD says {size}"
            more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
            self.report.fail(name, f"a file differs from its RECORD: {path} {what}{more}")
            self.report.broken.add(name)
            if any(found is not None for _, found, _ in damaged):  # edited in place: uv's cache may share the file
                self.report.refetch.add(name)
        for root in self.failed_imports(name) if name in self.imported else ():
            reason = dist["modules"][root]
            verdict, reinstall = self.classify(name, root)
            if verdict == "optional":
                module = dist["missing"][root][0]
                self.report.warnings.append(
                    f"{name}: {reason} ({module} is not a dependency it requires: an optional one?)"
                )
                continue
            if reason.startswith(f"import {root} failed:") and dist["missing"].get(root) is None:
                reason += f"; to skip this import: --skip-import {root}"
            elif reinstall is not None and reinstall != name:
                reason += f" ({reinstall} should provide it)"
            self.report.fail(name, reason)
            if reinstall is not None:
                self.report.broken.add(reinstall)
        for path in dist["paths"]:
            self.stamp(path)

    def said(self, req: Requirement) -> str:
        """Where uv's environment gave ``req``, as words to add to a failure ("" for the set's own)."""
        origin = self.origin.get(id(req))
        return f" ({origin})" if origin else ""

    def stamp(self, path: str) -> None:
        if path not in self.stamped:
            self.stamped.add(path)
            self.report.stamp_paths.append(path)


def _satisfies(req: Requirement, version: str) -> bool:
    """Whether ``version`` satisfies ``req``'s specifier (a version that is not PEP 440 satisfies only none)."""
    if not req.specifier:
        return True
    try:
        return req.specifier.contains(version, prereleases=True)
    except InvalidVersion:  # older packaging raises where newer ones answer False
        return False


def _extra_requirements(
    requires: list[str], extras: set[str], env: dict[str, str], overrides: dict[str, list[Requirement]]
) -> list[Requirement]:
    """The requirements that ``extras`` add to a distribution whose metadata lists ``requires``, each with uv's
    ``overrides`` in its place (a dependency of an extra stays one of that extra, as in uv)."""
    added: list[Requirement] = []
    wanted = {canonicalize_name(extra) for extra in extras}
    for text in requires:
        try:
            dep = Requirement(text)
        except InvalidRequirement:
            continue  # a distribution's own bad metadata is not ours to judge
        replacing = overrides.get(canonicalize_name(dep.name))
        if replacing is not None:
            extra = top_level_extra(dep.marker)
            if extra is not None and extra in wanted:
                added += (o for o in replacing if marker_applies(o.marker, {**env, "extra": extra}))
            continue  # required, or of an extra not asked for
        if marker_applies(dep.marker, {**env, "extra": ""}):
            continue  # a base dependency, not one an extra adds
        if any(marker_applies(dep.marker, {**env, "extra": extra}) for extra in extras):
            added.append(dep)
    return added
