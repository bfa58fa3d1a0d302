"""Faults of the cache dir: a full disk and a read-only mount are one line and exit 1, and leave no temp file;
a read-only cache dir still serves hits and ``run`` on a hit."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import penvcache
from penvcache import _state
from tests.conftest import ROOT, run_cli, run_cli_here


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``penvcache ARGS`` in this process; ``run`` (which starts its command) in a process of its own."""
    return (run_cli if args[:1] == ("run",) else run_cli_here)(*args, cwd=ROOT)


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        pytest.skip(f"this machine does not let the tests mount (`mount {' '.join(args)}`): {proc.stderr.strip()}")


@contextlib.contextmanager
def _mounted(path: Path, *args: str) -> Iterator[None]:
    """``mount ARGS`` on ``path`` (skips the test where the machine does not allow it), unmounted afterwards."""
    _mount(*args)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False, timeout=60)


def _args(venv: Path, wheelhouse: Path, *reqs: str) -> list[str]:
    return [*reqs, "--venv", str(venv), "--offline", "--find-links", str(wheelhouse)]


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def _fill(directory: Path) -> None:
    """Write zeros into ``directory`` until its file system is full (to the last byte)."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 16, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    with pytest.raises(OSError, match="No space left"):
        (directory / "more").write_bytes(b"x")
    (directory / "more").unlink(missing_ok=True)


def test_a_full_cache_dir_is_one_line_exit_1_and_leaves_no_temp_file(
    tmp_path: Path, venv: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "small"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("PENVCACHE_CACHE_DIR", str(cache))
    with _mounted(cache, "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(cache)):
        assert _cli("ensure", *_args(venv, wheelhouse, "alpha-pkg")).returncode == 0
        entry = Path(_state.venv_dir(str(cache), str(venv)))
        state = _state.read(str(entry))
        assert state is not None
        _fill(cache)
        proc = _cli("ensure", *_args(venv, wheelhouse, "alpha-pkg", "gamma-pkg"))
        assert proc.returncode == 1, proc.stderr
        line = _one_line(proc)
        assert f"{entry}/" in line
        assert "No space left on device" in line
        assert _temp_files(cache) == []
        # the state itself (written after an install): the same one line, and its temp file removed
        with pytest.raises(penvcache.CacheDirError, match=f"cannot write: {entry}/state.marshal: No space left"):
            _state.write(str(entry), {k: v for k, v in state.items() if k != "format"})
        assert _temp_files(cache) == []
        assert _state.read(str(entry)) == state  # the old state is whole
        hit = _cli("ensure", *_args(venv, wheelhouse, "alpha-pkg"))  # hits need no space
        assert hit.returncode == 0, hit.stderr
        assert "penvcache: hit" in hit.stdout
        ran = _cli("run", *_args(venv, wheelhouse, "alpha-pkg"), "--", "python", "-c", "pass")  # says who uses it
        assert ran.returncode == 1
        assert "No space left on device" in _one_line(ran)
        zeroed = _cli("stats", "--zero")
        assert zeroed.returncode == 1
        assert f"{cache}/stats.json: No space left on device" in _one_line(zeroed)
        assert _temp_files(cache) == []


def test_a_read_only_cache_dir_serves_hits_and_run_and_a_miss_cannot_lock(
    tmp_path: Path, venv: Path, wheelhouse: Path
) -> None:
    assert _cli("ensure", *_args(venv, wheelhouse, "alpha-pkg")).returncode == 0
    assert _cli("run", *_args(venv, wheelhouse, "alpha-pkg"), "--", "python", "-c", "pass").returncode == 0
    cache = tmp_path / "penvcache-cache"
    _mount("--bind", str(cache), str(cache))
    try:
        _mount("-o", "remount,bind,ro", str(cache))
        assert (cache / "probe").exists() is False
        with pytest.raises(OSError, match="Read-only"):
            (cache / "probe").touch()
        hit = _cli("ensure", *_args(venv, wheelhouse, "alpha-pkg"))
        assert hit.returncode == 0, hit.stderr
        assert "penvcache: hit" in hit.stdout
        code = "import alpha_pkg; print(alpha_pkg.__version__)"
        ran = _cli("run", *_args(venv, wheelhouse, "alpha-pkg"), "--", "python", "-c", code)
        assert (ran.returncode, ran.stdout) == (0, "2.0\n"), ran.stderr
        miss = _cli("ensure", *_args(venv, wheelhouse, "gamma-pkg"))
        assert miss.returncode == 1
        line = _one_line(miss)
        assert f"cannot lock {venv}" in line
        assert "Read-only file system" in line
        for command in ("stats", "list"):
            proc = _cli(command)
            assert proc.returncode == 0, proc.stderr
            assert "Traceback" not in proc.stderr
    finally:
        subprocess.run(["umount", "-l", str(cache)], capture_output=True, check=False, timeout=60)


def test_temp_files_of_killed_writers_are_removed_by_the_next_miss(
    tmp_path: Path, venv: Path, wheelhouse: Path
) -> None:
    """A writer killed between creating its temp file and renaming it leaves the file; the next holder of the
    lock removes it (and keeps a live process's)."""
    penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse])
    entry = Path(_state.venv_dir(str(tmp_path / "penvcache-cache"), str(venv)))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    stale = entry / f".state.marshal.{dead.stdout.strip()}.0.tmp"
    live = entry / f".state.marshal.{os.getpid()}.7.tmp"
    other = entry / "notes.0.tmp"  # not a name penvcache makes
    for path in (stale, live, other):
        path.write_bytes(b"partial")
    assert penvcache.ensure(venv, ["gamma-pkg"], offline=True, find_links=[wheelhouse]).status == "installed"
    assert (stale.exists(), live.exists(), other.exists()) == (False, True, True)


def test_a_use_with_no_room_for_the_use_lock_is_one_line(tmp_path: Path) -> None:
    """`run` and `use()` on a hit make the use lock's database the first time: a file system out of inodes (a
    read-write one) is a fault, exit 1, one line; only a read-only cache dir is used without the lock."""
    from penvcache._locking import UseLock

    cache = tmp_path / "tiny"
    cache.mkdir(mode=0o700)
    with _mounted(cache, "-t", "tmpfs", "-o", "size=256k,nr_inodes=16,mode=0700", "tmpfs", str(cache)):
        entry = Path(_state.make_dirs(_state.venv_dir(str(cache), "/v")))
        with contextlib.suppress(OSError):  # take every inode left
            for n in range(16):
                (cache / f"f{n}").touch()
        with pytest.raises(OSError, match="No space left"):
            (cache / "one-more").touch()
        with pytest.raises(penvcache.CacheDirError) as failed:
            UseLock(str(entry), "/v", timeout=1.0)
        assert str(failed.value) == (
            f"cannot lock: {entry / 'users.db'}: No space left on device (free some space, or pick another --cache-dir)"
        )
