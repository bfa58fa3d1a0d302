"""What changes while a miss validates or installs is never recorded as validated: the next call misses."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from uv import find_uv_bin

from tests._kit import build_project, build_wheel, site_packages
from tests.conftest import DEADLINE, penvcache_cmd, run_cli_here, spawn, stop, wait_for

#: an import that says it has started, then waits (a minute at most) for the test to release it
BLOCKING_IMPORT = """\
import os, time
if os.environ.get("BLOCK_IMPORT_MARKER"):
    open(os.environ["BLOCK_IMPORT_MARKER"], "w").close()
    end = time.monotonic() + 60
    while not os.path.exists(os.environ["BLOCK_IMPORT_RELEASE"]) and time.monotonic() < end:
        time.sleep(0.01)
"""


def _uninstall_alpha(venv: Path, tmp_path: Path) -> None:
    uninstall = [find_uv_bin(), "pip", "uninstall", "-q", "--python", str(venv / "bin" / "python"), "alpha-pkg"]
    subprocess.run(uninstall, check=True, capture_output=True, env={**os.environ, "UV_OFFLINE": "1"})


def _rewrite_pyvenv_cfg(venv: Path, tmp_path: Path) -> None:
    cfg = venv / "pyvenv.cfg"
    text = cfg.read_text()
    cfg.unlink()  # another inode: the venv's identity changes, its content does not
    cfg.write_text(text)


#: a change made while validation imports (given the venv and the salt file's directory): (what it does, what the
#: next call must do)
CHANGES: dict[str, tuple[Callable[[Path, Path], object], str]] = {
    "a listed package uninstalled": (_uninstall_alpha, "installed"),
    "pyvenv.cfg replaced": (_rewrite_pyvenv_cfg, "adopted"),
    "salt file edited": (lambda venv, tmp_path: (tmp_path / "salt.txt").write_text("two\n"), "adopted"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_venv_changed_while_validation_imports_is_not_a_hit(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]], change: str
) -> None:
    house = tmp_path / "house"
    build_wheel(house, "blocking-pkg", "1.0", module_source=BLOCKING_IMPORT)
    (tmp_path / "salt.txt").write_text("one\n")
    args = ["--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "--find-links", str(house)]
    args += ["--salt-file", str(tmp_path / "salt.txt")]
    reqs = ["alpha-pkg==1.0", "blocking-pkg"]  # alpha-pkg is checked (imported) before blocking-pkg
    assert run_cli_here("ensure", *reqs, *args, "-q").returncode == 0
    marker, release = tmp_path / "importing", tmp_path / "release"
    env = {**os.environ, "BLOCK_IMPORT_MARKER": str(marker), "BLOCK_IMPORT_RELEASE": str(release)}
    # another salt: a miss that validates the venv as it is (alpha-pkg imports) and adopts it
    racing = spawn(procs, penvcache_cmd("ensure", *reqs, *args, "--salt", "race", "--json"), env=env)
    wait_for(marker, racing)
    do, expected = CHANGES[change]
    do(venv, tmp_path)
    release.touch()
    racing.wait(timeout=DEADLINE)
    out, err = stop(racing)
    assert (racing.returncode, json.loads(out)["status"]) == (0, "adopted"), err
    again = run_cli_here("ensure", *reqs, *args, "--salt", "race", "--json")
    assert (again.returncode, json.loads(again.stdout)["status"]) == (0, expected), again.stderr
    assert (site_packages(venv) / "alpha_pkg" / "__init__.py").is_file()
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", "import alpha_pkg"], capture_output=True, check=False)
    assert proc.returncode == 0
    assert json.loads(run_cli_here("ensure", *reqs, *args, "--salt", "race", "--json").stdout)["status"] == "hit"


#: a local project's build backend that builds from the project as it is, then says so and waits (a minute at most)
#: for the test to release it before it hands the wheel to uv: an edit made meanwhile is not in what is installed
SLOW_PROJECT_BACKEND = """\
import os, shutil, tempfile, time
import project_backend
from project_backend import get_requires_for_build_wheel, get_requires_for_build_editable

def _slowly(build, wheel_directory):
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build(tmp)
        if os.environ.get("BLOCK_BUILD_MARKER"):
            open(os.environ["BLOCK_BUILD_MARKER"], "w").close()
            end = time.monotonic() + 60
            while not os.path.exists(os.environ["BLOCK_BUILD_RELEASE"]) and time.monotonic() < end:
                time.sleep(0.01)
        shutil.move(os.path.join(tmp, wheel), os.path.join(wheel_directory, wheel))
    return wheel

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _slowly(project_backend.build_wheel, wheel_directory)

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _slowly(project_backend.build_editable, wheel_directory)
"""


def test_a_local_project_edited_while_it_is_built_is_reinstalled(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    project = build_project(tmp_path / "proj", "local-proj", "1.0")
    (project / "slow_project_backend.py").write_text(SLOW_PROJECT_BACKEND)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"project_backend"', '"slow_project_backend"'))
    args = ["local-proj @ " + project.as_uri(), "--venv", str(venv), "--offline", "--find-links", str(wheelhouse)]
    marker, release = tmp_path / "building", tmp_path / "release"
    env = {**os.environ, "BLOCK_BUILD_MARKER": str(marker), "BLOCK_BUILD_RELEASE": str(release)}
    building = spawn(procs, penvcache_cmd("ensure", *args, "--json"), env=env)
    wait_for(marker, building)
    pyproject.write_text(pyproject.read_text().replace('version = "1.0"', 'version = "2.0"'))  # an editor's save
    release.touch()
    building.wait(timeout=DEADLINE)
    out, err = stop(building)
    assert (building.returncode, json.loads(out)["status"]) == (0, "installed"), err
    assert _version(venv) == "1.0"  # what was built before the edit
    again = run_cli_here("ensure", *args, "--json")
    assert (again.returncode, json.loads(again.stdout)["status"]) == (0, "installed"), again.stderr
    assert _version(venv) == "2.0"
    assert json.loads(run_cli_here("ensure", *args, "--json").stdout)["status"] == "hit"


def _version(venv: Path) -> str:
    code = "import importlib.metadata as m; print(m.version('local-proj'))"
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    return proc.stdout.strip()
