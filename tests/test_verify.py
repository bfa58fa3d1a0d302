"""``penvcache verify``: every RECORD hash of the closure, real uv and pip installs, and ``--repair`` afresh."""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from uv import find_uv_bin

import penvcache
from penvcache._requirements import read_deps
from penvcache._verify import closure
from tests._kit import add_finder, build_wheel, build_wheel_with_scripts, site_packages
from tests.conftest import make_venv, premake_measured_venv, run_cli_here


@pytest.fixture
def venv(venv: Path) -> Path:
    """conftest's venv; under ``coverage run`` (.ci/run) made first, so that verify's script in it is measured."""
    premake_measured_venv(venv)
    return venv


@pytest.fixture
def house(tmp_path: Path) -> Path:
    house = tmp_path / "house"
    build_wheel(house, "alpha-pkg", "2.0")
    build_wheel(house, "beta-pkg", "1.0", extras={"fast": ["gamma-pkg>=1"]})
    build_wheel(house, "gamma-pkg", "1.0")
    build_wheel(house, "delta-pkg", "1.0", requires=["alpha-pkg>=2"])
    build_wheel(house, "unrelated-pkg", "1.0")
    build_wheel_with_scripts(house, "tool-pkg", "1.0")
    return house


def verify(venv: Path, house: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli_here("verify", "--venv", str(venv), "--offline", "--find-links", str(house), *args)


def verify_json(venv: Path, house: Path, *args: str) -> dict[str, object]:
    proc = verify(venv, house, "--json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    out: dict[str, object] = json.loads(proc.stdout)
    return out


def uv_install(venv: Path, house: Path, *args: str) -> None:
    cmd = [find_uv_bin(), "pip", "install", "--python", str(venv), "--offline", "--find-links", str(house)]
    subprocess.run([*cmd, *args], check=True, capture_output=True, timeout=120)


def test_a_fresh_install_is_clean_and_the_closure_is_checked(venv: Path, house: Path) -> None:
    reqs = ("delta-pkg", "beta-pkg[fast]", "tool-pkg")
    penvcache.ensure(venv, reqs, find_links=[house], offline=True)
    uv_install(venv, house, "unrelated-pkg")
    out = verify_json(venv, house, *reqs)
    assert out["status"] == "clean"
    # delta's dependency and beta's extra are in the closure; what the set does not need is not
    assert out["distributions"] == {
        "alpha-pkg": "2.0",
        "beta-pkg": "1.0",
        "delta-pkg": "1.0",
        "gamma-pkg": "1.0",
        "tool-pkg": "1.0",
    }
    assert out["mismatches"] == []
    assert out["skipped"] == {"no hash in RECORD": 5}  # each RECORD's own line
    human = verify(venv, house, *reqs)
    assert human.returncode == 0, human.stdout + human.stderr
    assert human.stdout.startswith(f"penvcache: clean {venv}: 5 distributions")


def test_a_pip_install_is_clean(tmp_path: Path, house: Path) -> None:
    """pip compiles bytecode and lists it in RECORD without a hash, and rewrites scripts: none is a mismatch."""
    venv = tmp_path / "pip-venv"
    subprocess.run([find_uv_bin(), "venv", "-q", str(venv), "--python", sys.executable], check=True, timeout=120)
    # this pip, installing into the venv (making one with pip in it would cost seconds of ensurepip)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-index"]
    subprocess.run([*pip, "--find-links", str(house), "delta-pkg", "tool-pkg"], check=True, timeout=300)
    out = verify_json(venv, house, "delta-pkg", "tool-pkg")
    assert out["status"] == "clean", out["mismatches"]
    skipped = out["skipped"]
    assert isinstance(skipped, dict)
    assert skipped["no hash in RECORD"] > 3  # the .pyc files pip compiled, besides each RECORD


@pytest.mark.private_uv_cache  # the damage is in place: in uv's cache too
def test_a_damaged_file_deep_in_the_closure_is_reported(venv: Path, house: Path) -> None:
    penvcache.ensure(venv, ["delta-pkg", "tool-pkg"], find_links=[house], offline=True)
    sub = site_packages(venv) / "alpha_pkg" / "sub.py"
    with sub.open("a") as f:  # in place, as a stray edit or a bad disk would
        f.write("# damaged\n")
    # a hit does not read bytes: only verify notices
    assert penvcache.ensure(venv, ["delta-pkg", "tool-pkg"], find_links=[house], offline=True).status == "hit"
    init = site_packages(venv) / "tool_pkg" / "__init__.py"
    init.unlink()
    proc = verify(venv, house, "delta-pkg", "tool-pkg")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert any(
        line.startswith(f"penvcache: verify: alpha-pkg 2.0: {sub}: expected sha256=") and ", found sha256=" in line
        for line in lines
    ), lines
    assert any(line.startswith(f"penvcache: verify: tool-pkg 1.0: {init}: missing (expected sha256=") for line in lines)
    assert lines[-1].startswith(f"penvcache: mismatch {venv}:")


def test_a_missing_requirement_fails(venv: Path, house: Path) -> None:
    penvcache.ensure(venv, ["gamma-pkg"], find_links=[house], offline=True)
    proc = verify(venv, house, "gamma-pkg", "alpha-pkg")
    assert proc.returncode == 1
    assert "penvcache: verify: alpha-pkg is not installed" in proc.stdout


@pytest.mark.private_uv_cache  # the damage is in place: in uv's cache too, as the test shows
def test_repair_fetches_afresh_what_a_plain_reinstall_links_back(venv: Path, house: Path) -> None:
    penvcache.ensure(venv, ["delta-pkg"], find_links=[house], offline=True)
    sub = site_packages(venv) / "alpha_pkg" / "sub.py"
    with sub.open("a") as f:
        f.write("# damaged\n")
    # uv hardlinked the file from its cache: a plain reinstall brings the damage back
    uv_install(venv, house, "delta-pkg", "--reinstall-package", "alpha-pkg")
    assert sub.read_text().endswith("# damaged\n")
    out = verify_json(venv, house, "delta-pkg", "--repair")
    assert out["repaired"] == ["alpha-pkg"]
    assert out["status"] == "repaired", out
    assert sub.read_text() == "VALUE = 1\n"
    assert verify(venv, house, "delta-pkg").returncode == 0
    # the repaired venv is valid for ensure again
    assert penvcache.ensure(venv, ["delta-pkg"], find_links=[house], offline=True).status in ("adopted", "hit")


@pytest.mark.private_uv_cache  # the damage is in place: in uv's cache too
def test_repair_says_what_it_does_and_exits_0(venv: Path, house: Path) -> None:
    penvcache.ensure(venv, ["gamma-pkg"], find_links=[house], offline=True)
    sub = site_packages(venv) / "gamma_pkg" / "sub.py"
    sub.write_text("VALUE = 2\n")
    proc = verify(venv, house, "gamma-pkg", "--repair")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "penvcache: repairing gamma-pkg" in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith(f"penvcache: repaired {venv}:")
    assert sub.read_text() == "VALUE = 1\n"


def test_verify_of_a_missing_venv_is_bad_input(tmp_path: Path, house: Path) -> None:
    venv = tmp_path / "never-made"
    proc = verify(venv, house, "gamma-pkg")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"penvcache: error: cannot verify {venv}: {venv} does not exist " + (
        "(make it with `penvcache ensure` first)"
    )


@pytest.mark.private_uv_cache  # edits an installed file in place
def test_quiet_is_silent_when_clean_not_when_damaged(venv: Path, house: Path) -> None:
    """``-q`` for scripts: nothing on a clean venv, the mismatches all the same; ``--repair`` of a clean venv
    repairs nothing and says clean."""
    penvcache.ensure(venv, ["gamma-pkg"], find_links=[house], offline=True)
    proc = verify(venv, house, "gamma-pkg", "-q")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    out = verify_json(venv, house, "gamma-pkg", "--repair")
    assert (out["status"], out["repaired"], out["mismatches_before"]) == ("clean", [], [])
    sub = site_packages(venv) / "gamma_pkg" / "sub.py"
    sub.write_text("VALUE = 2\n")
    proc = verify(venv, house, "gamma-pkg", "-q")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"penvcache: verify: gamma-pkg 1.0: {sub}: expected sha256=")
    assert lines[-1].startswith(f"penvcache: mismatch {venv}: 1 distributions, ")


def test_a_record_that_cannot_be_read_is_a_mismatch_and_repaired(venv: Path, house: Path) -> None:
    penvcache.ensure(venv, ["gamma-pkg"], find_links=[house], offline=True)
    record = site_packages(venv) / "gamma_pkg-1.0.dist-info" / "RECORD"
    record.unlink()
    proc = verify(venv, house, "gamma-pkg")
    assert proc.returncode == 1
    assert f"penvcache: verify: gamma-pkg 1.0: {record}: expected a RECORD, found [Errno 2]" in proc.stdout
    repaired = verify(venv, house, "gamma-pkg", "--repair")
    assert (repaired.returncode, repaired.stdout.splitlines()[-1].split()[:2]) == (0, ["penvcache:", "repaired"])
    assert record.is_file()


def test_what_verify_cannot_read_is_said_never_guessed(venv: Path, house: Path) -> None:
    penvcache.ensure(venv, ["gamma-pkg", "alpha-pkg"], find_links=[house], offline=True)
    add_finder(venv)  # finder-pkg (requires alpha-pkg): known to a finder alone, no directory to hash
    out = verify_json(venv, house, "gamma-pkg", "finder-pkg")
    assert (out["status"], out["distributions"]) == (
        "clean",
        {"alpha-pkg": "2.0", "finder-pkg": "4.2", "gamma-pkg": "1.0"},
    )
    assert out["skipped"] == {"no hash in RECORD": 2, "not a .dist-info directory": 1}
    (site_packages(venv) / "gamma_pkg-1.0.dist-info" / "METADATA").unlink()  # no name: importlib.metadata's dist
    out = verify_json(venv, house, "gamma-pkg")
    assert (out["status"], out["not_installed"]) == ("mismatch", ["gamma-pkg"])


def test_an_interpreter_that_cannot_run_is_one_line(tmp_path: Path, house: Path) -> None:
    venv = tmp_path / "damaged"
    make_venv(venv)
    python = venv / "bin" / "python"
    python.unlink()
    python.write_text("not a program\n")
    proc = verify(venv, house, "gamma-pkg")
    assert (proc.returncode, proc.stderr) == (1, f"penvcache: error: cannot run {python}: Permission denied\n")


def test_an_interpreter_that_fails_is_one_line(venv: Path, house: Path) -> None:
    penvcache.ensure(venv, ["gamma-pkg"], find_links=[house], offline=True)
    (site_packages(venv) / "zz_broken.pth").write_text("import sys; sys.exit('this interpreter is broken')\n")
    proc = verify(venv, house, "gamma-pkg")
    assert proc.returncode == 1
    assert proc.stderr == (
        f"penvcache: error: reading the distributions of {venv / 'bin' / 'python'} failed: "
        "SystemExit: this interpreter is broken\n"
    )


# --- the closure and the hashing, in this process (verify's script is stdlib-only; mypy does not follow it) -------

verify_script: Any = importlib.import_module("penvcache._verify_script")


def test_the_closure_walks_extras_that_require_each_other_once() -> None:
    dists = {
        "cyc": {
            "requires": ['cyc[b]; extra == "a"', 'cyc[a]; extra == "b"', 'helper; extra == "b"', "base", "bad req!"]
        },
        "helper": {"requires": ["absent>=1"]},
        "base": {"requires": ["absent>=1", "unused; python_version < '3'"]},
        "other": {"requires": []},
    }
    environment = verify_script.marker_environment()  # what verify reads in the venv
    names, not_installed = closure(read_deps(["cyc[a]", "other", "never; os_name == 'none'"]), environment, dists)
    assert names == ["base", "cyc", "helper", "other"]
    assert not_installed == ["absent>=1"]  # required twice, said once


def _line(relative: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [relative, f"sha256={digest}", str(len(data))]


def test_each_record_line_is_hashed_or_skipped_for_a_reason(tmp_path: Path) -> None:
    prefix = tmp_path / "venv"
    site = prefix / "lib" / "python3" / "site-packages"
    info = site / "pkg-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "pkg").mkdir()
    (site / "pkg" / "good.py").write_bytes(b"good\n")
    (site / "pkg" / "edited.py").write_bytes(b"edited\n")
    (site / "pkg" / "dir.py").mkdir()  # a file that became a directory
    (tmp_path / "outside.txt").write_bytes(b"elsewhere\n")
    rows = [
        _line("pkg/good.py", b"good\n"),
        _line("pkg/edited.py", b"as installed\n"),
        _line("pkg/gone.py", b"gone\n"),
        _line("pkg/dir.py", b"x\n"),
        _line("pkg/__pycache__/good.cpython-311.pyc", b"bytecode"),
        _line("../../../../outside.txt", b"elsewhere\n"),
        ["pkg/weird.py", "rot13=abc", "3"],
        ["pkg-1.0.dist-info/RECORD", "", ""],
        [],
    ]
    with open(info / "RECORD", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    out = verify_script.check(str(info), str(prefix))
    assert out["files"] == 4
    assert out["skipped"] == {".pyc": 1, "outside the venv": 1, "unknown hash algorithm": 1, "no hash in RECORD": 1}
    edited, gone, directory = out["mismatches"]
    assert edited == {
        "file": str(site / "pkg" / "edited.py"),
        "expected": rows[1][1],
        "found": _line("", b"edited\n")[1],
    }
    assert gone == {"file": str(site / "pkg" / "gone.py"), "expected": rows[2][1], "found": "missing"}
    assert directory == {
        "file": str(site / "pkg" / "dir.py"),
        "expected": rows[3][1],
        "found": "unreadable: Is a directory",
    }


def test_a_record_that_is_not_utf8_is_a_mismatch_not_a_crash(tmp_path: Path) -> None:
    info = tmp_path / "pkg-1.0.dist-info"
    info.mkdir()
    (info / "RECORD").write_bytes(b"caf\xe9.py,sha256=x,1\n")
    out = verify_script.check(str(info), str(tmp_path))
    assert out["files"] == 0
    assert [(m["file"], m["expected"]) for m in out["mismatches"]] == [(str(info / "RECORD"), "a RECORD")]
    assert out["mismatches"][0]["found"].startswith("'utf-8' codec can't decode byte 0xe9")
