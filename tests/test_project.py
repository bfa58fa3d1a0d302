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
from tests.conftest import run_cli_here

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
    proc = run_cli_here("ensure", *args)
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha_pkg"}
    proc = run_cli_here("ensure", *args, "--extra", "fast", "--group", "dev")
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha_pkg", "beta_pkg", "gamma_pkg", "delta_pkg"}  # dev includes test
    assert "hit" in run_cli_here("ensure", *args, "--group", "dev", "--extra", "fast").stdout
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
        proc = run_cli_here("ensure", *args, "--group", "test", *extra)
        assert proc.returncode == 0, proc.stderr
        assert installed(venv) == {"alpha_pkg", "gamma_pkg", "proj_pkg"}
        (dist,) = site_packages(venv).glob("proj_pkg-*.dist-info")
        assert json.loads((dist / "direct_url.json").read_text())["dir_info"] == (
            {"editable": True} if editable else {}
        )
        assert "hit" in run_cli_here("ensure", *args, "--group", "test", *extra).stdout
    # the project's metadata is in the key
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text().replace('"1.0"', '"1.1"'))
    proc = run_cli_here(
        "status", "--venv", str(tmp_path / "e"), "--find-links", str(wheelhouse), "--project", str(project)
    )
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
    proc = run_cli_here("ensure", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "-r", str(lock))
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha_pkg", "delta_pkg"}
    assert read_deps((), [lock]).normalised() == ["alpha-pkg==2.0", "delta-pkg==1.0", f"-r {lock}"]
    assert (
        "hit"
        in run_cli_here(
            "ensure", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "-r", str(lock)
        ).stdout
    )


@pytest.mark.parametrize("source", ["--find-links", "--extra-index-url"])
def test_a_pylock_toml_beside_a_deps_files_source_installs(
    tmp_path: Path, venv: Path, wheelhouse: Path, source: str
) -> None:
    """uv takes no other requirements file beside a pylock.toml ("Cannot specify additional requirements
    alongside a pylock.toml file"): a deps file's sources then reach uv in its environment, not in a file."""
    (tmp_path / "requirements.in").write_text("delta-pkg\n")
    compile_args = ["compile", "requirements.in", "--offline", "--no-index", "--find-links", str(wheelhouse)]
    subprocess.run(
        [
            uv_bin(),
            "pip",
            *compile_args,
            "--format",
            "pylock.toml",
            "-o",
            "pylock.toml",
            "-q",
            "--python",
            sys.executable,
        ],
        cwd=tmp_path,
        check=True,
        timeout=120,
    )
    value = str(wheelhouse) if source == "--find-links" else "http://127.0.0.1:9/extra"
    (tmp_path / "deps.txt").write_text(f"-r pylock.toml\n{source} {value}\n")
    proc = run_cli_here("ensure", "--venv", str(venv), "--offline", "-r", str(tmp_path / "deps.txt"))
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha_pkg", "delta_pkg"}


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


# (pyproject.toml, option lines, what the one-line error says after "PATH: ")
BAD_PYPROJECTS = [
    ("[build-system]\nrequires = []\n", [], "no [project] table: penvcache reads [project] dependencies"),
    (
        '[project]\nname = "p"\ndynamic = ["dependencies"]\n',
        [],
        "its dependencies are dynamic; install the project itself instead (-e {dir})",
    ),
    ('[project]\nname = "p"\ndependencies = "alpha-pkg"\n', [], "dependencies is not a list of requirement strings"),
    ('[project]\nname = "p"\noptional-dependencies = ["fast"]\n', [], "[project.optional-dependencies] is not a table"),
    ('dependency-groups = ["dev"]\n[project]\nname = "p"\n', ["--group dev"], "[dependency-groups] is not a table"),
    (
        '[project]\nname = "p"\n[dependency-groups]\ndev = "alpha-pkg"\n',
        ["--group dev"],
        "dependency-groups.dev is not a list",
    ),
    (
        '[project]\nname = "p"\n[dependency-groups]\ndev = [1]\n',
        ["--group dev"],
        "dependency-groups.dev: 1 is neither a requirement nor include-group",
    ),
]


@pytest.mark.parametrize(("text", "options", "says"), BAD_PYPROJECTS, ids=[says[:30] for *_, says in BAD_PYPROJECTS])
def test_a_malformed_pyproject_is_one_line_naming_the_table(
    tmp_path: Path, text: str, options: list[str], says: str
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(text)
    with pytest.raises(InvalidDeps) as exc:
        read_deps((), [pyproject], options)
    assert str(exc.value) == f"{pyproject}: {says.format(dir=tmp_path)}"


def test_a_deps_file_that_is_not_toml_says_where(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "pylock.toml"):
        path = tmp_path / name
        path.write_text('[project\nname = "p"\n')
        with pytest.raises(InvalidDeps) as exc:
            read_deps((), [path])
        assert str(exc.value).startswith(f"{path}: not valid TOML: ")
        assert "(at line 1, column 9)" in str(exc.value)
        assert "\n" not in str(exc.value)


def test_project_without_a_pyproject_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from penvcache.cli import main

    assert main(["ensure", "--venv", str(tmp_path / "venv"), "--offline", "--project", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"penvcache: error: --project {tmp_path}: no pyproject.toml in {tmp_path}\n"
    assert not (tmp_path / "venv").exists()


def test_pylock_markers_names_and_local_paths(tmp_path: Path) -> None:
    """A package a lock marks for other environments keeps its marker (validation skips it here); a package
    without a name, or a local project that is gone, is bad input naming the package."""
    lock = tmp_path / "pylock.toml"
    head = 'lock-version = "1.0"\ncreated-by = "hand"\n'
    lock.write_text(
        head + '[[packages]]\nname = "alpha-pkg"\nversion = "1.0"\n'
        '[[packages]]\nname = "win-pkg"\nversion = "2.0"\nmarker = "sys_platform == \'win32\'"\n'
    )
    assert read_deps((), [lock]).normalised() == [
        "alpha-pkg==1.0",
        'win-pkg==2.0; sys_platform == "win32"',
        f"-r {lock}",
    ]
    lock.write_text(head + '[[packages]]\nname = "alpha-pkg"\n[[packages]]\nversion = "1.0"\n')
    with pytest.raises(InvalidDeps) as exc:
        read_deps((), [lock])
    assert str(exc.value) == f"{lock}: packages[2] has no name"
    lock.write_text(head + '[[packages]]\nname = "proj-pkg"\ndirectory = { path = "gone" }\n')
    with pytest.raises(InvalidDeps) as exc:
        read_deps((), [lock])
    assert str(exc.value) == f"{lock}: packages[1] (proj-pkg): no such file or directory: {tmp_path / 'gone'}"
