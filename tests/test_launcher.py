"""The ``penvcache`` command as installers leave it: a ``#!python`` script on POSIX (no console-script wrapper,
which would import ``re`` before penvcache), a console script in Windows wheels, and a hit that exits at once."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from uv import find_uv_bin

from tests.conftest import ROOT

HIT_AVOIDS = {"re", "argparse", "json", "typing", "hashlib", "dataclasses", "contextlib", "collections", "functools"}


def build(out: Path, platform: str = "") -> Path:
    """penvcache's wheel, built from this checkout by hatchling (offline: the test extra brings it)."""
    env = {k: v for k, v in os.environ.items() if k != "PENVCACHE_WHEEL_PLATFORM"}
    if platform:
        env["PENVCACHE_WHEEL_PLATFORM"] = platform
    code = "import sys, hatchling.build as b; print(b.build_wheel(sys.argv[1]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return out / proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def posix_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("dist"))


def read(wheel: Path, suffix: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(suffix)]
        return zf.read(name).decode()


def test_the_posix_wheel_ships_the_command_as_a_script(posix_wheel: Path) -> None:
    assert posix_wheel.name.endswith("-py3-none-any.whl")
    script = read(posix_wheel, ".data/scripts/penvcache")
    assert script.startswith("#!python\n")  # the installer writes the environment's interpreter there
    assert "from penvcache._fastpath import launch" in script
    assert "console_scripts" not in read(posix_wheel, ".dist-info/entry_points.txt")  # it would replace the script


def test_the_windows_wheel_declares_the_console_script(tmp_path: Path) -> None:
    wheel = build(tmp_path, "win_amd64")
    assert wheel.name.endswith("-py3-none-win_amd64.whl")  # preferred over the pure wheel on Windows
    entry_points = read(wheel, ".dist-info/entry_points.txt")
    assert "[console_scripts]\npenvcache = penvcache._fastpath:main\n" in entry_points
    with zipfile.ZipFile(wheel) as zf:
        assert not [n for n in zf.namelist() if ".data/" in n]
    module, _, function = entry_points.split("penvcache = ", 1)[1].splitlines()[0].partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def install(installer: str, wheel: Path, env_dir: Path) -> Path:
    """``wheel`` installed into a new venv by pip or uv, offline; its dependencies seen through a ``.pth`` file."""
    uv = find_uv_bin()
    subprocess.run([uv, "venv", str(env_dir), "--python", sys.executable, "-q"], check=True, timeout=120)
    python = env_dir / "bin" / "python"
    if installer == "pip":
        cmd = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q"]
    else:
        cmd = [uv, "pip", "install", "--python", str(python), "--no-deps", "--offline", "-q"]
    subprocess.run([*cmd, str(wheel)], check=True, timeout=120, capture_output=True)
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")  # filelock, packaging, uv...
    return env_dir / "bin" / "penvcache"


@pytest.mark.skipif(sys.platform == "win32", reason="the POSIX wheel's script; Windows gets a console script")
@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_the_installed_command_answers_a_hit_without_the_wrapper_imports(
    installer: str, posix_wheel: Path, tmp_path: Path, venv: Path, wheelhouse: Path
) -> None:
    command = install(installer, posix_wheel, tmp_path / "tool")
    assert command.read_text().startswith(f"#!{tmp_path / 'tool' / 'bin' / 'python'}")
    args = ["ensure", "alpha-pkg", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "--json"]
    first = subprocess.run([command, *args], check=False, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["status"] == "installed"
    python = tmp_path / "tool" / "bin" / "python"
    hit = subprocess.run(
        [python, "-X", "importtime", command, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert hit.returncode == 0, hit.stderr
    assert json.loads(hit.stdout)["status"] == "hit"
    imported = {line.rsplit("|", 1)[1].strip() for line in hit.stderr.splitlines() if line.startswith("import time:")}
    assert "penvcache._fastpath" in imported
    assert not imported & HIT_AVOIDS


LAUNCH = """\
import atexit, sys
atexit.register(print, "finalized")
from penvcache._fastpath import launch
launch()
"""


def test_ensure_exits_at_once_and_the_rest_exits_the_usual_way(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    """A hit or a miss answered without argparse ends with os._exit once its output is flushed (no atexit handler
    runs); what argparse reads ends through sys.exit."""
    args = ["ensure", "alpha-pkg", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse)]

    def launch(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", LAUNCH, *args, *extra],
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )

    miss = launch("--json")  # stdout is a pipe: block-buffered, and still whole
    assert miss.returncode == 0, miss.stderr
    assert json.loads(miss.stdout)["status"] == "installed"  # one JSON document and nothing after it
    hit = launch("--json")
    assert hit.returncode == 0, hit.stderr
    assert json.loads(hit.stdout)["status"] == "hit"  # one JSON document and nothing after it: no finalization
    bad = launch("--lock-timeout", "soon")
    assert bad.returncode == 2
    assert "--lock-timeout" in bad.stderr
    assert bad.stdout == "finalized\n"


def test_python_m_answers_a_hit(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    args = ["ensure", "alpha-pkg", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "--json"]
    for expected in ("installed", "hit"):
        proc = subprocess.run(
            [sys.executable, "-m", "penvcache", *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["status"] == expected
