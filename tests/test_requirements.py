"""Reading deps files: pip's syntax, normalisation, and bad input with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from penvcache import InvalidDeps
from penvcache._requirements import read_deps


def test_comments_blanks_continuations_and_options(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("gamma-pkg\n")
    (tmp_path / "cons.txt").write_text("alpha-pkg<3\n")
    deps = tmp_path / "deps.txt"
    deps.write_text(
        "# header\n\nalpha-pkg \\\n  >=1   # trailing comment\n--requirement=base.txt\n-ccons.txt\n"
        "--find-links ./wheels\n-i https://example.invalid/simple\nbeta-pkg[fast] ; python_version >= '3'\n"
    )
    got = read_deps(["Delta_Pkg==1.0"], [deps])
    assert got.normalised() == [
        "alpha-pkg>=1",
        'beta-pkg[fast]; python_version >= "3"',
        "delta-pkg==1.0",
        "gamma-pkg",
        "-c alpha-pkg<3",
        f"--find-links {tmp_path / 'wheels'}",
        "--index-url https://example.invalid/simple",
    ]
    assert set(got.files) == {str(deps), str(tmp_path / "base.txt"), str(tmp_path / "cons.txt")}


def test_include_cycle_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("-r b.txt\n")
    (tmp_path / "b.txt").write_text("-r a.txt\n")
    with pytest.raises(InvalidDeps, match="include each other"):
        read_deps((), [tmp_path / "a.txt"])


def test_missing_nested_file_names_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("-r gone.txt\n")
    with pytest.raises(InvalidDeps, match=r"a\.txt: cannot read deps file .*gone\.txt"):
        read_deps((), [tmp_path / "a.txt"])


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("-e .", "editable"),
        ("--pre", "option --pre"),
        ("-r", "takes exactly one value"),
        ("foo ==", "invalid requirement"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, fragment: str) -> None:
    deps = tmp_path / "deps.txt"
    deps.write_text(f"alpha-pkg\n{line}\n")
    with pytest.raises(InvalidDeps, match=f"deps.txt:2: .*{fragment}") as exc:
        read_deps((), [deps])
    assert isinstance(exc.value, ValueError)


def test_bad_requirement_argument() -> None:
    with pytest.raises(InvalidDeps, match="requirement argument 2: invalid requirement 'b c'"):
        read_deps(["a", "b c"])
