"""No uv left changing the venv once its lock is free: after SIGINT, SIGTERM, SIGHUP or kill -9 of ``ensure``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import penvcache
from penvcache import _coordinator
from penvcache._installer import uv_bin
from penvcache.cli import main
from tests.conftest import processes_naming, wait_for

# The signals land while uv builds slow-pkg (so a uv cache without its wheel), and no process may name the
# test's own uv cache afterwards.
pytestmark = pytest.mark.private_uv_cache

REQS = ("slow-pkg", "alpha-pkg")


@pytest.fixture(autouse=True)
def _fast_builds_after_the_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ensure that follows builds slow-pkg at once; the one that is stopped builds for 30 s (start_ensure)."""
    monkeypatch.setenv("SLOW_BUILD_SECONDS", "0")


def start_ensure(
    procs: list[subprocess.Popen[str]], venv: Path, wheelhouse: Path, building: Path, **env: str
) -> subprocess.Popen[str]:
    """``penvcache ensure`` in a session of its own, on its way to build the slow sdist (``building`` says when)."""
    args = ["ensure", *REQS, "--venv", str(venv), "--offline", "--find-links", str(wheelhouse)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "penvcache", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "SLOW_BUILD_MARKER": str(building), "SLOW_BUILD_SECONDS": "30", **env},
    )
    procs.append(proc)
    return proc


def slow_pkg_installed(venv: Path) -> bool:
    return any(venv.glob("lib/python*/site-packages/slow_pkg*"))


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGHUP, 128 + signal.SIGHUP), (signal.SIGINT, 130)],
)
def test_a_signal_stops_uv_before_the_lock_is_released(
    tmp_path: Path,
    venv: Path,
    wheelhouse: Path,
    procs: list[subprocess.Popen[str]],
    signum: signal.Signals,
    code: int,
) -> None:
    building = tmp_path / "building"
    proc = start_ensure(procs, venv, wheelhouse, building)
    wait_for(building, proc)  # uv is building slow-pkg's wheel (for 30 s)
    proc.send_signal(signum)  # to penvcache only, not to its session
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    # penvcache has exited, so its lock is free: nothing of the install may still run
    assert processes_naming(venv) == []
    assert processes_naming(tmp_path / "uv-cache") == []  # nor the build backend uv started (its whole group)
    assert not slow_pkg_installed(venv)  # the signal landed while uv was building, before it installed
    result = penvcache.ensure(venv, REQS, offline=True, find_links=[wheelhouse], lock_timeout=0)
    assert result.status == "installed"


def test_after_kill_9_no_uv_changes_the_venv_once_the_next_holder_has_the_lock(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A PENVCACHE_UV that, when SCAN_INTO is set, writes down which processes name the venv before it runs uv:
    # the next holder's first uv call happens under the lock, before it looks at the venv.
    scan = tmp_path / "scan.txt"
    wrapper = tmp_path / "scanning-uv"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "if os.environ.get('SCAN_INTO'):\n"
        f"    sys.path.insert(0, {str(Path(__file__).parent.parent)!r})\n"
        "    from tests.conftest import processes_naming\n"
        "    from pathlib import Path\n"
        "    with open(os.environ['SCAN_INTO'], 'a') as f:\n"
        "        f.writelines(line + '\\n' for line in processes_naming(Path(os.environ['VENV'])))\n"
        "        f.write('scanned\\n')\n"
        f"os.execv({uv_bin()!r}, [{uv_bin()!r}, *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PENVCACHE_UV", str(wrapper))
    building = tmp_path / "building"
    proc = start_ensure(procs, venv, wheelhouse, building)
    wait_for(building, proc)  # uv is building slow-pkg's wheel (for 30 s)
    (uv,) = [int(line.split(":")[0]) for line in processes_naming(venv) if "pip install" in line]
    try:
        proc.kill()  # penvcache only: uv is in a session of its own
        proc.communicate(timeout=60)
        assert not slow_pkg_installed(venv)  # the kill landed while uv was building, before it installed
        monkeypatch.setenv("SCAN_INTO", str(scan))
        monkeypatch.setenv("VENV", str(venv))
        result = penvcache.ensure(venv, REQS, offline=True, find_links=[wheelhouse], lock_timeout=0)
        assert result.status == "installed"
        lines = scan.read_text().splitlines()
        assert lines[0] == "scanned", lines  # no process named the venv when the next holder first ran uv
    finally:
        with contextlib.suppress(ProcessLookupError):  # uv's group: the build backend outlives a killed uv
            os.killpg(uv, signal.SIGKILL)


def test_a_miss_waits_for_the_uv_that_holds_the_venvs_lock(
    tmp_path: Path,
    venv: Path,
    wheelhouse: Path,
    procs: list[subprocess.Popen[str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    penvcache.ensure(venv, ["gamma-pkg"], offline=True, find_links=[wheelhouse])
    ready = tmp_path / "ready"
    holder = subprocess.Popen(  # holds <venv>/.lock as a running `uv pip install` does
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "open(sys.argv[2], 'w').close()\n"
            "time.sleep(120)\n",
            str(venv / ".lock"),
            str(ready),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    procs.append(holder)
    wait_for(ready, holder)
    # however short the lock timeout, a miss gives a dying uv a grace to let go (5 s): here 0.5 s
    monkeypatch.setattr(_coordinator, "_DYING_GRACE", 0.5)
    args = ["ensure", "alpha-pkg", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse)]
    assert main([*args, "--lock-timeout", "0.1"]) == 3
    err = capsys.readouterr().err
    assert f"waiting for the uv process that holds {venv}/.lock" in err
    assert f"timed out after 0.5s waiting for another installer to finish with {venv}" in err
    assert f"(a uv process holds {venv}/.lock)" in err
    assert not any(venv.glob("lib/python*/site-packages/alpha_pkg"))  # nothing was installed


def test_a_child_of_uv_that_ignores_sigterm_is_killed_before_the_lock_is_released(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    """A build backend (or anything uv started) that ignores SIGTERM and keeps no pipe open: penvcache waits out
    the grace period for uv's group, then kills it, before it exits and its lock is free."""
    pid_file = tmp_path / "stubborn.pid"
    wrapper = tmp_path / "uv-with-a-stubborn-child"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"""[ "$2" = install ] && sh -c 'echo $$ > {pid_file}; trap "" TERM; exec sleep 120' \\\n"""
        "  </dev/null >/dev/null 2>&1 &\n"
        f'exec {uv_bin()} "$@"\n'
    )
    wrapper.chmod(0o755)
    building = tmp_path / "building"
    proc = start_ensure(procs, venv, wheelhouse, building, PENVCACHE_UV=str(wrapper))
    wait_for(building, proc)  # uv is building slow-pkg's wheel (for 30 s)
    wait_for(pid_file, proc)
    stubborn = int(pid_file.read_text())
    try:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert not alive(stubborn)  # killed, not left to run past penvcache and its lock
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stubborn, signal.SIGKILL)


def alive(pid: int) -> bool:
    """``pid`` runs (a zombie, dead but not yet reaped by its new parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != b"Z"
