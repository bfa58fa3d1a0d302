"""Projects as tox and uv users run them: pyproject.toml dependencies, extras, PEP 735 groups, --project, and
pylock.toml (PEP 751) deps files, against the real uv."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from penvcache import InvalidDeps
from penvcache._installer import uv_bin
from penvcache._requirements import read_deps
from tests._kit import build_project, site_packages
from tests.conftest import run_cli

GROUPS = """
[project.optional-dependencies]
Fast = ["beta-pkg[fast]"]
old = ["alpha-pkg<2"]

[dependency-groups]
test = ["gamma-pkg"]
dev = [{include-group = "test"}, "delta-pkg"]
"""


def installed(venv: Path) -> set[str]:
    return {p.name.split("-")[0] for p in site_packages(venv).glob("*.dist-info")}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return build_project(tmp_path / "proj", "proj-pkg", "1.0", requires=["alpha-pkg"], extra_toml=GROUPS)


def test_pyproject_dependencies_extras_and_groups(project: Path, venv: Path, wheelhouse: Path) -> None:
    args = ["--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "-r", str(project / "pyproject.toml")]
    proc = run_cli("ensure", *args)
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha_pkg"}
    proc = run_cli("ensure", *args, "--extra", "fast", "--group", "dev")
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha_pkg", "beta_pkg", "gamma_pkg", "delta_pkg"}  # dev includes test
    assert "hit" in run_cli("ensure", *args, "--group", "dev", "--extra", "fast").stdout
    assert "proj_pkg" not in installed(venv)  # -r reads the dependencies, it does not install the project


def test_all_extras_and_bad_selections(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    got = read_deps((), [pyproject], ["--all-extras"])
    assert sorted(str(r) for r in got.requirements) == ["alpha-pkg", "alpha-pkg<2", "beta-pkg[fast]"]
    with pytest.raises(InvalidDeps, match=r"pyproject.toml: no extra 'nope' in \[project.optional-dependencies\]"):
        read_deps((), [pyproject], ["--extra nope"])
    with pytest.raises(InvalidDeps, match=r"no dependency group 'docs' in \[dependency-groups\] \(it has: test, dev\)"):
        read_deps((), [pyproject], ["--group docs"])
    pyproject.write_text(pyproject.read_text().replace('"delta-pkg"]', '{include-group = "dev"}]'))
    with pytest.raises(InvalidDeps, match="dependency groups include each other: dev -> dev"):
        read_deps((), [pyproject], ["--group dev"])


def test_project_installs_the_project_itself_editable_by_default(
    project: Path, tmp_path: Path, wheelhouse: Path
) -> None:
    for venv, extra, editable in ((tmp_path / "e", [], True), (tmp_path / "n", ["--no-editable"], False)):
        args = ["--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "--project", str(project)]
        proc = run_cli("ensure", *args, "--group", "test", *extra)
        assert proc.returncode == 0, proc.stderr
        assert installed(venv) == {"alpha_pkg", "gamma_pkg", "proj_pkg"}
        (dist,) = site_packages(venv).glob("proj_pkg-*.dist-info")
        assert json.loads((dist / "direct_url.json").read_text())["dir_info"] == (
            {"editable": True} if editable else {}
        )
        assert "hit" in run_cli("ensure", *args, "--group", "test", *extra).stdout
    # the project's metadata is in the key
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text().replace('"1.0"', '"1.1"'))
    proc = run_cli("status", "--venv", str(tmp_path / "e"), "--find-links", str(wheelhouse), "--project", str(project))
    assert proc.returncode == 1


def test_pylock_toml_written_by_uv_is_a_deps_file(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    (tmp_path / "requirements.in").write_text("delta-pkg\n")
    lock = tmp_path / "pylock.toml"
    compile_args = ["compile", "requirements.in", "--offline", "--no-index", "--find-links", str(wheelhouse)]
    subprocess.run(
        [uv_bin(), "pip", *compile_args, "--format", "pylock.toml", "-o", str(lock), "-q", "--python", sys.executable],
        cwd=tmp_path,
        check=True,
        timeout=120,
    )
    proc = run_cli("ensure", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "-r", str(lock))
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha_pkg", "delta_pkg"}
    assert read_deps((), [lock]).normalised() == ["alpha-pkg==2.0", "delta-pkg==1.0", f"-r {lock}"]
    assert (
        "hit"
        in run_cli("ensure", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "-r", str(lock)).stdout
    )


def test_pylock_toml_is_installed_on_its_own(tmp_path: Path) -> None:
    lock = tmp_path / "pylock.toml"
    lock.write_text('lock-version = "1.0"\ncreated-by = "hand"\n[[packages]]\nname = "alpha-pkg"\nversion = "1.0"\n')
    with pytest.raises(
        InvalidDeps, match=r"pylock\.toml: a pylock\.toml is installed on its own, as uv does; it cannot"
    ):
        read_deps(["gamma-pkg"], [lock])
    lock.write_text("[[packages]]\nname = 'x'\n")
    with pytest.raises(InvalidDeps, match=r"not a pylock\.toml"):
        read_deps((), [lock])
