"""Benchmark penvcache as users run it: a hit in every install layout against uv's no-op; a cold miss against uv.

One command produces the whole table::

    python scripts/bench.py [--sizes 20,500,2000] [--rounds 21] [--cold-size 10] [--cold-rounds 15]
                            [--only warm|cold|imports] [--pip] [--import-all] [--real] [--instructions]
                            [--json FILE] [--keep]

It builds penvcache's wheel from this checkout (``uv build``) and installs it the ways users do, each in a temp
directory: ``pip install`` into a venv (pip compiles bytecode), ``uv tool install`` with a temp ``UV_TOOL_DIR``
and ``UV_TOOL_BIN_DIR`` (uv compiles nothing; Python writes the bytecode on the first run), and both again
without bytecode (``pip install --no-compile``, a second ``uv tool install``, runs with
``PYTHONDONTWRITEBYTECODE=1``). penvcache's dependencies come from the package index, as for a user.

The hit is then timed for synthetic dependency sets (tiny wheels in local wheelhouses, installed offline, with
penvcache's and uv's caches in the temp directory): each layout's ``penvcache ensure``, ``python -m penvcache``,
the embedded ``penvcache.ensure()``, ``uv pip install`` (a no-op: the reference), ``uv pip install --check``
when the bundled uv has it, ``python -I -S -c pass`` (starting Python at all) and each layout's floors (its
interpreter started with its ``site`` and left with ``os._exit``, as a hit leaves; ``python -m`` of a module that
does only that). The contenders run
interleaved, in a rotating order, one call each per round; the table gives medians of the times and the
median of the per-round ratios to uv's no-op. The cold run creates a fresh venv per call. ``--only imports``
gives import costs per module.
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

REPO = Path(__file__).resolve().parent.parent
WARMUP_ROUNDS = 2
UV = find_uv_bin()
BASE_PYTHON = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
BIN = "Scripts" if os.name == "nt" else "bin"

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
#: modules whose import cost ``--only imports`` reports: penvcache's hit and miss paths, and what they avoid
IMPORTS = [
    "penvcache._fastpath",
    "penvcache.cli",
    "penvcache._locking",
    "penvcache._installer",
    "penvcache._probe",
    "penvcache._requirements",
    "filelock",
    "packaging.requirements",
    "importlib.metadata",
    "platformdirs",
    "uv",
    "argparse",
    "json",
    "re",
    "typing",
    "dataclasses",
    "hashlib",
    "subprocess",
]

#: what ``--instructions`` counts the import of (instructions beyond starting the interpreter), with the code
MISS_MODULES = "penvcache._coordinator, penvcache._locking, penvcache._installer, penvcache._probe, penvcache._clearing"
IMPORT_CODE = {
    "a hit's imports (penvcache._fastpath)": "import penvcache._fastpath",
    "a miss's imports (penvcache and all)": f"import {MISS_MODULES}; from filelock import ReadWriteLock",
    "  of them, filelock with ReadWriteLock": "from filelock import FileLock, ReadWriteLock",
    "  of them, packaging.requirements": "import packaging.requirements",
    "  of them, both": "import packaging.requirements; from filelock import FileLock, ReadWriteLock",
    "importlib.metadata (no longer imported)": "import importlib.metadata",
    "urllib.request (only for a local path)": "import urllib.request",
    "argparse (not for ensure)": "import argparse",
    "json": "import json",
    "ctypes (uv dies with penvcache)": "import ctypes",
}

Arg = str | os.PathLike[str]


@dataclass
class Layout:
    """penvcache installed one way: the command a user types, the interpreter it runs, the environment it needs."""

    name: str
    command: list[Arg]  # the `penvcache` command
    python: Path  # the interpreter of the environment penvcache is installed in
    env: dict[str, str] = field(default_factory=dict)  # what differs from the bench's environment

    def environ(self) -> dict[str, str]:
        return {**os.environ, **self.env}


@dataclass
class Workload:
    """One venv that satisfies one deps file, plus what the contenders need to run against it."""

    name: str
    venv: Path
    deps: Path
    cache: Path  # penvcache's state directory for the embedded call; each layout has its own beside it
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

    def ensure_args(self, cache: Path) -> list[Arg]:
        """``penvcache ensure``'s arguments for this workload, with state in ``cache``."""
        args: list[Arg] = ["ensure", "--deps", self.deps, "--venv", self.venv, "--cache-dir", cache]
        for link in self.find_links:
            args += ["--find-links", link]
        return args + (["--offline"] if self.offline else [])


Contender = tuple[str, Callable[[], None]]


# --- processes and environment ---------------------------------------------------------------------------------


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(cmd: Sequence[Arg], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run ``cmd``; its stdout, or RuntimeError with its output when it exits non-zero."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if proc.returncode != 0:
        shown = " ".join(os.fspath(c) for c in cmd)
        if len(shown) > 300:
            shown = shown[:300] + " ..."
        raise RuntimeError(f"exit {proc.returncode}: {shown}\n{proc.stdout}{proc.stderr}")
    return proc.stdout


@contextmanager
def hermetic_environment(root: Path) -> Iterator[None]:
    """Point penvcache's, uv's and pip's caches into ``root`` for this process and its children.

    Bytecode is left as each layout's installer left it (no ``PYTHONPYCACHEPREFIX``: it would hide the
    ``__pycache__`` directories pip writes); the no-bytecode layouts set ``PYTHONDONTWRITEBYTECODE`` themselves.
    """
    env = {
        "PENVCACHE_CACHE_DIR": str(root / "penvcache-cache"),
        "UV_CACHE_DIR": str(root / "uv-cache"),
        "UV_NO_CONFIG": "1",
        "PIP_CACHE_DIR": str(root / "pip-cache"),
    }
    with mock.patch.dict(os.environ, env):  # restores the whole environment on exit
        for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "VIRTUAL_ENV", "PENVCACHE_VENV"):
            os.environ.pop(name, None)
        yield


def pip_environment() -> dict[str, str]:
    """The environment for the pip contender: no index, no version check, and none of the machine's pip config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CACHE_DIR"}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_CONFIG_FILE=os.devnull)
    return env


# --- install layouts -------------------------------------------------------------------------------------------


def build_penvcache_wheel(root: Path) -> Path:
    """penvcache's wheel, built from this checkout by ``uv build`` (hatchling comes from the index or uv's cache)."""
    dist = root / "dist"
    run([UV, "build", "--wheel", "--out-dir", dist, "-q", REPO])
    (wheel,) = dist.glob("penvcache-*.whl")
    return wheel


def install_layouts(root: Path, wheel: Path) -> list[Layout]:
    """penvcache installed from ``wheel`` the ways users install it (online: its dependencies come from the index)."""
    layouts: list[Layout] = []
    no_pyc = {"PYTHONDONTWRITEBYTECODE": "1"}
    for name, flags, env in (("pip", [], {}), ("pip, no .pyc", ["--no-compile"], no_pyc)):
        venv = root / "layouts" / name.replace(", ", "-").replace(" ", "").replace(".", "")
        run([BASE_PYTHON, "-m", "venv", venv])
        run([venv_python(venv), "-m", "pip", "install", "-q", "--disable-pip-version-check", *flags, wheel])
        layouts.append(Layout(f"{name}: penvcache", [venv / BIN / "penvcache"], venv_python(venv), env))
        layouts.append(Layout(f"{name}: python -m", [venv_python(venv), "-m", "penvcache"], venv_python(venv), env))
    for name, env in (("uv tool", {}), ("uv tool, no .pyc", no_pyc)):
        slug = name.replace(", ", "-").replace(" ", "").replace(".", "")
        tools, bin_dir = root / "layouts" / slug / "tools", root / "layouts" / slug / "bin"
        tool_env = {**os.environ, "UV_TOOL_DIR": str(tools), "UV_TOOL_BIN_DIR": str(bin_dir)}
        run([UV, "tool", "install", "-q", "--python", BASE_PYTHON, wheel], env=tool_env)
        layouts.append(Layout(f"{name}: penvcache", [bin_dir / "penvcache"], venv_python(tools / "penvcache"), env))
    return layouts


def check_layout(layout: Layout, workload: Workload, cache: Path, root: Path) -> None:
    """The layout's first call records the venv; its second must be a hit."""
    for expected in ("adopted", "hit"):
        out = run([*layout.command, *workload.ensure_args(cache), "--json"], env=layout.environ(), cwd=root)
        status = json.loads(out)["status"]
        if status != expected and not (expected == "adopted" and status == "hit"):
            raise RuntimeError(f"{layout.name}: penvcache ensure --json said {status!r}, not {expected!r}")


def layout_cache(workload: Workload, layout: Layout) -> Path:
    """Each layout keeps its state in its own cache dir: the state records which installation wrote it."""
    slug = "".join(c if c.isalnum() else "-" for c in layout.name)
    return workload.cache.parent / f"cache-{slug}"


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
        run([UV, "venv", venv, "--python", BASE_PYTHON, "--seed", "-q", *offline_flags])
        return "pip seeded into the venv by uv venv --seed"
    except RuntimeError:
        shutil.rmtree(venv, ignore_errors=True)
    run([UV, "venv", venv, "--python", BASE_PYTHON, "-q", *offline_flags])
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
        run([BASE_PYTHON, "-m", "venv", sibling])
        install = [UV, "pip", "install", "--python", venv_python(sibling), "-r", workload.deps, *links, "-q"]
        run(install + (["--offline"] if workload.offline else []))
    except RuntimeError as e:
        workload.notes.append(f"pip contender skipped: no pip available offline ({str(e).splitlines()[0]})")
        return
    workload.pip_python = venv_python(sibling)
    workload.notes.append("pip contender runs in a sibling venv (python -m venv) with the same deps")


def prepare(workload: Workload, layouts: Sequence[Layout], root: Path, *, with_pip: bool) -> None:
    """Create the venv (with pip if asked), fill it with penvcache, and check every layout then calls it a hit."""
    if with_pip:
        how = create_venv_with_pip(workload.venv, workload.offline)
        if how is not None:
            workload.pip_python = workload.python
            workload.notes.append(how)
    start = time.perf_counter()
    result = workload.ensure()
    print(f"  filled {workload.name} with penvcache.ensure: {result.status} in {time.perf_counter() - start:.1f}s")
    if with_pip:
        add_pip(workload)
    for layout in layouts:
        check_layout(layout, workload, layout_cache(workload, layout), root)


def synthetic_workload(root: Path, size: int, layouts: Sequence[Layout], *, with_pip: bool) -> Workload:
    base = root / f"synthetic-{size}"
    wheelhouse = base / "wheelhouse"
    names = build_wheelhouse(wheelhouse, size)
    deps = base / "deps.txt"
    deps.write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    workload = Workload(
        name=f"synthetic-{size}",
        venv=base / "venv",
        deps=deps,
        cache=base / "cache-embedded",
        modules=[name.replace("-", "_") for name in names],
        offline=True,
        find_links=[wheelhouse],
    )
    prepare(workload, layouts, root, with_pip=with_pip)
    return workload


def real_workload(root: Path, layouts: Sequence[Layout], *, with_pip: bool) -> Workload | None:
    """The pioarduino set, installed from the package index; None (with a note) when that fails."""
    base = root / "real-pioarduino"
    base.mkdir(parents=True)
    deps = base / "deps.txt"
    deps.write_text("".join(f"{req}\n" for req in REAL_DEPS), encoding="utf-8")
    workload = Workload(
        name="real-pioarduino",
        venv=base / "venv",
        deps=deps,
        cache=base / "cache-embedded",
        modules=list(REAL_DEPS.values()),
        offline=False,
    )
    try:
        prepare(workload, layouts, root, with_pip=with_pip)
    except (RuntimeError, penvcache.PenvcacheError) as e:
        print(f"  --real skipped: {str(e).splitlines()[0]}")
        return None
    return workload


# --- contenders ------------------------------------------------------------------------------------------------


def command(cmd: Sequence[Arg], env: dict[str, str] | None = None, cwd: Path | None = None) -> Callable[[], None]:
    """A contender that runs ``cmd`` (output to /dev/null) and fails unless it exits 0."""

    def call() -> None:
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"exit {proc.returncode}: {' '.join(map(str, cmd))}\n{proc.stderr.decode()}")

    return call


def uv_has_check() -> bool:
    """Whether the bundled uv's ``uv pip install`` has ``--check`` (newer uv versions)."""
    return "--check" in run([UV, "pip", "install", "--help"])


def contenders(
    workload: Workload, layouts: Sequence[Layout], root: Path, *, with_pip: bool, import_all: bool
) -> list[Contender]:
    links: list[Arg] = [arg for link in workload.find_links for arg in ("--find-links", link)]
    offline = ["--offline"] if workload.offline else []
    uv_install = [UV, "pip", "install", "--python", workload.python, "-r", workload.deps, *offline, *links, "-q"]

    def embedded() -> None:
        status = workload.ensure().status
        if status != "hit":
            raise RuntimeError(f"embedded penvcache.ensure returned {status!r}, not 'hit'")

    found: list[Contender] = [
        (
            layout.name,
            command(
                [*layout.command, *workload.ensure_args(layout_cache(workload, layout)), "-q"],
                env=layout.environ(),
                cwd=root,
            ),
        )
        for layout in layouts
    ]
    found += [("penvcache.ensure()", embedded), ("uv pip install (no-op)", command(uv_install, cwd=root))]
    if uv_has_check():
        found.append(("uv pip install --check", command([*uv_install, "--check"], cwd=root)))
    if with_pip and workload.pip_python is not None:
        pip = [workload.pip_python, "-m", "pip", "install", "-r", workload.deps, "--no-index", *links, "-q"]
        found.append(("pip install (no-op)", command(pip, env=pip_environment(), cwd=root)))
    if import_all:
        found.append(("import every dep", command([workload.python, "-c", "import " + ", ".join(workload.modules)])))
    found.append(("python -I -S -c pass", command([BASE_PYTHON, "-I", "-S", "-c", "pass"], cwd=root)))
    return found + [(name, command(cmd, env=env, cwd=root)) for name, cmd, env in floors(layouts, root)]


EXIT_MODULE = "bench_exit_at_once"  #: a module that only calls os._exit(0), for ``python -m``'s floor


def floors(layouts: Sequence[Layout], root: Path) -> list[tuple[str, list[Arg], dict[str, str]]]:
    """What each layout's interpreter costs before penvcache imports anything: starting it (with its ``site``
    and ``.pth`` files, as the command starts it) and leaving with ``os._exit`` as a hit does; and for
    ``python -m``, running a module that does only that (``runpy`` and what it imports). Name, command, env."""
    module = root / f"{EXIT_MODULE}.py"
    if not module.exists():  # written once: a new file would be compiled again by the next run
        module.write_text("import os\n\nos._exit(0)\n", encoding="utf-8")
    found: list[tuple[str, list[Arg], dict[str, str]]] = []
    for layout in layouts:
        if "no .pyc" in layout.name:
            continue
        kind = layout.name.split(":")[0]
        if any(str(arg) == "-m" for arg in layout.command):
            found.append((f"floor: {kind}'s python -m", [layout.python, "-m", EXIT_MODULE], layout.environ()))
        elif not any(name == f"floor: {kind}'s python" for name, _, _ in found):
            exit_at_once: list[Arg] = [layout.python, "-c", "import os; os._exit(0)"]
            found.append((f"floor: {kind}'s python", exit_at_once, layout.environ()))
    return found


# --- measuring and reporting -----------------------------------------------------------------------------------

REFERENCE = "uv pip install (no-op)"
LEAN_MISS_MS = 50.0  #: issue 13's budget for a command-line miss over the embedded call, in ms


def measure(entries: Sequence[Contender], rounds: int) -> dict[str, list[float]]:
    """Seconds per call: every contender once per round, in a rotating order, after the warm-up rounds."""
    timings: dict[str, list[float]] = {name: [] for name, _ in entries}
    for round_no in range(WARMUP_ROUNDS + rounds):
        shift = round_no % len(entries)
        for name, call in [*entries[shift:], *entries[:shift]]:
            start = time.perf_counter()
            call()
            elapsed = time.perf_counter() - start
            if round_no >= WARMUP_ROUNDS:
                timings[name].append(elapsed)
    return timings


def summarize(timings: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    """Per contender: median, p90 and min in ms, and the median of its per-round ratios to uv's no-op."""
    reference = timings[REFERENCE]
    summary: dict[str, dict[str, Any]] = {}
    for name, samples in timings.items():
        ms = [s * 1000 for s in samples]
        p90 = statistics.quantiles(ms, n=10, method="inclusive")[8] if len(ms) > 1 else ms[0]
        ratios = [s / r for s, r in zip(samples, reference, strict=True)]
        summary[name] = {
            "median_ms": statistics.median(ms),
            "p90_ms": p90,
            "min_ms": min(ms),
            "ratio_vs_uv": statistics.median(ratios),
            "raw_ms": ms,
        }
    return summary


def print_table(title: str, summary: dict[str, dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(f"  {'contender':<30}{'median ms':>11}{'p90 ms':>10}{'min ms':>10}{'x uv no-op':>12}")
    for name, row in summary.items():
        print(
            f"  {name:<30}{row['median_ms']:>11.1f}{row['p90_ms']:>10.1f}{row['min_ms']:>10.1f}"
            f"{row['ratio_vs_uv']:>12.2f}"
        )


def bench_workload(
    workload: Workload, layouts: Sequence[Layout], root: Path, rounds: int, *, with_pip: bool, import_all: bool
) -> dict[str, Any]:
    entries = contenders(workload, layouts, root, with_pip=with_pip, import_all=import_all)
    summary = summarize(measure(entries, rounds))
    title = f"hit, {workload.name}: {len(workload.modules)} deps, {rounds} rounds (+{WARMUP_ROUNDS} warm-up)"
    print_table(title, summary)
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


def cold_comparison(root: Path, layouts: Sequence[Layout], size: int, rounds: int) -> dict[str, Any]:
    """A fresh venv each call: penvcache (embedded and each layout's command) vs uv venv + uv pip install + imports.

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

    def cli(layout: Layout) -> Callable[[], None]:
        def call() -> None:
            args: list[Arg] = ["ensure", "--deps", deps, "--venv", fresh("cli"), "--cache-dir", cache]
            args += ["--find-links", wheelhouse, "--offline", "--json"]
            out = run([*layout.command, *args], env=layout.environ(), cwd=root)
            if json.loads(out)["status"] != "installed":
                raise RuntimeError(f"cold {layout.name} said {out.strip()}")

        return call

    baseline_phases: list[dict[str, float]] = []

    def baseline() -> None:
        venv = fresh("uv")
        steps: list[tuple[str, list[Arg]]] = [
            ("uv venv", [UV, "venv", venv, "--python", BASE_PYTHON, "--offline", "-q"]),
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

    base_name = "uv venv + uv pip install + import-all"
    entries: list[Contender] = [("penvcache.ensure()", embedded)]
    entries += [(layout.name, cli(layout)) for layout in layouts]
    entries.append((base_name, baseline))
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
    embedded_ms = timings["penvcache.ensure()"]
    over_embedded = {  # median of the per-round differences, in ms
        name: statistics.median((t - e) * 1000 for t, e in zip(samples, embedded_ms, strict=True))
        for name, samples in timings.items()
    }
    base_ms = medians[base_name]
    cpu_medians = {name: statistics.median(samples) * 1000 for name, samples in cpu.items()}
    cpu_over_embedded = {  # CPU time (this process and its children) is less sensitive to a loaded machine
        name: statistics.median((t - e) * 1000 for t, e in zip(samples, cpu["penvcache.ensure()"], strict=True))
        for name, samples in cpu.items()
    }
    print(f"\ncold, synthetic-{size}: a fresh venv per call, median of {rounds} rounds (+{WARMUP_ROUNDS} warm-up)")
    print(f"  {'':<38}{'wall ms':>8} {'vs uv':>8} {'- embedded':>11}  {'cpu ms':>7} {'- embedded':>11}")
    for name in timings:
        overhead = (medians[name] - base_ms) / base_ms * 100
        print(
            f"  {name:<38}{medians[name]:8.1f} {overhead:+7.1f}% {over_embedded[name]:+10.1f}"
            f"  {cpu_medians[name]:7.1f} {cpu_over_embedded[name]:+10.1f}"
        )
    phase_medians = {name: statistics.median(p.get(name, 0.0) for p in phases) * 1000 for name in phases[0]}
    base_phase_medians = {
        name: statistics.median(p[name] for p in baseline_phases) * 1000 for name in baseline_phases[0]
    }
    print(f"  phases, wall ms medians:          {'penvcache.ensure()':>20}{'uv + import-all':>18}")
    for name, ms in phase_medians.items():
        base = base_phase_medians.get(name)
        print(f"    {name:<32}{ms:20.1f}{'' if base is None else f'{base:18.1f}'}")
    print(f"  lean miss: the command line's cost over the embedded call (goal: at most +{LEAN_MISS_MS:g} ms)")
    print(f"  {'':<38}{'cpu ms':>8} {'wall ms':>8}   (medians of the per-round differences)")
    for layout in layouts:
        cpu_over, wall_over = cpu_over_embedded[layout.name], over_embedded[layout.name]
        verdict = "met" if cpu_over <= LEAN_MISS_MS else "over"
        print(f"  {layout.name:<38}{cpu_over:+8.1f} {wall_over:+8.1f}   {verdict}")
    return {
        "deps": size,
        "rounds": rounds,
        "raw_ms": {name: [t * 1000 for t in samples] for name, samples in timings.items()},
        "median_ms": medians,
        "over_embedded_median_ms": over_embedded,
        "overhead_percent": {name: (ms - base_ms) / base_ms * 100 for name, ms in medians.items()},
        "cpu_median_ms": cpu_medians,
        "cpu_over_embedded_median_ms": cpu_over_embedded,
        "embedded_phases_median_ms": phase_medians,
        "baseline_phases_median_ms": base_phase_medians,
    }


EMBEDDED_COLD = """\
import sys
import penvcache
deps, links, cache, *venvs = sys.argv[1:]
for venv in venvs:
    result = penvcache.ensure(venv, deps_files=[deps], offline=True, find_links=[links], cache_dir=cache)
    assert result.status == "installed", result
"""


def callgrind(cmd: Sequence[Arg], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Instructions the process executes, as valgrind's callgrind counts them (its children are not followed).

    Unlike times, counts do not depend on what else the machine is doing: the same command gives the same count
    (hash randomisation is off), so small differences between versions of penvcache show on a busy machine."""
    env = {**(os.environ if env is None else env), "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )
    counts = [line.split()[-1] for line in proc.stderr.splitlines() if "Collected :" in line]
    if proc.returncode != 0 or not counts:
        raise RuntimeError(f"callgrind of {' '.join(map(str, cmd))} failed:\n{proc.stderr[-2000:]}")
    return int(counts[0])


def instruction_counts(
    root: Path, layouts: Sequence[Layout], workload: Workload | None, cold_size: int
) -> dict[str, dict[str, int]]:
    """Instructions (callgrind) of a hit in each layout and of its floors, and of a cold miss from each layout's
    command against the embedded call's own: the load-independent view of the tables above."""
    if shutil.which("valgrind") is None:
        print("\ninstructions: valgrind is not installed; skipped")
        return {}
    found: dict[str, dict[str, int]] = {"hit": {}, "cold": {}}
    if workload is not None:
        links: list[Arg] = [arg for link in workload.find_links for arg in ("--find-links", link)]
        offline = ["--offline"] if workload.offline else []
        commands: list[tuple[str, list[Arg], dict[str, str]]] = []
        for layout in layouts:
            hit = [*layout.command, *workload.ensure_args(layout_cache(workload, layout)), "-q"]
            commands.append((layout.name, hit, layout.environ()))
        commands.append(("python -I -S -c pass", [BASE_PYTHON, "-I", "-S", "-c", "pass"], dict(os.environ)))
        commands += floors(layouts, root)
        uv_install = [UV, "pip", "install", "--python", workload.python, "-r", workload.deps, *offline, *links, "-q"]
        commands.append(("uv pip install (no-op), all threads", uv_install, dict(os.environ)))
        for name, cmd, env in commands:
            found["hit"][name] = callgrind(cmd, env=env, cwd=root)
        print(f"\ninstructions of a hit, {workload.name} (callgrind, millions; one process, its children not counted)")
        for name, count in found["hit"].items():
            print(f"  {name:<38}{count / 1e6:8.1f}")
    python = next(layout.python for layout in layouts if layout.name.startswith("pip:"))
    start = callgrind([python, "-c", "import os; os._exit(0)"], cwd=root)
    print(f"\ninstructions of imports in {python} (callgrind, millions, beyond starting it; each with what it imports)")
    for name, code in IMPORT_CODE.items():
        found.setdefault("imports", {})[name] = callgrind([python, "-c", f"{code}; import os; os._exit(0)"], cwd=root)
        print(f"  {name:<42}{(found['imports'][name] - start) / 1e6:8.1f}")
    deps, wheelhouse, _ = ensure_cold_wheelhouse(root, cold_size)
    cache, cold = root / "penvcache-cache", root / "cold-instructions"
    for layout in layouts:
        if "no .pyc" in layout.name:
            continue
        for attempt in ("warm-up", "counted"):  # the warm-up writes the bytecode uv tool's install left out
            venv = cold / f"{layout.name.replace(' ', '-')}-{attempt}"
            args: list[Arg] = ["ensure", "--deps", deps, "--venv", venv, "--cache-dir", cache]
            args += ["--find-links", wheelhouse, "--offline", "-q"]
            if attempt == "warm-up":
                run([*layout.command, *args], env=layout.environ(), cwd=root)
            else:
                found["cold"][layout.name] = callgrind([*layout.command, *args], env=layout.environ(), cwd=root)
    embedded: list[Arg] = [sys.executable, "-c", EMBEDDED_COLD, deps, wheelhouse, cache]
    once = callgrind([*embedded, cold / "embedded-1"], cwd=root)
    twice = callgrind([*embedded, cold / "embedded-2", cold / "embedded-3"], cwd=root)
    shutil.rmtree(cold, ignore_errors=True)
    own = found["cold"]["penvcache.ensure() itself"] = twice - once  # the second call: everything imported
    print(f"\ninstructions of a cold miss, synthetic-{cold_size} (callgrind, millions; uv and the probe not counted)")
    for name, count in found["cold"].items():
        extra = "" if name.startswith("penvcache.ensure()") else f"  {(count - own) / 1e6:+8.1f} over the embedded call"
        print(f"  {name:<38}{count / 1e6:8.1f}{extra}")
    return found


def import_costs(python: Path, root: Path, rounds: int) -> dict[str, dict[str, float]]:
    """Ms to import each of :data:`IMPORTS` in a fresh ``python`` (``-X importtime``, cumulative, with bytecode),
    beyond what starting the interpreter imports anyway: the median and the minimum (the least disturbed by
    other load) of ``rounds`` interpreters."""
    costs: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for _ in range(rounds):
        for name in IMPORTS:
            proc = subprocess.run(
                [python, "-X", "importtime", "-c", f"import {name}"],
                capture_output=True,
                text=True,
                cwd=root,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"import {name} failed in {python}:\n{proc.stderr}")
            last = proc.stderr.strip().splitlines()[-1]  # the top-level import comes last
            costs[name].append(int(last.split("|")[1]) / 1000)
    summary = {name: {"median": statistics.median(ms), "min": min(ms)} for name, ms in costs.items()}
    print(f"\nimport costs in {python} (ms, cumulative, {rounds} fresh interpreters, with bytecode)")
    print(f"  {'module':<26}{'median':>8}{'min':>8}")
    for name, row in summary.items():
        print(f"  {name:<26}{row['median']:8.1f}{row['min']:8.1f}")
    return summary


def loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


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
        "python_executable": BASE_PYTHON,
        "uv": run([UV, "--version"]).strip(),
        "penvcache": penvcache.__version__,
        "nproc": len(affinity(0)) if affinity else os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "loadavg_start": loadavg(),
    }


# --- main ------------------------------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive integers, e.g. 20,500,2000")
    return sizes


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=_sizes, default=[20, 500, 2000], help="deps per hit workload (20,500,2000)")
    parser.add_argument("--rounds", type=int, default=21, help="measured rounds per hit workload (21)")
    parser.add_argument("--cold-size", type=int, default=10, help="deps of the cold comparison (10)")
    parser.add_argument("--cold-rounds", type=int, default=15, help="measured rounds of the cold comparison (15)")
    parser.add_argument("--import-rounds", type=int, default=7, help="fresh interpreters per import cost (7)")
    parser.add_argument(
        "--only", choices=["warm", "cold", "imports"], help="run only the hit tables, the cold comparison or imports"
    )
    parser.add_argument("--pip", action="store_true", help="also time pip's no-op install (about 1 s a call)")
    parser.add_argument("--import-all", action="store_true", help="also time importing every dependency")
    parser.add_argument("--real", action="store_true", help="also benchmark the pioarduino set (needs the index)")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("bench-results.json"),
        help="write raw timings, summaries and machine info here (bench-results.json)",
    )
    parser.add_argument(
        "--store",
        action="store_true",
        help="run only the shared-store comparison: machine B installs the pioarduino set from a file:// store with "
        "an empty uv cache and the index unreachable, against a cold online install (scripts/bench_store.py; "
        "needs the index)",
    )
    parser.add_argument("--store-rounds", type=int, default=5, help="rounds of the store comparison (5)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count the instructions (valgrind's callgrind) of a hit in each layout at the first size, of the "
        "floors, and of a cold miss from each command against the embedded call's own: figures a busy machine "
        "does not change",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args(argv)
    if min(args.rounds, args.cold_rounds, args.import_rounds, args.cold_size) < 1:
        parser.error("--rounds, --cold-rounds, --import-rounds and --cold-size must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.store:
        from bench_store import main as store_main

        return store_main(["--rounds", str(args.store_rounds), *(["--keep"] if args.keep else [])])
    root = Path(tempfile.mkdtemp(prefix="penvcache-bench-"))
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine_info(), "rounds": args.rounds, "warmup_rounds": WARMUP_ROUNDS}
    print(f"penvcache bench in {root}: sizes {args.sizes}, {args.rounds} rounds, load average {loadavg()}")
    try:
        print("building penvcache's wheel and installing it in each layout (online) ...")
        layouts = install_layouts(root, build_penvcache_wheel(root))
        results["layouts"] = {layout.name: [os.fspath(c) for c in layout.command] for layout in layouts}
        with hermetic_environment(root):
            if args.only in (None, "imports"):
                results["imports_ms"] = import_costs(layouts[0].python, root, args.import_rounds)
            workloads: list[Workload] = []
            if args.only in (None, "warm"):
                for size in args.sizes:
                    print(f"building synthetic-{size} ...")
                    workloads.append(synthetic_workload(root, size, layouts, with_pip=args.pip))
                if args.real:
                    print("building real-pioarduino (online) ...")
                    real = real_workload(root, layouts, with_pip=args.pip)
                    if real is not None:
                        workloads.append(real)
                results["workloads"] = [
                    bench_workload(w, layouts, root, args.rounds, with_pip=args.pip, import_all=args.import_all)
                    for w in workloads
                ]
            if args.only in (None, "cold"):
                cold_layouts = [layout for layout in layouts if "no .pyc" not in layout.name]
                results["cold"] = cold_comparison(root, cold_layouts, args.cold_size, args.cold_rounds)
            if args.instructions:
                first = next((w for w in workloads if w.name.startswith("synthetic")), None)
                results["instructions"] = instruction_counts(root, layouts, first, args.cold_size)
    finally:
        if args.keep:
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    results["total_seconds"] = time.perf_counter() - started
    results["loadavg_end"] = loadavg()
    print(f"\ntotal {results['total_seconds']:.0f}s, load average {loadavg()} (the machine's others share the cores)")
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
