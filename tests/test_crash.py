"""``kill -9`` of a whole ``penvcache ensure`` process group at several points leaves at worst a miss."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import penvcache
from penvcache._state import venv_dir
from tests.conftest import wait_for

REQS = ("slow-pkg", "slow-import-pkg", "alpha-pkg")


def start_ensure(
    procs: list[subprocess.Popen[str]], venv: Path, wheelhouse: Path, *extra: str, **env: str
) -> subprocess.Popen[str]:
    """``penvcache ensure`` in a process group of its own (uv and the build backend are in it too)."""
    args = ["ensure", *REQS, "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "--json", *extra]
    proc = subprocess.Popen(
        [sys.executable, "-m", "penvcache", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, **env},
    )
    procs.append(proc)
    return proc


def kill_group(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def ensure_after_the_crash(venv: Path, wheelhouse: Path) -> penvcache.EnsureResult:
    """The next ensure: the dead process's lock must be free at once (``lock_timeout=0``), the venv repaired."""
    result = penvcache.ensure(venv, REQS, offline=True, find_links=[wheelhouse], lock_timeout=0)
    assert penvcache.ensure(venv, REQS, offline=True, find_links=[wheelhouse], lock_timeout=0).status == "hit"
    return result


def test_killed_while_installing(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    building = tmp_path / "building"
    proc = start_ensure(procs, venv, wheelhouse, SLOW_BUILD_MARKER=str(building))
    wait_for(building, proc)  # uv is building slow-pkg's wheel
    kill_group(proc)
    assert ensure_after_the_crash(venv, wheelhouse).status == "installed"


def test_killed_between_install_and_record(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    importing = tmp_path / "importing"
    proc = start_ensure(procs, venv, wheelhouse, SLOW_IMPORT_MARKER=str(importing))
    wait_for(importing, proc)  # everything is installed; the last validation is importing slow-import-pkg
    kill_group(proc)
    entry = Path(venv_dir(str(tmp_path / "penvcache-cache"), str(venv)))
    assert not (entry / "state.marshal").exists()  # nothing recorded: the next call cannot be a hit
    assert ensure_after_the_crash(venv, wheelhouse).status == "adopted"  # validated, then recorded


def test_killed_while_creating_the_venv(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    # An interpreter that lingers when uv asks it about itself, so the kill lands inside `uv venv`.
    querying = tmp_path / "querying"
    python = tmp_path / "lingering-python"
    python.write_text(f'#!/bin/sh\ntouch "{querying}"\nsleep 60\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    proc = start_ensure(procs, venv, wheelhouse, "--python", str(python))
    wait_for(querying, proc)
    kill_group(proc)
    # What `uv venv` has written by the time it would write pyvenv.cfg (see its mkdir/symlink order).
    venv.mkdir(exist_ok=True)
    (venv / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    (venv / ".gitignore").write_text("*\n")
    (venv / "bin").mkdir(exist_ok=True)
    os.symlink(sys.executable, venv / "bin" / "python")
    assert ensure_after_the_crash(venv, wheelhouse).status == "installed"
    assert (venv / "pyvenv.cfg").exists()


def test_a_half_made_directory_penvcache_did_not_create_is_left_alone(venv: Path, wheelhouse: Path) -> None:
    venv.mkdir()
    (venv / "bin").mkdir()
    (venv / "notes.txt").write_text("mine\n")
    with pytest.raises(penvcache.InvalidInput, match="is not a virtual environment"):
        penvcache.ensure(venv, REQS, offline=True, find_links=[wheelhouse])
    assert (venv / "notes.txt").exists()


@pytest.mark.parametrize("delay", [0.05, 0.15, 0.3, 0.6])
def test_killed_after_a_delay(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]], delay: float
) -> None:
    """Wherever the kill lands (start-up, venv creation, resolution, install), the next ensure succeeds."""
    proc = start_ensure(procs, venv, wheelhouse)
    try:
        out, _ = proc.communicate(timeout=delay)
    except subprocess.TimeoutExpired:
        kill_group(proc)
    else:
        pytest.fail(f"finished before the kill: {json.loads(out)}")
    assert ensure_after_the_crash(venv, wheelhouse).status in ("installed", "adopted")
    shutil.rmtree(venv, ignore_errors=True)


def test_a_failed_venv_creation_leaves_no_licence_to_clear_the_directory(
    tmp_path: Path, venv: Path, wheelhouse: Path
) -> None:
    not_python = tmp_path / "not-python"
    not_python.write_text("#!/bin/sh\nexit 1\n")
    not_python.chmod(0o755)
    with pytest.raises(penvcache.InstallFailed):
        penvcache.ensure(venv, REQS, offline=True, find_links=[wheelhouse], python=str(not_python))
    venv.mkdir(exist_ok=True)
    (venv / "notes.txt").write_text("mine\n")
    with pytest.raises(penvcache.InvalidInput, match="is not a virtual environment"):
        penvcache.ensure(venv, REQS, offline=True, find_links=[wheelhouse])
    assert (venv / "notes.txt").read_text() == "mine\n"
