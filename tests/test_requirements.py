"""Reading deps files: pip's syntax, normalisation, and bad input with file and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    with pytest.raises(InvalidDeps, match=r"a\.txt:1: cannot read deps file .*gone\.txt"):
        read_deps((), [tmp_path / "a.txt"])


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("-e alpha-pkg", "editable requirement must be a local project"),
        ("--use-feature x", "option --use-feature"),
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


def test_hash_pins_and_requirement_line_options(tmp_path: Path) -> None:
    deps = tmp_path / "deps.txt"
    digest = "AB" * 32
    deps.write_text(f"Alpha_Pkg==1.0 \\\n    --hash=sha256:{digest} --hash sha256:{'0' * 64}\n")
    got = read_deps((), [deps])
    assert got.normalised() == [f"alpha-pkg==1.0 --hash=sha256:{'0' * 64} --hash=sha256:{digest.lower()}"]
    deps.write_text("alpha-pkg --hash=sha256:abc\n")
    with pytest.raises(InvalidDeps, match=r"deps.txt:1: --hash 'sha256:abc' is not"):
        read_deps((), [deps])
    deps.write_text("gamma-pkg\nalpha-pkg --no-binary :all:\n")
    with pytest.raises(InvalidDeps, match=r"deps.txt:2: option --no-binary is not supported on a requirement line"):
        read_deps((), [deps])


def test_per_source_lines_for_explain(tmp_path: Path) -> None:
    (tmp_path / "cons.txt").write_text("Alpha.Pkg <= 1.5\n")
    deps = tmp_path / "deps.txt"
    deps.write_text("-c cons.txt\nbeta-pkg[fast]\n-f wheels\n")
    got = read_deps(["gamma-pkg"], [deps])
    assert got.lines == {
        "arguments": ["gamma-pkg"],
        str(deps): ["-c cons.txt", "beta-pkg[fast]", f"--find-links {tmp_path / 'wheels'}"],
        str(tmp_path / "cons.txt"): ["alpha-pkg<=1.5"],
    }


def test_errors_in_nested_files_name_the_including_line(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha-pkg\n-r b.txt\n")
    (tmp_path / "b.txt").write_text("\n\n-r a.txt\n")
    with pytest.raises(InvalidDeps, match=r"b\.txt:3: requirements files include each other"):
        read_deps((), [tmp_path / "a.txt"])
    (tmp_path / "b.txt").write_bytes(b"gamma-pkg\nbeta\xff\n")
    with pytest.raises(InvalidDeps, match=r"b\.txt:2: not UTF-8"):
        read_deps((), [tmp_path / "a.txt"])


_FRAGMENTS = st.sampled_from(
    [
        "alpha-pkg",
        "Beta_Pkg[fast,x] >= 1.0, <2 ; python_version > '3'",
        "gamma @ file:///tmp/gamma-1.0-py3-none-any.whl",
        f"alpha-pkg==1.0 --hash=sha256:{'a' * 64}",
        "--hash=sha256:",
        "-r other.txt",
        "-r deps.txt",
        "-c other.txt",
        "-r",
        "-rmissing.txt",
        "--requirement=other.txt",
        "-f ./wheels",
        "-i https://example.invalid/simple",
        "--extra-index-url",
        "-e .",
        "--pre",
        "# comment",
        " \\",
        "\\",
        "'",
        '"',
        "==",
        "@",
        ";",
        "[",
        " ",
        "\t",
        "-",
        "--",
        "\x00",
        "\r",
        "\x0c",
    ]
)
_LINES = st.lists(st.one_of(_FRAGMENTS, st.text(max_size=12)), max_size=6).map("".join)


def _assert_returns_or_names_a_line(tmp: Path, data: bytes, other: bytes) -> None:
    (tmp / "deps.txt").write_bytes(data)
    (tmp / "other.txt").write_bytes(other)
    error = None
    try:
        read_deps((), [tmp / "deps.txt"])
    except InvalidDeps as e:  # any other exception fails the test
        error = str(e)
    assert error is None or re.search(r"\.txt:[1-9][0-9]*: ", error), error


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_LINES, max_size=8), other=st.lists(_LINES, max_size=3))
def test_reader_returns_or_raises_bad_input_with_a_line(tmp_path: Path, lines: list[str], other: list[str]) -> None:
    def encode(text: str) -> bytes:
        return text.encode("utf-8", "surrogatepass")

    _assert_returns_or_names_a_line(tmp_path, encode("\n".join(lines)), encode("\n".join(other)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=64), other=st.binary(max_size=16))
def test_reader_on_arbitrary_bytes(tmp_path: Path, data: bytes, other: bytes) -> None:
    _assert_returns_or_names_a_line(tmp_path, data, other)
