"""Plant small deliberate bugs in important behaviours, one at a time, and check that the tests catch each one.

    .venv-test/bin/python scripts/mutants.py                # every mutant; prints a table
    .venv-test/bin/python scripts/mutants.py --list         # their names
    .venv-test/bin/python scripts/mutants.py --only run-never-waits lock-timeout-ignored

Each mutant is one exact text replacement in one file of ``penvcache/``. It is applied to a copy of the tree in a
temp dir (never to the working tree), and the tests that should notice it run there (``PYTHONPATH`` puts the copy
first, in every process the tests start) with ``-x`` and a deadline; the process group is killed at the deadline.
"caught" means the tests failed, "missed" that they passed, "hung" that they hit the deadline (pytest-timeout's
per-test limit should turn a hang into a failure well before it). Not part of CI: it takes several minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = [ROOT]  #: the tree that is copied (--tree)


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  #: relative to penvcache/
    old: str  #: must occur exactly once in the file
    new: str
    tests: tuple[str, ...]  #: test files (or node ids) that should catch it


MUTANTS = [
    Mutant(
        "post-install-validation-only-broken",
        "_coordinator.py",
        "        report = validated()\n    if not report.satisfied:\n",
        "        report = validated()\n    if report.broken:\n",
        ("tests/test_paths.py", "tests/test_ensure.py"),
    ),
    Mutant(
        "explain-marks-every-component",
        "cli.py",
        'mark = "  (changed)" if component["changed"] else ""',
        'mark = "  (changed)"',
        ("tests/test_explain.py",),
    ),
    Mutant(
        "fast-path-ignores-PENVCACHE_VENV",
        "_discovery.py",
        'explicit = os.environ.get("PENVCACHE_VENV")',
        "explicit = None",
        ("tests/test_fastpath.py", "tests/test_cli.py"),
    ),
    Mutant(
        "plugin-ensure-not-use",
        "pytest_plugin.py",
        "    with _one_line_failures(), penvcache.use(venv, deps_files=deps, **options) as result:\n"
        "        yield result",
        "    with _one_line_failures():\n        result = penvcache.ensure(venv, deps_files=deps, **options)\n"
        "    yield result",
        ("tests/test_pytest_plugin.py",),
    ),
    Mutant(
        "missing-salt-file-skipped",
        "_key.py",
        "        if data is None:\n            from ._errors import InvalidInput\n",
        "        if data is None:\n            continue\n",
        ("tests/test_paths.py", "tests/test_explain.py"),
    ),
    Mutant(
        "state-write-in-place",
        "_state.py",
        '    write_atomically(os.path.join(directory, STATE), MAGIC + len(payload).to_bytes(8, "big") + payload, '
        "durable=False)",
        '    with open(os.path.join(directory, STATE), "wb") as f:\n'
        '        f.write(MAGIC + len(payload).to_bytes(8, "big") + payload)',
        ("tests/test_state.py",),
    ),
    Mutant(
        "partial-venv-judged-by-top-level-names",
        "_clearing.py",
        "    if not entries <= _UV_VENV_LAYOUT:\n        return False\n",
        "    return entries <= _UV_VENV_LAYOUT\n",
        ("tests/test_crash.py",),
    ),
    Mutant(
        "plugin-fixture-module-scoped",
        "pytest_plugin.py",
        '@pytest.fixture(scope="session")',
        '@pytest.fixture(scope="module")',
        ("tests/test_pytest_plugin.py",),
    ),
    Mutant(
        "use-recheck-always-true",
        "_coordinator.py",
        "            if _key.matches(_state.read(directory), result.fingerprint):",
        "            if True:",
        ("tests/test_paths.py", "tests/test_run.py"),
    ),
    Mutant(
        "run-never-waits-for-the-command",
        "cli.py",
        "                code = proc.wait()",
        "                code = 0",
        ("tests/test_run.py",),
    ),
    Mutant(
        "lock-timeout-ignored",
        "_locking.py",
        "            acquire(min(left, REPORT_EVERY))",
        "            acquire(-1)",
        ("tests/test_concurrency.py",),
    ),
    Mutant(
        "hit-check-skipped",
        "_hit.py",
        "        if _key.is_hit(self.state, self.key):\n",
        "        if False:\n",
        ("tests/test_ensure.py", "tests/test_concurrency.py"),
    ),
    Mutant(
        "stamp-ignores-mtime",
        "_key.py",
        "found.append((st.st_ino, st.st_mtime_ns, st.st_size))",
        "found.append((st.st_ino, st.st_size))",
        ("tests/test_stamp.py",),
    ),
    Mutant(
        "broken-packages-not-reinstalled",
        "_installer.py",
        "        for name in reinstall:\n",
        "        for name in ():\n",
        ("tests/test_ensure.py", "tests/test_stamp.py"),
    ),
    Mutant(
        "no-offline-fallback",
        "_installer.py",
        "        if not any(marker in proc.stdout.lower() for marker in _UNREACHABLE):",
        "        if True:",
        ("tests/test_ensure.py",),
    ),
    Mutant(
        "every-failure-taken-for-unreachable",
        "_installer.py",
        "        if not any(marker in proc.stdout.lower() for marker in _UNREACHABLE):",
        "        if False:",
        ("tests/test_paths.py",),
    ),
    Mutant(
        "ctrl-c-exit-1",
        "cli.py",
        "    except KeyboardInterrupt:\n        return 130",
        "    except KeyboardInterrupt:\n        return 1",
        ("tests/test_cli_ux.py",),  # the full command line; ensure's own path is the next mutant's
    ),
    Mutant(
        "ctrl-c-during-ensure-exit-1",
        "_fastpath.py",
        "took over (it answers 130 itself after)\n        code = 130",
        "took over (it answers 130 itself after)\n        code = 1",
        ("tests/test_paths.py", "tests/test_cli_ux.py"),
    ),
    Mutant(
        "constraints-not-validated",
        "_probe.py",
        "        specs += [(c, None) for c in self.constraints.get(name, ())]",
        "        specs += []",
        ("tests/test_probe.py", "tests/test_ensure.py"),
    ),
    Mutant(
        "killed-creation-never-cleared",
        "_clearing.py",
        "not (mark.matches(st) and _only_uv_layout(path, entries))",
        "not (False and _only_uv_layout(path, entries))",
        ("tests/test_crash.py",),
    ),
    Mutant(
        "dead-holder-named",
        "_locking.py",
        '    if info.get("host") != socket.gethostname():\n        return True  # cannot tell; assume it is alive',
        "    if True:\n        return True",
        ("tests/test_concurrency.py",),
    ),
    Mutant(
        "index-url-not-passed",
        "_requirements.py",
        'lines = [f"--index-url {url}" for url in index]',
        "lines: list[str] = []",
        ("tests/test_paths.py",),
    ),
    Mutant(
        "failure-not-the-last-status",
        "_coordinator.py",
        "        if isinstance(e, InstallFailed):  # the venv is what failed (a timeout or bad input changed nothing)",
        "        if False:",
        ("tests/test_stats.py",),
    ),
    Mutant(
        "installer-stand-in-ignores-stat",
        "_key.py",
        '    if recorded.get("stat") != [st.st_ino, st.st_size, st.st_mtime_ns]:',
        "    if False:",
        ("tests/test_paths.py",),
    ),
    Mutant(
        "users-not-excluded",
        "_coordinator.py",
        "            lock.exclude_users()  # no `run`/`use` of the venv may see it change",
        "            pass",
        ("tests/test_run.py",),
    ),
    Mutant(
        "require-hit-installs",
        "_coordinator.py",
        "    if request.require_hit:\n        return _require_hit(",
        "    if False:\n        return _require_hit(",
        ("tests/test_explain.py",),
    ),
    Mutant(
        "markers-ignored",
        "_probe.py",
        "applicable = [r for r in listed if marker_applies(r.marker, self.env)]",
        "applicable = list(listed)",
        ("tests/test_ensure.py",),
    ),
    Mutant(
        "uv-constraint-not-validated",
        "_probe.py",
        "for c in [*deps.constraints, *deps.uv_constraints]:",
        "for c in deps.constraints:",
        ("tests/test_uv_environment.py",),
    ),
    Mutant(
        "uv-override-not-applied",
        "_requirements.py",
        "return [o for r in self.requirements for o in replacements.get(canonicalize_name(r.name), [r])]",
        "return list(self.requirements)",
        ("tests/test_uv_environment.py",),
    ),
    Mutant(
        "fast-reader-reads-folded-headers",
        "_probe_script.py",
        '        if any("\\n" in value for value in [self.version, *self.requires]):\n            raise Unusual()',
        "        if False:\n            raise Unusual()",
        ("tests/test_probe.py",),
    ),
    Mutant(
        "run-forwards-no-signal",
        "cli.py",
        "forward = {signum: signal.signal(signum, lambda n, _: proc.send_signal(n)) for signum in _FORWARDED}",
        "forward: dict[int, Any] = {}",
        ("tests/test_run.py",),
    ),
    Mutant(
        "stamp-taken-after-validation",
        "_coordinator.py",
        '"stamp": report.stamp,',
        '"stamp": _key.take(report.stamp_paths),',
        ("tests/test_validation_race.py",),
    ),
    Mutant(
        "creation-mark-ignores-its-nonce",
        "_clearing.py",
        'return self._token_nonce() == data["nonce"]',
        "return True",
        ("tests/test_never_delete.py",),
    ),
]


def _copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc")
    for name in ("penvcache", "tests"):
        shutil.copytree(SOURCE[0] / name, dest / name, ignore=ignore)
    shutil.copy2(SOURCE[0] / "pyproject.toml", dest / "pyproject.toml")


def apply(mutant: Mutant, tree: Path) -> None:
    path = tree / "penvcache" / mutant.file
    text = path.read_text()
    count = text.count(mutant.old)
    if count != 1:
        msg = f"{mutant.name}: the text to replace occurs {count} times in penvcache/{mutant.file}"
        raise SystemExit(msg)
    text = text.replace(mutant.old, mutant.new)
    try:
        compile(text, str(path), "exec")
    except SyntaxError as e:
        msg = f"{mutant.name}: the mutated penvcache/{mutant.file} does not compile: {e}"
        raise SystemExit(msg) from e
    path.write_text(text)


def run(mutant: Mutant | None, tests: tuple[str, ...], deadline: float, workers: str) -> tuple[str, float, str]:
    """(caught | missed | hung, seconds, the last lines of pytest's output) for one mutant on a fresh copy."""
    with tempfile.TemporaryDirectory(prefix="penvcache-mutant-") as tmp:
        tree = Path(tmp)
        _copy_tree(tree)
        if mutant is not None:
            apply(mutant, tree)
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
        cmd += ["-n", workers, *tests]
        began = time.monotonic()
        proc = subprocess.Popen(
            cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            out, _ = proc.communicate(timeout=deadline)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            return "hung", time.monotonic() - began, out
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        seconds = time.monotonic() - began
    lines = out.strip().splitlines()
    tail = "\n".join([line for line in lines if line.startswith(("FAILED ", "ERROR "))][:3] + lines[-1:])
    return ("missed" if proc.returncode == 0 else "caught"), seconds, tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these mutants only")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds per mutant before it counts as hung")
    parser.add_argument("-n", "--workers", default="2", help="pytest-xdist workers (default 2)")
    parser.add_argument("--baseline", action="store_true", help="first check the unmutated tree passes each test set")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the tail of pytest's output per mutant")
    parser.add_argument("--tree", type=Path, help="mutate and test another checkout (e.g. an older commit's)")
    args = parser.parse_args()
    if args.tree:
        SOURCE[0] = args.tree.resolve()
    mutants = [m for m in MUTANTS if not args.only or m.name in args.only]
    unknown = set(args.only or ()) - {m.name for m in MUTANTS}
    if unknown:
        parser.error(f"no such mutant: {', '.join(sorted(unknown))}")
    if args.list:
        for m in mutants:
            print(f"{m.name:<40} penvcache/{m.file:<18} {' '.join(m.tests)}")
        return 0
    for m in mutants:  # every replacement must apply before anything runs
        apply(m, _scratch())
    if args.baseline:
        for tests in sorted({m.tests for m in mutants}):
            verdict, seconds, tail = run(None, tests, args.deadline, args.workers)
            if verdict != "missed":  # the unmutated tree must pass
                print(f"baseline failed ({verdict}, {seconds:.0f}s) for {' '.join(tests)}:\n{tail}", file=sys.stderr)
                return 1
    print("| mutant | file | tests | result | seconds |")
    print("| --- | --- | --- | --- | ---: |")
    missed = 0
    for m in mutants:
        verdict, seconds, tail = run(m, m.tests, args.deadline, args.workers)
        missed += verdict == "missed"
        tests = " ".join(t.removeprefix("tests/") for t in m.tests)
        print(f"| {m.name} | {m.file} | {tests} | {verdict} | {seconds:.0f} |", flush=True)
        if args.verbose:
            print("\n".join(f"    {line}" for line in tail.splitlines()), flush=True)
    caught = len(mutants) - missed
    print(f"\n{caught} of {len(mutants)} caught, {missed} missed")
    return 1 if missed else 0


_scratch_dir: list[Path] = []


def _scratch() -> Path:
    """A copy of the tree to check that each mutant applies (made once)."""
    if not _scratch_dir:
        tmp = Path(tempfile.mkdtemp(prefix="penvcache-mutants-check-"))
        _copy_tree(tmp)
        _scratch_dir.append(tmp)
    tree = _scratch_dir[0]
    for m in MUTANTS:  # undo: restore the file from the working tree before each check
        shutil.copy2(SOURCE[0] / "penvcache" / m.file, tree / "penvcache" / m.file)
    return tree


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        for tmp in _scratch_dir:
            shutil.rmtree(tmp, ignore_errors=True)
