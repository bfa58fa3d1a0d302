from __future__ import annotations

import base64
import compileall
import contextlib
import csv
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from penvcache._state import venv_dir
from tests._kit import SLOW_SDIST_MODULES, build_slow_sdist, build_wheel, site_packages

SLOW_SECONDS = 3.0
SLOW_IMPORT_SOURCE = """\
import os, time
if os.environ.get("SLOW_IMPORT_MARKER"):  # tells a test that validation is importing it, then lingers
    open(os.environ["SLOW_IMPORT_MARKER"], "w").close()
    time.sleep(float(os.environ.get("SLOW_IMPORT_SECONDS", "60")))
"""


# Bytecode is written as Python and pytest write it by default, even where PYTHONDONTWRITEBYTECODE is set: without
# it each xdist worker compiles (and rewrites the asserts of) the tests, penvcache and hypothesis anew, 3 s of CPU.
sys.dont_write_bytecode = False


# A shell runs a background job (`pytest ... &` in a script) with SIGINT ignored, and a process started with it
# ignored keeps it so, its children too: the Ctrl-C tests would then test nothing a user can do. Python's own
# handler here (what a foreground run has) means the processes the tests start get SIGINT's default again.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(trylast=True)  # after hypothesis's plugin has ended its initialization (no side-effect warning)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Write penvcache's bytecode once for the session's hundreds of processes that import it.

    Python writes it on first import, unless told not to (``PYTHONDONTWRITEBYTECODE``, ``-B``): then every
    ``penvcache`` process the tests start compiles the package again, a tenth of a second of CPU each time. They
    only read it (and Python checks it against the source).
    """
    root = Path(__file__).resolve().parent.parent
    compileall.compile_dir(root / "penvcache", quiet=1)
    compileall.compile_file(root / "tests" / "_worker.py", quiet=1)
    if not hasattr(session.config, "workerinput"):  # the controller, before xdist starts its workers
        _warm_hypothesis()


def _warm_hypothesis() -> None:
    """Build hypothesis's table of Unicode categories once (it stores it in ``.hypothesis/``), before xdist's
    workers start: in a fresh clone each worker would otherwise build it, ~2 s of CPU each, at its first ``st.text``.
    """
    try:
        from hypothesis.internal.charmap import charmap
    except ImportError:  # an internal module: if it moves, the workers build the table as before
        return
    charmap()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per CPU. Most of a test is waiting for the processes it starts (uv, the probe,
    penvcache, a holder of a lock), so one worker per CPU leaves the CPUs idle a fifth of the time: on 2 cores
    the suite took 152 s with 2 workers, 118 s with 4 and 124 s with 6 (CPU 245, 230 and 234 s)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 2 * cpus


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of tiny wheels (and one slow sdist) that every test installs from, offline."""
    house = tmp_path_factory.mktemp("wheelhouse")
    build_wheel(house, "alpha-pkg", "1.0")
    build_wheel(house, "alpha-pkg", "2.0")
    build_wheel(house, "beta-pkg", "1.0", extras={"fast": ["gamma-pkg>=1"]}, top_level_txt=False)
    build_wheel(house, "gamma-pkg", "1.0")
    build_wheel(house, "delta-pkg", "1.0", requires=["alpha-pkg>=2"])
    build_wheel(house, "broken-pkg", "1.0", module_source="raise ImportError('broken on purpose')\n")
    build_wheel(house, "slow-import-pkg", "1.0", module_source=SLOW_IMPORT_SOURCE)
    build_slow_sdist(house, "slow-pkg", "1.0", SLOW_SECONDS)
    return house


class SharedUvCache:
    """The uv cache that the tests of one pytest process (one xdist worker) share, unless they are marked
    ``private_uv_cache``: uv then queries an interpreter and unpacks a wheel once per worker, not once per test.

    uv hardlinks the files it installs from the wheels it unpacked in its cache (``archive-v0``): a test that edits
    an installed file in place edits the cache, and every later test would install the edit. So after each test
    that used it, :meth:`damage` checks those files: one seen after an earlier test must be unchanged (size, mtime,
    mode, presence; the wheelhouse's are seen as uv unpacked them, before the first test), a new one must match
    its wheel's RECORD; and no slow sdist (tests._kit) may have been built into it, since the next test to install
    it would skip the build it waits for. A test that does either fails, naming the marker it needs, and the
    worker goes on with a new cache.
    """

    def __init__(self, factory: pytest.TempPathFactory, wheelhouse: Path) -> None:
        self._factory, self._wheelhouse = factory, wheelhouse
        self._renew()

    def _renew(self) -> None:
        """A new cache that holds the wheelhouse's wheels, unpacked by uv before any test could touch them."""
        from uv import find_uv_bin

        self.path = self._factory.mktemp("uv-cache-shared")
        env = {**os.environ, "UV_CACHE_DIR": str(self.path), "UV_NO_CONFIG": "1"}
        venv = self._factory.mktemp("uv-cache-warming") / "venv"
        subprocess.run([find_uv_bin(), "venv", "-q", str(venv), "--python", sys.executable], env=env, check=True)
        install = [find_uv_bin(), "pip", "install", "-q", "--python", str(venv), "--offline"]
        for reqs in (["alpha-pkg==1.0", "beta-pkg[fast]", "broken-pkg", "slow-import-pkg"], ["delta-pkg"]):
            subprocess.run([*install, "--find-links", str(self._wheelhouse), *reqs], env=env, check=True)
        self._seen: dict[str, tuple[int, int, int]] = {}
        problems = self._check()
        assert problems == [], problems  # uv's own unpacking

    def seed(self, cache: Path) -> None:
        """Give an empty uv cache of a test's own what uv learned here by querying interpreters (its
        ``interpreter-v*`` buckets, this cache's and what :meth:`learn` brought in), and nothing else: no wheel, no
        index page, no build. uv queries an interpreter (a Python process of ~0.06 s CPU) the first time a cache
        meets its path, and checks a cached answer against the interpreter's modification time on every use, so
        a stale answer is queried again, as it would be in the shared cache. If uv renames the bucket, this only
        stops saving the queries."""
        for bucket in self.path.glob("interpreter-v*"):
            shutil.copytree(bucket, cache / bucket.name, dirs_exist_ok=True)

    def learn(self, cache: Path) -> None:
        """Keep what uv learned about interpreters in a test's own ``cache`` for the next tests (:meth:`seed`)."""
        for bucket in cache.glob("interpreter-v*") if cache.is_dir() else []:
            with contextlib.suppress(OSError):  # a test may have left it unreadable: its answers are not needed
                shutil.copytree(bucket, self.path / bucket.name, dirs_exist_ok=True)

    def damage(self) -> list[str]:
        """What is wrong in the cache now (nothing: ``[]``); a new cache replaces a damaged one."""
        problems = self._check()
        if problems:
            self._renew()
        return problems

    def _check(self) -> list[str]:
        problems: list[str] = []
        archive = self.path / "archive-v0"
        found: dict[str, tuple[int, int, int]] = {}
        for wheel in sorted(p for p in archive.iterdir() if p.is_dir()) if archive.is_dir() else []:
            files = {}
            for root, _, names in os.walk(wheel):
                for name in names:
                    path = os.path.join(root, name)
                    st = os.lstat(path)
                    files[path] = (st.st_size, st.st_mtime_ns, st.st_mode)
            slow = sorted(SLOW_SDIST_MODULES & set(os.listdir(wheel)))
            if slow:
                problems.append(f"{wheel}: the wheel built from the slow sdist of {slow[0]}")
            if any(path not in self._seen for path in files):
                problems += _unlike_record(wheel, files)
            problems += [f"{path}: changed in place" for path, sig in files.items() if self._seen.get(path, sig) != sig]
            found.update(files)
        problems += [f"{path}: removed" for path in sorted(set(self._seen) - set(found))]
        self._seen = found
        return problems


def _unlike_record(wheel: Path, files: dict[str, tuple[int, int, int]]) -> list[str]:
    """The files of an unpacked wheel that its RECORD does not list with their sha256 (each but RECORD itself)."""
    records = sorted(wheel.glob("*.dist-info/RECORD"))
    if len(records) != 1:
        return [f"{wheel}: {len(records)} RECORD files"]
    hashes = {}
    with records[0].open(newline="") as f:
        for row in csv.reader(f):
            if row and len(row) >= 2 and row[1].startswith("sha256="):
                hashes[str(wheel / row[0])] = row[1].removeprefix("sha256=")
    problems = []
    for path in files:
        if path == str(records[0]):
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(Path(path).read_bytes()).digest()).rstrip(b"=").decode()
        if hashes.get(path) != digest:
            problems.append(f"{path}: not as its RECORD says")
    return problems


@pytest.fixture(scope="session")
def shared_uv_cache(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> SharedUvCache:
    return SharedUvCache(tmp_path_factory, wheelhouse)


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[None]:
    """Temp cache dirs for penvcache and uv; the default cache dir and the network are unusable.

    uv's cache is the worker's :class:`SharedUvCache`, or ``tmp_path / "uv-cache"`` for a test marked
    ``private_uv_cache``: one that needs uv to build the slow sdist, edits installed files in place, looks into
    or removes uv's cache, or counts what uv does. That one starts with what uv learned about interpreters in this
    worker (:meth:`SharedUvCache.seed`: no wheel, page or build), or empty with ``private_uv_cache(seeded=False)``.
    """
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("the default cache dir must not be used by tests\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setenv("PENVCACHE_CACHE_DIR", str(tmp_path / "penvcache-cache"))
    shared: SharedUvCache = request.getfixturevalue("shared_uv_cache")
    private = request.node.get_closest_marker("private_uv_cache")
    if private:
        if private.kwargs.get("seeded", True):
            shared.seed(tmp_path / "uv-cache")
        monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    else:
        monkeypatch.setenv("UV_CACHE_DIR", str(shared.path))
    monkeypatch.setenv("UV_DEFAULT_INDEX", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    for name in ("PENVCACHE_OFFLINE", "UV_OFFLINE", "PENVCACHE_VENV", "VIRTUAL_ENV", "UV_INDEX_URL", "UV_PYTHON"):
        monkeypatch.delenv(name, raising=False)
    yield
    if private:
        shared.learn(tmp_path / "uv-cache")
    damage = shared.damage() if not private else []
    if damage:
        pytest.fail(
            "the test changed the shared uv cache (mark it private_uv_cache): " + "; ".join(damage[:5]), pytrace=False
        )


@pytest.fixture
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a test's venv goes: the same path in every test of a worker, emptied before each.

    uv keys what it learns by querying an interpreter on the interpreter's path: a new venv at a new path costs a
    query, a Python process of ~0.1 s CPU, on its first install; a venv made again at the same path does not (the
    query found the same answers). Nothing else carries over: the penvcache and private uv cache dirs are the
    test's own, and penvcache keeps nothing in memory between calls.
    """
    return venv_slot(tmp_path_factory, "venv-slot")


def venv_slot(factory: pytest.TempPathFactory, name: str) -> Path:
    """``NAME/venv`` in the worker's base temp dir, emptied (and what still runs in it killed): see :func:`venv`."""
    parent = factory.getbasetemp() / name
    _kill_processes_naming(parent)
    if parent.exists() or parent.is_symlink():
        _remove_tree(parent)
    parent.mkdir()
    return parent / "venv"


def processes_naming(path: Path) -> list[str]:
    """The command lines of the live processes (zombies have none) that name ``path``, each as "PID: CMDLINE"."""
    found = []
    try:
        pids = [pid for pid in os.listdir("/proc") if pid.isdigit()]
    except OSError:  # no /proc (macOS): nothing to find
        return []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in cmdline and int(pid) != os.getpid():
            found.append(f"{pid}: {cmdline}")
    return found


def _kill_processes_naming(path: Path) -> None:
    """Kill what an earlier test of this worker left running in ``path`` and wait until it has gone.

    A validation probe runs in a session of its own, so killing a test's process group does not reach it: one
    importing a module that sleeps outlives the test whose penvcache was killed, and the next test would find it
    among its own processes (test_orphans).
    """
    deadline = time.monotonic() + DEADLINE
    while found := processes_naming(path):
        for line in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)
        if time.monotonic() > deadline:
            pytest.fail(f"processes left in {path} by an earlier test would not die: {found}")
        time.sleep(0.01)


def _remove_tree(path: Path) -> None:
    """``rm -rf path``, whatever modes a test left on it (symlinks are removed, never followed)."""
    import stat

    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    with contextlib.suppress(OSError):
        os.chmod(path, stat.S_IRWXU)
    for root, dirs, _ in os.walk(path):  # top down: each directory is made usable before the walk enters it
        for name in dirs:
            inner = os.path.join(root, name)
            if not os.path.islink(inner):
                with contextlib.suppress(OSError):
                    os.chmod(inner, stat.S_IRWXU)
    shutil.rmtree(path)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; each process group is killed and reaped whatever the test's outcome."""
    started: list[subprocess.Popen[str]] = []
    try:
        yield started
    finally:
        for proc in started:
            stop(proc)


ROOT = Path(__file__).resolve().parent.parent
#: seconds any helper waits for another process before it fails the test (below pytest-timeout's limit)
DEADLINE = 60.0


#: pids of the processes started in a session of their own (their group outlives them while a child lives)
_GROUP_LEADERS: set[int] = set()


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Kill ``proc``'s whole process group (its children too: they may hold its pipes), reap it, return its output."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if proc.pid in _GROUP_LEADERS or (proc.poll() is None and os.getpgid(proc.pid) == proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)  # a session of its own: kill all of it, even once it has exited
        elif proc.poll() is None:
            proc.kill()
    try:
        out, err = proc.communicate(timeout=DEADLINE)
    except (subprocess.TimeoutExpired, ValueError):  # a process outside its group holds a pipe: stop reading
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait(timeout=DEADLINE)
        return "", ""
    return out or "", err or ""


def spawn(
    procs: list[subprocess.Popen[str]], cmd: Sequence[str | os.PathLike[str]], **kwargs: Any
) -> subprocess.Popen[str]:
    """``Popen(cmd)`` in a session of its own (so it can be killed as a group), text pipes, reaped by ``procs``."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    proc = subprocess.Popen(cmd, text=True, start_new_session=True, **kwargs)
    _GROUP_LEADERS.add(proc.pid)
    procs.append(proc)
    return proc


def start(procs: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    """``python -m tests._worker ARGS`` (see there) in a session of its own."""
    return spawn(procs, [sys.executable, "-m", "tests._worker", *args], cwd=ROOT)


def penvcache_cmd(*args: str) -> list[str]:
    """The command line of ``python -m penvcache ARGS``."""
    return [sys.executable, "-m", "penvcache", *args]


def wait_until(check: Callable[[], object], proc: subprocess.Popen[str] | None, what: str) -> None:
    """Synchronise with another process (not an assertion): wait until ``check()`` is true, at most DEADLINE s.

    Fails at once when ``proc`` ends first (with its output), and after the deadline naming ``what``.
    """
    deadline = time.monotonic() + DEADLINE
    while not check():
        if proc is not None and proc.poll() is not None:
            out, err = stop(proc)  # its children may still hold its pipes
            pytest.fail(f"waiting for {what}: the process exited with {proc.returncode}: {out}{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"waited {DEADLINE:g}s for {what}")
        time.sleep(0.01)


def wait_for(path: Path, proc: subprocess.Popen[str] | None) -> None:
    """Synchronise with another process (not an assertion): wait until it has made ``path``."""
    wait_until(path.exists, proc, f"{path} to appear")


@pytest.fixture
def index(tmp_path: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]) -> Iterator[tuple[Path, str]]:
    """A PEP 503 simple index served by ``python -m http.server`` on loopback: (its directory, its /simple URL).

    It serves gamma-pkg (which the tests' find-links do not get to see) and lists a ``missing-pkg`` whose file
    is not there (the server answers 404).
    """
    root = tmp_path / "index"
    for name, files in {"gamma-pkg": ["gamma_pkg-1.0-py3-none-any.whl"], "missing-pkg": []}.items():
        project = root / "simple" / name
        project.mkdir(parents=True)
        links = [f'<a href="/files/{f}">{f}</a>' for f in files]
        if name == "missing-pkg":
            links = ['<a href="/files/missing_pkg-1.0-py3-none-any.whl">missing_pkg-1.0-py3-none-any.whl</a>']
        (project / "index.html").write_text("<!DOCTYPE html><html><body>" + "".join(links) + "</body></html>\n")
    (root / "files").mkdir()
    shutil.copy(wheelhouse / "gamma_pkg-1.0-py3-none-any.whl", root / "files")
    log = tmp_path / "index.log"
    with log.open("w") as out:
        cmd = [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(root)]
        server = spawn(procs, cmd, stdout=out, stderr=subprocess.STDOUT)
    wait_until(lambda: " port " in log.read_text(), server, "the index server to listen")
    port = log.read_text().split(" port ", 1)[1].split()[0]
    yield root, f"http://127.0.0.1:{port}/simple"
    stop(server)


def run_cli(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m penvcache ARGS`` in a real subprocess (its own session: killed as a group after DEADLINE)."""
    proc = subprocess.Popen(
        penvcache_cmd(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    _GROUP_LEADERS.add(proc.pid)
    try:
        out, err = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        stop(proc)
        pytest.fail(f"penvcache {' '.join(args)} did not finish in {DEADLINE:g}s")
    finally:
        if proc.returncode is None:
            stop(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_cli_here(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``penvcache ARGS`` run in this process, as :func:`run_cli` runs it in another: the same entry point
    (:func:`penvcache._fastpath.main`, which ``python -m penvcache`` calls), ``env`` as the whole environment and
    ``cwd`` as the current directory for the call, stdout and stderr captured, argparse's exit taken as the code.

    A CLI process costs about 0.15 s of CPU to start and import what a miss needs, which this process has already
    paid: for the tests of what a command says and does. What only a process shows (signals, ``os._exit``, the
    console script, a second process racing, output flushed at exit) is for :func:`run_cli`.
    """
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from penvcache._fastpath import main

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as e:  # argparse's usage errors and --help/--version
                code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
                if isinstance(e.code, str):
                    print(e.code, file=sys.stderr)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(penvcache_cmd(*args), code, out.getvalue(), err.getvalue())


def hold_lock(tmp_path: Path, venv: Path, procs: list[subprocess.Popen[str]]) -> tuple[subprocess.Popen[str], Path]:
    """Another process holding the venv's lock (in the test's cache dir) until the returned stop file exists."""
    ready, stop_file = tmp_path / "ready", tmp_path / "stop"
    holder = start(procs, "--hold-lock", str(tmp_path / "penvcache-cache"), str(venv), str(ready), str(stop_file))
    wait_for(ready, holder)
    return holder, stop_file


def offline_args(venv: Path, wheelhouse: Path) -> list[str]:
    """The CLI's hermetic ensure options: this venv, offline, from the test wheelhouse."""
    return ["--venv", str(venv), "--offline", "--find-links", str(wheelhouse)]


@pytest.fixture
def hermetic(venv: Path, wheelhouse: Path) -> list[str]:
    """:func:`offline_args` for the test's ``venv``."""
    return offline_args(venv, wheelhouse)


def entry_of(tmp_path: Path, venv: Path) -> Path:
    """A venv's entry (state, lock, holder) in the test's cache dir."""
    return Path(venv_dir(str(tmp_path / "penvcache-cache"), str(venv)))


@pytest.fixture
def entry(tmp_path: Path, venv: Path) -> Path:
    """The test ``venv``'s entry in the test's cache dir (it may not exist yet)."""
    return entry_of(tmp_path, venv)


def measure_coverage_in(venv: Path) -> None:
    """When the suite runs under ``coverage run`` (.ci/run), measure the Python processes of a venv tests made too.

    The validation probe runs in the venv's own interpreter with ``-I``, which still reads ``.pth`` files: one in
    the venv's site-packages starts coverage from a directory that holds nothing but coverage (so the probe sees
    no other distribution), then takes that directory off ``sys.path`` again.
    """
    if not os.environ.get("COVERAGE_PROCESS_CONFIG"):
        return
    import coverage

    only = venv / "coverage-only"
    only.mkdir()
    (only / "coverage").symlink_to(Path(coverage.__file__).parent)
    code = (
        f"sys.path.append({str(only)!r}); import coverage; coverage.process_startup(slug='pth'); "
        f"sys.path.remove({str(only)!r})"
    )
    (site_packages(venv) / "a1_coverage.pth").write_text(f"import sys; exec({code!r})\n")


def make_venv(venv: Path) -> None:
    """An empty venv made with uv, as penvcache makes one, whose processes are measured under ``coverage run``."""
    from uv import find_uv_bin

    subprocess.run([find_uv_bin(), "venv", "-q", str(venv), "--python", sys.executable], check=True, timeout=DEADLINE)
    measure_coverage_in(venv)


def premake_measured_venv(venv: Path) -> None:
    """Under ``coverage run`` only: :func:`make_venv` first, so that the probe and verify's script that penvcache
    runs in it are measured; without coverage, a no-op (penvcache makes the venv)."""
    if os.environ.get("COVERAGE_PROCESS_CONFIG"):
        make_venv(venv)


#: the lines a miss prints on stderr before each step (see penvcache._progress): not errors
PROGRESS = re.compile(r"penvcache: (creating venv|installing \d+ package|validating \d+ distribution|syncing |still )")


def error_lines(err: str) -> list[str]:
    """What a command printed on stderr besides a miss's progress lines."""
    return [line for line in err.strip().splitlines() if not PROGRESS.match(line)]
