"""Each component of the key invalidates on its own, and explain, status and --require-hit name it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from uv import find_uv_bin

from penvcache._key import COMPONENTS
from penvcache.cli import main
from tests._kit import site_packages
from tests.conftest import offline_args


class Setup:
    def __init__(self, tmp_path: Path, venv: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp, self.venv, self.wheelhouse, self.monkeypatch = tmp_path, venv, wheelhouse, monkeypatch
        (tmp_path / "deps.txt").write_text("alpha-pkg\n-c cons.txt\n")
        (tmp_path / "cons.txt").write_text("alpha-pkg<=1.5\n")
        (tmp_path / "salt.txt").write_text("one\n")
        self.args = [*offline_args(venv, wheelhouse), "-r", "deps.txt"]
        self.args += ["--salt-file", "salt.txt"]


def _uv_reporting(setup: Setup, version: str) -> list[str]:
    """A uv that says it is another version (and installs with the real one): a real installer change."""
    real = shutil.which("uv", path=os.path.dirname(sys.executable))
    wrapper = setup.tmp / "uv-wrapper"
    wrapper.write_text(f'#!/bin/sh\n[ "$1" = --version ] && {{ echo "uv {version}"; exit 0; }}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    setup.monkeypatch.setenv("PENVCACHE_UV", str(wrapper))
    return []


def _write(path: Path, text: str) -> list[str]:
    path.write_text(text)
    return []


def _env_salt(setup: Setup) -> list[str]:
    setup.monkeypatch.setenv("PENVCACHE_SALT", "x")
    return []


def _recreate(setup: Setup) -> list[str]:
    """The venv made again as penvcache makes it (uv, the same interpreter) and holding the same packages."""
    shutil.rmtree(setup.venv)
    uv = [find_uv_bin()]
    subprocess.run([*uv, "venv", "-q", str(setup.venv), "--python", sys.executable, "--offline"], check=True)
    install = [*uv, "pip", "install", "-q", "--python", str(setup.venv), "--offline", "--find-links"]
    subprocess.run([*install, str(setup.wheelhouse), "alpha-pkg==1.0"], check=True)
    return []


# change -> (what it does, the component that must change, words explain must say)
CHANGES: dict[str, tuple[Callable[[Setup], list[str]], str, str]] = {
    "nested constraint": (
        lambda s: _write(s.tmp / "cons.txt", "alpha-pkg<1.5\n"),
        "requirements",
        "requirements: cons.txt changed: alpha-pkg<=1.5 -> alpha-pkg<1.5",
    ),
    "requirement argument": (lambda s: ["gamma-pkg"], "requirements", "requirement arguments is read now: gamma-pkg"),
    "find-links": (
        lambda s: ["--find-links", str(s.tmp)],
        "sources",
        "sources changed: added --find-links",
    ),
    "index in a deps file": (
        lambda s: _write(s.tmp / "deps.txt", "alpha-pkg\n-c cons.txt\n-f .\n"),
        "sources",
        "sources changed: added --find-links",
    ),
    "python request": (lambda s: ["--python", sys.executable], "python", "python changed: --python (default) ->"),
    "venv recreated": (_recreate, "venv", "venv recreated"),
    "installer version": (lambda s: _uv_reporting(s, "9.9.9"), "installer", "installer changed: uv "),
    "salt text": (lambda s: ["--salt", "v2"], "salt", "salt changed: --salt added"),
    "salt file content": (
        lambda s: _write(s.tmp / "salt.txt", "two\n"),
        "salt",
        f"salt changed: --salt-file {{tmp}}{os.sep}salt.txt changed",
    ),
    "salt env": (_env_salt, "salt", "PENVCACHE_SALT added"),
}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_each_component_invalidates_on_its_own_and_explain_names_it(
    tmp_path: Path,
    venv: Path,
    wheelhouse: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    setup = Setup(tmp_path, venv, wheelhouse, monkeypatch)
    base = setup.args
    assert _run(capsys, "ensure", "-q", *base) == (0, "")
    code, out = _run(capsys, "explain", "--json", *base)
    assert (code, json.loads(out)["status"]) == (0, "hit")
    do, component, words = CHANGES[change]
    extra = do(setup)
    args = [*base, *extra]
    assert _run(capsys, "status", "-q", *args) == (1, "")
    code, out = _run(capsys, "explain", "--json", *args)
    explained = json.loads(out)
    assert (code, explained["status"]) == (0, "miss")
    changed = {name for name, c in explained["components"].items() if c["changed"]}
    assert changed == {component}
    assert any(words.format(tmp=tmp_path) in reason for reason in explained["reasons"]), explained["reasons"]
    code, out = _run(capsys, "explain", *args)
    rows = [line.split()[0] for line in out.splitlines()[1:] if not line.startswith(("  why: ", "  portable: "))]
    assert rows == list(COMPONENTS), out
    marked = {line.split()[0] for line in out.splitlines()[1:] if line.endswith("  (changed)")}
    assert marked == {component}, out  # exactly the component that changed, and no other
    assert main(["ensure", "--require-hit", "-q", *args]) == 5
    assert words.format(tmp=tmp_path) in capsys.readouterr().err
    code, out = _run(capsys, "ensure", "--json", *args)
    assert code == 0
    assert json.loads(out)["status"] in {"installed", "adopted"}
    assert _run(capsys, "status", "-q", *args) == (0, "")
    assert _run(capsys, "ensure", "--require-hit", "-q", *args) == (0, "")


def test_broken_venv_is_explained_by_validation_and_require_hit_installs_nothing(
    tmp_path: Path,
    venv: Path,
    wheelhouse: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    base = Setup(tmp_path, venv, wheelhouse, monkeypatch).args
    assert main(["ensure", "-q", *base]) == 0
    init = site_packages(venv) / "alpha_pkg" / "__init__.py"
    init.unlink()
    capsys.readouterr()
    assert main(["explain", "--json", *base]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert not any(c["changed"] for c in explained["components"].values())
    assert any(r.startswith("validation: alpha-pkg: ") for r in explained["reasons"]), explained["reasons"]
    assert main(["ensure", "--require-hit", *base]) == 5
    err = capsys.readouterr().err
    assert "cache miss" in err
    assert len(err.strip().splitlines()) == 1
    assert not init.exists()
    assert main(["ensure", "-q", *base]) == 0
    assert init.exists()


def test_an_installer_replaced_by_the_same_version_is_still_a_hit_for_require_hit(
    tmp_path: Path, venv: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hit does not run the installer: it trusts the recorded binary's stat. Once that binary is replaced,
    --require-hit asks its version before it calls it a miss, and the same version is a hit, installing nothing."""
    wrapper = tmp_path / "uv-wrapper"
    wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("uv", path=os.path.dirname(sys.executable))} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PENVCACHE_UV", str(wrapper))
    args = ["alpha-pkg", *offline_args(venv, wheelhouse)]
    assert main(["ensure", "-q", *args]) == 0
    wrapper.write_text(wrapper.read_text() + "# reinstalled\n")  # another file, the same uv
    assert main(["ensure", "--require-hit", "-q", *args]) == 0
    assert capsys.readouterr() == ("", "")


def test_never_recorded_is_explained(venv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "alpha-pkg", "--venv", str(venv)]) == 1
    assert "nothing recorded" in capsys.readouterr().out
    assert main(["explain", "alpha-pkg", "--venv", str(venv)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"penvcache: miss {venv}\n")
    assert "venv: " in out
    assert not venv.exists()


@pytest.mark.parametrize(
    ("first", "then", "reason"),
    [
        (["alpha-pkg", "gamma-pkg"], ["alpha-pkg"], "requirements: requirement arguments changed: removed gamma-pkg"),
        (["alpha-pkg", "-r", "more.txt"], ["alpha-pkg"], "requirements: more.txt is no longer read"),
        (["alpha-pkg", "--find-links", "{tmp}"], ["alpha-pkg"], "sources changed: removed --find-links {tmp}"),
        (["alpha-pkg", "--salt", "a"], ["alpha-pkg"], "salt changed: --salt removed"),
    ],
)
def test_what_went_away_is_named(
    tmp_path: Path,
    venv: Path,
    wheelhouse: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    first: list[str],
    then: list[str],
    reason: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "more.txt").write_text("gamma-pkg\n")
    base = offline_args(venv, wheelhouse)
    assert main(["ensure", "-q", *base, *[a.format(tmp=tmp_path) for a in first]]) == 0
    capsys.readouterr()
    assert main(["explain", "--json", *base, *then]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert explained["status"] == "miss"
    assert explained["reasons"] == [reason.format(tmp=tmp_path)]


def test_an_unreadable_record_is_explained(
    venv: Path, wheelhouse: Path, entry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["alpha-pkg", *offline_args(venv, wheelhouse)]
    assert main(["ensure", "-q", *args]) == 0
    (entry / "state.marshal").write_bytes(b"garbage")
    assert main(["explain", "--json", *args]) == 0
    assert json.loads(capsys.readouterr().out)["reasons"] == [
        "the record is unreadable or from another penvcache version"
    ]


def test_a_changed_venv_that_still_validates_is_explained(
    venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["alpha-pkg", *offline_args(venv, wheelhouse)]
    assert main(["ensure", "-q", *args]) == 0
    (site_packages(venv) / "unrelated.txt").write_text("x")  # site-packages changed; alpha-pkg did not
    assert main(["explain", "--json", *args]) == 0
    assert json.loads(capsys.readouterr().out)["reasons"] == [
        "the venv's content changed since it was validated",
        "validation: it still passes (ensure would adopt it without installing)",
    ]


def test_a_venvs_python_moved_or_replaced_in_place_is_explained(
    tmp_path: Path, venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The venv's interpreter link re-pointed at another install of the same version, then that install replaced
    in place (an upgrade keeps its path): each is a python change, in words."""
    args = [*offline_args(venv, wheelhouse), "alpha-pkg"]
    assert main(["ensure", "-q", *args]) == 0
    real = Path(os.path.realpath(venv / "bin" / "python"))
    copy = tmp_path / "base" / real.name
    copy.parent.mkdir()
    shutil.copy2(real, copy)
    (venv / "bin" / "python").unlink()
    (venv / "bin" / "python").symlink_to(copy)
    code, out = _run(capsys, "explain", "--json", *args)
    assert (code, json.loads(out)["reasons"]) == (0, [f"python changed: {real} -> {copy}"])
    assert main(["ensure", "-q", *args]) == 0  # validated again with that interpreter
    later = copy.stat().st_mtime_ns + 10**9
    os.utime(copy, ns=(later, later))
    code, out = _run(capsys, "explain", "--json", *args)
    assert (code, json.loads(out)["reasons"]) == (0, [f"python changed: {copy} was replaced (upgraded or reinstalled)"])
