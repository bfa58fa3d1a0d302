"""stats, list and clear: counters safe across processes, and the venvs a cache dir knows."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from penvcache import _stats
from penvcache.cli import main
from tests.conftest import ROOT, hold_lock, offline_args, penvcache_cmd, run_cli, spawn, wait_until

HITS_PER_PROCESS = 40


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_stats_count_every_event_across_processes_and_zero_resets(
    tmp_path: Path,
    venv: Path,
    wheelhouse: Path,
    procs: list[subprocess.Popen[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["alpha-pkg", *offline_args(venv, wheelhouse), "-q"]
    assert main(["ensure", *args]) == 0
    assert main(["ensure", "no-such-pkg", *args]) == 4
    code = (
        f"from penvcache.cli import main\nfor _ in range({HITS_PER_PROCESS}): assert main({['ensure', *args]!r}) == 0"
    )
    hitters = [spawn(procs, [sys.executable, "-c", code], cwd=ROOT) for _ in range(3)]
    for proc in hitters:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    _, stop = hold_lock(tmp_path, venv, procs)
    log = tmp_path / "waiter.err"
    with log.open("w") as err_file:
        waiter = spawn(procs, penvcache_cmd("ensure", "gamma-pkg", *args[1:]), stderr=err_file)
    wait_until(lambda: "waiting up to" in log.read_text(), waiter, "the waiter to wait for the lock")
    stop.touch()
    waiter.communicate(timeout=120)
    assert waiter.returncode == 0, log.read_text()
    stats = _json(capsys, "stats")
    assert stats["hits"] == 3 * HITS_PER_PROCESS
    assert (stats["misses"], stats["installs"], stats["adoptions"], stats["failures"]) == (3, 2, 0, 1)
    assert stats["lock_waits"] == 1
    assert isinstance(stats["longest_lock_wait"], float)
    assert stats["longest_lock_wait"] > 0
    assert stats["lock_wait_seconds"] == stats["longest_lock_wait"]
    assert isinstance(stats["install_seconds"], float)
    assert stats["install_seconds"] > 0
    capsys.readouterr()
    assert main(["stats"]) == 0
    assert f"{3 * HITS_PER_PROCESS} hits, 3 misses" in capsys.readouterr().out
    assert _json(capsys, "stats", "--zero")["hits"] == 3 * HITS_PER_PROCESS
    assert _json(capsys, "stats")["hits"] == 0
    assert main(["ensure", *args]) == 0  # the venv was last made to hold gamma-pkg: a miss, then adopted
    after = _json(capsys, "stats")
    assert (after["hits"], after["misses"], after["adoptions"]) == (0, 1, 1)


def test_list_and_clear(tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kept, gone = tmp_path / "kept", tmp_path / "gone"
    for venv in (kept, gone):
        assert main(["ensure", "alpha-pkg", *offline_args(venv, wheelhouse)]) == 0
    shutil.rmtree(gone)
    rows = {row["venv"]: row for row in _json(capsys, "list")["venvs"]}  # type: ignore[attr-defined]
    assert set(rows) == {str(kept), str(gone)}
    assert (rows[str(kept)]["exists"], rows[str(gone)]["exists"]) == (True, False)
    assert rows[str(kept)]["status"] == "installed"
    assert rows[str(kept)]["when"] <= time.time()
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert f"{gone}  (gone)" in out
    assert _json(capsys, "clear", "--stale")["forgotten"] == [str(gone)]
    assert [row["venv"] for row in _json(capsys, "list")["venvs"]] == [str(kept)]  # type: ignore[attr-defined]
    status = ["status", "alpha-pkg", "--venv", str(kept), "--find-links", str(wheelhouse), "-q"]
    assert main(status) == 0
    assert _json(capsys, "clear", "--venv", str(kept))["forgotten"] == [str(kept)]
    assert (kept / "pyvenv.cfg").exists()  # forgotten, never deleted
    assert main(status) == 1
    assert main(["ensure", "alpha-pkg", "--venv", str(kept), "--find-links", str(wheelhouse), "--offline"]) == 0
    assert "adopted" in capsys.readouterr().out
    assert _json(capsys, "clear", "--all")["forgotten"] == [str(kept)]
    assert _json(capsys, "list")["venvs"] == []


def test_a_failure_is_the_last_status(
    tmp_path: Path, venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [*offline_args(venv, wheelhouse), "-q"]
    assert main(["ensure", "alpha-pkg", *common]) == 0
    assert main(["ensure", "broken-pkg", *common]) == 1
    rows = _json(capsys, "list")["venvs"]
    assert isinstance(rows, list)
    assert [(row["venv"], row["status"]) for row in rows] == [(str(venv), "failed")]


def test_a_lock_timeout_counts_its_wait_and_leaves_the_last_status(
    tmp_path: Path,
    venv: Path,
    wheelhouse: Path,
    procs: list[subprocess.Popen[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["alpha-pkg", *offline_args(venv, wheelhouse), "-q"]
    assert main(["ensure", *args]) == 0
    hold_lock(tmp_path, venv, procs)
    assert main(["ensure", "gamma-pkg", *args[1:], "--lock-timeout", "0.5"]) == 3
    stats = _json(capsys, "stats")
    assert stats["lock_waits"] == 1
    assert isinstance(stats["lock_wait_seconds"], float)
    assert stats["lock_wait_seconds"] >= 0.5
    listing = _json(capsys, "list")
    assert [row["status"] for row in listing["venvs"]] == ["installed"]  # type: ignore[attr-defined]


def test_a_fresh_cache_dir_and_lines_that_are_not_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No stats file: zeros. Lines another version (or a torn write) left are skipped, the rest counted."""
    cache = tmp_path / "penvcache-cache"
    assert _json(capsys, "stats")["hits"] == 0
    assert main(["list"]) == 0
    assert capsys.readouterr().out == f"penvcache: {cache} knows no venvs\n"
    cache.mkdir()
    (cache / "stats.log").write_bytes(
        b"hit\n\nbogus 1\nmiss installed=x wait=0.5\nhit \xff\nmiss failed\n"
        b"store_hit fetched=12 published=x\nstore_miss published=7 fetched=-1\n"
    )
    stats = _json(capsys, "stats")
    assert (stats["hits"], stats["misses"], stats["failures"], stats["installs"]) == (2, 2, 1, 0)
    assert (stats["lock_waits"], stats["lock_wait_seconds"]) == (1, 0.5)
    assert (stats["store_hits"], stats["store_misses"]) == (1, 1)
    assert (stats["store_bytes_fetched"], stats["store_bytes_published"]) == (12, 7)
    assert main(["clear", "--all"]) == 0
    assert capsys.readouterr().out == "penvcache: forgot 0 venvs\n"


def test_a_fifo_in_the_stats_logs_place_hangs_neither_a_hit_nor_stats(
    tmp_path: Path, venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Counting is best effort: the log's place taken by a FIFO (no reader) is skipped, never waited on."""
    args = ["ensure", "alpha-pkg", *offline_args(venv, wheelhouse)]
    assert main(args) == 0
    log = tmp_path / "penvcache-cache" / "stats.log"
    log.unlink()
    os.mkfifo(log)
    proc = run_cli(*args)  # fails the test after conftest's deadline if it blocks
    assert proc.returncode == 0, proc.stderr
    assert "penvcache: hit" in proc.stdout
    stats = _json(capsys, "stats")
    assert (stats["hits"], stats["misses"]) == (0, 0)
    assert stat.S_ISFIFO(log.lstat().st_mode)


def _cache_with_hits(tmp_path: Path, hits: int) -> Path:
    cache = tmp_path / "penvcache-cache"
    cache.mkdir(mode=0o700)
    for _ in range(hits):
        _stats.record(str(cache), "hit")
    return cache


def test_a_fold_killed_after_renaming_the_log_aside_loses_no_line(tmp_path: Path) -> None:
    """A fold renames a big log aside, then saves where it stands; killed between the two, the next fold finds
    the aside log under the inode it recorded for the log and counts it from the offset already counted."""
    cache = _cache_with_hits(tmp_path, 3)
    assert _stats.fold(str(cache))["hits"] == 3
    for _ in range(2):
        _stats.record(str(cache), "hit")
    log = cache / _stats.LOG
    log.rename(cache / f"{_stats.LOG}.{log.stat().st_ino}")  # what the killed fold did, and no more
    assert _stats.fold(str(cache))["hits"] == 5
    assert _stats.fold(str(cache))["hits"] == 5


def test_a_fold_killed_before_removing_a_counted_log_counts_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An aside log counted and forgotten, then left by a fold killed before it removed it: removed, not counted
    again."""
    cache = _cache_with_hits(tmp_path, 3)
    monkeypatch.setattr(_stats, "FOLD_AT", 1)
    assert _stats.fold(str(cache))["hits"] == 3  # counted, and renamed aside
    (aside,) = cache.glob(f"{_stats.LOG}.*")
    left = aside.read_bytes()
    monkeypatch.setattr(_stats, "GRACE", -1.0)
    assert _stats.fold(str(cache))["hits"] == 3  # forgotten and removed...
    aside.write_bytes(left)  # ...but as if the fold had been killed before the removal
    assert _stats.fold(str(cache))["hits"] == 3
    assert not aside.exists()


def test_a_damaged_summary_counts_from_zero_what_it_cannot_vouch_for(tmp_path: Path) -> None:
    """A summary another version or a torn write left: each counter of the wrong type, negative or NaN starts
    from zero, a file record of another shape is dropped; the rest is kept."""
    cache = _cache_with_hits(tmp_path, 0)
    (cache / _stats.SUMMARY).write_text(
        '{"hits": -5, "misses": "3", "installs": 2, "install_seconds": NaN, "lock_wait_seconds": 1.5, '
        '"files": {"stats.log": "x", "stats.log/../../x": [1, 0, 0.0], "stats.log.7": [7, 0], "other": [1, 0, 0.0]}}'
    )
    counts = _stats.fold(str(cache))
    assert (counts["hits"], counts["misses"], counts["installs"]) == (0, 0, 2)
    assert (counts["install_seconds"], counts["lock_wait_seconds"]) == (0.0, 1.5)
    assert json.loads((cache / _stats.SUMMARY).read_text())["files"] == {_stats.LOG: [-1, 0, 0.0]}
