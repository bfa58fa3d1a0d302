"""uv's environment variables that change what ``uv pip install`` installs are in the key (``sources``)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli_here


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
    assert _explained(hermetic, env) == [f"sources changed: {old} -> {new}"]
    assert _status(hermetic, env) == "adopted"
    assert _status(hermetic, env) == "hit"
    constraints.unlink()
    assert _explained(hermetic, env) == [f"sources changed: {new} -> UV_CONSTRAINT={constraints} (missing)"]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]
