"""The shared store's errors and edges: the ``store`` command's bad input and faults (one line, no password),
entries written by hand (malformed, ambiguous, orphaned), a rejected entry's files, and what is never shared."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from penvcache._installer import uv_bin
from penvcache._requirements import read_deps
from penvcache._store import _redact, lookup, portable
from penvcache.cli import main
from tests._kit import build_wheel

pytest.importorskip("obstore")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry(store: Path, key: str, packages: list[dict[str, object]]) -> Path:
    """An entry written by hand, as a publisher writes it (its blobs are the caller's)."""
    entry = store / "entries" / key
    entry.mkdir(parents=True)
    manifest = {"format": 1, "key": key, "created": 1.0, "packages": packages}
    (entry / "manifest.json").write_text(json.dumps(manifest))
    return entry


def _package(name: str, version: str, data: bytes = b"wheel") -> dict[str, object]:
    filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    files = [{"filename": filename, "sha256": _sha(data), "size": len(data)}]
    return {"name": name, "version": version, "files": files}


def _blob(store: Path, data: bytes) -> Path:
    sha = _sha(data)
    blob = store / "blobs" / "sha256" / sha[:2] / sha
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    return blob


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- the store command ----------------------------------------------------------------------------------------------
def test_the_store_command_takes_exactly_one_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PENVCACHE_STORE", raising=False)
    one, other = (tmp_path / "one").as_uri(), (tmp_path / "other").as_uri()
    said = "give exactly one --store URL (or set PENVCACHE_STORE to one)"
    assert _run(capsys, "store", "list") == (2, "", f"penvcache: error: {said}\n")
    assert _run(capsys, "store", "gc", "--store", one, "--store", other) == (2, "", f"penvcache: error: {said}\n")
    code, out, _ = _run(capsys, "store", "list", "--json")
    assert code == 2
    assert json.loads(out) == {"status": "error", "error": said, "exit_code": 2}  # no venv: the command has none
    # the same store twice, or as a path and as its URL, is one store
    _entry(tmp_path / "one", "k" * 64, [_package("alpha-pkg", "1.0")])
    code, out, _ = _run(capsys, "store", "list", "--json", "--store", one, "--store", str(tmp_path / "one"))
    assert code == 0
    assert [entry["key"] for entry in json.loads(out)["entries"]] == ["k" * 64]


def test_store_list_names_each_entrys_packages_or_what_is_wrong_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    good, bad = "a" * 64, "b" * 64
    _entry(store, good, [_package("alpha-pkg", "1.0"), _package("gamma-pkg", "1.0")])
    _entry(store, bad, [{"name": "gamma-pkg", "version": "1.0", "files": []}])
    code, out, err = _run(capsys, "store", "list", "--store", store.as_uri())
    assert (code, err) == (0, "")
    assert sorted(out.splitlines()) == [
        f"{good[:16]}  alpha-pkg==1.0, gamma-pkg==1.0",
        f"{bad[:16]}  its manifest lists a malformed package: "
        + str({"name": "gamma-pkg", "version": "1.0", "files": []})[:80],
    ]


def test_store_show_needs_a_key_that_names_one_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    url = store.as_uri()
    for key in ("ab" + "1" * 62, "ab" + "2" * 62):
        _entry(store, key, [_package("alpha-pkg", "1.0")])
    assert _run(capsys, "store", "show", "--store", url) == (
        2,
        "",
        "penvcache: error: store show needs a KEY (see penvcache store list)\n",
    )
    for prefix, count in (("ab", 2), ("zz", 0)):
        assert _run(capsys, "store", "show", prefix, "--store", url) == (
            2,
            "",
            f"penvcache: error: {prefix!r} names {count} entries of {url}, not one\n",
        )
    code, out, _ = _run(capsys, "store", "show", "ab2", "--store", url, "--json")
    assert code == 0
    assert json.loads(out)["key"] == "ab" + "2" * 62


def test_store_gc_json_lists_the_blobs_it_deleted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    _entry(store, "a" * 64, [_package("alpha-pkg", "1.0", b"kept")])
    old = time.time() - 2 * 3600
    for blob in (_blob(store, b"kept"), _blob(store, b"orphan")):
        os.utime(blob, (old, old))
    code, out, _ = _run(capsys, "store", "gc", "--store", store.as_uri(), "--json")
    assert code == 0
    orphan = _sha(b"orphan")
    assert json.loads(out) == {
        "store": store.as_uri(),
        "deleted": [f"blobs/sha256/{orphan[:2]}/{orphan}"],
        "left": [],
    }
    assert _blob(store, b"kept").exists()


def _old(*paths: Path) -> None:
    """Older than gc's hour of grace (the symlink itself too, never what it points at)."""
    old = time.time() - 2 * 24 * 3600
    for path in paths:
        os.utime(path, (old, old), follow_symlinks=False)


@pytest.mark.parametrize("planted", ["a directory of blobs", "a blob", "blobs/sha256", "a FIFO"])
def test_store_gc_never_follows_a_symlink_out_of_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], planted: str
) -> None:
    """Whoever can write a ``file://`` store may plant a symlink in its blobs/ to any directory: gc leaves it
    alone and says so, deletes nothing out of the store, and still collects the store's own unreferenced blobs."""
    store, victim = tmp_path / "store", tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "important.txt").write_text("data\n")
    (victim / "sub" / "notes.txt").write_text("x\n")
    _old(victim / "important.txt", victim / "sub" / "notes.txt")
    _entry(store, "a" * 64, [_package("alpha-pkg", "1.0", b"kept")])
    kept, orphan = _blob(store, b"kept"), _blob(store, b"orphan")
    _old(kept, orphan)
    sha256 = store / "blobs" / "sha256"
    if planted == "a directory of blobs":
        odd = sha256 / "zz"
        odd.symlink_to(victim)
    elif planted == "a blob":
        odd = sha256 / "zz" / ("f" * 64)
        odd.parent.mkdir()
        odd.symlink_to(victim / "important.txt")
    elif planted == "blobs/sha256":  # the store's blobs are moved out of it: beyond the link, out of gc's reach
        sha256.rename(tmp_path / "moved")
        kept, orphan = (tmp_path / "moved" / p.parent.name / p.name for p in (kept, orphan))
        odd = sha256
        odd.symlink_to(victim)
    else:
        odd = sha256 / "zz" / ("f" * 64)
        odd.parent.mkdir()
        os.mkfifo(odd)
    _old(odd)
    what = "a FIFO" if planted == "a FIFO" else "a symlink"
    relative = odd.relative_to(store).as_posix()
    code, out, err = _run(capsys, "store", "gc", "--store", store.as_uri())
    assert (code, err) == (
        0,
        f"penvcache: {store.as_uri()}: left {relative} alone: it is {what}, not a blob "
        "(remove it if nobody put it there on purpose)\n",
    )
    deleted = 0 if planted == "blobs/sha256" else 1
    assert out == f"penvcache: {store.as_uri()}: deleted {deleted} unreferenced blob{'' if deleted else 's'}\n"
    assert (victim / "important.txt").read_text() == "data\n"
    assert (victim / "sub" / "notes.txt").read_text() == "x\n"
    assert os.path.lexists(odd)
    assert kept.exists()
    assert orphan.exists() is (planted == "blobs/sha256")
    code, out, _ = _run(capsys, "store", "gc", "--store", store.as_uri(), "--json")
    assert (code, json.loads(out)["left"]) == (0, [{"path": relative, "what": what}])


def test_store_gc_refuses_a_store_whose_blobs_directory_is_a_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, victim = tmp_path / "store", tmp_path / "victim"
    victim.mkdir()
    (victim / "important.txt").write_text("data\n")
    _old(victim / "important.txt")
    _entry(store, "a" * 64, [_package("alpha-pkg", "1.0", b"kept")])
    (store / "blobs").symlink_to(victim)
    assert _run(capsys, "store", "gc", "--store", store.as_uri()) == (
        1,
        "",
        f"penvcache: error: store {store.as_uri()}: cannot read it (its blobs is a symlink, not a directory)\n",
    )
    assert (victim / "important.txt").read_text() == "data\n"


def test_a_file_store_deletes_and_writes_only_through_its_own_directories(tmp_path: Path) -> None:
    """A directory of the store swapped for a symlink between gc's listing and its deletion, or planted where a
    publisher writes: nothing out of the store is deleted or written."""
    from penvcache._store import Level, OddObject

    store, victim = tmp_path / "store", tmp_path / "victim"
    (store / "blobs" / "sha256").mkdir(parents=True)
    victim.mkdir()
    (victim / "abcdef").write_text("data\n")
    (store / "blobs" / "sha256" / "ab").symlink_to(victim)
    level = Level(store.as_uri())
    with pytest.raises(OddObject, match=r"^its blobs/sha256/ab is a symlink, not a directory$"):
        level.delete("blobs/sha256/ab/abcdef")
    with pytest.raises(OddObject, match=r"^its blobs/sha256/ab is a symlink, not a directory$"):
        level.put_new("blobs/sha256/ab/abcdef0", b"wheel")
    assert sorted(p.name for p in victim.iterdir()) == ["abcdef"]
    assert (victim / "abcdef").read_text() == "data\n"
    (store / "blobs" / "sha256" / "cd").mkdir()
    (store / "blobs" / "sha256" / "cd" / "cdef").symlink_to(victim / "abcdef")
    with pytest.raises(OddObject, match=r"^its blobs/sha256/cd/cdef is a symlink, not a regular file$"):
        level.put_new("blobs/sha256/cd/cdef", b"wheel")
    assert level.put_new("blobs/sha256/ef/ef01", b"wheel") is True  # a real directory, made as it was before
    assert level.put_new("blobs/sha256/ef/ef01", b"other") is False
    assert (store / "blobs" / "sha256" / "ef" / "ef01").read_bytes() == b"wheel"


def test_a_file_store_writes_into_the_directory_it_checked_not_one_swapped_in_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blob's directory swapped for a symlink right after the publisher opened it (and found it a real
    directory of the store): the blob is written into the directory that was checked, by its descriptor, never
    through the symlink, and no temporary file is left."""
    from penvcache._store import Level

    store, victim, moved = tmp_path / "store", tmp_path / "victim", tmp_path / "store" / "moved"
    hh = store / "blobs" / "sha256" / "ab"
    hh.mkdir(parents=True)
    victim.mkdir()
    opened = Level._open_dirs

    def swapped_after(self: Level, names: Any, *, create: bool = False) -> int:
        fd = opened(self, names, create=create)
        if list(names) == ["blobs", "sha256", "ab"]:
            hh.rename(moved)
            hh.symlink_to(victim)
        return fd

    monkeypatch.setattr(Level, "_open_dirs", swapped_after)
    assert Level(store.as_uri()).put_new("blobs/sha256/ab/abcdef", b"wheel") is True
    assert list(victim.iterdir()) == []
    assert [(p.name, p.read_bytes()) for p in moved.iterdir()] == [("abcdef", b"wheel")]


def test_publishing_never_writes_through_a_symlink_planted_in_the_store(
    tmp_path: Path, hermetic: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    store, victim = tmp_path / "store", tmp_path / "victim"
    (store / "blobs").mkdir(parents=True)
    victim.mkdir()
    (store / "blobs" / "sha256").symlink_to(victim)
    code, _, err = _run(capsys, "ensure", *hermetic, "--store", store.as_uri(), "alpha-pkg==1.0")
    assert code == 0
    assert (
        f"penvcache: store {store.as_uri()}: cannot publish (its blobs/sha256 is a symlink, not a directory)\n" in err
    )
    assert list(victim.iterdir()) == []
    assert not (store / "entries").exists()


@pytest.mark.parametrize("manifest", ["newer format", "not JSON", "a symlink", "entry directory a symlink"])
def test_store_gc_deletes_nothing_while_an_entry_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], manifest: str
) -> None:
    """An entry gc cannot read (a newer penvcache's, a damaged one) references blobs it cannot know: gc deletes
    nothing, and says which entry to fix or remove (or to upgrade penvcache), until then."""
    store, key = tmp_path / "store", "b" * 64
    entry = _entry(store, key, [_package("alpha-pkg", "1.0", b"theirs")])
    document = json.loads((entry / "manifest.json").read_text())
    path = f"entries/{key}/manifest.json"
    if manifest == "newer format":
        (entry / "manifest.json").write_text(json.dumps({**document, "format": 2, "packages": "a new layout"}))
        problem = "its manifest is of format 2, newer than this penvcache reads (1): upgrade penvcache"
    elif manifest == "not JSON":
        (entry / "manifest.json").write_text('{"format": 1, "key"')
        problem = "its manifest is not JSON (Expecting ':' delimiter: line 1 column 20 (char 19))"
    elif manifest == "a symlink":
        (entry / "manifest.json").rename(tmp_path / "manifest.json")
        (entry / "manifest.json").symlink_to(tmp_path / "manifest.json")
        problem = f"its {path} is a symlink"
    else:
        entry.rename(tmp_path / "entry")
        entry.symlink_to(tmp_path / "entry")
        problem = f"its entries/{key} is a symlink"
    theirs, orphan = _blob(store, b"theirs"), _blob(store, b"orphan")
    _old(theirs, orphan)
    code, out, _ = _run(capsys, "store", "list", "--store", store.as_uri())
    assert (code, out) == (0, f"{key[:16]}  {problem}\n")
    assert _run(capsys, "store", "gc", "--store", store.as_uri()) == (
        1,
        "",
        f"penvcache: error: store {store.as_uri()}: deleting nothing: its entry entries/{key}/ cannot be read "
        f"({problem}); fix or remove it, or upgrade penvcache if a newer one wrote it\n",
    )
    assert theirs.exists()
    assert orphan.exists()


def test_store_gc_deletes_nothing_when_the_listing_is_in_another_shape(tmp_path: Path) -> None:
    """A backend whose listing keeps a prefix (WebDAV lists paths from the server's root) shows no entry in the
    shape gc knows: every blob would look unreferenced. Such a path is an entry gc cannot read, so it deletes
    nothing. (A Level whose listing carries a prefix stands for such a backend.)"""
    from penvcache import PenvcacheError
    from penvcache._store import Level, gc

    store, key = tmp_path / "store", "c" * 64
    _entry(store, key, [_package("alpha-pkg", "1.0", b"theirs")])
    theirs = _blob(store, b"theirs")
    _old(theirs)

    class Prefixed(Level):
        def list(self, prefix: str) -> list[dict[str, Any]]:
            found = super().list(prefix)
            if prefix == "entries/":
                return [{**meta, "path": f"dav/{meta['path']}"} for meta in found]
            return found

    listed = f"dav/entries/{key}/manifest.json"
    with pytest.raises(PenvcacheError, match=re.escape(f"{listed}/ cannot be read (the store lists it outside")):
        gc(Prefixed(store.as_uri()))
    assert theirs.exists()


def test_an_unreachable_store_is_one_line_without_its_password(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listens on port 9: the store command fails (exit 1) in one line naming the store, password hidden."""
    for action in ("list", "gc"):
        code, out, err = _run(capsys, "store", action, "--store", "http://alice:s3cret@127.0.0.1:9/store")
        assert code == 1
        assert out == ""
        assert err.startswith("penvcache: error: store http://****@127.0.0.1:9/store: cannot read it (")
        assert err.count("\n") == 1
        assert "s3cret" not in err


# -- bundle ---------------------------------------------------------------------------------------------------------
def test_bundle_reports_in_json_or_not_at_all_and_refuses_a_direct_reference(
    tmp_path: Path, venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle"
    args = ["bundle", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "--out", str(out)]
    code, stdout, _ = _run(capsys, *args, "gamma-pkg", "--json")
    assert code == 0
    written = json.loads(stdout)
    assert (written["status"], written["out"]) == ("written", str(out))
    assert (out / "entries" / written["key"] / "manifest.json").is_file()
    assert _run(capsys, *args, "gamma-pkg", "-q")[:2] == (0, "")
    assert _run(capsys, *args, "gamma-pkg")[:2] == (0, f"penvcache: {out} already holds entry {written['key'][:12]}\n")
    wheel = next(wheelhouse.glob("alpha_pkg-1.0-*.whl"))
    code, stdout, err = _run(capsys, *args, f"alpha-pkg @ {wheel.as_uri()}")
    assert (code, stdout) == (2, "")
    assert err.splitlines()[-1] == (
        f"penvcache: error: cannot bundle {venv}: alpha-pkg @ {wheel.as_uri()} is a direct reference "
        "(its files are this machine's)"
    )
    assert [p.name for p in (out / "entries").iterdir()] == [written["key"]]


# -- reading: what reaches uv ---------------------------------------------------------------------------------------
def test_a_rejected_entry_leaves_nothing_for_uv_and_the_next_store_serves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first store's second blob is corrupt: the wheel already fetched from it is removed before the next
    store of the chain is read, and with no next store nothing at all reaches uv."""
    key = "c" * 64
    first, second = tmp_path / "first", tmp_path / "second"
    packages = [_package("alpha-pkg", "1.0", b"alpha wheel"), _package("gamma-pkg", "1.0", b"gamma wheel")]
    for store in (first, second):
        _entry(store, key, packages)
        _blob(store, b"alpha wheel")
        _blob(store, b"gamma wheel")
    _blob(first, b"gamma wheel").write_bytes(b"gamma WHEEL")  # same size, other bytes
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    capsys.readouterr()
    fetched, missed = lookup([first.as_uri(), second.as_uri()], [key], str(wheels))
    assert missed == [first.as_uri()]
    assert fetched is not None
    assert fetched.store == second.as_uri()
    assert {p.name: p.read_bytes() for p in wheels.iterdir()} == {
        "alpha_pkg-1.0-py3-none-any.whl": b"alpha wheel",
        "gamma_pkg-1.0-py3-none-any.whl": b"gamma wheel",
    }
    assert capsys.readouterr().err == (
        f"penvcache: store {first.as_uri()}: its blob for gamma_pkg-1.0-py3-none-any.whl fails its sha256 check; "
        "trying the next store\n"
    )
    for stale in wheels.iterdir():
        stale.unlink()
    assert lookup([first.as_uri()], [key], str(wheels)) == (None, [first.as_uri()])
    assert list(wheels.iterdir()) == []
    assert capsys.readouterr().err.endswith("fails its sha256 check; installing normally\n")


@pytest.mark.parametrize("planted", ["a path in the sha256", "a FIFO for the blob", "a symlink for the blob",
                                     "a symlink for the manifest", "a device for the manifest",
                                     "a symlink for the entry's directory",
                                     "a symlink for the blob's directory"])  # fmt: skip
def test_what_a_store_writer_plants_is_a_miss_never_followed_or_waited_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], planted: str
) -> None:
    """Whoever can write a ``file://`` store may plant anything in it: a manifest whose sha256 is a path out of
    the store, a FIFO (which would block its reader), a symlink, a device (read without end). Each is a miss
    with one line; nothing out of the store is read, and nothing reaches uv."""
    key, store, wheels = "d" * 64, tmp_path / "store", tmp_path / "wheels"
    wheels.mkdir()
    secret = tmp_path / "outside"
    secret.write_bytes(b"alpha wheel")  # what the store's writer would have penvcache read (and link for uv)
    package = _package("alpha-pkg", "1.0", b"alpha wheel")
    blob = _blob(store, b"alpha wheel")
    entry = _entry(store, key, [package])
    files: Any = package["files"]
    if planted == "a path in the sha256":
        files[0]["sha256"] = "/" * (64 - len(f"../../../../{secret.name}")) + f"../../../../{secret.name}"
        _entry(store, "e" * 64, [package])
        key, why = "e" * 64, "its manifest lists a malformed package"
    elif planted == "a FIFO for the blob":
        blob.unlink()
        os.mkfifo(blob)
        why = f"its blobs/sha256/{blob.name[:2]}/{blob.name} is not a regular file"
    elif planted == "a symlink for the blob":
        blob.unlink()
        blob.symlink_to(secret)
        why = f"its blobs/sha256/{blob.name[:2]}/{blob.name} cannot be read"
    elif planted == "a symlink for the manifest":
        (entry / "manifest.json").rename(tmp_path / "real-manifest.json")
        (entry / "manifest.json").symlink_to(tmp_path / "real-manifest.json")
        why = f"its entries/{key}/manifest.json cannot be read"
    elif planted == "a device for the manifest":
        (entry / "manifest.json").unlink()
        (entry / "manifest.json").symlink_to("/dev/zero")  # refused as a symlink before it could be read
        why = f"its entries/{key}/manifest.json cannot be read"
    elif planted == "a symlink for the entry's directory":  # a directory on the way is never followed either
        entry.rename(tmp_path / "real-entry")
        entry.symlink_to(tmp_path / "real-entry")
        why = f"its entries/{key} is a symlink, not a directory"
    else:
        blob.parent.rename(tmp_path / "real-blobs")
        blob.parent.symlink_to(tmp_path / "real-blobs")
        why = f"its blobs/sha256/{blob.name[:2]} is a symlink, not a directory"
    capsys.readouterr()
    assert lookup([store.as_uri()], [key], str(wheels)) == (None, [store.as_uri()])
    assert list(wheels.iterdir()) == []
    err = capsys.readouterr().err
    assert err.startswith(f"penvcache: store {store.as_uri()}: {why}"), err
    assert err.endswith("; installing normally\n")
    assert err.count("\n") == 1


def test_a_stored_file_that_matches_its_hash_but_is_no_wheel_falls_through(
    tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever can write a store can make an entry whose bytes match its manifest: uv refuses the file, and the
    miss installs normally."""
    store = tmp_path / "store"
    common = ["--offline", "--find-links", str(wheelhouse), "--store", store.as_uri(), "alpha-pkg==1.0"]
    assert main(["ensure", "--venv", str(tmp_path / "a"), *common]) == 0
    (manifest,) = store.glob("entries/*/manifest.json")
    data = json.loads(manifest.read_text())
    poison = b"not a zip file"
    _blob(store, poison)
    data["packages"][0]["files"][0].update(sha256=_sha(poison), size=len(poison))
    manifest.write_text(json.dumps(data))
    code, _, err = _run(capsys, "ensure", "--venv", str(tmp_path / "b"), *common)
    assert code == 0, err
    assert f"penvcache: store {store.as_uri()}: its wheels did not install (" in err
    assert "); installing normally\n" in err
    assert "from store" not in err
    installed = next((tmp_path / "b" / "lib").glob("python3*/site-packages/alpha_pkg/__init__.py"))
    assert installed.read_text() == '__version__ = "1.0"\n'


def _poison(store: Path, tmp_path: Path, name: str, version: str) -> None:
    """Replace the store's one entry's wheel by a real one of the same name and version whose module raises on
    import, the manifest's hash and size made to match."""
    (manifest,) = store.glob("entries/*/manifest.json")
    data = json.loads(manifest.read_text())
    poisoned = build_wheel(tmp_path / "poisoned", name, version, module_source="raise ImportError('poisoned')\n")
    poison = poisoned.read_bytes()
    _blob(store, poison)
    data["packages"][0]["files"][0].update(sha256=_sha(poison), size=len(poison))
    manifest.write_text(json.dumps(data))


def test_a_stored_wheel_that_installs_but_fails_validation_falls_back_to_the_sets_own_sources(
    tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever can write a store can also make an entry of real wheels that install and then fail to import: the
    miss installs the set anew from its own sources (offline: uv's cache) and publishes nothing to that store."""
    store = tmp_path / "store"
    common = ["--offline", "--find-links", str(wheelhouse), "--store", store.as_uri(), "alpha-pkg==1.0"]
    assert main(["ensure", "--venv", str(tmp_path / "a"), *common]) == 0
    _poison(store, tmp_path, "alpha-pkg", "1.0")
    before = sorted(p.relative_to(store) for p in store.rglob("*"))
    code, out, err = _run(capsys, "ensure", "--venv", str(tmp_path / "b"), *common, "--json")
    assert code == 0, err
    assert "installed 1 packages from store" in err  # the poisoned wheel was installed, then rejected
    assert f"penvcache: store {store.as_uri()}: what it installed fails validation (" in err
    assert "poisoned" in err
    assert json.loads(out)["status"] == "installed"
    installed = next((tmp_path / "b" / "lib").glob("python3*/site-packages/alpha_pkg/__init__.py"))
    assert installed.read_text() == '__version__ = "1.0"\n'
    assert sorted(p.relative_to(store) for p in store.rglob("*")) == before  # nothing written to that store


@pytest.mark.private_uv_cache  # uv files the index's pages by URL: a later test's server may get the port
def test_offline_the_fallback_from_a_failing_entry_installs_from_uv_cache(
    tmp_path: Path, index: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Offline, with no find-links, the set's own source is uv's cache of the index: the fallback must use it."""
    store = tmp_path / "store"
    monkeypatch.setenv("UV_DEFAULT_INDEX", index[1])
    assert main(["ensure", "--venv", str(tmp_path / "a"), "--store", store.as_uri(), "gamma-pkg==1.0"]) == 0  # online
    _poison(store, tmp_path, "gamma-pkg", "1.0")
    code, _, err = _run(
        capsys, "ensure", "--offline", "--venv", str(tmp_path / "b"), "--store", store.as_uri(), "gamma-pkg==1.0"
    )
    assert code == 0, err
    assert f"penvcache: store {store.as_uri()}: what it installed fails validation (" in err
    installed = next((tmp_path / "b" / "lib").glob("python3*/site-packages/gamma_pkg/__init__.py"))
    assert installed.read_text() == '__version__ = "1.0"\n'


def test_exact_from_the_store_removes_what_the_set_does_not_need(
    tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    args = ["--offline", "--store", store.as_uri(), "--exact", "alpha-pkg==1.0"]
    assert main(["ensure", "--venv", str(tmp_path / "a"), "--find-links", str(wheelhouse), *args]) == 0
    b = tmp_path / "b"
    assert main(["ensure", "--venv", str(b), "--find-links", str(wheelhouse), "--offline", "gamma-pkg"]) == 0
    code, _, err = _run(capsys, "ensure", "--venv", str(b), *args)  # no find-links: only the store has alpha-pkg
    assert code == 0, err
    assert "installed 1 packages from store" in err
    assert sorted(p.name for p in b.glob("lib/python3*/site-packages/*.dist-info")) == ["alpha_pkg-1.0.dist-info"]


def test_a_pylock_set_is_not_shared_the_lock_is(tmp_path: Path) -> None:
    lock = tmp_path / "pylock.toml"
    lock.write_text('lock-version = "1.0"\ncreated-by = "hand"\n[[packages]]\nname = "alpha-pkg"\nversion = "1.0"\n')
    assert portable(read_deps((), [lock])) == "a pylock.toml deps file is installed as it is (share the lock itself)"
    assert portable(read_deps(["alpha-pkg==1.0"])) is None


@pytest.mark.parametrize("for_another_platform", [False, True])
def test_a_bundle_that_cannot_be_written_is_one_line(
    tmp_path: Path, venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str], for_another_platform: bool
) -> None:
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "blobs").write_text("a file in the way\n")
    args = ["bundle", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "--out", str(out)]
    if for_another_platform:
        args += ["--python-platform", "x86_64-manylinux_2_28", "--python-version", "3.12"]
    code, stdout, err = _run(capsys, *args, "alpha-pkg")
    assert (code, stdout) == (1, "")
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith(
        "penvcache: error: cannot bundle: " if for_another_platform else f"penvcache: error: cannot bundle {venv}: "
    )
    assert last.endswith(": its blobs is a regular file, not a directory")
    assert not list(out.rglob("manifest.json"))


def test_a_bundle_goes_into_the_directory_named_whatever_its_characters(
    tmp_path: Path, venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--out`` is a path, not a URL: a '#', a '?' or a '%41' in it is part of the name."""
    out = tmp_path / "usb #1?%41"
    args = ["bundle", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "--out", str(out)]
    assert _run(capsys, *args, "alpha-pkg")[0] == 0
    assert len(list(out.glob("entries/*/manifest.json"))) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("usb")) == [out.name]


# -- writing --------------------------------------------------------------------------------------------------------
def test_a_set_that_cannot_be_locked_for_the_store_is_installed_and_said_once(
    tmp_path: Path, venv: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publishing never fails the ensure: a uv whose `pip compile` fails leaves the venv installed and the store
    without an entry, and says why in one line."""
    wrapper = tmp_path / "uv-that-cannot-lock"
    wrapper.write_text(
        f'#!/bin/sh\n[ "$2" = compile ] && {{ echo "error: no lock today"; exit 2; }}\nexec {uv_bin()} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PENVCACHE_UV", str(wrapper))
    store = tmp_path / "store"
    args = ["ensure", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "--store", store.as_uri()]
    code, out, err = _run(capsys, *args, "alpha-pkg")
    assert code == 0, err
    assert out.startswith(f"penvcache: installed {venv} (")
    said = [line for line in err.splitlines() if "publish" in line]
    assert said == ["penvcache: store: cannot publish (cannot lock the set: error: no lock today)"]
    assert not list(store.rglob("manifest.json"))


def test_a_set_that_names_its_own_sources_is_published_online_and_served(
    tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not offline, with --no-index and find-links in the deps file: the lock for the store is made from those
    sources alone (no index asked), and another venv installs the set from the store."""
    deps = tmp_path / "deps.txt"
    deps.write_text(f"--no-index\n--find-links {wheelhouse}\ndelta-pkg\n")
    store = tmp_path / "store"
    code, _, err = _run(capsys, "ensure", "--venv", str(tmp_path / "a"), "-r", str(deps), "--store", store.as_uri())
    assert code == 0, err
    assert "published 2 packages" in err
    code, _, err = _run(capsys, "ensure", "--venv", str(tmp_path / "b"), "-r", str(deps), "--store", store.as_uri())
    assert code == 0, err
    assert "installed 2 packages from store" in err


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("s3://AKIAKEY:s3cret@bucket/team", "s3://****@bucket/team"),
        ("https://alice:s3cret@dav.example:8443/store", "https://****@dav.example:8443/store"),
        ("https://token@dav.example/store", "https://****@dav.example/store"),
        ("file:///srv/store", "file:///srv/store"),
    ],
)
def test_a_store_url_is_shown_without_its_credentials(url: str, shown: str) -> None:
    assert _redact(url) == shown
