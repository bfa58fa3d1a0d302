"""The cache dir and the state file."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
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


# --- reading: only what is whole and regular ---------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="files whose stat says 0 bytes: Linux's procfs")
def test_a_file_longer_than_its_stat_says_is_still_bounded(tmp_path: Path) -> None:
    """The limit holds for what is read, not only for what fstat said (a file may grow, procfs says 0 bytes)."""
    assert os.stat("/proc/self/status").st_size == 0
    assert _state.read_regular("/proc/self/status", limit=10) is None
    assert (_state.read_regular("/proc/self/status") or b"").startswith(b"Name:")


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="a regular file whose reads fail: Linux's procfs")
def test_a_file_whose_read_fails_is_none_not_an_error() -> None:
    assert _state.read_regular("/proc/self/mem") is None  # EIO


@pytest.mark.parametrize(
    "payload",
    [b"\xff not marshal at all", marshal.dumps(["a", "list"]), marshal.dumps({"format": _state.FORMAT - 1})],
    ids=["garbage", "not-a-dict", "older-format"],
)
def test_a_state_with_a_good_header_and_a_bad_payload_is_a_miss(tmp_path: Path, payload: bytes) -> None:
    (tmp_path / _state.STATE).write_bytes(_state.MAGIC + len(payload).to_bytes(8, "big") + payload)
    assert _state.read(str(tmp_path)) is None


def test_list_falls_back_on_the_state_when_the_summary_is_not_json(tmp_path: Path) -> None:
    entry = tmp_path / "cache" / "venvs" / "0123"
    entry.mkdir(parents=True)
    _state.write(str(entry), _state_of("f"))
    (entry / _state.SUMMARY).write_text('{"venv": "/v", "when": ')  # cut short
    assert _state.entries(str(tmp_path / "cache")) == [(str(entry), {"venv": "/v", "status": "installed", "when": 1.0})]
    assert _state.entries(str(tmp_path / "no-cache")) == []


# --- writing: owner-only, atomic, and one line when it cannot be done ------------------------------------------


def test_a_write_into_an_entry_that_is_gone_is_one_line(tmp_path: Path) -> None:
    gone = tmp_path / "entry"  # removed under a running penvcache (rm -rf ~/.cache/penvcache)
    with pytest.raises(penvcache.InvalidInput) as failed:
        _state.write(str(gone), _state_of("f"))
    assert str(failed.value) == f"cannot write: {gone / _state.STATE}: No such file or directory"


def test_a_write_gives_up_after_a_hundred_stale_temp_files_of_its_pid(tmp_path: Path) -> None:
    for attempt in range(100):  # left by killed processes that had this pid
        (tmp_path / f".{_state.STATE}.{os.getpid()}.{attempt}.tmp").write_bytes(b"")
    with pytest.raises(penvcache.InvalidInput, match="too many stale temp files"):
        _state.write(str(tmp_path), _state_of("f"))
    assert not (tmp_path / _state.STATE).exists()


def test_an_interrupted_write_leaves_no_temp_file_and_the_old_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the data goes to disk (here: in fsync, which a durable write calls)."""
    (tmp_path / "entry").mkdir()
    path = tmp_path / "entry" / "holder.json"
    _state.write_json(str(path), {"old": True})

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _state.write_json(str(path), {"new": True})
    assert [p.name for p in path.parent.iterdir()] == ["holder.json"]
    assert json.loads(path.read_text()) == {"old": True}


def test_only_temp_files_of_processes_that_have_exited_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    names = {
        f".state.marshal.{int(dead.stdout)}.0.tmp": False,  # its writer is gone
        f".state.marshal.{os.getpid()}.3.tmp": True,  # a live writer's
        ".state.marshal.99999999999999999999.0.tmp": True,  # no such pid can be asked about: kept
        ".state.marshal.x.0.tmp": True,  # not a pid
        "state.marshal.1.0.tmp": True,  # not a temp name of ours
        _state.STATE: True,
    }
    entry = tmp_path / "entry"
    entry.mkdir()
    for name in names:
        (entry / name).write_bytes(b"")
    _state.remove_stale_temps(str(entry))
    assert {p.name for p in entry.iterdir()} == {name for name, kept in names.items() if kept}
    _state.remove_stale_temps(str(tmp_path / "gone"))  # an entry that is gone: nothing to do


# --- who may use the cache dir ---------------------------------------------------------------------------------


def test_a_cache_dir_name_too_long_is_one_line(tmp_path: Path) -> None:
    cache = tmp_path / ("c" * 300)
    with pytest.raises(penvcache.InvalidInput) as failed:
        _state.make_dirs(_state.venv_dir(str(cache), "/v"))
    assert str(failed.value) == f"cannot use the cache dir: {cache}: File name too long"
    assert not _state.is_read_only(str(cache))  # what cannot be stat'ed is not said to be read-only


def test_a_cache_dir_under_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    cache = tmp_path / "file" / "sub" / "cache"
    with pytest.raises(penvcache.InvalidInput) as failed:
        _state.make_dirs(str(cache))
    assert str(failed.value) == f"cannot use the cache dir: {cache}: Not a directory"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a directory away needs root")
@pytest.mark.parametrize(
    ("uid", "gid", "mode", "says"),
    [
        (54321, -1, 0o700, "it is owned by uid 54321, not by"),
        (-1, 54321, 0o770, "group or others can write it (mode 0770)"),
    ],
)
def test_owners_and_groups_without_a_name_are_refused_by_number(
    tmp_path: Path, uid: int, gid: int, mode: int, says: str
) -> None:
    """As in containers that run with a uid or gid the passwd and group files do not list."""
    import grp
    import pwd

    for getter, number in ((pwd.getpwuid, 54321), (grp.getgrgid, 54321)):
        with pytest.raises(KeyError):
            getter(number)
    cache = tmp_path / "cache"
    cache.mkdir(mode=mode)
    cache.chmod(mode)
    os.chown(cache, uid, gid)
    with pytest.raises(penvcache.InvalidInput) as failed:
        _state.check_owned(str(cache))
    assert str(failed.value).startswith(f"refusing the cache dir {cache}: {says}")
