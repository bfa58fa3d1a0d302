"""Every kind of venv change that could change what an import sees defeats the content stamp."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import penvcache
from tests._kit import site_packages


def _uv(venv: Path, wheelhouse: Path, *args: str) -> None:
    cmd = [sys.executable, "-m", "uv", "pip", *args, "--python", str(venv)]
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


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_change_defeats_the_stamp(venv: Path, wheelhouse: Path, change: str) -> None:
    def ensure() -> penvcache.EnsureResult:
        return penvcache.ensure(venv, ["alpha-pkg<2"], offline=True, find_links=[wheelhouse])

    assert ensure().status == "installed"
    assert ensure().status == "hit"
    CHANGES[change](venv, wheelhouse)
    assert ensure().status in {"installed", "adopted"}
    assert ensure().status == "hit"


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
    from penvcache import _stamp

    base = tmp_path / "site"
    (base / "pkg").mkdir(parents=True)
    (base / "pkg" / "__init__.py").write_text("")
    paths = [str(base), str(base / "pkg"), str(base / "pkg" / "__init__.py"), str(base / "gone")]
    first = _stamp.take(paths)
    assert _stamp.take(paths) == first
    assert _stamp.take(paths[2:3]) == _stamp.take(paths[2:3])  # one file: no common directory to open
    (base / "pkg" / "__init__.py").write_text("x = 1\n")
    second = _stamp.take(paths)
    assert second != first
    shutil.move(base, tmp_path / "old-site")  # replaced by a copy: other inodes
    shutil.copytree(tmp_path / "old-site", base)
    assert _stamp.take(paths) != second
    shutil.rmtree(base)
    assert _stamp.take(paths) == _stamp.take([str(tmp_path / "x"), str(tmp_path / "y"), "/no", "/nope"])
