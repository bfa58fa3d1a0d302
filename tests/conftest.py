from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._kit import build_slow_sdist, build_wheel

SLOW_SECONDS = 3.0


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
                proc.kill()
            proc.communicate()


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m penvcache ARGS`` in a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "penvcache", *args], capture_output=True, text=True, cwd=cwd, check=False, timeout=120
    )
