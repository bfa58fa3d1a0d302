"""uv's environment variables that change what ``uv pip install`` installs are in the key (``sources``)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests._kit import site_packages
from tests.conftest import error_lines, run_cli_here


def _status(args: list[str], env: dict[str, str]) -> str:
    proc = run_cli_here("ensure", "alpha-pkg", *args, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    status: str = json.loads(proc.stdout)["status"]
    return status


def _explained(args: list[str], env: dict[str, str]) -> list[str]:
    proc = run_cli_here("explain", "alpha-pkg", *args, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    reasons: list[str] = json.loads(proc.stdout)["reasons"]
    return reasons


@pytest.mark.parametrize(
    ("name", "value"),
    [("UV_EXCLUDE_NEWER", "2020-01-01T00:00:00Z"), ("UV_RESOLUTION", "lowest"), ("UV_NO_BUILD", "1")],
)
def test_a_uv_setting_set_is_a_miss_that_explain_names(hermetic: list[str], name: str, value: str) -> None:
    env = dict(os.environ)
    assert _status(hermetic, env) == "installed"
    assert _status(hermetic, env) == "hit"
    env[name] = value
    assert _explained(hermetic, env) == [f"sources changed: added {name}={value}"]
    assert _status(hermetic, env) == "adopted"  # the venv still holds the set: validated, kept
    assert _status(hermetic, env) == "hit"


def test_a_constraint_file_named_by_uv_constraint_is_keyed_by_its_content(
    hermetic: list[str], tmp_path: Path, venv: Path
) -> None:
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("alpha-pkg<2\n")
    env = {**os.environ, "UV_CONSTRAINT": str(constraints)}
    assert _status(hermetic, env) == "installed"
    assert [p.name for p in (venv / "lib").glob("python3*/site-packages/alpha_pkg-*.dist-info")] == [
        "alpha_pkg-1.0.dist-info"
    ]  # uv read it
    assert _status(hermetic, env) == "hit"
    constraints.write_text("alpha-pkg<3\n")
    before, after = _sha(b"alpha-pkg<2\n"), _sha(b"alpha-pkg<3\n")
    old, new = f"UV_CONSTRAINT={constraints} (sha256 {before})", f"UV_CONSTRAINT={constraints} (sha256 {after})"
    assert _explained(hermetic, env) == ["requirements changed", f"sources changed: {old} -> {new}"]
    assert _status(hermetic, env) == "adopted"
    assert _status(hermetic, env) == "hit"
    constraints.unlink()  # as ensure says (uv would fail on it): exit 2, naming the variable and the file
    proc = run_cli_here("explain", "alpha-pkg", *hermetic, env=env)
    reason = f"UV_CONSTRAINT: cannot read constraints file {constraints}: No such file or directory"
    assert (proc.returncode, error_lines(proc.stderr)) == (2, [f"penvcache: error: {reason}"])


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])  # UTF-16 with its BOM: PowerShell's, which uv reads
def test_the_variables_a_uv_constraint_file_expands_are_keyed_but_a_urls_password(
    hermetic: list[str], tmp_path: Path, wheelhouse: Path, encoding: str
) -> None:
    """uv expands ``${NAME}`` in the URLs and paths of a constraints file: another ``WH`` is another wheel, a
    miss; a token that only stands for a URL's password is not keyed (a rotated token is no miss, and no digest of
    it is stored)."""
    constraints, other = tmp_path / "constraints.txt", tmp_path / "other-wheelhouse"
    constraints.write_bytes(
        (
            "alpha-pkg @ file://${WH}/alpha_pkg-1.0-py3-none-any.whl\n"
            "gamma-pkg @ https://user:${TOKEN}@127.0.0.1:9/gamma_pkg-1.0-py3-none-any.whl\n"
        ).encode(encoding)
    )
    other.mkdir()
    shutil.copy(wheelhouse / "alpha_pkg-1.0-py3-none-any.whl", other)
    env = {**os.environ, "UV_CONSTRAINT": str(constraints), "WH": str(wheelhouse), "TOKEN": "first-token"}
    assert _status(hermetic, env) == "installed"
    env["TOKEN"] = "second-token"
    assert _status(hermetic, env) == "hit"
    env["WH"] = str(other)
    assert _explained(hermetic, env) == ["requirements changed"]  # []: a hit on the wheel of the other WH
    assert _status(hermetic, env) in {"adopted", "installed"}
    assert _status(hermetic, env) == "hit"


@pytest.mark.parametrize("variable", ["UV_CONSTRAINT", "UV_OVERRIDE"])
def test_a_file_that_a_uv_constraint_or_override_file_includes_is_keyed(
    hermetic: list[str], tmp_path: Path, venv: Path, variable: str
) -> None:
    """uv follows ``-r inner.txt`` in these files (relative to the file): an edit of the included file is a miss
    that installs as uv now would, not a hit on the venv the old one gave."""
    outer, inner = tmp_path / "sub" / "outer.txt", tmp_path / "sub" / "inner.txt"
    outer.parent.mkdir()
    outer.write_text("-r inner.txt\n")
    bounds = ("alpha-pkg<2", "alpha-pkg>=2") if variable == "UV_CONSTRAINT" else ("alpha-pkg==1.0", "alpha-pkg==2.0")
    env = {**os.environ, variable: str(outer)}
    for bound, version in zip(bounds, ("1.0", "2.0"), strict=True):
        inner.write_text(bound + "\n")
        assert _status(["delta-pkg", *hermetic] if variable == "UV_OVERRIDE" else hermetic, env) == "installed"
        assert _alpha(venv) == [f"alpha_pkg-{version}.dist-info"]


def test_a_path_in_a_uv_constraint_file_is_from_the_current_directory_as_uv_reads_it(
    hermetic: list[str], tmp_path: Path, wheelhouse: Path, venv: Path
) -> None:
    """uv reads a relative path in a ``UV_CONSTRAINT`` file from the current directory, not the file's (a deps
    file's paths are the file's: penvcache hands those to uv resolved); validation reads it the same way."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "wh").mkdir()
    shutil.copy(wheelhouse / "alpha_pkg-1.0-py3-none-any.whl", tmp_path / "wh")
    (tmp_path / "sub" / "c.txt").write_text("alpha-pkg @ ./wh/alpha_pkg-1.0-py3-none-any.whl\n")
    env = {**os.environ, "UV_CONSTRAINT": "sub/c.txt"}
    proc = run_cli_here("ensure", "alpha-pkg", *hermetic, "--json", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "installed"
    assert _alpha(venv) == ["alpha_pkg-1.0.dist-info"]


def test_a_hit_with_a_variable_in_a_uv_constraint_file_imports_no_parser(
    hermetic: list[str], tmp_path: Path, wheelhouse: Path
) -> None:
    """The variables of those files are recorded on the miss and looked up on the hit, as a deps file's: the hit
    reads no requirement (no packaging, no penvcache._requirements)."""
    constraints = tmp_path / "c.txt"
    constraints.write_text("alpha-pkg @ file://${WH}/alpha_pkg-1.0-py3-none-any.whl\n")
    env = {**os.environ, "UV_CONSTRAINT": str(constraints), "WH": str(wheelhouse)}
    assert _status(hermetic, env) == "installed"
    code = (
        "import sys; from penvcache._fastpath import main\n"
        "try: main(['ensure', 'alpha-pkg', *sys.argv[1:]])\nexcept SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('packaging', 'penvcache._requirements'))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *hermetic], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert "penvcache: hit" in proc.stdout, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout


def test_validation_checks_the_constraints_uv_constraint_names(hermetic: list[str], tmp_path: Path, venv: Path) -> None:
    """A venv outside what UV_CONSTRAINT allows is a miss that reinstalls within it, as a deps file's ``-c`` is;
    uv gets both (its ``--constraint`` option, which takes the deps file's, would hide the variable)."""
    deps, own = tmp_path / "deps.txt", tmp_path / "own.txt"
    deps.write_text("-c own.txt\nalpha-pkg\n")
    own.write_text("alpha-pkg>=1\n")
    env, args = dict(os.environ), ["-r", str(deps), *hermetic]
    assert _status(args, env) == "installed"
    assert _alpha(venv) == ["alpha_pkg-2.0.dist-info"]
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("alpha-pkg<2\n")
    env["UV_CONSTRAINT"] = str(constraints)
    assert _status(args, env) == "installed"  # not adopted: 2.0 is outside the constraint
    assert _alpha(venv) == ["alpha_pkg-1.0.dist-info"]
    assert _status(args, env) == "hit"
    missing = tmp_path / "gone.txt"
    env["UV_CONSTRAINT"] = f"{constraints} {missing}"  # uv's list: space-separated
    proc = run_cli_here("ensure", "alpha-pkg", *args, env=env)
    reason = f"UV_CONSTRAINT: cannot read constraints file {missing}: No such file or directory"
    assert (proc.returncode, error_lines(proc.stderr)) == (2, [f"penvcache: error: {reason}"])


def test_validation_checks_uv_overrides_in_place_of_requirements_and_skips_uv_excludes(
    hermetic: list[str], tmp_path: Path, venv: Path
) -> None:
    """An override replaces every requirement on its name, the set's and a dependency's (delta-pkg requires
    alpha-pkg>=2), as uv installs it; an excluded name is required by none."""
    overrides, excludes = tmp_path / "overrides.txt", tmp_path / "excludes.txt"
    overrides.write_text("alpha-pkg==1.0\n")
    excludes.write_text("alpha-pkg\n")
    env, args = {**os.environ, "UV_OVERRIDE": str(overrides)}, ["delta-pkg", *hermetic]
    assert _status(["alpha-pkg>=2", *args], env) == "installed"  # not ValidationFailed: uv installed 1.0
    assert _alpha(venv) == ["alpha_pkg-1.0.dist-info"]
    assert _status(["alpha-pkg>=2", *args], env) == "hit"
    del env["UV_OVERRIDE"]
    env["UV_EXCLUDE"] = str(excludes)
    assert _status(["alpha-pkg>=2", *args], env) == "adopted"  # uv would install nothing for alpha-pkg


def test_verify_reads_the_closure_as_uv_installs_it_under_its_overrides_and_excludes(
    hermetic: list[str], tmp_path: Path, venv: Path
) -> None:
    """delta-pkg requires alpha-pkg>=2: under ``UV_EXCLUDE`` naming alpha-pkg uv installs delta-pkg alone, and
    verify finds nothing missing; under an override that applies on no platform of this machine, likewise."""
    excludes, overrides = tmp_path / "excludes.txt", tmp_path / "overrides.txt"
    excludes.write_text("alpha-pkg\n")
    overrides.write_text('alpha-pkg==1.0; sys_platform == "no such platform"\n')
    for env in ({**os.environ, "UV_EXCLUDE": str(excludes)}, {**os.environ, "UV_OVERRIDE": str(overrides)}):
        ensured = run_cli_here("ensure", "delta-pkg", *hermetic, "--json", env=env)
        assert ensured.returncode == 0, ensured.stderr
        assert _alpha(venv) == []
        verified = run_cli_here("verify", "delta-pkg", *hermetic, "--json", env=env)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert json.loads(verified.stdout)["not_installed"] == []


def _alpha(venv: Path) -> list[str]:
    return sorted(p.name for p in site_packages(venv).glob("alpha_pkg-*.dist-info"))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]
