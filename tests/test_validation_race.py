"""What changes while a miss validates or installs is never recorded as validated: the next call misses."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from uv import find_uv_bin

from tests._kit import build_wheel, site_packages
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


def _uninstall_alpha(venv: Path) -> None:
    uninstall = [find_uv_bin(), "pip", "uninstall", "-q", "--python", str(venv / "bin" / "python"), "alpha-pkg"]
    subprocess.run(uninstall, check=True, capture_output=True, env={**os.environ, "UV_OFFLINE": "1"})


def _rewrite_pyvenv_cfg(venv: Path) -> None:
    cfg = venv / "pyvenv.cfg"
    text = cfg.read_text()
    cfg.unlink()  # another inode: the venv's identity changes, its content does not
    cfg.write_text(text)


#: a change made while validation imports: (what it does, what the next call must do)
CHANGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "a listed package uninstalled": (_uninstall_alpha, "installed"),
    "pyvenv.cfg replaced": (_rewrite_pyvenv_cfg, "adopted"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_venv_changed_while_validation_imports_is_not_a_hit(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]], change: str
) -> None:
    house = tmp_path / "house"
    build_wheel(house, "blocking-pkg", "1.0", module_source=BLOCKING_IMPORT)
    args = ["--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "--find-links", str(house)]
    reqs = ["alpha-pkg==1.0", "blocking-pkg"]  # alpha-pkg is checked (imported) before blocking-pkg
    assert run_cli_here("ensure", *reqs, *args, "-q").returncode == 0
    marker, release = tmp_path / "importing", tmp_path / "release"
    env = {**os.environ, "BLOCK_IMPORT_MARKER": str(marker), "BLOCK_IMPORT_RELEASE": str(release)}
    # another salt: a miss that validates the venv as it is (alpha-pkg imports) and adopts it
    racing = spawn(procs, penvcache_cmd("ensure", *reqs, *args, "--salt", "race", "--json"), env=env)
    wait_for(marker, racing)
    do, expected = CHANGES[change]
    do(venv)
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
