"""The CLI, in-process through main() and as a real subprocess: output, exit codes, bad input."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from penvcache.cli import main
from tests.conftest import offline_args, run_cli_here


def test_json_output_has_the_documented_fields(
    venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["ensure", "alpha-pkg", *offline_args(venv, wheelhouse), "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["status"] == "installed"
    assert {"status", "venv", "python", "fingerprint", "elapsed"} <= first.keys()
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "hit"


def test_deps_file_and_default_venv(tmp_path: Path, wheelhouse: Path) -> None:
    (tmp_path / "deps.txt").write_text("alpha-pkg\n")
    proc = run_cli_here("ensure", "--deps", "deps.txt", "--offline", "--find-links", str(wheelhouse), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("penvcache: installed ")
    assert (tmp_path / ".venv" / "pyvenv.cfg").exists()
    proc = run_cli_here("ensure", "-r", "deps.txt", "--offline", "--find-links", str(wheelhouse), "-q", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "")


def test_penvcache_venv_env_var(tmp_path: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PENVCACHE_VENV", str(tmp_path / "from-env"))
    assert main(["ensure", "--offline", "--find-links", str(wheelhouse), "-q", "alpha-pkg"]) == 0
    assert (tmp_path / "from-env" / "pyvenv.cfg").exists()


def _assert_bad_input(proc_or_code: tuple[int, str], *fragments: str) -> None:
    code, err = proc_or_code
    assert code == 2
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_missing_deps_file(venv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_bad_input(_main(capsys, "ensure", "--deps", "nope.txt", "--venv", str(venv)), "nope.txt", "No such file")
    assert not venv.exists()


def test_unreadable_deps_file(venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deps = tmp_path / "deps.txt"
    deps.write_bytes(b"alpha-pkg\n\xff\xfe\n")
    _assert_bad_input(_main(capsys, "ensure", "--deps", str(deps), "--venv", str(venv)), str(deps))
    assert not venv.exists()


def test_malformed_requirement_names_file_line_and_text(
    venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deps = tmp_path / "deps.txt"
    deps.write_text("alpha-pkg\n# fine\nbeta-pkg >= = 2\n")
    _assert_bad_input(
        _main(capsys, "ensure", "--deps", str(deps), "--venv", str(venv)), f"{deps}:3", "'beta-pkg >= = 2'"
    )
    assert not venv.exists()


def test_unsupported_line_in_deps_file(venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deps = tmp_path / "deps.txt"
    deps.write_text("alpha-pkg\n-e ./src\n")
    _assert_bad_input(_main(capsys, "ensure", "--deps", str(deps), "--venv", str(venv)), f"{deps}:2", "editable")


def test_unknown_option(venv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["ensure", "--venv", str(venv), "--frobnicate"])
    err = capsys.readouterr().err
    _assert_bad_input((int(str(exc.value.code)), err), "--frobnicate")
    assert not venv.exists()


def test_python_that_does_not_exist(
    venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = str(tmp_path / "no" / "python")
    _assert_bad_input(_main(capsys, "ensure", "alpha-pkg", "--venv", str(venv), "--python", missing), missing)
    assert not venv.exists()
    # uv looks for 3.99 on PATH, asking each python there its version: none to ask (pyenv's shims are bash scripts)
    (tmp_path / "empty-path").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    _assert_bad_input(_main(capsys, "ensure", "alpha-pkg", "--venv", str(venv), "--python", "3.99"), "--python 3.99")
    assert not venv.exists()


def test_python_by_version_is_an_installed_interpreter_of_that_version(
    venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    args = ["ensure", "alpha-pkg", *offline_args(venv, wheelhouse), "--python", version]
    assert main(args) == 0
    cfg = dict(line.split(" = ", 1) for line in (venv / "pyvenv.cfg").read_text().splitlines() if " = " in line)
    assert cfg["version_info"].startswith(f"{version}.")
    capsys.readouterr()
    assert main(args) == 0
    assert capsys.readouterr().out.startswith(f"penvcache: hit {venv} (")


def test_a_broken_penvcache_uv_is_bad_input_naming_it(
    venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "uv"
    broken.write_text("#!/bin/sh\necho 'error: this uv is broken' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PENVCACHE_UV", str(broken))
    code, err = _main(capsys, "ensure", "alpha-pkg", "--venv", str(venv), "--offline")
    _assert_bad_input((code, err))
    assert err == f"penvcache: error: PENVCACHE_UV={broken}: `{broken} --version` failed: error: this uv is broken\n"
    missing = tmp_path / "no-uv"
    monkeypatch.setenv("PENVCACHE_UV", str(missing))
    code, err = _main(capsys, "ensure", "alpha-pkg", "--venv", str(venv), "--offline")
    _assert_bad_input((code, err))
    assert err == f"penvcache: error: cannot run the installer {missing}: No such file or directory\n"
    assert not venv.exists()


def test_verbose_shows_uvs_own_output(venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["ensure", *offline_args(venv, wheelhouse)]
    assert main([*args, "alpha-pkg"]) == 0
    assert " + alpha-pkg==2.0" not in capsys.readouterr().err
    assert main([*args, "gamma-pkg", "-v"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert " + gamma-pkg==1.0" in err  # uv's own report of what it installed
    assert any(line.startswith("Installed 1 package") for line in err)


def test_venv_path_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "venv"
    path.write_text("precious\n")
    _assert_bad_input(_main(capsys, "ensure", "alpha-pkg", "--venv", str(path)), str(path), "not a directory")
    assert path.read_text() == "precious\n"


def test_directory_that_is_not_a_venv_is_never_cleared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "project"
    path.mkdir()
    (path / "notes.txt").write_text("precious\n")
    _assert_bad_input(_main(capsys, "ensure", "--venv", str(path), "--offline"), str(path), "not a virtual environment")
    assert os.listdir(path) == ["notes.txt"]


def test_bad_input_in_a_real_subprocess_has_no_traceback(venv: Path) -> None:
    proc = run_cli_here("ensure", "--deps", "missing.txt", "--venv", str(venv))
    _assert_bad_input((proc.returncode, proc.stderr), "missing.txt")


def test_exit_codes_for_failures(venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = [*offline_args(venv, wheelhouse), "--json"]
    assert main(["ensure", "no-such-pkg", *common]) == 4
    out = json.loads(capsys.readouterr().out)
    assert (out["status"], out["exit_code"]) == ("error", 4)
    assert "no-such-pkg" in out["error"]
    assert main(["ensure", "broken-pkg", *common]) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--venv", "v\udcff"], "is not valid UTF-8"),
        (["--lock-timeout", "nan"], "lock timeout must be a number of seconds >= 0"),
        (["--lock-timeout", "-1"], "lock timeout must be a number of seconds >= 0"),
    ],
)
def test_odd_values_are_bad_input(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["ensure", "alpha-pkg", *args]) == 2
    assert message in capsys.readouterr().err


def test_an_empty_index_url_is_bad_input_on_every_path(tmp_path: Path) -> None:
    """``ensure --index-url ''`` (the fast path) refused it; argparse's path (an abbreviation, explain) ignored it."""
    says = "penvcache: error: option argument 1: --index-url takes exactly one value: '--index-url '\n"
    for args in (["ensure", "--index-url", ""], ["ensure", "--index-ur", ""], ["explain", "--index-url="]):
        result = run_cli_here(*args, "alpha-pkg", "--venv", str(tmp_path / "v"), "--offline")
        assert (result.returncode, result.stdout, result.stderr) == (2, "", says), args
