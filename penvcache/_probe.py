"""Validation: does a venv hold a dependency set, proven by its own interpreter importing every dependency."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ._errors import InstallFailed
from ._requirements import DepsSet, normalise

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
    #: distributions that are installed but do not import: uv counts them satisfied, so they need a reinstall
    broken: set[str] = field(default_factory=set)
    stamp_paths: list[str] = field(default_factory=list)
    python: dict[str, str] = field(default_factory=dict)

    @property
    def satisfied(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        """One line naming each failing dependency and why."""
        return "; ".join(f"{name}: {', '.join(reasons)}" for name, reasons in sorted(self.failures.items()))

    def fail(self, name: str, reason: str) -> None:
        self.failures.setdefault(name, []).append(reason)


def validate(python: str, deps: DepsSet) -> Report:
    """Run the probe in ``python`` and check every applicable requirement, its extras and constraints."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            probe_command(python),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            encoding="utf-8",
        )
        try:
            return _Validation(python, proc, errors, deps).run()
        finally:
            if proc.stdin:
                proc.stdin.close()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()


class _Validation:
    def __init__(self, python: str, proc: subprocess.Popen[str], errors: IO[bytes], deps: DepsSet) -> None:
        self.python = python
        self.proc = proc
        self.errors = errors
        self.deps = deps
        self.report = Report()
        self.seen: dict[str, Any] = {}
        self.stamped: set[str] = set()  # the paths in report.stamp_paths (a list scan was quadratic)
        self.constraints: dict[str, list[Requirement]] = {}
        for c in deps.constraints:
            self.constraints.setdefault(canonicalize_name(c.name), []).append(c)

    def ask(self, names: Sequence[str]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        try:
            self.proc.stdin.write(" ".join(names) + "\n")  # canonical names have no spaces
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            answer: dict[str, Any] = json.loads(line)
        except (OSError, ValueError) as e:
            self.proc.wait()
            self.errors.seek(0)
            tail = self.errors.read().decode(errors="replace").strip().splitlines()[-1:]
            why = tail[0] if tail else f"exit code {self.proc.returncode}"
            checking = ", ".join(names) or "the interpreter"
            msg = f"validation probe in {self.python} (checking {checking}) died: {why}"
            raise InstallFailed(msg) from e
        return answer

    def run(self) -> Report:
        first = self.ask([])
        env: dict[str, str] = first["environment"]
        self.report.python = first["python"]
        self.report.stamp_paths.extend(first["site_packages"])
        self.stamped.update(first["site_packages"])
        pending = [r for r in self.deps.requirements if r.marker is None or r.marker.evaluate(env)]
        done: set[str] = set()
        while pending:
            names = sorted({canonicalize_name(r.name) for r in pending} - self.seen.keys())
            if names:
                self.seen.update(self.ask(names)["dists"])
            extra_reqs: list[Requirement] = []
            for req in pending:
                key = normalise(req)
                if key not in done:
                    done.add(key)
                    extra_reqs += self.check(req, env)
            pending = extra_reqs
        return self.report

    def check(self, req: Requirement, env: dict[str, str]) -> list[Requirement]:
        """Check one requirement; return the requirements its extras add."""
        name = canonicalize_name(req.name)
        dist = self.seen[name]
        if dist is None:
            self.report.fail(name, f"{req} is not installed")
            return []
        version = dist["version"]
        wanted = [req, *self.constraints.get(name, ())]
        for spec in wanted:
            if spec.marker is not None and not spec.marker.evaluate(env):
                continue
            if not spec.specifier.contains(version, prereleases=True):
                self.report.fail(name, f"{version} is installed but {spec} is required")
        for reason in dist["modules"].values():
            if reason is not None:
                self.report.fail(name, reason)
                self.report.broken.add(name)
        for path in dist["paths"]:
            if path not in self.stamped:
                self.stamped.add(path)
                self.report.stamp_paths.append(path)
        return _extra_requirements(dist["requires"], req.extras, env)


def _extra_requirements(requires: list[str], extras: set[str], env: dict[str, str]) -> list[Requirement]:
    """The requirements that ``extras`` add to a distribution whose metadata lists ``requires``."""
    added = []
    for text in requires:
        try:
            dep = Requirement(text)
        except InvalidRequirement:
            continue  # a distribution's own bad metadata is not ours to judge
        marker: Marker | None = dep.marker
        if marker is None or marker.evaluate({**env, "extra": ""}):
            continue  # a base dependency, not one an extra adds
        if any(marker.evaluate({**env, "extra": extra}) for extra in extras):
            added.append(dep)
    return added
