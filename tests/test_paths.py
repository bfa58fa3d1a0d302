"""Each README step and error path reached for real: installs that still fail validation, an index that answers
404, index URLs reaching uv, bad salt files, use()'s retry, run against an installer, a reinstalled uv, a dangling
interpreter, a dying probe, Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from uv import find_uv_bin

import penvcache
from penvcache import _locking, _state
from penvcache._fastpath import main as fast_main
from penvcache.cli import main
from tests._kit import build_wheel, build_wheel_with_files, site_packages
from tests.conftest import (
    ROOT,
    error_lines,
    offline_args,
    penvcache_cmd,
    run_cli,
    spawn,
    start,
    wait_for,
    wait_until,
)


def assert_one_line(err: str, *fragments: str) -> None:
    assert "Traceback" not in err, err
    assert len(error_lines(err)) == 1, err
    for fragment in fragments:
        assert fragment in err, err


# --- README step 6: installed, validated again, still unsatisfied -> InstallFailed, nothing recorded -------------

# A .pth file that puts a directory holding an old alpha-pkg's metadata first on sys.path: uv (which reads
# site-packages) sees the alpha-pkg it installed, the venv's interpreter sees 0.5.
SHADOW = {
    "shadow_pkg/__init__.py": "",
    "shadow_pkg.pth": (
        "import sys, sysconfig; sys.path.insert(0, sysconfig.get_paths()['purelib'] + '/shadow_pkg/old')\n"
    ),
    "shadow_pkg/old/alpha_pkg-0.5.dist-info/METADATA": "Metadata-Version: 2.1\nName: alpha-pkg\nVersion: 0.5\n",
    "shadow_pkg/old/alpha_pkg-0.5.dist-info/RECORD": "alpha_pkg-0.5.dist-info/METADATA,,\n",
}


def test_an_install_uv_calls_done_that_still_fails_validation_is_install_failed(
    tmp_path: Path, venv: Path, wheelhouse: Path, entry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    house = tmp_path / "shadow-wheels"
    build_wheel_with_files(house, "shadow-pkg", "1.0", SHADOW)
    args = ["ensure", "shadow-pkg", "alpha-pkg>=1", *offline_args(venv, wheelhouse), "--find-links", str(house)]
    for attempt in range(2):  # every time: a failure is never recorded as a hit
        with pytest.raises(penvcache.InstallFailed) as exc:
            penvcache.ensure(venv, ["shadow-pkg", "alpha-pkg>=1"], offline=True, find_links=[wheelhouse, house])
        assert type(exc.value) is penvcache.ValidationFailed  # an InstallFailed, not OfflineUnavailable: uv installed
        reason = (
            f"{venv} still fails validation after installing: alpha-pkg: 0.5 is installed but alpha-pkg>=1 is required"
        )
        # the second time, the recorded failure is repeated at once (issue 9's no-reinstall-loop), never a hit
        assert str(exc.value) == reason if attempt == 0 else str(exc.value).startswith(reason + " [recorded at ")
    assert list(site_packages(venv).glob("alpha_pkg-*.dist-info"))  # uv did install it
    assert not (entry / _state.STATE).exists()
    assert main(args) == 1
    assert_one_line(capsys.readouterr().err, "still fails validation after installing", "alpha-pkg>=1")


# --- a local index on loopback: index URLs reach uv; an index that fails is not "unreachable" -------------------


@pytest.mark.private_uv_cache  # uv caches the index's pages by URL: a later test's server may get the port
def test_index_urls_in_a_deps_file_are_passed_to_uv(
    tmp_path: Path,
    venv: Path,
    index: tuple[Path, str],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("UV_DEFAULT_INDEX")  # it would win over the file's, as in `uv pip install -r`
    deps = tmp_path / "deps.txt"
    deps.write_text(f"-i {index[1]}\ngamma-pkg\n")
    result = penvcache.ensure(venv, deps_files=[deps])  # online: the file's index is the only one
    assert (result.status, result.offline_fallback) == ("installed", False)
    assert list(site_packages(venv).glob("gamma_pkg-1.0.dist-info"))
    assert "retrying offline" not in capfd.readouterr().err


@pytest.mark.private_uv_cache  # uv caches the index's pages by URL: a later test's server may get the port
def test_an_index_that_fails_is_an_install_failure_not_a_fallback(
    tmp_path: Path,
    venv: Path,
    index: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("UV_DEFAULT_INDEX")  # it would win over the file's, as in `uv pip install -r`
    deps = tmp_path / "deps.txt"
    deps.write_text(f"--index-url {index[1]}\nmissing-pkg\n")
    with pytest.raises(penvcache.InstallFailed) as exc:
        penvcache.ensure(venv, deps_files=[deps])
    assert type(exc.value) is penvcache.InstallFailed
    assert str(exc.value).startswith(f"installing missing-pkg into {venv} failed: ")
    assert "404" in str(exc.value)
    assert "retrying offline" not in capsys.readouterr().err
    assert main(["ensure", "-r", str(deps), "--venv", str(venv)]) == 1
    assert_one_line(capsys.readouterr().err, "installing missing-pkg", "404")


# --- bad input: a --salt-file that is not there ---------------------------------------------------------------


@pytest.mark.parametrize("recorded", [False, True])
def test_a_missing_salt_file_is_bad_input(
    tmp_path: Path, venv: Path, wheelhouse: Path, recorded: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["ensure", "alpha-pkg", *offline_args(venv, wheelhouse), "--salt-file", str(tmp_path / "gone.txt")]
    if recorded:  # a venv recorded without it: the fast path must not take the missing file for "no salt"
        assert main(args[:-2]) == 0
        capsys.readouterr()
    assert fast_main(args) == 2
    assert_one_line(capsys.readouterr().err, f"--salt-file {tmp_path / 'gone.txt'}: cannot read it")
    assert (venv / "pyvenv.cfg").exists() == recorded
    with pytest.raises(penvcache.InvalidInput, match=r"gone\.txt"):
        penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse], salt_files=[tmp_path / "gone.txt"])


# --- use(): the venv changed between its ensure and its shared lock -> ensure again ---------------------------


def test_use_ensures_again_when_the_venv_changes_before_it_holds_it(
    venv: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert penvcache.ensure(venv, ["alpha-pkg==1.0"], offline=True, find_links=[wheelhouse]).status == "installed"
    enter = _locking.UseLock.__enter__
    changes: list[str] = []

    def changed_first(self: _locking.UseLock) -> _locking.UseLock:
        if not changes:  # another process upgrades alpha-pkg after use()'s ensure, before its shared lock
            cmd = [find_uv_bin(), "pip", "install", "-q", "--python", str(venv)]
            subprocess.run([*cmd, "--offline", "--find-links", str(wheelhouse), "alpha-pkg==2.0"], check=True)
            changes.append("upgraded")
        return enter(self)

    monkeypatch.setattr(_locking.UseLock, "__enter__", changed_first)
    with penvcache.use(venv, ["alpha-pkg==1.0"], offline=True, find_links=[wheelhouse]) as result:
        assert changes == ["upgraded"]
        assert result.status == "installed"  # the hit it first got was stale: it repaired the venv
        assert [p.name for p in site_packages(venv).glob("alpha_pkg-*.dist-info")] == ["alpha_pkg-1.0.dist-info"]


# --- run against an installer that holds the venv ---------------------------------------------------------------


@pytest.fixture
def installing(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> tuple[subprocess.Popen[str], Path]:
    """A recorded venv, and another process that holds it as an installer does (until the returned stop file)."""
    assert main(["ensure", "alpha-pkg", *offline_args(venv, wheelhouse), "-q"]) == 0
    ready, stop_file = tmp_path / "ready", tmp_path / "stop"
    holder = start(procs, "--hold-users", str(tmp_path / "penvcache-cache"), str(venv), str(ready), str(stop_file))
    wait_for(ready, holder)
    return holder, stop_file


def test_a_run_times_out_waiting_for_an_installer(
    venv: Path, wheelhouse: Path, installing: tuple[subprocess.Popen[str], Path]
) -> None:
    holder, _ = installing
    proc = run_cli("run", "alpha-pkg", *offline_args(venv, wheelhouse), "--lock-timeout", "0.3", "--", "true")
    assert proc.returncode == 3, proc.stderr
    assert f"timed out after 0.3s waiting for the installer of {venv} to finish, held by pid {holder.pid}" in (
        proc.stderr
    )


def test_a_run_waits_for_an_installer_then_runs(
    tmp_path: Path,
    venv: Path,
    wheelhouse: Path,
    installing: tuple[subprocess.Popen[str], Path],
    procs: list[subprocess.Popen[str]],
) -> None:
    holder, stop_file = installing
    log, ran = tmp_path / "run.err", tmp_path / "ran"
    code = f"import pathlib; pathlib.Path({str(ran)!r}).touch()"
    with log.open("w") as err:
        args = ["run", "alpha-pkg", *offline_args(venv, wheelhouse), "--", "python", "-c", code]
        run = spawn(procs, penvcache_cmd(*args), stderr=err)
    wait_until(lambda: "for the installer of" in log.read_text(), run, "the run to wait for the installer")
    assert not ran.exists()  # nothing runs while the installer holds the venv
    stop_file.touch()
    run.communicate(timeout=60)
    assert run.returncode == 0, log.read_text()
    assert ran.exists()
    assert f"held by pid {holder.pid}" in log.read_text()


# --- the installer: a uv reinstalled as the same version --------------------------------------------------------


def test_a_reinstalled_uv_of_the_same_version_is_rechecked_once_then_hits(
    tmp_path: Path, venv: Path, wheelhouse: Path, entry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uv

    uv_copy = tmp_path / "uv-bin" / "uv"
    uv_copy.parent.mkdir()
    shutil.copy2(uv.find_uv_bin(), uv_copy)
    monkeypatch.setenv("PENVCACHE_UV", str(uv_copy))

    def ensure() -> penvcache.EnsureResult:
        return penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse], lock_timeout=0)

    first = ensure()
    assert first.status == "installed"
    # "Reinstall" it: the same bytes, a new file (another inode), as a package manager does.
    shutil.copy2(uv.find_uv_bin(), tmp_path / "uv-bin" / "uv.new")
    os.replace(tmp_path / "uv-bin" / "uv.new", uv_copy)
    again = ensure()
    assert (again.status, again.fingerprint) == ("hit", first.fingerprint)  # the same version: the same key
    state = _state.read(str(entry))
    assert state is not None
    assert state["installer"]["stat"][0] == uv_copy.stat().st_ino  # the stand-in now names the new binary


# --- the venv's interpreter points at nothing -----------------------------------------------------------------


def test_a_dangling_venv_interpreter_is_recreated(
    tmp_path: Path, venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse]).status == "installed"
    python = venv / "bin" / "python"
    python.unlink()
    python.symlink_to(tmp_path / "uninstalled" / "python3")  # the base interpreter was removed
    assert main(["status", "alpha-pkg", *offline_args(venv, wheelhouse)]) == 1
    assert f"venv: its interpreter {python} is missing or points at nothing" in capsys.readouterr().out
    assert penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse]).status == "installed"
    out = subprocess.run([python, "-c", "import alpha_pkg; print('ok')"], capture_output=True, text=True, check=True)
    assert out.stdout == "ok\n"


# --- the validation probe dies ----------------------------------------------------------------------------------


def test_a_probe_that_dies_is_an_install_failure_naming_what_it_checked(
    tmp_path: Path, venv: Path, wheelhouse: Path, entry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    house = tmp_path / "deadly"
    build_wheel(house, "deadly-pkg", "1.0", module_source="import os, sys\nsys.stderr.write('bye\\n')\nos._exit(3)\n")
    with pytest.raises(penvcache.InstallFailed) as exc:
        penvcache.ensure(venv, ["deadly-pkg"], offline=True, find_links=[wheelhouse, house])
    assert str(exc.value) == (
        f"validation probe in {venv / 'bin' / 'python'} died while importing deadly_pkg (of deadly-pkg): bye; "
        "to skip this import: --skip-import deadly_pkg"
    )
    assert not (entry / _state.STATE).exists()
    args = ["ensure", "deadly-pkg", *offline_args(venv, wheelhouse), "--find-links", str(house)]
    assert main(args) == 1
    assert_one_line(capsys.readouterr().err, "died while importing deadly_pkg (of deadly-pkg)")


# --- Ctrl-C -----------------------------------------------------------------------------------------------------


@pytest.mark.private_uv_cache  # the Ctrl-C lands while uv builds slow-pkg
def test_ctrl_c_exits_130_and_leaves_the_venv_usable(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    building = tmp_path / "building"
    env = {**os.environ, "SLOW_BUILD_MARKER": str(building), "SLOW_BUILD_RELEASE": str(tmp_path / "never")}
    proc = spawn(procs, penvcache_cmd("ensure", "slow-pkg", *offline_args(venv, wheelhouse)), env=env, cwd=ROOT)
    wait_for(building, proc)  # uv is building slow-pkg
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    monkeypatch.setenv("SLOW_BUILD_SECONDS", "0")
    result = penvcache.ensure(venv, ["slow-pkg"], offline=True, find_links=[wheelhouse], lock_timeout=0)
    assert result.status == "installed"  # the lock went with the interrupted process
