"""Exact mode: uv's --exact removes what the set does not need; it is in the key, and a hit still proves that
nothing extra was installed (site-packages itself is in the stamp)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from penvcache._installer import uv_bin
from tests._kit import site_packages
from tests.conftest import run_cli_here


def installed(venv: Path) -> set[str]:
    return {p.name.split("-")[0] for p in site_packages(venv).glob("*.dist-info")}


def uv_install(venv: Path, wheelhouse: Path, *names: str) -> None:
    cmd = [uv_bin(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "--offline"]
    subprocess.run([*cmd, "--find-links", str(wheelhouse), *names], check=True, timeout=120)


def test_exact_removes_what_the_set_does_not_need(venv: Path, wheelhouse: Path) -> None:
    args = ["delta-pkg", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse)]
    assert run_cli_here("ensure", *args).returncode == 0
    uv_install(venv, wheelhouse, "gamma-pkg")
    proc = run_cli_here("ensure", *args)
    assert "adopted" in proc.stdout  # not exact: an extra package is fine
    assert installed(venv) == {"alpha_pkg", "delta_pkg", "gamma_pkg"}
    proc = run_cli_here("ensure", *args, "--exact")  # --exact is in the key: a miss, and gamma-pkg goes
    assert proc.returncode == 0, proc.stderr
    assert "installed" in proc.stdout
    assert installed(venv) == {"alpha_pkg", "delta_pkg"}  # delta-pkg's own dependency stays
    assert "hit" in run_cli_here("ensure", *args, "--exact").stdout


def test_an_exact_hit_proves_nothing_extra_was_installed(venv: Path, wheelhouse: Path) -> None:
    args = ["alpha-pkg", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "--exact"]
    assert run_cli_here("ensure", *args).returncode == 0
    assert "hit" in run_cli_here("ensure", *args).stdout
    uv_install(venv, wheelhouse, "gamma-pkg")
    assert run_cli_here("status", *args).returncode == 1  # site-packages changed: not a hit
    proc = run_cli_here("ensure", *args)
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha_pkg"}
