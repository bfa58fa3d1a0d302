"""``kill -9`` of a whole ``penvcache ensure`` process group at several points leaves at worst a miss."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import penvcache
from tests._kit import site_packages
from tests.conftest import offline_args, penvcache_cmd, processes_naming, spawn, stop, wait_for, wait_until

# The kills land while uv builds slow-pkg: each test needs that build, so a uv cache without its wheel.
pytestmark = pytest.mark.private_uv_cache

REQS = ("slow-pkg", "slow-import-pkg", "alpha-pkg")


@pytest.fixture(autouse=True)
def _fast_builds_after_the_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ensure that repairs builds slow-pkg at once; the killed one waits for a release that never comes."""
    monkeypatch.setenv("SLOW_BUILD_SECONDS", "0")


def start_ensure(
    procs: list[subprocess.Popen[str]], venv: Path, wheelhouse: Path, *extra: str, **env: str
) -> subprocess.Popen[str]:
    """``penvcache ensure`` in a process group of its own (uv and the build backend are in it too)."""
    args = ["ensure", *REQS, *offline_args(venv, wheelhouse), "--json", *extra]
    never = str(venv.parent / "never-released")
    return spawn(procs, penvcache_cmd(*args), env={**os.environ, "SLOW_BUILD_RELEASE": never, **env})


def installed(venv: Path) -> set[str]:
    """The distributions in the venv's site-packages, by their .dist-info names."""
    return {p.name.split("-")[0] for p in site_packages(venv).glob("*.dist-info")}


def kill_group(proc: subprocess.Popen[str]) -> None:
    running = proc.poll() is None
    out, err = stop(proc)
    assert running, out + err  # the kill landed in a running ensure


def ensure_after_the_crash(venv: Path, wheelhouse: Path) -> penvcache.EnsureResult:
    """The next ensure: the dead process's lock must be free at once (``lock_timeout=0``), the venv repaired."""
    result = penvcache.ensure(venv, REQS, offline=True, find_links=[wheelhouse], lock_timeout=0)
    assert penvcache.ensure(venv, REQS, offline=True, find_links=[wheelhouse], lock_timeout=0).status == "hit"
    return result


def test_killed_while_installing(
    tmp_path: Path, venv: Path, wheelhouse: Path, entry: Path, procs: list[subprocess.Popen[str]]
) -> None:
    building = tmp_path / "building"
    proc = start_ensure(procs, venv, wheelhouse, SLOW_BUILD_MARKER=str(building))
    wait_for(building, proc)  # uv is building slow-pkg's wheel
    kill_group(proc)
    # Where the kill landed: the venv was made, nothing of the set is installed yet, nothing was recorded.
    assert (venv / "pyvenv.cfg").exists()
    assert installed(venv) == set()
    assert not (entry / "state.marshal").exists()
    assert ensure_after_the_crash(venv, wheelhouse).status == "installed"


def test_killed_between_install_and_record(
    tmp_path: Path, venv: Path, wheelhouse: Path, entry: Path, procs: list[subprocess.Popen[str]]
) -> None:
    importing = tmp_path / "importing"
    proc = start_ensure(
        procs, venv, wheelhouse, SLOW_IMPORT_MARKER=str(importing), SLOW_IMPORT_SECONDS="3600", SLOW_BUILD_RELEASE=""
    )
    wait_for(importing, proc)  # everything is installed; the last validation is importing slow-import-pkg
    kill_group(proc)
    # The probe runs in a session of its own (so a timeout kills what its imports start): it dies with penvcache
    # instead of importing on for an hour.
    wait_until(lambda: processes_naming(venv) == [], None, "the validation probe to die with penvcache")
    assert installed(venv) == {"slow_pkg", "slow_import_pkg", "alpha_pkg"}  # the install had finished
    assert not (entry / "state.marshal").exists()  # nothing recorded: the next call cannot be a hit
    assert ensure_after_the_crash(venv, wheelhouse).status == "adopted"  # validated, then recorded


def test_killed_while_creating_the_venv(
    tmp_path: Path, venv: Path, wheelhouse: Path, entry: Path, procs: list[subprocess.Popen[str]]
) -> None:
    # An interpreter that lingers when uv asks it about itself, so the kill lands inside `uv venv`.
    querying = tmp_path / "querying"
    python = tmp_path / "lingering-python"
    python.write_text(f'#!/bin/sh\ntouch "{querying}"\nsleep 60\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    proc = start_ensure(procs, venv, wheelhouse, "--python", str(python))
    wait_for(querying, proc)
    kill_group(proc)
    assert json.loads((entry / "creating").read_text())["venv"] == str(venv)  # the kill landed in the creation
    assert not (venv / "pyvenv.cfg").exists()
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
    tmp_path: Path, venv: Path, wheelhouse: Path, entry: Path, procs: list[subprocess.Popen[str]], delay: float
) -> None:
    """Wherever the kill lands (start-up, venv creation, resolution, install), the next ensure succeeds."""
    proc = start_ensure(procs, venv, wheelhouse)
    try:
        out, _ = proc.communicate(timeout=delay)
    except subprocess.TimeoutExpired:
        kill_group(proc)
    else:
        pytest.fail(f"finished before the kill: {json.loads(out)}")
    # Before the record, whatever the phase: slow-pkg's build never ends until the group is killed.
    assert not (entry / "state.marshal").exists()
    assert "slow_pkg" not in (installed(venv) if (venv / "lib").exists() else set())
    assert ensure_after_the_crash(venv, wheelhouse).status in ("installed", "adopted")
    shutil.rmtree(venv, ignore_errors=True)


@pytest.mark.parametrize("mine", ["notes.txt", "bin/my-tool"])
def test_a_failed_venv_creation_leaves_no_licence_to_clear_the_directory(
    tmp_path: Path, venv: Path, wheelhouse: Path, entry: Path, mine: str
) -> None:
    not_python = tmp_path / "not-python"
    not_python.write_text("#!/bin/sh\nexit 1\n")
    not_python.chmod(0o755)
    with pytest.raises(penvcache.InstallFailed):
        penvcache.ensure(venv, REQS, offline=True, find_links=[wheelhouse], python=str(not_python))
    # Someone then makes the directory theirs; "bin/" alone looks like what `uv venv` writes first (and the mark
    # penvcache left may still name this very directory).
    (venv / mine).parent.mkdir(parents=True, exist_ok=True)
    (venv / mine).write_text("mine\n")
    with pytest.raises(penvcache.InvalidInput, match="is not a virtual environment"):
        penvcache.ensure(venv, REQS, offline=True, find_links=[wheelhouse])
    assert (venv / mine).read_text() == "mine\n"
