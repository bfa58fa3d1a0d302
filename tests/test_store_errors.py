"""The shared store's errors and edges: the ``store`` command's bad input and faults (one line, no password),
entries written by hand (malformed, ambiguous, orphaned), a rejected entry's files, and what is never shared."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from penvcache.cli import main

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
    assert json.loads(out) == {"store": store.as_uri(), "deleted": [f"blobs/sha256/{orphan[:2]}/{orphan}"]}
    assert _blob(store, b"kept").exists()


def test_an_unreachable_store_is_one_line_without_its_password(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listens on port 9: the store command fails (exit 1) in one line naming the store, password hidden."""
    for action in ("list", "gc"):
        code, out, err = _run(capsys, "store", action, "--store", "http://alice:s3cret@127.0.0.1:9/store")
        assert code == 1
        assert out == ""
        assert err.startswith("penvcache: error: store http://****@127.0.0.1:9/store: cannot read it (")
        assert err.count("\n") == 1
        assert "s3cret" not in err
