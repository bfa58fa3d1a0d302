"""Faults of the venv's file system and of the installer: one line naming the path and the error, exit 1."""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from penvcache._installer import uv_bin
from tests.conftest import error_lines, run_cli_here


@pytest.fixture
def mount_point(tmp_path: Path) -> Iterator[Path]:
    """An empty directory a test may mount a small tmpfs on; unmounted afterwards."""
    point = tmp_path / "mnt"
    point.mkdir()
    try:
        yield point
    finally:
        if os.path.ismount(point):
            subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)


def mount_tmpfs(point: Path, *options: str) -> None:
    """Mount a 2 MB tmpfs on ``point`` (as root), or skip the test saying why it cannot."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    opts = ",".join(("size=2m", *options))
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")


def remount(point: Path, *options: str) -> None:
    options = ("remount", *options)
    proc = subprocess.run(["mount", "-o", ",".join(options), str(point)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def fill(point: Path) -> None:
    """Fill the file system until it is full."""
    with pytest.raises(OSError, match="No space left") as full:
        (point / "filler").write_bytes(bytes(4 << 20))  # twice the tmpfs: what fits is written, then ENOSPC
    assert full.value.errno == errno.ENOSPC
    # the last partial chunk may still fit in another file's blocks; take them too
    for i in range(64):
        try:
            (point / f"filler-{i}").write_bytes(b"\0" * 4096)
        except OSError:
            break


def ensure(venv: Path, wheelhouse: Path, *reqs: str) -> subprocess.CompletedProcess[str]:
    return run_cli_here("ensure", *reqs, "--venv", str(venv), "--offline", "--find-links", str(wheelhouse))


def assert_one_line(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(error_lines(proc.stderr)) == 1, proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


def test_a_full_disk_while_installing_offline_is_exit_1_not_4(
    mount_point: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    mount_tmpfs(mount_point)
    venv = mount_point / "venv"
    assert ensure(venv, wheelhouse, "gamma-pkg").returncode == 0
    fill(mount_point)
    proc = ensure(venv, wheelhouse, "alpha-pkg", "beta-pkg", "delta-pkg")
    assert_one_line(proc, 1, str(venv), "No space left on device")


def test_a_full_disk_while_creating_the_venv_is_one_line(mount_point: Path, wheelhouse: Path) -> None:
    mount_tmpfs(mount_point)
    fill(mount_point)
    venv = mount_point / "venv"
    assert_one_line(ensure(venv, wheelhouse, "alpha-pkg"), 1, str(venv), "No space left on device")


def test_a_read_only_venv_while_installing_offline_is_exit_1_not_4(mount_point: Path, wheelhouse: Path) -> None:
    mount_tmpfs(mount_point)
    venv = mount_point / "venv"
    assert ensure(venv, wheelhouse, "gamma-pkg").returncode == 0
    remount(mount_point, "ro")
    proc = ensure(venv, wheelhouse, "alpha-pkg")
    assert_one_line(proc, 1, str(venv), "Read-only file system")


def test_a_read_only_file_system_where_the_venv_goes_is_one_line(mount_point: Path, wheelhouse: Path) -> None:
    mount_tmpfs(mount_point, "ro")
    venv = mount_point / "venv"
    assert_one_line(ensure(venv, wheelhouse, "alpha-pkg"), 1, str(venv), "Read-only file system")


def test_an_installer_that_makes_no_venv_is_one_line(
    tmp_path: Path, venv: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "fake-uv"
    fake.write_text(f'#!/bin/sh\nif [ "$1" = venv ]; then exit 0; fi\nexec "{uv_bin()}" "$@"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PENVCACHE_UV", str(fake))
    proc = ensure(venv, wheelhouse, "alpha-pkg")
    assert_one_line(proc, 1, str(venv), str(fake), "pyvenv.cfg is missing")


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory outside pytest's root-only temp dir, owned by ``nobody``; removed afterwards."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("running as another user needs root and setpriv")
    path = Path(tempfile.mkdtemp(prefix="penvcache-nobody-"))
    try:
        os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


NOBODY = pwd.getpwnam("nobody")


def test_a_venv_the_user_cannot_write_is_exit_1_not_4(scratch: Path, wheelhouse: Path) -> None:
    python = shutil.which("python3", path="/usr/bin:/usr/local/bin")  # outside /root, which nobody cannot enter
    if python is None:
        pytest.skip("no python3 in /usr/bin or /usr/local/bin for a venv that nobody can run")
    venv = scratch / "venv"  # made by root: nobody may read it, not write it
    subprocess.run([uv_bin(), "venv", "-q", str(venv), "--python", python], check=True, timeout=120)
    wheels = scratch / "wheels"
    wheels.mkdir()
    shutil.copy(next(wheelhouse.glob("alpha_pkg-1.0-*.whl")), wheels)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")},  # nobody cannot write its data
        "HOME": str(scratch),
        "PENVCACHE_CACHE_DIR": str(scratch / "penvcache-cache"),
        "UV_CACHE_DIR": str(scratch / "uv-cache"),
    }
    as_nobody = ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}", "--clear-groups"]
    args = ["ensure", "alpha-pkg==1.0", "--venv", str(venv), "--offline", "--find-links", str(wheels)]
    proc = subprocess.run(
        [*as_nobody, sys.executable, "-m", "penvcache", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=scratch,
        check=False,
        timeout=120,
    )
    if "penvcache" not in proc.stderr:
        pytest.skip(f"nobody cannot run penvcache from here: {proc.stderr.strip()}")
    assert_one_line(proc, 1, str(venv), "Permission denied")
