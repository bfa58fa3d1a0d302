"""The pytest plugin, through real pytest sessions in subprocesses (loaded by its pytest11 entry point)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEADLINE, hold_lock, offline_args, run_cli_here, spawn, stop, wait_for

# Each test that uses penv appends one JSON line to records/<worker id>.jsonl next to the test file.
RECORDING_TESTS = """
import json, os
from pathlib import Path

import pytest

RECORDS = Path(__file__).parent / "records"

@pytest.mark.parametrize("n", range({count}))
def test_uses_penv(penv, worker_id, n):
    RECORDS.mkdir(exist_ok=True)
    line = {{
        "worker": worker_id,
        "status": penv.status,
        "venv": penv.venv,
        "waited": penv.waited,
        "offline_fallback": penv.offline_fallback,
        "cache_dir": os.environ.get("PENVCACHE_CACHE_DIR"),
        "uv_cache_dir": os.environ.get("UV_CACHE_DIR"),
    }}
    with open(RECORDS / f"{{worker_id}}.jsonl", "a") as f:
        f.write(json.dumps(line) + "\\n")
"""


#: ``python -m pytest`` as these tests run it. Not hypothesis's plugin: this suite's test dependency, not one of the
#: projects these sessions stand for, it imports hypothesis (a second of CPU) in every pytest process.
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest"]


def pytest_run(cwd: Path, *args: str, timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
    """``python -m pytest ARGS`` in ``cwd``, with this test's (hermetic) environment minus the outer pytest's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}  # xdist worker ids, addopts
    proc = subprocess.Popen(
        [*PYTEST, "-q", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its workers and their children are killed with it
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        pytest.fail(f"pytest {' '.join(args)} did not finish in {timeout:g}s")
    finally:
        if proc.returncode is None:
            stop(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def records(test_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """The recorded lines, per worker id."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((test_dir / "records").glob("*.jsonl")):
        found[path.stem] = [json.loads(line) for line in path.read_text().splitlines()]
    return found


def project(root: Path, tests: str, deps: str = "alpha-pkg\n", ini: str | None = None) -> Path:
    """A project at ``root`` (deps.txt, optional pytest.ini) with its tests in ``root/tests``; returns the latter."""
    test_dir = root / "tests"
    test_dir.mkdir(parents=True)
    (test_dir / "test_it.py").write_text(textwrap.dedent(tests))
    (root / "deps.txt").write_text(deps)
    if ini is not None:
        (root / "pytest.ini").write_text(textwrap.dedent(ini))
    return test_dir


def test_registered_through_the_entry_point_with_its_own_option_group(tmp_path: Path) -> None:
    (plugin,) = [ep for ep in entry_points(group="pytest11") if ep.name == "penvcache"]
    assert plugin.value == "penvcache.pytest_plugin"
    out = pytest_run(tmp_path, "--help").stdout
    assert "\npenvcache:" in out
    options = ("--penv-deps", "--penv-venv", "--penv-offline", "--penv-find-links", "--penv-lock-timeout")
    for option in (*options, "--penv-skip-import"):
        assert option in out
    for key in ("penv_deps", "penv_venv", "penv_offline", "penv_find_links", "penv_lock_timeout", "penv_skip_import"):
        assert f"  {key} " in out


@pytest.mark.timeout(180)
@pytest.mark.private_uv_cache  # the workers race while uv builds slow-pkg
def test_under_xdist_exactly_one_worker_installs(tmp_path: Path, wheelhouse: Path) -> None:
    test_dir = project(tmp_path, RECORDING_TESTS.format(count=4), deps="slow-pkg\nalpha-pkg\n")
    proc = pytest_run(
        tmp_path,
        # 4 tests on 2 workers: load scheduling sends each worker 2 at once; two workers race as four would (each
        # pytest worker costs half a second of CPU to start)
        *("-n", "2", "--dist", "load"),
        *("--penv-deps", "deps.txt", "--penv-venv", "venv", "--penv-offline", "--penv-find-links", str(wheelhouse)),
        timeout=150,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = records(test_dir)
    assert sorted(found) == ["gw0", "gw1"]
    first = [lines[0] for lines in found.values()]
    assert sorted(line["status"] for line in first) == ["hit", "installed"]
    assert any(line["waited"] > 0 for line in first if line["status"] == "hit")  # they did race for the lock
    for lines in found.values():  # one ensure per worker session: every test of a worker sees the same result
        assert all(line == lines[0] for line in lines)
    for line in first:
        assert line["venv"] == str(tmp_path / "venv")
        assert line["cache_dir"] == str(tmp_path / "penvcache-cache")  # the hermetic env reached the workers
        assert line["uv_cache_dir"] == str(tmp_path / "uv-cache")
        assert line["offline_fallback"] is False
    assert (tmp_path / "penvcache-cache" / "venvs").is_dir()


INI = """\
    [pytest]
    penv_deps = {deps}
    penv_venv = venvs/ini-venv
    penv_offline = true
    penv_find_links = wheels
    penv_lock_timeout = 60
    penv_skip_import = {skip}
    """


def test_ini_keys_resolve_against_the_ini_files_directory(tmp_path: Path, wheelhouse: Path) -> None:
    # broken-pkg raises on import: the session passes only if penv_skip_import reaches validation
    ini = INI.format(deps="deps.txt", skip="broken_pkg")
    test_dir = project(tmp_path, RECORDING_TESTS.format(count=1), deps="alpha-pkg\nbroken-pkg\n", ini=ini)
    (tmp_path / "wheels").symlink_to(wheelhouse)
    proc = pytest_run(test_dir)  # invoked from tests/: the ini file's directory, not the cwd, anchors the paths
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [[line]] = records(test_dir).values()
    assert line["status"] == "installed"
    assert line["venv"] == str(tmp_path / "venvs" / "ini-venv")
    assert line["offline_fallback"] is False  # penv_offline: uv never tried the (dead) index


def test_the_command_line_wins_over_the_ini_file(tmp_path: Path, wheelhouse: Path) -> None:
    # The ini file's skip name is not a name at all (an error if it were used); the command line's replaces it.
    test_dir = project(tmp_path, RECORDING_TESTS.format(count=1), ini=INI.format(deps="missing.txt", skip="not/a/name"))
    (test_dir / "cli-deps.txt").write_text("gamma-pkg\nbroken-pkg\n")
    proc = pytest_run(
        test_dir,  # command-line paths are relative to the invocation directory
        *("--penv-deps", "cli-deps.txt", "--penv-venv", "cli-venv", "--penv-find-links", str(wheelhouse)),
        *("--penv-skip-import", "broken_pkg"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [[line]] = records(test_dir).values()
    assert (line["status"], line["venv"]) == ("installed", str(test_dir / "cli-venv"))
    assert not (tmp_path / "venvs").exists()
    assert list((test_dir / "cli-venv").glob("lib/python3*/site-packages/gamma_pkg"))


USES_PENV = """
def test_one(penv):
    pass

def test_two(penv):
    pass
"""


def assert_one_line_error(proc: subprocess.CompletedProcess[str], message: str) -> None:
    """Both tests error at setup with ``message`` as the whole report: no traceback, no chained exception."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 errors" in proc.stdout
    report = proc.stdout.split("ERROR at setup of test_one", 1)[1].splitlines()[1]
    assert message in report, proc.stdout
    for noise in ("Traceback", "During handling", "def penv", "_pytest", "raise "):
        assert noise not in proc.stdout


def test_without_deps_the_fixture_fails_with_a_usage_message(tmp_path: Path) -> None:
    test_dir = project(tmp_path, USES_PENV)
    proc = pytest_run(test_dir)
    assert_one_line_error(proc, "the penv fixture needs dependencies: pass --penv-deps FILE or set penv_deps")
    assert not (tmp_path / "penvcache-cache").exists()


def test_a_penvcache_error_is_a_one_line_failure(tmp_path: Path) -> None:
    test_dir = project(tmp_path, USES_PENV, deps="alpha-pkg\n-e ./somewhere\n")
    proc = pytest_run(test_dir, "--penv-deps", "../deps.txt")
    deps = tmp_path / "deps.txt"
    assert_one_line_error(
        proc, f"penvcache: {deps}:2: -e ./somewhere: an editable requirement must be a local project directory"
    )


def test_a_failed_import_names_the_plugins_option_to_skip_it(tmp_path: Path, wheelhouse: Path) -> None:
    project(tmp_path, USES_PENV, deps="broken-pkg\n")
    proc = pytest_run(
        tmp_path,
        *("--penv-deps", "deps.txt", "--penv-venv", "venv", "--penv-offline", "--penv-find-links", str(wheelhouse)),
    )
    assert_one_line_error(proc, "broken-pkg: import broken_pkg failed: ImportError: broken on purpose")
    assert "to skip this import: --penv-skip-import broken_pkg" in proc.stdout


def test_a_lock_timeout_is_a_one_line_failure(
    tmp_path: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    project(tmp_path, USES_PENV)
    venv = tmp_path / "venv"
    holder, _ = hold_lock(tmp_path, venv, procs)
    proc = pytest_run(
        tmp_path,
        *("--penv-deps", "deps.txt", "--penv-venv", "venv", "--penv-offline", "--penv-find-links", str(wheelhouse)),
        "--penv-lock-timeout=0.2",
    )
    assert_one_line_error(proc, "penvcache: timed out after 0.2s waiting for the lock")
    assert f"pid {holder.pid}" in proc.stdout
    assert not venv.exists()


def test_a_bad_ini_lock_timeout_is_a_one_line_failure(tmp_path: Path) -> None:
    test_dir = project(tmp_path, USES_PENV, ini="[pytest]\npenv_deps = deps.txt\npenv_lock_timeout = soon\n")
    assert_one_line_error(pytest_run(test_dir), "penv_lock_timeout in the ini file is not a number: 'soon'")


INERT = """
import sys

def test_plugin_loaded_but_idle():
    assert "penvcache.pytest_plugin" in sys.modules
    heavy = ["filelock", "penvcache._installer", "penvcache._locking", "penvcache._requirements", "penvcache._probe"]
    assert [name for name in heavy if name in sys.modules] == []
"""


@pytest.mark.private_uv_cache(seeded=False)  # the test's own uv cache, which must stay unmade
@pytest.mark.parametrize("options", [[], ["--penv-deps", "deps.txt", "--penv-venv", "venv", "--penv-offline"]])
def test_inert_when_no_test_requests_penv(tmp_path: Path, options: list[str]) -> None:
    project(tmp_path, INERT)
    proc = pytest_run(tmp_path, *options)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (tmp_path / "penvcache-cache").exists()
    assert not (tmp_path / "uv-cache").exists()
    assert not (tmp_path / "venv").exists()


def test_the_venv_defaults_to_penvcache_venv(tmp_path: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    test_dir = project(tmp_path, RECORDING_TESTS.format(count=1))
    monkeypatch.setenv("PENVCACHE_VENV", "from-env")  # relative: to the directory pytest runs in
    proc = pytest_run(tmp_path, "--penv-deps", "deps.txt", "--penv-offline", "--penv-find-links", str(wheelhouse))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [[line]] = records(test_dir).values()
    assert (line["status"], line["venv"]) == ("installed", str(tmp_path / "from-env"))
    assert not (tmp_path / ".venv").exists()


# Two modules: the session's one penv, held until the session ends (a test waits until told to go on).
HOLDING_TESTS = {
    "test_a.py": """
import json, os, pathlib, time

def test_holds(penv):
    here = pathlib.Path(__file__).parent
    with open(here / "ids.txt", "a") as f:
        f.write(f"{penv.status}/{penv.elapsed!r}\\n")
    (here / "ready").touch()
    end = time.monotonic() + 60
    while not (here / "go").exists() and time.monotonic() < end:
        time.sleep(0.01)
""",
    "test_b.py": """
import pathlib

def test_same(penv):
    with open(pathlib.Path(__file__).parent / "ids.txt", "a") as f:
        f.write(f"{penv.status}/{penv.elapsed!r}\\n")
""",
}


def test_the_venv_cannot_change_while_a_session_holds_it(
    tmp_path: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    test_dir = project(tmp_path, "")
    for name, source in HOLDING_TESTS.items():
        (test_dir / name).write_text(textwrap.dedent(source))
    options = ["--penv-deps", "deps.txt", "--penv-venv", "venv", "--penv-offline", "--penv-find-links", str(wheelhouse)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    cmd = [*PYTEST, "-q", *options]
    session = spawn(procs, [*cmd, "tests/test_a.py", "tests/test_b.py"], cwd=tmp_path, env=env)
    wait_for(test_dir / "ready", session)
    venv = tmp_path / "venv"
    change = run_cli_here("ensure", "gamma-pkg", *offline_args(venv, wheelhouse), "--lock-timeout", "0.3")
    assert change.returncode == 3, change.stderr
    assert f"waiting for the commands using {venv} to finish, held by pid {session.pid}" in change.stderr
    assert run_cli_here("ensure", "alpha-pkg", *offline_args(venv, wheelhouse)).returncode == 0  # a hit is fine
    (test_dir / "go").touch()
    out, err = session.communicate(timeout=DEADLINE)
    assert session.returncode == 0, out + err
    seen = (test_dir / "ids.txt").read_text().split()
    assert len(seen) == 2
    assert seen[0] == seen[1]  # one penv for the session (ensured once), not one per module
    assert seen[0].startswith("installed/")
    change = run_cli_here("ensure", "gamma-pkg", *offline_args(venv, wheelhouse), "--lock-timeout", "5")
    assert change.returncode == 0, change.stderr  # released when the session ended
