"""``penvcache verify``: every RECORD hash of the closure, real uv and pip installs, and ``--repair`` afresh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from uv import find_uv_bin

import penvcache
from tests._kit import build_wheel, build_wheel_with_scripts, site_packages
from tests.conftest import measure_coverage_in, run_cli


@pytest.fixture
def venv(venv: Path) -> Path:
    """conftest's venv; under ``coverage run`` (.ci/run) made first, so that verify's script in it is measured."""
    if os.environ.get("COVERAGE_PROCESS_CONFIG"):
        subprocess.run([find_uv_bin(), "venv", "-q", str(venv), "--python", sys.executable], check=True)
        measure_coverage_in(venv)
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
    return run_cli("verify", "--venv", str(venv), "--offline", "--find-links", str(house), *args)


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
