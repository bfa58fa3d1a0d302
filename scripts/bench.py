"""Benchmark penvcache: warm against uv's and pip's no-op installs and an import of every dependency; cold against uv.

Runs offline and hermetically: synthetic wheels are written into temp wheelhouses, and penvcache's, uv's and pip's
caches point into a temp directory. The cold comparison (a fresh venv per call) uses the smallest size. Usage::

    python scripts/bench.py [--sizes 10,100,500] [--rounds 15] [--cold-rounds 15] [--only warm|cold]
                            [--json bench-results.json] [--real] [--keep]

``--only cold --sizes 10`` runs just the cold comparison (about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from uv import find_uv_bin

import penvcache

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests._kit import build_wheel

WARMUP_ROUNDS = 2
UV = find_uv_bin()

# The pioarduino dependency set for --real, and the top-level module each distribution provides.
REAL_DEPS = {
    "platformio": "platformio",
    "pyyaml": "yaml",
    "rich-click": "rich_click",
    "zopfli": "zopfli",
    "intelhex": "intelhex",
    "rich": "rich",
    "cryptography": "cryptography",
    "certifi": "certifi",
    "ecdsa": "ecdsa",
    "bitstring": "bitstring",
    "reedsolo<1.8": "reedsolo",
    "esp-idf-size": "esp_idf_size",
    "pyelftools": "elftools",
    "esptool": "esptool",
}


@dataclass
class Workload:
    """One venv that satisfies one deps file, plus what the contenders need to run against it."""

    name: str
    venv: Path
    deps: Path
    cache: Path  # penvcache's state directory
    modules: list[str]
    offline: bool
    find_links: list[Path] = field(default_factory=list)
    pip_python: Path | None = None  # an interpreter with pip and the same deps installed, if any
    notes: list[str] = field(default_factory=list)

    @property
    def python(self) -> Path:
        return venv_python(self.venv)

    def ensure(self) -> penvcache.EnsureResult:
        return penvcache.ensure(
            self.venv, deps_files=[self.deps], offline=self.offline, find_links=self.find_links, cache_dir=self.cache
        )


Arg = str | os.PathLike[str]
Contender = tuple[str, Callable[[], None]]


# --- processes and environment ---------------------------------------------------------------------------------


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(cmd: Sequence[Arg], env: dict[str, str] | None = None) -> str:
    """Run ``cmd``; its stdout, or RuntimeError with its output when it exits non-zero."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        shown = " ".join(os.fspath(c) for c in cmd)
        if len(shown) > 300:
            shown = shown[:300] + " ..."
        raise RuntimeError(f"exit {proc.returncode}: {shown}\n{proc.stdout}{proc.stderr}")
    return proc.stdout


@contextmanager
def hermetic_environment(root: Path) -> Iterator[None]:
    """Point penvcache's, uv's and pip's caches into ``root`` for this process and its children.

    Child interpreters write and reuse bytecode under ``root`` too (even when ``PYTHONDONTWRITEBYTECODE`` is set),
    so the warm-up rounds leave every contender with warm ``.pyc`` files, as on a usual machine, and nothing is
    written into the venvs or the checkout.
    """
    env = {
        "PENVCACHE_CACHE_DIR": str(root / "penvcache-cache"),
        "UV_CACHE_DIR": str(root / "uv-cache"),
        "UV_NO_CONFIG": "1",
        "PIP_CACHE_DIR": str(root / "pip-cache"),
        "PYTHONPYCACHEPREFIX": str(root / "pycache"),
    }
    with mock.patch.dict(os.environ, env):  # restores the whole environment on exit
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        yield


def pip_environment() -> dict[str, str]:
    """The environment for the pip contender: no index, no version check, and none of the machine's pip config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CACHE_DIR"}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_CONFIG_FILE=os.devnull)
    return env


# --- workloads -------------------------------------------------------------------------------------------------


def build_wheelhouse(directory: Path, size: int) -> list[str]:
    """``size`` tiny pure-Python wheels ``pkg-0001`` ... in ``directory``; their distribution names."""
    names = [f"pkg-{i:04d}" for i in range(1, size + 1)]
    for name in names:
        build_wheel(directory, name, "1.0")
    return names


def create_venv_with_pip(venv: Path, offline: bool) -> str | None:
    """Create ``venv`` with pip in it, without the network when ``offline``; how pip got there, or None."""
    offline_flags = ["--offline"] if offline else []
    try:  # uv seeds pip (and setuptools and wheel) from its cache, or from the index when online
        run([UV, "venv", venv, "--python", sys.executable, "--seed", "-q", *offline_flags])
        return "pip seeded into the venv by uv venv --seed"
    except RuntimeError:
        shutil.rmtree(venv, ignore_errors=True)
    run([UV, "venv", venv, "--python", sys.executable, "-q", *offline_flags])
    bundled = Path(sysconfig.get_paths()["stdlib"]) / "ensurepip" / "_bundled"
    if not any(bundled.glob("pip-*.whl")):
        return None
    try:  # the pip wheel the standard library bundles for ensurepip
        run([UV, "pip", "install", "--python", venv_python(venv), "pip", "--offline", "--find-links", bundled, "-q"])
    except RuntimeError:
        return None
    return "pip installed into the venv from the wheel ensurepip bundles (uv venv --seed failed)"


def add_pip(workload: Workload) -> None:
    """Make pip available to the pip contender: in the workload's venv, else in a sibling venv with the same deps."""
    if workload.pip_python is not None:
        return
    sibling = workload.venv.with_name(workload.venv.name + "-pip")
    links: list[Arg] = [arg for link in workload.find_links for arg in ("--find-links", link)]
    try:
        run([sys.executable, "-m", "venv", sibling])
        install = [UV, "pip", "install", "--python", venv_python(sibling), "-r", workload.deps, *links, "-q"]
        run(install + (["--offline"] if workload.offline else []))
    except RuntimeError as e:
        workload.notes.append(f"pip contender skipped: no pip available offline ({str(e).splitlines()[0]})")
        return
    workload.pip_python = venv_python(sibling)
    workload.notes.append("pip contender runs in a sibling venv (python -m venv) with the same deps")


def prepare(workload: Workload) -> None:
    """Create the venv (with pip if possible), fill it with penvcache, and check the CLI then calls it a hit."""
    how = create_venv_with_pip(workload.venv, workload.offline)
    if how is not None:
        workload.pip_python = workload.python
        workload.notes.append(how)
    start = time.perf_counter()
    result = workload.ensure()
    print(f"  filled {workload.venv.name} with penvcache.ensure: {result.status} in {time.perf_counter() - start:.1f}s")
    add_pip(workload)
    out = run([*cli_command(workload), "--json"])
    status = json.loads(out)["status"]
    if status != "hit":
        raise RuntimeError(f"penvcache ensure --json after filling the venv said {status!r}, not 'hit'")


def synthetic_workload(root: Path, size: int) -> Workload:
    base = root / f"synthetic-{size}"
    wheelhouse = base / "wheelhouse"
    names = build_wheelhouse(wheelhouse, size)
    deps = base / "deps.txt"
    deps.write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    workload = Workload(
        name=f"synthetic-{size}",
        venv=base / "venv",
        deps=deps,
        cache=root / "penvcache-cache",
        modules=[name.replace("-", "_") for name in names],
        offline=True,
        find_links=[wheelhouse],
    )
    prepare(workload)
    return workload


def real_workload(root: Path) -> Workload | None:
    """The pioarduino set, installed from the package index; None (with a note) when that fails."""
    base = root / "real-pioarduino"
    base.mkdir(parents=True)
    deps = base / "deps.txt"
    deps.write_text("".join(f"{req}\n" for req in REAL_DEPS), encoding="utf-8")
    workload = Workload(
        name="real-pioarduino",
        venv=base / "venv",
        deps=deps,
        cache=root / "penvcache-cache",
        modules=list(REAL_DEPS.values()),
        offline=False,
    )
    try:
        prepare(workload)
    except (RuntimeError, penvcache.PenvcacheError) as e:
        print(f"  --real skipped: {str(e).splitlines()[0]}")
        return None
    return workload


# --- contenders ------------------------------------------------------------------------------------------------


def cli_command(workload: Workload) -> list[Arg]:
    cmd: list[Arg] = [sys.executable, "-m", "penvcache", "ensure", "--deps", workload.deps]
    cmd += ["--venv", workload.venv, "--cache-dir", workload.cache]
    for link in workload.find_links:
        cmd += ["--find-links", link]
    return cmd + (["--offline"] if workload.offline else [])


def command(cmd: Sequence[Arg], env: dict[str, str] | None = None) -> Callable[[], None]:
    """A contender that runs ``cmd`` and fails unless it exits 0."""

    def call() -> None:
        run(cmd, env=env)

    return call


def contenders(workload: Workload) -> list[Contender]:
    links: list[Arg] = [arg for link in workload.find_links for arg in ("--find-links", link)]
    offline = ["--offline"] if workload.offline else []
    imports = "import " + ", ".join(workload.modules)

    def embedded() -> None:
        status = workload.ensure().status
        if status != "hit":
            raise RuntimeError(f"embedded penvcache.ensure returned {status!r}, not 'hit'")

    found: list[Contender] = [("cli", command([*cli_command(workload), "-q"]))]
    script = Path(sys.executable).with_name("penvcache")  # the console script, as a user runs it
    if script.exists():
        found.append(("cli-script", command([script, *cli_command(workload)[3:], "-q"])))
    found += [
        (
            "uv",
            command([UV, "pip", "install", "--python", workload.python, "-r", workload.deps, *offline, *links, "-q"]),
        ),
    ]
    if workload.pip_python is not None:
        pip = [workload.pip_python, "-m", "pip", "install", "-r", workload.deps, "--no-index", *links, "-q"]
        found.append(("pip", command(pip, env=pip_environment())))
    found += [
        ("import-all", command([workload.python, "-c", imports])),
        ("embedded", embedded),
        ("python-startup", command([sys.executable, "-I", "-S", "-c", "pass"])),
    ]
    return found


# --- measuring and reporting -----------------------------------------------------------------------------------


def measure(entries: Sequence[Contender], rounds: int) -> dict[str, list[float]]:
    """Seconds per call: every contender once per round, round-robin, after the warm-up rounds."""
    timings: dict[str, list[float]] = {name: [] for name, _ in entries}
    for round_no in range(WARMUP_ROUNDS + rounds):
        for name, call in entries:
            start = time.perf_counter()
            call()
            elapsed = time.perf_counter() - start
            if round_no >= WARMUP_ROUNDS:
                timings[name].append(elapsed)
    return timings


def summarize(timings: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    uv_median = statistics.median(timings["uv"])
    summary: dict[str, dict[str, Any]] = {}
    for name, samples in timings.items():
        ms = [s * 1000 for s in samples]
        p90 = statistics.quantiles(ms, n=10, method="inclusive")[8] if len(ms) > 1 else ms[0]
        median = statistics.median(ms)
        summary[name] = {
            "median_ms": median,
            "p90_ms": p90,
            "min_ms": min(ms),
            "ratio_vs_uv": median / (uv_median * 1000),
            "raw_ms": ms,
        }
    return summary


def print_table(title: str, summary: dict[str, dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(f"  {'contender':<16}{'median ms':>11}{'p90 ms':>10}{'min ms':>10}{'x uv':>8}")
    for name, row in summary.items():
        print(
            f"  {name:<16}{row['median_ms']:>11.1f}{row['p90_ms']:>10.1f}{row['min_ms']:>10.1f}"
            f"{row['ratio_vs_uv']:>8.2f}"
        )


def bench_workload(workload: Workload, rounds: int) -> dict[str, Any]:
    summary = summarize(measure(contenders(workload), rounds))
    print_table(f"{workload.name}: {len(workload.modules)} deps, {rounds} rounds (+{WARMUP_ROUNDS} warm-up)", summary)
    for note in workload.notes:
        print(f"  note: {note}")
    return {"name": workload.name, "deps": len(workload.modules), "notes": workload.notes, "contenders": summary}


class PhaseTimer:
    """Seconds spent in penvcache's own phases during one call, by wrapping its internal functions.

    Bench-only instrumentation: each uv command (``uv venv``, ``uv pip``), the validation probe and the
    state write are timed; whatever is left of the call (lock, fingerprint, stamp, parsing) is ``other``.
    """

    def __init__(self) -> None:
        self.current: dict[str, float] = {}
        self.patches: list[Any] = []

    def _wrap(self, owner: Any, attr: str, label: Callable[..., str]) -> None:
        original = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                name = label(*args)
                self.current[name] = self.current.get(name, 0.0) + time.perf_counter() - start

        self.patches.append(mock.patch.object(owner, attr, timed))

    def __enter__(self) -> PhaseTimer:
        from penvcache import _installer, _probe, _state

        self._wrap(_installer, "_run", lambda cmd, *_: f"uv {cmd[1]}" + (f" {cmd[2]}" if cmd[1] == "pip" else ""))
        self._wrap(_probe, "validate", lambda *_: "validate (probe)")
        self._wrap(_state, "write", lambda *_: "state write")
        for patch in self.patches:
            patch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for patch in reversed(self.patches):
            patch.stop()

    def take(self, total: float) -> dict[str, float]:
        phases, self.current = self.current, {}
        phases["other"] = total - sum(phases.values())
        return phases


def cpu_seconds() -> float:
    """CPU seconds (user and system) used so far by this process and its finished children."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def ensure_cold_wheelhouse(root: Path, size: int) -> tuple[Path, Path, list[str]]:
    """The synthetic-``size`` deps file and wheelhouse (built if the warm benchmark did not); module names."""
    base = root / f"synthetic-{size}"
    deps, wheelhouse = base / "deps.txt", base / "wheelhouse"
    if not deps.exists():
        names = build_wheelhouse(wheelhouse, size)
        deps.write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    modules = [line.strip().replace("-", "_") for line in deps.read_text(encoding="utf-8").splitlines()]
    return deps, wheelhouse, modules


def cold_comparison(root: Path, size: int, rounds: int) -> dict[str, Any]:
    """A fresh venv each call: penvcache (embedded and CLI) vs uv venv + uv pip install + one import of each dep.

    Every contender creates its venv, installs the same set offline from the same local wheelhouse with the same
    warm uv cache (the warm-up rounds fill it), and imports every dependency once. The contenders run interleaved,
    in a rotating order, so that drift in the machine's load hits them alike.
    """
    deps, wheelhouse, modules = ensure_cold_wheelhouse(root, size)
    cache = root / "penvcache-cache"
    cold = root / "cold"
    counter = iter(range(1_000_000))

    def fresh(prefix: str) -> Path:
        return cold / f"{prefix}-{next(counter)}"

    timer = PhaseTimer()
    phases: list[dict[str, float]] = []

    def embedded() -> None:
        start = time.perf_counter()
        with timer:
            result = penvcache.ensure(
                fresh("embedded"), deps_files=[deps], offline=True, find_links=[wheelhouse], cache_dir=cache
            )
        phases.append(timer.take(time.perf_counter() - start))
        if result.status != "installed":
            raise RuntimeError(f"cold penvcache.ensure returned {result.status!r}, not 'installed'")

    def cli() -> None:
        cmd: list[Arg] = [sys.executable, "-m", "penvcache", "ensure", "--deps", deps, "--venv", fresh("cli")]
        out = run([*cmd, "--cache-dir", cache, "--find-links", wheelhouse, "--offline", "--json"])
        if json.loads(out)["status"] != "installed":
            raise RuntimeError(f"cold penvcache ensure said {out.strip()}")

    baseline_phases: list[dict[str, float]] = []

    def baseline() -> None:
        venv = fresh("uv")
        steps: list[tuple[str, list[Arg]]] = [
            ("uv venv", [UV, "venv", venv, "--python", sys.executable, "--offline", "-q"]),
            ("uv pip install", [UV, "pip", "install", "--python", venv_python(venv), "-r", deps, "--offline", "-q"]),
            ("validate (probe)", [venv_python(venv), "-c", "import " + ", ".join(modules)]),
        ]
        steps[1][1].extend(["--find-links", wheelhouse])
        times: dict[str, float] = {}
        for name, cmd in steps:
            start = time.perf_counter()
            run(cmd)
            times[name] = time.perf_counter() - start
        baseline_phases.append(times)

    entries: list[Contender] = [("embedded", embedded), ("cli", cli), ("uv+import", baseline)]
    timings: dict[str, list[float]] = {name: [] for name, _ in entries}
    cpu: dict[str, list[float]] = {name: [] for name, _ in entries}
    for round_no in range(WARMUP_ROUNDS + rounds):
        shift = round_no % len(entries)
        for name, call in entries[shift:] + entries[:shift]:
            cpu_start = cpu_seconds()
            start = time.perf_counter()
            call()
            if round_no >= WARMUP_ROUNDS:
                timings[name].append(time.perf_counter() - start)
                cpu[name].append(cpu_seconds() - cpu_start)
        shutil.rmtree(cold, ignore_errors=True)
    phases = phases[WARMUP_ROUNDS:]
    baseline_phases = baseline_phases[WARMUP_ROUNDS:]

    medians = {name: statistics.median(samples) * 1000 for name, samples in timings.items()}
    base_ms = medians["uv+import"]
    print(f"\ncold, synthetic-{size}: a fresh venv per call, median of {rounds} rounds (+{WARMUP_ROUNDS} warm-up)")
    labels = {
        "embedded": "penvcache.ensure() (fresh venv)",
        "cli": "penvcache ensure CLI (fresh venv)",
        "uv+import": "uv venv + uv pip install + import-all",
    }
    cpu_medians = {name: statistics.median(samples) * 1000 for name, samples in cpu.items()}
    print(f"  {'':<42}{'wall ms':>8} {'vs uv':>8}  {'min':>6}  {'cpu ms':>7} {'vs uv':>8}")
    for name, label in labels.items():
        overhead = (medians[name] - base_ms) / base_ms * 100
        cpu_overhead = (cpu_medians[name] - cpu_medians["uv+import"]) / cpu_medians["uv+import"] * 100
        print(
            f"  {label:<42}{medians[name]:8.1f} {overhead:+7.1f}%  {min(timings[name]) * 1000:6.1f}"
            f"  {cpu_medians[name]:7.1f} {cpu_overhead:+7.1f}%"
        )
    phase_medians = {name: statistics.median(p.get(name, 0.0) for p in phases) * 1000 for name in phases[0]}
    base_phase_medians = {
        name: statistics.median(p[name] for p in baseline_phases) * 1000 for name in baseline_phases[0]
    }
    print(f"  phases, wall ms medians:          {'penvcache.ensure()':>20}{'uv + import-all':>18}")
    for name, ms in phase_medians.items():
        base = base_phase_medians.get(name)
        print(f"    {name:<32}{ms:20.1f}{'' if base is None else f'{base:18.1f}'}")
    return {
        "deps": size,
        "rounds": rounds,
        "raw_ms": {name: [t * 1000 for t in samples] for name, samples in timings.items()},
        "median_ms": medians,
        "overhead_percent": {name: (ms - base_ms) / base_ms * 100 for name, ms in medians.items()},
        "cpu_median_ms": cpu_medians,
        "embedded_phases_median_ms": phase_medians,
        "baseline_phases_median_ms": base_phase_medians,
    }


def machine_info() -> dict[str, Any]:
    cpu_model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu_model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    affinity = getattr(os, "sched_getaffinity", None)
    return {
        "platform": platform.platform(),
        "python": sys.version,
        "python_executable": sys.executable,
        "uv": run([UV, "--version"]).strip(),
        "penvcache": penvcache.__version__,
        "nproc": len(affinity(0)) if affinity else os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
    }


# --- main ------------------------------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive integers, e.g. 10,100,500")
    return sizes


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=_sizes, default=[10, 100, 500], help="deps per workload (10,100,500)")
    parser.add_argument("--rounds", type=int, default=15, help="measured rounds per contender (15)")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("bench-results.json"),
        help="write raw timings, summaries and machine info here (bench-results.json)",
    )
    parser.add_argument("--real", action="store_true", help="also benchmark the pioarduino set (needs the index)")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    parser.add_argument(
        "--only", choices=["warm", "cold"], help="run only the warm (no-op) tables or only the cold comparison"
    )
    parser.add_argument("--cold-rounds", type=int, default=15, help="measured rounds of the cold comparison (15)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.cold_rounds < 1:
        parser.error("--rounds and --cold-rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="penvcache-bench-"))
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine_info(), "rounds": args.rounds, "warmup_rounds": WARMUP_ROUNDS}
    print(f"penvcache bench in {root}: sizes {args.sizes}, {args.rounds} rounds")
    try:
        with hermetic_environment(root):
            if args.only != "cold":
                workloads: list[Workload] = []
                for size in args.sizes:
                    print(f"building synthetic-{size} ...")
                    workloads.append(synthetic_workload(root, size))
                if args.real:
                    print("building real-pioarduino (online) ...")
                    real = real_workload(root)
                    if real is not None:
                        workloads.append(real)
                results["workloads"] = [bench_workload(w, args.rounds) for w in workloads]
            if args.only != "warm":
                results["cold"] = cold_comparison(root, min(args.sizes), args.cold_rounds)
    finally:
        if args.keep:
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    results["total_seconds"] = time.perf_counter() - started
    print(f"\ntotal {results['total_seconds']:.0f}s")
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
