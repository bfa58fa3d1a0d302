from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._kit import build_slow_sdist, build_wheel

SLOW_SECONDS = 3.0
SLOW_IMPORT_SOURCE = """\
import os, time
if os.environ.get("SLOW_IMPORT_MARKER"):  # tells a test that validation is importing it, then lingers
    open(os.environ["SLOW_IMPORT_MARKER"], "w").close()
    time.sleep(60)
"""


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


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Temp cache dirs for penvcache and uv; the default cache dir and the network are unusable."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("the default cache dir must not be used by tests\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setenv("PENVCACHE_CACHE_DIR", str(tmp_path / "penvcache-cache"))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("UV_DEFAULT_INDEX", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    for name in ("PENVCACHE_OFFLINE", "UV_OFFLINE", "PENVCACHE_VENV", "VIRTUAL_ENV", "UV_INDEX_URL", "UV_PYTHON"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    return tmp_path / "venv"


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; killed and reaped whatever the test's outcome."""
    started: list[subprocess.Popen[str]] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                if os.getpgid(proc.pid) == proc.pid:  # started in a session of its own: kill all of it
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
            proc.communicate()


ROOT = Path(__file__).resolve().parent.parent


def start(procs: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests._worker", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    procs.append(proc)
    return proc


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    """Synchronise with another process (not an assertion): wait until it has made ``path``."""
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m penvcache ARGS`` in a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "penvcache", *args], capture_output=True, text=True, cwd=cwd, check=False, timeout=120
    )


def hold_lock(tmp_path: Path, venv: Path, procs: list[subprocess.Popen[str]]) -> tuple[subprocess.Popen[str], Path]:
    """Another process holding the venv's lock (in the test's cache dir) until the returned stop file exists."""
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    holder = start(procs, "--hold-lock", str(tmp_path / "penvcache-cache"), str(venv), str(ready), str(stop))
    wait_for(ready, holder)
    return holder, stop
