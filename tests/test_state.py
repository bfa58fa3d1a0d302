"""The cache dir and the state file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs
import pytest

import penvcache
from penvcache import _state


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the inlined rule is the XDG one")
@pytest.mark.parametrize("xdg", [None, "", "   ", "/somewhere/cache"])
def test_default_cache_dir_agrees_with_platformdirs(monkeypatch: pytest.MonkeyPatch, xdg: str | None) -> None:
    monkeypatch.delenv("PENVCACHE_CACHE_DIR")
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME")
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert _state.default_cache_dir() == platformdirs.user_cache_dir("penvcache", appauthor=False)


def test_env_var_names_the_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PENVCACHE_CACHE_DIR", str(tmp_path / "c"))
    assert _state.default_cache_dir() == str(tmp_path / "c")


def test_unusable_cache_dir_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The autouse fixture makes the default cache dir unusable: nothing a test does can reach the home dir."""
    monkeypatch.delenv("PENVCACHE_CACHE_DIR")
    with pytest.raises(penvcache.InvalidInput, match="cannot use the cache dir"):
        penvcache.ensure(tmp_path / "venv", ["alpha-pkg"], offline=True)
    assert not (tmp_path / "venv").exists()


def test_state_is_written_atomically_without_waiting_for_the_disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A state file lost in a crash is only a miss (see the corrupted-state tests), so it is not fsynced."""

    def no_fsync(fd: int) -> None:
        raise AssertionError("the state file must not be fsynced")

    monkeypatch.setattr(os, "fsync", no_fsync)
    state = {
        "fingerprint": "f",
        "inputs": "i",
        "files": {},
        "file_sources": [],
        "components": {},
        "details": {},
        "installer": {},
        "stamp": "s",
        "stamp_paths": [],
        "venv": "/v",
        "status": "installed",
        "when": 1.0,
    }
    (tmp_path / "entry").mkdir()
    _state.write(str(tmp_path / "entry"), state)
    assert _state.read(str(tmp_path / "entry")) == {"format": _state.FORMAT, **state}
    assert [p.name for p in (tmp_path / "entry").iterdir()] == [_state.STATE]


def test_a_state_write_replaces_the_file_and_never_rewrites_it_in_place(tmp_path: Path) -> None:
    """A reader holding the old file (here a second link to it) sees the old record whole, never part of the new."""
    entry = str(tmp_path / "entry")
    (tmp_path / "entry").mkdir()
    _state.write(entry, _state_of("old"))
    old = tmp_path / "entry" / _state.STATE
    kept = tmp_path / "kept"
    os.link(old, kept)  # the old file, as an open reader still has it
    before = kept.read_bytes()
    _state.write(entry, _state_of("new"))
    assert kept.read_bytes() == before
    assert old.stat().st_ino != kept.stat().st_ino
    assert (_state.read(entry) or {}).get("fingerprint") == "new"
    assert sorted(p.name for p in (tmp_path / "entry").iterdir()) == [_state.STATE]  # no temp file left


def _state_of(fingerprint: str) -> dict[str, object]:
    return {
        "fingerprint": fingerprint,
        "inputs": "i",
        "files": {},
        "file_sources": [],
        "components": {},
        "details": {},
        "installer": {},
        "stamp": "s",
        "stamp_paths": [],
        "venv": "/v",
        "status": "installed",
        "when": 1.0,
    }
