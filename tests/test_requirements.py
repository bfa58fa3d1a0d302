"""Reading deps files: pip's syntax, normalisation, and bad input with file and line."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import penvcache
from penvcache import InvalidDeps, _requirements
from penvcache._requirements import listed_link, read_bounded, read_deps, resolved_commits
from tests.conftest import run_cli_here


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


def test_a_backslash_on_the_last_line_still_ends_the_requirement(tmp_path: Path) -> None:
    """pip joins a continuation with what follows; at the end of the file there is nothing: the line stands."""
    deps = tmp_path / "deps.txt"
    deps.write_text("gamma-pkg\nalpha-pkg >= 1 \\")
    assert read_deps((), [deps]).normalised() == ["alpha-pkg>=1", "gamma-pkg"]


def test_an_option_given_twice_reaches_uv_once(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("--pre\n--only-binary :all:\n")
    deps = tmp_path / "deps.txt"
    deps.write_text("-r base.txt\n--pre\nalpha-pkg\n--only-binary=:all:\n")
    assert read_deps((), [deps]).install_options() == ["--prerelease", "allow", "--only-binary", ":all:"]


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("--find-links ./wheels", "'--find-links ./wheels' is not an option penvcache takes as an argument"),
        ("--no-index yes", "--no-index takes no value: '--no-index yes'"),
        ("--extra", "--extra takes exactly one value: '--extra'"),
        ("--prerelease sometimes", "--prerelease 'sometimes': uv takes one of disallow, allow, if-necessary, "),
    ],
)
def test_a_bad_option_line_of_the_api_is_bad_input_naming_it(tmp_path: Path, option: str, says: str) -> None:
    """``ensure(options=[...])`` takes uv's option lines; a wrong one is refused before anything is made."""
    venv = tmp_path / "venv"
    with pytest.raises(InvalidDeps) as exc:
        penvcache.ensure(venv, ["alpha-pkg"], options=[option], offline=True)
    assert str(exc.value).startswith(f"option argument 1: {says}")
    assert exc.value.exit_code == 2
    assert not venv.exists()


def test_a_moving_vcs_reference_without_a_readable_commit_records_none(tmp_path: Path) -> None:
    """The commit a branch resolved to is read from uv's direct_url.json; a missing or foreign one is no commit,
    never an error."""
    branch, plain = "vcs-pkg @ git+https://example.invalid/vcs.git@main", "other-pkg @ git+https://example.invalid/o"
    deps = read_deps([branch, plain])
    dist_info = tmp_path / "vcs_pkg-1.0.dist-info"
    dist_info.mkdir()
    direct_url = dist_info / "direct_url.json"
    commit = "a" * 40
    direct_url.write_text(json.dumps({"url": "https://example.invalid/vcs.git", "vcs_info": {"commit_id": commit}}))
    # other-pkg was not installed: no dist-info, no commit
    assert resolved_commits(deps, [str(dist_info), str(tmp_path / "site-packages")]) == {branch: commit}
    for foreign in ('{"vcs_info": {"commit_id": null}}', '{"vcs_info": "git"}', "{not json"):
        direct_url.write_text(foreign)
        assert resolved_commits(deps, [str(dist_info)]) == {}


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs procfs")
def test_a_file_longer_than_its_stat_says_is_still_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """procfs files say a size of 0 (as a file growing while read says too little): the cap holds on the bytes
    read, not on what stat said."""
    monkeypatch.setattr(_requirements, "MAX_FILE_BYTES", 64)
    assert os.stat("/proc/self/status").st_size < 64
    with pytest.raises(InvalidDeps) as exc:
        read_bounded("/proc/self/status")
    assert str(exc.value) == "cannot read deps file /proc/self/status: more than the 64 bytes allowed"


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
        ("--user", "option --user"),
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


@pytest.mark.parametrize("named", ["DIR", ".", ""])
def test_a_directory_as_a_deps_file_is_one_line_of_bad_input(tmp_path: Path, named: str) -> None:
    """uv says a directory is not a requirements file; ``open`` raised IsADirectoryError (a traceback, exit 1)."""
    (tmp_path / "DIR").mkdir()
    where = str(tmp_path / "DIR") if named == "DIR" else str(tmp_path)
    for command in ("ensure", "explain"):
        result = run_cli_here(command, "-r", named, "--venv", str(tmp_path / "v"), "--offline", cwd=tmp_path)
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr == f"penvcache: error: cannot read deps file {where}: not a regular file\n"


def test_a_directory_named_by_a_line_names_the_line_and_leaks_no_descriptor(tmp_path: Path) -> None:
    (tmp_path / "somedir").mkdir()
    (tmp_path / "deps.txt").write_text("alpha-pkg\n-r somedir\n")
    before = len(os.listdir("/dev/fd"))
    for _ in range(5):
        with pytest.raises(InvalidDeps) as exc:
            read_deps((), [tmp_path / "deps.txt"])
        assert str(exc.value) == f"{tmp_path}/deps.txt:2: cannot read deps file {tmp_path}/somedir: not a regular file"
    assert len(os.listdir("/dev/fd")) == before
    with pytest.raises(InvalidDeps) as exc:
        penvcache.ensure(tmp_path / "v", deps_files=[tmp_path / "somedir"], offline=True, cache_dir=tmp_path / "c")
    assert str(exc.value) == f"cannot read deps file {tmp_path}/somedir: not a regular file"


def test_prerelease_reaches_uv_once_the_command_line_over_files_and_later_over_earlier(tmp_path: Path) -> None:
    """uv refuses ``--prerelease`` twice; uv takes ``--pre`` over ``--prerelease`` on its command line."""
    (tmp_path / "pre.txt").write_text("--pre\nalpha-pkg\n")
    (tmp_path / "final.txt").write_text("--only-final :all:\n")
    pre, final = tmp_path / "pre.txt", tmp_path / "final.txt"
    cases = [
        ((), [pre], ["--prerelease if-necessary"], "if-necessary"),
        ((), [pre, final], ["--prerelease explicit"], "explicit"),
        (["alpha-pkg"], [], ["--pre", "--prerelease explicit"], "allow"),
        (["alpha-pkg"], [], ["--prerelease explicit", "--pre"], "allow"),
        ((), [pre, final], [], "disallow"),
        ((), [final, pre], [], "allow"),
    ]
    for requirements, files, options, value in cases:
        deps = read_deps(requirements, files, options)
        assert deps.install_options() == ["--prerelease", value], (files, options)
        assert [line for line in deps.normalised() if line.startswith("--prerelease")] == [f"--prerelease {value}"]


def test_prerelease_from_a_file_and_the_command_line_installs(tmp_path: Path, hermetic: list[str]) -> None:
    (tmp_path / "pre.txt").write_text("--pre\nalpha-pkg\n")
    (tmp_path / "final.txt").write_text("--only-final :all:\n")
    for extra in (
        ["--prerelease", "if-necessary"],
        ["-r", str(tmp_path / "final.txt")],
        ["--pre", "--prerelease=explicit"],
    ):
        result = run_cli_here("ensure", "-r", str(tmp_path / "pre.txt"), *extra, *hermetic, "-q")
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), extra


def test_a_deps_file_named_by_a_file_url_is_read_and_a_remote_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uv reads ``-r file:///...`` (and fetches ``-r https://...``); the URL was joined onto the file's directory."""
    (tmp_path / "inner.txt").write_text("alpha-pkg\n")
    (tmp_path / "pins.txt").write_text("alpha-pkg<3\n")
    outer = tmp_path / "outer.txt"
    outer.write_text(f"-r file://{tmp_path}/inner.txt\n-c file:pins.txt\n")
    deps = read_deps((), [outer])
    assert deps.normalised() == ["alpha-pkg", "-c alpha-pkg<3"]
    assert list(deps.files) == [str(outer), f"{tmp_path}/inner.txt", f"{tmp_path}/pins.txt"]
    monkeypatch.chdir(tmp_path)
    assert read_deps((), [f"file://{outer}"]).normalised() == read_deps((), ["file:outer.txt"]).normalised()
    remote = "https://example.invalid/deps.txt"
    says = (
        f"cannot read deps file {remote}: penvcache keys a deps file by its content and cannot key a remote one; "
        f"download it first (e.g. `curl -fsSLo deps.txt {remote}`) and give that file"
    )
    outer.write_text(f"alpha-pkg\n-r {remote}\n")
    for named, where in ((str(outer), f"{outer}:2: "), (remote, "")):
        result = run_cli_here("ensure", "-r", named, "--venv", str(tmp_path / "v"), "--offline")
        assert (result.returncode, result.stdout, result.stderr) == (2, "", f"penvcache: error: {where}{says}\n")


def test_only_cr_and_lf_end_a_line(tmp_path: Path) -> None:
    """A form feed (or \\x1c-\\x1e, \\x85, \\u2028) inside a comment was a line break: the rest a requirement."""
    deps = tmp_path / "deps.txt"
    deps.write_text("# page\x0cbreak \x85 \u2028 more\ngamma-pkg\r\nalpha-pkg\rsix==\n", newline="")
    with pytest.raises(InvalidDeps) as exc:
        read_deps((), [deps])
    assert str(exc.value).startswith(f"{deps}:4: invalid requirement 'six=='")
    deps.write_text("# page\x0cbreak\ngamma-pkg\n")
    assert read_deps((), [deps]).normalised() == ["gamma-pkg"]


@pytest.mark.parametrize("name", ["setup.py", "setup.cfg"])
def test_a_setup_file_as_a_deps_file_says_to_install_the_project(tmp_path: Path, name: str) -> None:
    """uv builds the project to read a setup.py's or setup.cfg's dependencies; here its first line was invalid."""
    (tmp_path / name).write_text("from setuptools import setup\nsetup()\n")
    (tmp_path / "deps.txt").write_text(f"alpha-pkg\n-r {name}\n")
    with pytest.raises(InvalidDeps) as exc:
        read_deps((), [tmp_path / "deps.txt"])
    assert str(exc.value) == (
        f"{tmp_path}/deps.txt:2: {tmp_path}/{name}: penvcache does not read a project's {name} as a deps file (uv "
        f"builds the project for its dependencies); install the project instead: -e {tmp_path} (or a line -e ./DIR "
        "in a deps file)"
    )


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        (
            "--extra dev",
            "in a requirements file (by uv either): give it on penvcache's command line "
            "(penvcache ensure ... --extra VALUE)",
        ),
        (
            "--exact",
            "in a requirements file (by uv either): give it on penvcache's command line (penvcache ensure ... --exact)",
        ),
        (
            "--project .",
            "in a requirements file (by uv either): give it on penvcache's command line "
            "(penvcache ensure ... --project DIR)",
        ),
        ("--no-cache", "by penvcache (set UV_NO_CACHE=1 in the environment, which uv reads)"),
        ("--user", "by penvcache (penvcache installs into the venv given by --venv: remove it)"),
        ("--target t", "by penvcache (penvcache installs into the venv given by --venv: remove it)"),
        ("--proxy p", "by penvcache (set HTTPS_PROXY in the environment, which uv reads)"),
        ("--retries 3", "by penvcache (set UV_HTTP_RETRIES in the environment, which uv reads)"),
        ("--no-clean", "by penvcache (uv takes no such option in a requirements file: remove it)"),
        ("--progress-bar off", "by penvcache (uv takes no such option in a requirements file: remove it)"),
        ("--no-indx", "by penvcache (did you mean --no-index?)"),
        ("--find-link ./w", "by penvcache (did you mean --find-links?)"),
    ],
)
def test_an_unsupported_option_says_why_and_suggests_only_a_likely_typo(tmp_path: Path, line: str, hint: str) -> None:
    """difflib's nearest name was suggested for anything: --no-cache -> --no-index, --user -> --extra..."""
    deps = tmp_path / "deps.txt"
    deps.write_text(f"alpha-pkg\n{line}\n")
    with pytest.raises(InvalidDeps) as exc:
        read_deps((), [deps])
    assert str(exc.value) == f"{deps}:2: option {line.split(maxsplit=1)[0]} is not supported {hint}: {line!r}"


def test_use_feature_is_ignored_with_a_warning_as_uv_does(tmp_path: Path) -> None:
    deps = tmp_path / "deps.txt"
    deps.write_text("--use-feature=truststore\nalpha-pkg\n")
    read = read_deps((), [deps])
    assert (read.normalised(), read.install_options()) == (["alpha-pkg"], [])
    assert read.warnings == [f"{deps}:1: ignoring --use-feature truststore, as uv does (a pip option)"]


def test_the_keys_index_is_the_one_uv_uses_an_arguments_over_a_files(tmp_path: Path) -> None:
    """An argument's --index-url reaches uv as UV_DEFAULT_INDEX, which wins over a file's --index-url: the key
    names that one (it named the file's, so another argument was a hit)."""
    deps = tmp_path / "d.txt"
    deps.write_text("--index-url https://c.example/simple\nalpha-pkg\n")
    lines = {
        url: read_deps((), [deps], [f"--index-url {url}"]).source_lines()
        for url in ("https://a.example/simple", "https://b.example/simple")
    }
    assert lines == {url: [f"--index-url {url}"] for url in lines}
    assert read_deps((), [deps]).source_lines() == ["--index-url https://c.example/simple"]


@pytest.mark.parametrize(
    ("link", "listed"),
    [
        ("file:./w#1", "file:./w%231"),
        ("file:my wheels", "file:my%20wheels"),
        ("file:a,b", "file:a%2Cb"),
        ("/abs/my wheels", "file:///abs/my%20wheels"),
        ("https://h/a,b", "https://h/a%2Cb"),
        ("/plain", "/plain"),
    ],
)
def test_a_find_links_location_is_listed_as_uv_reads_a_list(link: str, listed: str) -> None:
    """A relative file: URL holding a space, # or the list's comma was a ValueError traceback (as_uri)."""
    assert listed_link(link, ",") == listed
