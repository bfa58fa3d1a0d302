"""Bounded files: stats.log is folded into a summary without losing a concurrent append, and ``list`` reads
each venv's small summary, not its whole state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import penvcache
from penvcache import _state, _stats
from penvcache.cli import main
from tests.conftest import ROOT

EVENTS_PER_APPENDER = 3000
APPEND = "import sys\nfrom penvcache import _stats\nfor _ in range(int(sys.argv[2])): _stats.record(sys.argv[1], 'hit')"


def test_folding_while_others_append_loses_no_line(
    tmp_path: Path, procs: list[subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fold in a loop (renaming the log aside every few hundred bytes) while two processes append."""
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setattr(_stats, "FOLD_AT", 256)  # in this process only: the appenders never fold
    appenders = [
        subprocess.Popen(
            [sys.executable, "-c", APPEND, str(cache), str(EVENTS_PER_APPENDER)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for _ in range(2)
    ]
    procs.extend(appenders)
    folds = 0
    while any(p.poll() is None for p in appenders) or folds == 0:
        _stats.fold(str(cache))
        folds += 1
    for proc in appenders:
        assert proc.communicate(timeout=120) == ("", "")
        assert proc.returncode == 0
    assert _stats.fold(str(cache))["hits"] == 2 * EVENTS_PER_APPENDER
    monkeypatch.setattr(_stats, "GRACE", -1.0)  # the aside logs' time is up: counted one last time, then removed
    assert _stats.fold(str(cache))["hits"] == 2 * EVENTS_PER_APPENDER
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith(_stats.LOG)) in ([], [_stats.LOG])
    assert _stats.summary(str(cache))["hits"] == 2 * EVENTS_PER_APPENDER  # counted once


def test_the_call_that_finds_the_log_big_folds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setattr(_stats, "FOLD_AT", 100)
    for _ in range(1000):
        _stats.record(str(cache), "hit wait=0.500000")
    assert (cache / _stats.LOG).stat().st_size < 100 + len("hit wait=0.500000\n")
    counts = _stats.summary(str(cache))
    assert (counts["hits"], counts["lock_waits"]) == (1000, 1000)
    assert counts["lock_wait_seconds"] == pytest.approx(500.0)


def test_stats_folds_the_log_and_counts_the_same_afterwards(
    tmp_path: Path, venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``penvcache stats`` leaves a summary, not a log that grows forever; the counts do not change by folding."""
    args = ["alpha-pkg", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "-q"]
    for _ in range(3):
        assert main(["ensure", *args]) == 0
    cache = tmp_path / "penvcache-cache"
    capsys.readouterr()
    assert main(["stats", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["hits"], first["misses"], first["installs"]) == (2, 1, 1)
    assert json.loads((cache / _stats.SUMMARY).read_text())["hits"] == 2  # folded
    assert main(["ensure", *args]) == 0
    assert main(["stats", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert (second["hits"], second["misses"], second["installs"]) == (3, 1, 1)


def test_list_reads_the_small_summary_not_the_state(
    tmp_path: Path, venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse])
    entry = Path(_state.venv_dir(str(tmp_path / "penvcache-cache"), str(venv)))
    summary = entry / _state.SUMMARY
    assert json.loads(summary.read_text()).keys() == {"venv", "status", "when"}
    (entry / _state.STATE).write_bytes(b"\0" * 1000)  # list does not read it
    capsys.readouterr()
    assert main(["list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["venvs"]
    assert (row["venv"], row["status"], row["exists"]) == (str(venv), "installed", True)
