"""Every kind of venv change that could change what an import sees defeats the content stamp."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from uv import find_uv_bin

import penvcache
from tests._kit import site_packages


def _uv(venv: Path, wheelhouse: Path, *args: str) -> None:
    cmd = [find_uv_bin(), "pip", *args, "--python", str(venv)]
    if args[0] == "install":
        cmd += ["--offline", "--find-links", str(wheelhouse)]
    subprocess.run(cmd, capture_output=True, check=True)


CHANGES: dict[str, Callable[[Path, Path], object]] = {
    "unrelated package installed": lambda v, w: _uv(v, w, "install", "gamma-pkg"),
    "listed package removed": lambda v, w: _uv(v, w, "uninstall", "alpha-pkg"),
    "listed package upgraded": lambda v, w: _uv(v, w, "install", "alpha-pkg==2.0"),
    "listed package reinstalled": lambda v, w: _uv(v, w, "install", "--reinstall", "alpha-pkg==1.0"),
    "__init__.py deleted": lambda v, w: (site_packages(v) / "alpha_pkg" / "__init__.py").unlink(),
    "file deleted from a package": lambda v, w: (site_packages(v) / "alpha_pkg" / "sub.py").unlink(),
    "__init__.py edited": lambda v, w: (site_packages(v) / "alpha_pkg" / "__init__.py").write_text("X = 1\n"),
    "dist-info deleted": lambda v, w: shutil.rmtree(site_packages(v) / "alpha_pkg-1.0.dist-info"),
    "pyvenv.cfg rewritten": lambda v, w: (v / "pyvenv.cfg").write_text((v / "pyvenv.cfg").read_text()),
}


#: changes that edit a file uv hardlinked from its cache: they edit the cache too
IN_PLACE = {"__init__.py edited"}

#: what the next ensure must do after each change: validate and keep the venv, or repair it
EXPECTED = {
    "unrelated package installed": "adopted",
    "listed package removed": "installed",
    "listed package upgraded": "installed",
    "listed package reinstalled": "adopted",
    "__init__.py deleted": "installed",  # uv calls it satisfied; the import fails: reinstalled
    "__init__.py edited": "installed",  # still imports, but its size is not RECORD's: reinstalled, afresh
    "dist-info deleted": "installed",
    "pyvenv.cfg rewritten": "adopted",
}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(change, marks=pytest.mark.private_uv_cache) if change in IN_PLACE else change
        for change in sorted(CHANGES)
    ],
)
def test_change_defeats_the_stamp(venv: Path, wheelhouse: Path, change: str) -> None:
    def ensure() -> penvcache.EnsureResult:
        return penvcache.ensure(venv, ["alpha-pkg<2"], offline=True, find_links=[wheelhouse])

    assert ensure().status == "installed"
    assert ensure().status == "hit"
    CHANGES[change](venv, wheelhouse)
    # A file missing from a package is found by a validation that checks RECORD, not by the import: either.
    expected = EXPECTED.get(change, {"installed", "adopted"})
    assert ensure().status in ({expected} if isinstance(expected, str) else expected)
    assert ensure().status == "hit"
    assert (site_packages(venv) / "alpha_pkg" / "__init__.py").exists()


def test_python_request_for_another_interpreter_recreates_the_venv(venv: Path, wheelhouse: Path) -> None:
    other = shutil.which("python3.11", path="/usr/bin") or shutil.which("python3", path="/usr/bin")
    if other is None or Path(other).resolve() == Path(sys.executable).resolve():
        pytest.skip("needs a second interpreter at /usr/bin")
    assert penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse]).status == "installed"
    result = penvcache.ensure(venv, ["alpha-pkg"], python=other, offline=True, find_links=[wheelhouse])
    assert result.status == "installed"
    assert (venv / "bin" / "python").resolve() == Path(other).resolve()
    assert penvcache.ensure(venv, ["alpha-pkg"], python=other, offline=True, find_links=[wheelhouse]).status == "hit"


def test_stamp_of_paths_in_a_directory_that_is_replaced(tmp_path: Path) -> None:
    """An edited file, a directory replaced by a copy, and missing paths all show in the stamp."""
    from penvcache._key import take

    base = tmp_path / "site"
    (base / "pkg").mkdir(parents=True)
    (base / "pkg" / "__init__.py").write_text("")
    paths = [str(base), str(base / "pkg"), str(base / "pkg" / "__init__.py"), str(base / "gone")]
    first = take(paths)
    # Reading, listing and importing change nothing the stamp covers; neither does a file elsewhere.
    (base / "pkg" / "__init__.py").read_text()
    os.listdir(base / "pkg")
    (tmp_path / "elsewhere.txt").write_text("x")
    assert take(paths) == first
    assert take(paths[:3]) != first  # each path counts, a missing one too
    (base / "pkg" / "__init__.py").write_text("x = 1\n")
    second = take(paths)
    assert second != first
    shutil.move(base, tmp_path / "old-site")  # replaced by a copy: other inodes
    shutil.copytree(tmp_path / "old-site", base)
    assert take(paths) != second
    shutil.rmtree(base)
    assert take(paths) == take([str(tmp_path / "x"), str(tmp_path / "y"), "/no", "/nope"])
