"""``penvcache ensure`` without argparse: a hit is answered before argparse, json, hashlib or typing are imported,
a miss runs without argparse, and both give the same answer as the full command line."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from penvcache import _fastpath, _report, cli
from penvcache._request import Request
from tests.conftest import offline_args


def ensure_args(venv: Path, wheelhouse: Path) -> list[str]:
    return ["ensure", "alpha-pkg", *offline_args(venv, wheelhouse)]


def test_a_cli_hit_imports_nothing_heavy(venv: Path, wheelhouse: Path) -> None:
    assert cli.main(ensure_args(venv, wheelhouse)) == 0  # installed
    code = (  # what penvcache imports: under coverage (.ci/run), coverage has imported some of these already
        "import sys\n"
        "before = set(sys.modules)\n"
        "from penvcache._fastpath import main\n"
        "code = main(sys.argv[1:])\n"
        "heavy = ['argparse', 'json', 'hashlib', 'typing', 're', 'packaging', 'filelock', 'subprocess']\n"
        "print([name for name in heavy if name in set(sys.modules) - before], code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *ensure_args(venv, wheelhouse), "-q"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout == "[] 0\n", proc.stderr


@pytest.mark.parametrize("extra", [[], ["--json"], ["-q"], ["--salt", "x", "--require-hit"]])
def test_the_fast_path_answers_as_the_full_path_does(
    venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    args = [*ensure_args(venv, wheelhouse), *extra]
    assert cli.main([a for a in args if a != "--require-hit"]) == 0
    capsys.readouterr()
    assert _fastpath.parse_ensure(args[1:]) is not None  # the fast path takes these arguments
    assert _fastpath.main(args) == 0
    fast = capsys.readouterr().out
    assert cli.main(args) == 0
    full = capsys.readouterr().out
    if "--json" in extra:
        fast_result, full_result = json.loads(fast), json.loads(full)
        assert fast_result.pop("elapsed") >= 0
        assert full_result.pop("elapsed") >= 0
        assert fast_result == full_result
        assert fast_result["status"] == "hit"
    else:
        assert fast.split(" in ")[0] == full.split(" in ")[0]
        assert fast == "" or fast.startswith(f"penvcache: hit {venv} (")


def test_the_fast_path_answers_a_miss_without_argparse(venv: Path, wheelhouse: Path) -> None:
    code = (
        "import sys\n"
        "from penvcache._fastpath import main\n"
        "code = main(sys.argv[1:])\n"
        "print('argparse' in sys.modules, code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *ensure_args(venv, wheelhouse)], capture_output=True, text=True, check=True
    )
    assert proc.stdout.startswith(f"penvcache: installed {venv} (")
    assert proc.stdout.endswith("\nFalse 0\n"), proc.stderr


ARGUMENT_LISTS = [
    ["alpha-pkg"],
    ["alpha-pkg", "beta-pkg", "-r", "a.txt", "--deps=b.txt", "--venv", "v", "--python", "3.12", "--offline"],
    ["--find-links", "w1", "--find-links=w2", "--cache-dir", "c", "--salt", "s", "--salt-file", "f", "-q"],
    ["-e", "./p", "--editable=./q", "--index-url", "https://u:p@i/simple", "--default-index", "https://j/simple"],
    ["--extra-index-url", "https://k/simple", "--index", "https://l", "--prerelease", "allow", "--pre", "--json"],
    ["--extra", "x", "--group", "g", "--project", ".", "--no-editable", "--exact", "--no-index", "--all-extras"],
    ["alpha-pkg", "--lock-timeout", "2.5", "--validate-timeout=1e3", "--skip-import", "yaml", "-v", "--retry"],
    ["alpha-pkg", "--require-hit", "--store", "file:///s", "--store=/t", "--store-readonly", "--no-python-downloads"],
    ["alpha-pkg", "--no-store-write", "--quiet", "--lock-timeout=0", "--validate-timeout", "inf"],
]


@pytest.mark.parametrize("args", ARGUMENT_LISTS)
def test_the_fast_path_makes_the_request_argparse_makes(args: list[str]) -> None:
    """What the fast path runs, hit or miss, is what the full command line would run for the same arguments."""
    parsed = _fastpath.parse_ensure(args)
    assert parsed is not None
    options, output = parsed
    fast = Request(**{"venv": "v", **options}, progress="quiet" not in output)
    namespace = cli._parser().parse_args(["ensure", *args])
    namespace.venv = namespace.venv or "v"
    full = cli.ensure_request(namespace).copy(**cli._miss_output(namespace))
    for name in Request.__slots__:
        fast_value, full_value = getattr(fast, name), getattr(full, name)
        if name == "options":  # in argv order here, in option_lines' order there: penvcache sorts them
            fast_value, full_value = sorted(fast_value), sorted(full_value)
        assert fast_value == full_value, name
    assert output == {name for name in ("json", "quiet") if getattr(namespace, name)}


def test_bad_input_is_reported_by_the_full_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    assert _fastpath.main(["ensure", "alpha-pkg", "--venv", str(afile)]) == 2
    assert f"venv path {afile} exists and is not a directory" in capsys.readouterr().err


def test_every_ensure_option_is_known_to_the_fast_path() -> None:
    """A new ``ensure`` option must be taught to the fast path (or the fast path would hand it to argparse)."""
    parser = cli._parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    ensure = subparsers.choices["ensure"]
    options = {s for action in ensure._actions for s in action.option_strings} - {"-h", "--help"}
    takes_value = {s for action in ensure._actions if action.nargs != 0 for s in action.option_strings}
    assert options & takes_value == set(_fastpath.VALUE_OPTIONS)
    assert options - takes_value - {"-h", "--help"} == set(_fastpath.FLAG_OPTIONS)


@pytest.mark.parametrize(
    "args",
    [
        ["--venv"],  # a value is missing
        ["--lock-timeout", "soon"],  # a bad value
        ["-rdeps.txt"],  # an attached short value
        ["--off"],  # an abbreviation
        ["-q", "-v"],  # not allowed together
        ["--", "alpha-pkg"],
        ["-h"],
        ["alpha-pkg", "--offline", "gamma-pkg"],  # two runs of requirements: argparse refuses it
        ["--lock-timeout", "nan"],
        ["--lock-timeout", "-1"],
    ],
)
def test_what_the_fast_path_leaves_to_argparse(args: list[str]) -> None:
    assert _fastpath.parse_ensure(args) is None


@pytest.mark.parametrize(
    "data",
    [
        {"status": "hit", "elapsed": 0.00123, "waited": 0.0, "offline_fallback": False, "n": 3, "none": None},
        {"venv": '/tmp/a "quoted" \\ path \u00e9\u2603\n', "fingerprint": "ab" * 32},
        {"big": 1e300, "small": 5e-324, "neg": -2.5},
        {"status": "hit", "failures": {"a": ["b"]}},  # anything else: json.dumps itself
        {"counts": [1, 2], "nan": float("nan")},
    ],
)
def test_json_object_is_json_dumps(data: dict[str, object]) -> None:
    assert _report.json_object(data) == json.dumps(data)


def test_digests_are_sha256_with_or_without_cpythons_builtin_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """The warm path hashes with CPython's built-in module; where there is none, with hashlib: the same digests."""
    import hashlib

    from penvcache import _digest

    assert _digest.hex_digest(b"abc") == hashlib.sha256(b"abc").hexdigest()
    for name in ("_sha2", "_sha256"):
        monkeypatch.setitem(sys.modules, name, None)  # as on an interpreter without them: the import fails
    fallback = _digest._sha256_constructor()
    assert fallback is hashlib.sha256


def test_a_digest_is_of_the_data_whatever_its_order_and_sequence_type() -> None:
    from penvcache._digest import digest

    assert digest({"b": 1, "a": [1, (2, None)]}) == digest({"a": (1, [2, None]), "b": 1})
    distinct = [{"a": 1}, {"a": "1"}, {"a": 1.0}, {"a": True}, ["a", 1]]  # equal in ==, or in JSON, but not here
    assert len({digest(data) for data in distinct}) == len(distinct)
    with pytest.raises(TypeError, match=r"cannot digest set: \{1\}"):
        digest({"a": {1}})
    # the canonical form is the repr of nested tuples, the same for a list of strings as for any other list: the
    # records of earlier releases keep their digests
    import hashlib

    assert digest(["x", "y"]) == digest(("x", "y")) == hashlib.sha256(b"('x', 'y')").hexdigest()
    assert digest({"k": ["x", 1, ["y"]]}) == hashlib.sha256(b"(('k', ('x', 1, ('y',))),)").hexdigest()


def test_the_fast_path_reads_the_venv_from_penvcache_venv(
    tmp_path: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``.venv`` in the cwd is a hit; ``$PENVCACHE_VENV`` names another venv, which must be the one answered for."""
    monkeypatch.chdir(tmp_path)
    args = ["ensure", "alpha-pkg", "--offline", "--find-links", str(wheelhouse)]
    assert _fastpath.main(args) == 0
    assert capsys.readouterr().out.startswith(f"penvcache: installed {tmp_path / '.venv'} (")
    monkeypatch.setenv("PENVCACHE_VENV", str(tmp_path / "other"))
    assert _fastpath.main(args) == 0
    assert capsys.readouterr().out.startswith(f"penvcache: installed {tmp_path / 'other'} (")
    assert _fastpath.main(args) == 0
    assert capsys.readouterr().out.startswith(f"penvcache: hit {tmp_path / 'other'} (")


def test_a_bad_timeout_is_an_error_on_a_hit_too(
    venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The full command line refuses a validate timeout of 0 before it looks for a hit; so does the fast path."""
    assert cli.main(ensure_args(venv, wheelhouse)) == 0
    capsys.readouterr()
    bad = [*ensure_args(venv, wheelhouse), "--validate-timeout", "0", "--json"]
    for command in (_fastpath.main, cli.main):
        assert command(bad) == 2
        out, err = capsys.readouterr()
        assert json.loads(out)["error"] == "validate timeout must be a number of seconds > 0, not 0.0"
        assert err == "penvcache: error: validate timeout must be a number of seconds > 0, not 0.0\n"
