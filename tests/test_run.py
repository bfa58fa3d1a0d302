"""``penvcache run`` and ``penvcache.use()``: the venv is activated for the command and cannot change under it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import penvcache
from penvcache.cli import main
from tests.conftest import offline_args, penvcache_cmd, run_cli, run_cli_here, spawn, wait_for, wait_until

# A command that says which alpha-pkg it sees when it starts and when it ends, and lingers until told to stop
# (a minute at most: it must never outlive a failed test).
USER = """
import importlib.metadata, os, pathlib, sys, time
print(importlib.metadata.version("alpha-pkg"), flush=True)
pathlib.Path(sys.argv[1]).touch()
end = time.monotonic() + 60
while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
    time.sleep(0.01)
print(importlib.metadata.version("alpha-pkg"), flush=True)
"""


def ensure_args(venv: Path, wheelhouse: Path, *reqs: str) -> list[str]:
    return [*reqs, *offline_args(venv, wheelhouse)]


def start_run(
    procs: list[subprocess.Popen[str]], venv: Path, wheelhouse: Path, ready: Path, stop: Path
) -> subprocess.Popen[str]:
    """``penvcache run alpha-pkg==1.0 -- python USER READY STOP`` in another process (group)."""
    args = ["run", *ensure_args(venv, wheelhouse, "alpha-pkg==1.0"), "--", "python", "-c", USER, str(ready), str(stop)]
    proc = spawn(procs, penvcache_cmd(*args))
    wait_for(ready, proc)
    return proc


def test_run_activates_the_venv_and_returns_the_command_exit_code(
    venv: Path, wheelhouse: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code = "import os, sys, alpha_pkg; print(sys.prefix == os.environ['VIRTUAL_ENV']); sys.exit(7)"
    assert main(["run", *ensure_args(venv, wheelhouse, "alpha-pkg"), "--", "python", "-c", code]) == 7
    out, err = capfd.readouterr()
    assert out == "True\n"  # the venv's own python, first on PATH; penvcache's report is on stderr
    assert f"penvcache: installed {venv}" in err


@pytest.mark.parametrize(
    "args", [["alpha-pkg", "--venv", "VENV"], ["--venv", "VENV"], ["alpha-pkg", "--venv", "VENV", "--"]]
)
def test_run_without_a_command_is_bad_input(venv: Path, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    """No command: none at all, only options, or nothing after ``--``."""
    with pytest.raises(SystemExit) as exc:
        main(["run", *[str(venv) if arg == "VENV" else arg for arg in args]])
    assert exc.value.code == 2
    assert capsys.readouterr().err == (
        "penvcache run: error: give the command to run after --, e.g. penvcache run -- pytest "
        "(see penvcache run --help)\n"
    )
    assert not venv.exists()


def test_run_of_a_missing_command_exits_127(venv: Path, wheelhouse: Path) -> None:
    assert main(["run", *ensure_args(venv, wheelhouse, "alpha-pkg"), "-q", "--", "no-such-command-xyz"]) == 127


def test_run_holds_the_venv_an_installer_times_out(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    user = start_run(procs, venv, wheelhouse, tmp_path / "ready", tmp_path / "stop")
    change = run_cli_here("ensure", *ensure_args(venv, wheelhouse, "alpha-pkg==2.0"), "--lock-timeout", "0.5")
    assert change.returncode == 3, change.stderr
    assert f"waiting for the commands using {venv} to finish" in change.stderr
    assert f"pid {user.pid} on " in change.stderr  # names the user
    # Hits and other runs share the venv meanwhile.
    hit = run_cli_here("ensure", *ensure_args(venv, wheelhouse, "alpha-pkg==1.0"), "--lock-timeout", "0.5")
    assert hit.returncode == 0, hit.stderr
    other = run_cli("run", *ensure_args(venv, wheelhouse, "alpha-pkg==1.0"), "--lock-timeout", "0.5", "--", "true")
    assert other.returncode == 0, other.stderr
    (tmp_path / "stop").touch()
    out, err = user.communicate(timeout=60)
    assert (user.returncode, out) == (0, "1.0\n1.0\n"), err


def test_an_installer_waits_for_the_run_to_end(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    user = start_run(procs, venv, wheelhouse, tmp_path / "ready", tmp_path / "stop")
    args = ["ensure", *ensure_args(venv, wheelhouse, "alpha-pkg==2.0"), "--json"]
    log = tmp_path / "installer.err"
    with log.open("w") as err_file:
        installer = spawn(procs, penvcache_cmd(*args), stderr=err_file)
    # The installer holds the exclusive lock and says it waits for the user; then the user ends.
    wait_until(lambda: f"for the commands using {venv} to finish" in log.read_text(), installer, "the installer")
    (tmp_path / "stop").touch()
    out, err = user.communicate(timeout=60)
    assert (user.returncode, out) == (0, "1.0\n1.0\n"), err  # alpha-pkg never changed while it ran
    out, _ = installer.communicate(timeout=60)
    err = log.read_text()
    assert installer.returncode == 0, err
    assert json.loads(out)["status"] == "installed"
    assert json.loads(out)["waited"] > 0, err


def test_use_holds_the_venv_for_the_with_block(venv: Path, wheelhouse: Path) -> None:
    with penvcache.use(venv, ["alpha-pkg==1.0"], offline=True, find_links=[wheelhouse]) as result:
        assert result.status == "installed"
        change = run_cli("ensure", *ensure_args(venv, wheelhouse, "alpha-pkg==2.0"), "--lock-timeout", "0.3")
        assert change.returncode == 3, change.stderr
    change = run_cli("ensure", *ensure_args(venv, wheelhouse, "alpha-pkg==2.0"), "--lock-timeout", "5")
    assert change.returncode == 0, change.stderr
    with penvcache.use(venv, ["alpha-pkg==2.0"], offline=True, find_links=[wheelhouse]) as result:
        assert result.status == "hit"


def test_a_use_can_be_entered_again(venv: Path, wheelhouse: Path) -> None:
    in_use = penvcache.use(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse])
    with in_use as first:
        assert first.status == "installed"
    with in_use as second:
        assert second.status == "hit"


def test_changing_the_venv_inside_its_own_use_fails_at_once(venv: Path, wheelhouse: Path) -> None:
    with penvcache.use(venv, ["alpha-pkg==1.0"], offline=True, find_links=[wheelhouse]):
        assert penvcache.ensure(venv, ["alpha-pkg==1.0"], offline=True, find_links=[wheelhouse]).status == "hit"
        with pytest.raises(penvcache.LockTimeout, match="in use by this process or one of its parents"):
            penvcache.ensure(venv, ["alpha-pkg==2.0"], offline=True, find_links=[wheelhouse], lock_timeout=30)
    assert penvcache.ensure(venv, ["alpha-pkg==2.0"], offline=True, find_links=[wheelhouse]).status == "installed"


def test_run_passes_sigterm_on_and_waits_for_the_command(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    ready = tmp_path / "ready"
    code = (
        "import pathlib, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: (print('got TERM', flush=True), sys.exit(3)))\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "time.sleep(60)\n"
    )
    args = ["run", *ensure_args(venv, wheelhouse, "alpha-pkg"), "-q", "--", "python", "-c", code]
    proc = spawn(procs, penvcache_cmd(*args))
    wait_for(ready, proc)
    proc.terminate()
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (3, "got TERM\n"), err
