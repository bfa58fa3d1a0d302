"""The shared store: two "machines" (separate cache dirs and uv caches) on one host, sharing a store."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from penvcache.cli import main
from tests._kit import build_slow_sdist, build_wheel, site_packages
from tests.conftest import SharedUvCache, make_venv, venv_slot

pytest.importorskip("obstore")

ROOT = Path(__file__).resolve().parent.parent


class Machine:
    """A cache dir and a uv cache of its own (holding no wheel, only what uv learned about this host's
    interpreters: :meth:`SharedUvCache.seed`); runs ``penvcache`` in-process with them."""

    def __init__(self, root: Path, venv: Path, monkeypatch: pytest.MonkeyPatch, uv_cache: SharedUvCache) -> None:
        self.root = root
        self.venv = venv
        self.uv_cache = root / "uv-cache"
        uv_cache.seed(self.uv_cache)
        self.env = {"PENVCACHE_CACHE_DIR": str(self.root / "cache"), "UV_CACHE_DIR": str(self.uv_cache)}
        self.monkeypatch = monkeypatch

    def run(self, *args: str) -> int:
        with self.monkeypatch.context() as m:
            for name, value in self.env.items():
                m.setenv(name, value)
            return main(list(args))

    def ensure(self, *args: str) -> int:
        return self.run("ensure", "--venv", str(self.venv), "--offline", *args)

    def versions(self) -> set[str]:
        return {p.name for p in site_packages(self.venv).glob("*.dist-info")}

    def stats(self, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
        capsys.readouterr()
        assert self.run("stats", "--json") == 0
        counts: dict[str, object] = json.loads(capsys.readouterr().out)
        return counts


@pytest.fixture
def machines(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    shared_uv_cache: SharedUvCache,
) -> Iterator[tuple[Machine, Machine]]:
    """Machines A and B; their venvs at the same paths in each test of a worker (see :func:`tests.conftest.venv`)."""
    a, b = (
        Machine(tmp_path / name, venv_slot(tmp_path_factory, f"machine-{name}"), monkeypatch, shared_uv_cache)
        for name in ("a", "b")
    )
    yield a, b
    for machine in (a, b):
        shared_uv_cache.learn(machine.uv_cache)


def _store(tmp_path: Path) -> str:
    return (tmp_path / "store").as_uri()


def test_machine_b_installs_from_the_store_alone(
    machines: tuple[Machine, Machine], wheelhouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = machines
    store = _store(tmp_path)
    assert a.ensure("--find-links", str(wheelhouse), "--store", store, "delta-pkg") == 0
    assert "published 2 packages" in capsys.readouterr().err
    manifests = list((tmp_path / "store" / "entries").glob("*/manifest.json"))
    assert len(manifests) == 1

    # B has no wheelhouse and no index: only the store can supply the set
    assert b.ensure("--store", store, "delta-pkg") == 0
    out = capsys.readouterr()
    assert "installed 2 packages from store" in out.err
    assert "penvcache: installed" in out.out
    assert b.versions() == a.versions() == {"alpha_pkg-2.0.dist-info", "delta_pkg-1.0.dist-info"}
    counts = b.stats(capsys)
    assert counts["store_hits"] == 1
    assert counts["store_bytes_fetched"] == sum(
        f.stat().st_size for f in (tmp_path / "store" / "blobs").rglob("*") if f.is_file()
    )
    # and then B is an ordinary hit
    assert b.ensure("--store", store, "delta-pkg") == 0
    assert "penvcache: hit" in capsys.readouterr().out


def test_without_the_store_machine_b_cannot_install(machines: tuple[Machine, Machine]) -> None:
    """The control for the test above: B really has no other source."""
    _, b = machines
    assert b.ensure("delta-pkg") == 4


def _published(a: Machine, wheelhouse: Path, store: str, capsys: pytest.CaptureFixture[str]) -> Path:
    assert a.ensure("--find-links", str(wheelhouse), "--store", store, "alpha-pkg==1.0") == 0
    capsys.readouterr()
    (entry,) = (Path(store.removeprefix("file://")) / "entries").iterdir()
    return entry


def _blob(entry: Path) -> Path:
    manifest = json.loads((entry / "manifest.json").read_text())
    sha: str = manifest["packages"][0]["files"][0]["sha256"]
    return entry.parent.parent / "blobs" / "sha256" / sha[:2] / sha


@pytest.mark.parametrize("damage", ["corrupt blob", "missing blob", "truncated manifest", "foreign manifest"])
def test_a_bad_entry_falls_through_to_a_normal_install(
    machines: tuple[Machine, Machine], wheelhouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    a, b = machines
    store = _store(tmp_path)
    entry = _published(a, wheelhouse, store, capsys)
    blob = _blob(entry)
    if damage == "corrupt blob":  # same size, other bytes: a wheel that must never be installed
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF
        blob.write_bytes(bytes(data))
    elif damage == "missing blob":
        blob.unlink()
    elif damage == "truncated manifest":
        manifest = entry / "manifest.json"
        manifest.write_bytes(manifest.read_bytes()[:40])
    else:
        (entry / "manifest.json").write_text(json.dumps({"format": 1, "key": "another", "packages": []}))

    assert b.ensure("--find-links", str(wheelhouse), "--store", store, "alpha-pkg==1.0") == 0
    err = capsys.readouterr().err
    expected = {
        "corrupt blob": "fails its sha256 check",
        "missing blob": "is missing",
        "truncated manifest": "is not JSON",
        "foreign manifest": "not a penvcache manifest for this key",
    }[damage]
    assert expected in err
    assert "installing normally" in err
    assert "from store" not in err
    installed = site_packages(b.venv) / "alpha_pkg" / "__init__.py"
    assert installed.read_text() == '__version__ = "1.0"\n'  # the wheelhouse's file, not the damaged blob's


def test_a_read_only_job_never_publishes(
    machines: tuple[Machine, Machine], wheelhouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, _ = machines
    store = tmp_path / "store"
    assert a.ensure("--find-links", str(wheelhouse), "--store", store.as_uri(), "--store-readonly", "gamma-pkg") == 0
    assert not list(store.rglob("manifest.json"))
    assert "published" not in capsys.readouterr().err


def test_the_store_from_the_environment_and_an_sdist_built_once(
    machines: tuple[Machine, Machine],
    wheelhouse: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An sdist-only package is built into a wheel once, by the publisher; the reader installs that wheel."""
    a, b = machines
    monkeypatch.setenv("PENVCACHE_STORE", str(tmp_path / "store"))  # a plain directory is a file:// store
    monkeypatch.setenv("SLOW_BUILD_SECONDS", "0")
    assert a.ensure("--find-links", str(wheelhouse), "slow-pkg") == 0
    (manifest,) = (tmp_path / "store" / "entries").glob("*/manifest.json")
    files = json.loads(manifest.read_text())["packages"][0]["files"]
    assert [f["filename"] for f in files] == ["slow_pkg-1.0-py3-none-any.whl"]
    marker = tmp_path / "built"
    monkeypatch.setenv("SLOW_BUILD_MARKER", str(marker))
    assert b.ensure("slow-pkg") == 0
    assert not marker.exists()  # B built nothing
    assert (site_packages(b.venv) / "slow_pkg" / "__init__.py").read_text() == "SLOW = True\n"


@pytest.fixture
def path_python_noted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``python`` first on PATH that notes each run in the returned file (which exists once it ran), no
    uv-managed Python, no active venv: uv finds an interpreter on its own only through that one."""
    shims, noted = tmp_path / "shims", tmp_path / "path-python-ran"
    shims.mkdir()
    for name in ("python", "python3", f"python3.{sys.version_info[1]}"):
        (shims / name).write_text(f'#!/bin/sh\necho "$@" >> {noted}\nexec {sys.executable} "$@"\n')
        (shims / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "no-managed-pythons"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLOW_BUILD_SECONDS", "0")
    return noted


def test_an_sdist_is_built_for_the_venvs_interpreter_not_the_one_on_path(
    machines: tuple[Machine, Machine], wheelhouse: Path, tmp_path: Path, path_python_noted: Path
) -> None:
    """The publisher builds the sdist-only package with the venv's interpreter, as the install did: a ``python``
    first on PATH is never asked, nor a uv-managed one."""
    a, _ = machines
    assert a.ensure("--find-links", str(wheelhouse), "--store", _store(tmp_path), "slow-pkg") == 0
    assert len(list((tmp_path / "store").glob("entries/*/manifest.json"))) == 1
    assert not path_python_noted.exists(), path_python_noted.read_text()


def test_a_damaged_distribution_the_set_does_not_need_does_not_stop_publishing(
    machines: tuple[Machine, Machine], wheelhouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A venv holding a distribution whose WHEEL is not UTF-8, not in the set: the set validates, and its entry
    is published all the same. (A direct_url.json that is not JSON would stop uv itself.)"""
    a, _ = machines
    make_venv(a.venv)
    site = site_packages(a.venv)
    info = site / "junk-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: junk\nVersion: 1.0\n")
    (info / "WHEEL").write_bytes(b"\xff\xfe not text")
    capsys.readouterr()
    assert a.ensure("--find-links", str(wheelhouse), "--store", _store(tmp_path), "gamma-pkg") == 0
    assert "cannot publish" not in capsys.readouterr().err
    (manifest,) = (tmp_path / "store").glob("entries/*/manifest.json")
    assert [p["name"] for p in json.loads(manifest.read_text())["packages"]] == ["gamma-pkg"]


def test_what_a_venv_holds_is_read_past_what_its_start_prints(tmp_path: Path) -> None:
    """A .pth (or a sitecustomize) may print as the interpreter starts: the list is the last line of the output;
    an answer that is not JSON is one reason, not a traceback."""
    from penvcache._store import StoreUnusable, _installed

    noisy, broken = tmp_path / "noisy-python", tmp_path / "broken-python"
    noisy.write_text(f'#!/bin/sh\necho "hello from a .pth"\nexec {sys.executable} "$@"\n')
    broken.write_text("#!/bin/sh\necho 'not a list'\n")
    for script in (noisy, broken):
        script.chmod(0o755)
    names = {name for name, _version, _editable, _tags in _installed(str(noisy))}
    assert "pytest" in names
    with pytest.raises(StoreUnusable, match=f"cannot list what {broken} holds: its answer is not JSON"):
        _installed(str(broken))


def test_two_machines_publishing_at_once_leave_one_complete_entry(wheelhouse: Path, tmp_path: Path) -> None:
    store = _store(tmp_path)
    go = tmp_path / "go"
    procs = []
    try:
        for name in ("a", "b"):
            env = dict(
                os.environ,
                PENVCACHE_CACHE_DIR=str(tmp_path / name / "cache"),
                UV_CACHE_DIR=str(tmp_path / name / "uv-cache"),
            )
            args = ["ensure", "--venv", str(tmp_path / name / "venv"), "--offline", "--find-links", str(wheelhouse)]
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests._worker", str(go), *args, "--store", store, "delta-pkg"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                )
            )
        go.touch()
        outputs = [proc.communicate(timeout=120) for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0], outputs
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    (entry,) = (tmp_path / "store" / "entries").iterdir()
    manifest = json.loads((entry / "manifest.json").read_text())
    for package in manifest["packages"]:
        for f in package["files"]:
            blob = tmp_path / "store" / "blobs" / "sha256" / f["sha256"][:2] / f["sha256"]
            assert blob.stat().st_size == f["size"]
    assert not [p for p in (tmp_path / "store").rglob("*") if p.name.startswith(".")]  # no partial temp objects


def test_store_list_show_and_gc(
    machines: tuple[Machine, Machine], wheelhouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, _ = machines
    store = _store(tmp_path)
    entry = _published(a, wheelhouse, store, capsys)
    assert a.run("store", "list", "--store", store, "--json") == 0
    (listed,) = json.loads(capsys.readouterr().out)["entries"]
    assert listed["key"] == entry.name
    assert [(p["name"], p["version"]) for p in listed["packages"]] == [("alpha-pkg", "1.0")]
    assert a.run("store", "show", entry.name[:10], "--store", store) == 0
    assert json.loads(capsys.readouterr().out)["key"] == entry.name

    blobs = tmp_path / "store" / "blobs" / "sha256"
    orphan_old, orphan_new = blobs / "00" / ("0" * 64), blobs / "11" / ("1" * 64)
    for orphan in (orphan_old, orphan_new):
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.write_bytes(b"nobody references me")
    hour_ago = time.time() - 2 * 3600
    os.utime(orphan_old, (hour_ago, hour_ago))
    referenced = _blob(entry)
    os.utime(referenced, (hour_ago, hour_ago))
    assert a.run("store", "gc", "--store", store) == 0
    assert "deleted 1 unreferenced blob" in capsys.readouterr().out
    assert not orphan_old.exists()
    assert orphan_new.exists()  # too young: its publisher may still be writing the manifest
    assert referenced.exists()


def test_bundle_round_trip_offline(
    machines: tuple[Machine, Machine], wheelhouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = machines
    bundle = tmp_path / "bundle"
    args = ["--venv", str(a.venv), "--offline", "--find-links", str(wheelhouse), "--out", str(bundle), "delta-pkg"]
    assert a.run("bundle", *args) == 0
    assert "wrote entry" in capsys.readouterr().out
    assert list(bundle.glob("entries/*/pylock.toml"))
    assert b.ensure("--store", bundle.as_uri(), "delta-pkg") == 0
    assert "from store" in capsys.readouterr().err
    assert b.versions() == a.versions()


def test_a_direct_reference_is_not_shared(
    machines: tuple[Machine, Machine], wheelhouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, _ = machines
    wheel = next(wheelhouse.glob("gamma_pkg-*.whl"))
    assert a.ensure("--store", _store(tmp_path), f"gamma-pkg @ {wheel.as_uri()}") == 0
    assert "store: not used: gamma-pkg @ file://" in capsys.readouterr().err
    assert not (tmp_path / "store" / "entries").exists()


@pytest.fixture
def webdav(tmp_path: Path) -> Iterator[str]:
    """A real WebDAV server (wsgidav on cheroot) on loopback, serving an empty directory."""
    wsgidav_app = pytest.importorskip("wsgidav.wsgidav_app")
    cheroot_wsgi = pytest.importorskip("cheroot.wsgi")
    root = tmp_path / "dav"
    (root / "store").mkdir(parents=True)  # a WebDAV store's own collection must exist; penvcache makes the rest
    config = {
        "provider_mapping": {"/": str(root)},
        "simple_dc": {"user_mapping": {"*": True}},
        "http_authenticator": {"domain_controller": None},
        "verbose": 0,
        "logging": {"enable": False},
    }
    server = cheroot_wsgi.Server(("127.0.0.1", 0), wsgidav_app.WsgiDAVApp(config))
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.bind_addr[1]}/store"
    finally:
        server.stop()
        thread.join(timeout=10)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local S3 API server (moto's server mode) on loopback, with one empty bucket."""
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for name, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }.items():
            monkeypatch.setenv(name, value)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="wheels")
        yield "s3://wheels/team"
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["webdav", "s3"])
def test_remote_backends_round_trip(
    machines: tuple[Machine, Machine],
    wheelhouse: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    backend: str,
) -> None:
    a, b = machines
    store: str = request.getfixturevalue(backend)
    assert a.ensure("--find-links", str(wheelhouse), "--store", store, "delta-pkg") == 0
    assert "published 2 packages" in capsys.readouterr().err
    assert b.ensure("--store", store, "delta-pkg") == 0
    assert "installed 2 packages from store" in capsys.readouterr().err
    assert b.versions() == a.versions()
    # publishing again finds the entry there and writes nothing; the store lists it as readable (WebDAV lists
    # its objects from the server's root: an entry read at that path was "not JSON")
    assert a.run("store", "list", "--store", store, "--json") == 0
    (listed,) = json.loads(capsys.readouterr().out)["entries"]
    assert (listed.get("problem"), [p["name"] for p in listed["packages"]]) == (None, ["alpha-pkg", "delta-pkg"])


def test_store_gc_of_a_remote_store_keeps_what_an_unreadable_entry_references(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], webdav: str
) -> None:
    """A remote store (WebDAV, which lists its objects by their path from the server's root) is collected as a
    ``file://`` one: nothing is deleted while an entry cannot be read (here a newer penvcache's), then the blobs
    no entry references are."""
    import hashlib

    root = tmp_path / "dav" / "store"  # the directory the WebDAV server serves
    old = time.time() - 2 * 3600

    def blob(data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = root / "blobs" / "sha256" / sha[:2] / sha
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (old, old))
        return f"blobs/sha256/{sha[:2]}/{sha}"

    def entry(key: str, data: bytes, form: int) -> None:
        files = [{"filename": "alpha_pkg-1.0-py3-none-any.whl", "sha256": hashlib.sha256(data).hexdigest(), "size": 4}]
        manifest = {"format": form, "key": key, "packages": [{"name": "alpha-pkg", "version": "1.0", "files": files}]}
        (root / "entries" / key).mkdir(parents=True)
        (root / "entries" / key / "manifest.json").write_text(json.dumps(manifest))

    kept, theirs, orphan = blob(b"kept"), blob(b"mine"), blob(b"gone")
    entry("a" * 64, b"kept", 1)
    entry("b" * 64, b"mine", 2)
    capsys.readouterr()
    assert main(["store", "gc", "--store", webdav]) == 1
    assert capsys.readouterr() == (
        "",
        f"penvcache: error: store {webdav}: deleting nothing: its entry entries/{'b' * 64}/ cannot be read (its "
        "manifest is of format 2, newer than this penvcache reads (1): upgrade penvcache); fix or remove it, or "
        "upgrade penvcache if a newer one wrote it\n",
    )
    assert all((root / path).exists() for path in (kept, theirs, orphan))
    for name in os.listdir(root / "entries" / ("b" * 64)):
        os.remove(root / "entries" / ("b" * 64) / name)
    os.rmdir(root / "entries" / ("b" * 64))
    assert main(["store", "gc", "--store", webdav, "--json"]) == 0
    collected = json.loads(capsys.readouterr().out)
    assert (sorted(collected.pop("deleted")), collected) == (sorted([theirs, orphan]), {"store": webdav, "left": []})
    assert [(root / path).exists() for path in (kept, theirs, orphan)] == [True, False, False]


@pytest.mark.parametrize("backend", ["file", "webdav"])
def test_gc_keeps_an_old_blob_that_an_entry_published_meanwhile_references(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    """The race of gc with a publisher, its steps in the racy order: gc reads the entries (none references the
    blob, left by an entry since removed, days old), lists blobs/, then a publisher whose wheel is that blob writes
    its entry (create-only: the blob is not written again), then gc deletes what it listed. The publisher
    refreshes the old blob's time and gc checks a blob's age again just before deleting it: the new entry keeps
    its blob, and an orphan as old still goes."""
    import hashlib

    from penvcache._store import Level, blob_path, gc, publish

    if backend == "file":
        url, root = _store(tmp_path), tmp_path / "store"
    else:
        url, root = request.getfixturevalue("webdav"), tmp_path / "dav" / "store"  # the directory it serves
    old = time.time() - 2 * 24 * 3600
    shas = {}
    for data in (b"a wheel an old entry had", b"nobody's wheel"):
        shas[data] = sha = hashlib.sha256(data).hexdigest()
        path = root / blob_path(sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (old, old))
    data, orphan = b"a wheel an old entry had", b"nobody's wheel"
    files = [{"filename": "alpha_pkg-1.0-py3-none-any.whl", "sha256": shas[data], "size": len(data)}]
    packages = [{"name": "alpha-pkg", "version": "1.0", "files": files}]

    class Racing(Level):  # the publisher's whole entry, written between gc's listing of blobs/ and its deletions
        def list(self, prefix: str) -> list[dict[str, object]]:
            found = super().list(prefix)
            if prefix == "blobs/":
                assert publish(Level(url), "e" * 64, "lock = 1\n", packages, {shas[data]: data}) is True
            return found

    deleted, left = gc(Racing(url))
    kept = root / blob_path(shas[data])
    assert kept.exists(), "gc deleted the blob of the entry published meanwhile"
    assert kept.read_bytes() == data
    assert (deleted, left) == ([blob_path(shas[orphan])], [])
    assert not (root / blob_path(shas[orphan])).exists()
    assert gc(Level(url)) == ([], [])  # the entry is read now: its blob is referenced


def test_a_remote_object_larger_than_its_manifest_says_is_never_fetched(
    machines: tuple[Machine, Machine],
    wheelhouse: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    webdav: str,
) -> None:
    """A remote store's writer can make a blob of any size: its size, known before its bytes, must be the one
    the manifest gives, or the entry is a miss and nothing is read into memory or reaches uv."""
    from penvcache._store import lookup

    a, _ = machines
    assert a.ensure("--find-links", str(wheelhouse), "--store", webdav, "gamma-pkg") == 0
    root = tmp_path / "dav" / "store"  # the directory the WebDAV server serves
    (entry,) = (root / "entries").iterdir()
    (blob,) = [p for p in (root / "blobs").rglob("*") if p.is_file()]
    size = blob.stat().st_size
    with blob.open("ab") as f:
        f.write(b"\0" * 4096)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    capsys.readouterr()
    assert lookup([webdav], [entry.name], str(wheels)) == (None, [webdav])
    assert list(wheels.iterdir()) == []
    assert f"is {size + 4096} bytes, more than the {size} expected; installing normally" in capsys.readouterr().err


def test_an_unreachable_store_is_a_miss_not_an_error(
    machines: tuple[Machine, Machine], wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, _ = machines
    dead = "http://127.0.0.1:9/store"  # nothing listens there
    assert a.ensure("--find-links", str(wheelhouse), "--store", dead, "gamma-pkg") == 0
    err = capsys.readouterr().err
    assert "cannot read it" in err
    assert "cannot publish" in err


def _local_wheel_tag() -> str:
    """The most specific tag of this interpreter that uv also knows (a manylinux one on glibc Linux)."""
    from packaging.tags import sys_tags

    tags = [str(t) for t in sys_tags()]
    return next((t for t in tags if "manylinux_" in t or "macosx_" in t or "win_" in t), tags[0])


def test_only_the_installed_wheel_is_published(
    machines: tuple[Machine, Machine], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Of the wheels that fit the venv, the store keeps the one uv installed (the others cost every reader a
    fetch): here a platform wheel, which uv prefers to the pure one."""
    a, b = machines
    house = tmp_path / "house"
    build_wheel(house, "eta-pkg", "1.0", module_source="KIND = 'pure'\n")
    tag = _local_wheel_tag()
    build_wheel(house, "eta-pkg", "1.0", module_source="KIND = 'platform'\n", tag=tag)
    store = _store(tmp_path)
    assert a.ensure("--find-links", str(house), "--store", store, "eta-pkg") == 0
    (manifest,) = (tmp_path / "store" / "entries").glob("*/manifest.json")
    (package,) = json.loads(manifest.read_text())["packages"]
    assert [f["filename"] for f in package["files"]] == [f"eta_pkg-1.0-{tag}.whl"]
    assert len([p for p in (tmp_path / "store" / "blobs").rglob("*") if p.is_file()]) == 1
    capsys.readouterr()
    assert b.ensure("--store", store, "eta-pkg") == 0
    assert "installed 1 packages from store" in capsys.readouterr().err
    assert (site_packages(b.venv) / "eta_pkg" / "__init__.py").read_text() == "KIND = 'platform'\n"


def _this_platform() -> tuple[str, str] | None:
    """uv's --python-platform and --python-version for this machine, where penvcache can name it."""
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if sys.platform == "linux" and platform.libc_ver()[0] == "glibc" and machine in ("x86_64", "aarch64"):
        return f"{machine}-manylinux_2_17", version
    if sys.platform == "darwin" and machine in ("x86_64", "aarch64"):
        return f"{machine}-apple-darwin", version
    return None


def test_a_bundle_made_for_this_platform_by_name_installs_here_offline(
    machines: tuple[Machine, Machine], wheelhouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bundle for another platform is stored under the key of its class of machines (Python X.Y, OS,
    architecture, C library), which the reading machine computes from its own interpreter: named as this
    machine, it round-trips here with no venv made on the bundling side."""
    named = _this_platform()
    if named is None:
        pytest.skip("penvcache cannot name this platform as uv does")
    a, b = machines
    bundle = tmp_path / "bundle"
    args = ["--python-platform", named[0], "--python-version", named[1], "--out", str(bundle)]
    assert a.run("bundle", "--venv", str(a.venv), "--offline", "--find-links", str(wheelhouse), *args, "delta-pkg") == 0
    assert f"for {named[0]} / Python {named[1]}" in capsys.readouterr().out
    assert not a.venv.exists()  # nothing was installed on the bundling side
    assert b.ensure("--store", bundle.as_uri(), "delta-pkg") == 0
    assert "installed 2 packages from store" in capsys.readouterr().err
    assert b.versions() == {"alpha_pkg-2.0.dist-info", "delta_pkg-1.0.dist-info"}


def test_a_bundle_for_another_platform_holds_its_wheels_and_is_not_served_here(
    machines: tuple[Machine, Machine], wheelhouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from penvcache._store import declared_class, machine_class

    a, b = machines
    arch = "x86_64" if platform.machine().lower() in ("aarch64", "arm64") else "aarch64"  # not this machine's
    house = tmp_path / "house"
    tag = f"cp312-cp312-manylinux_2_28_{arch}"
    build_wheel(house, "zeta-pkg", "1.0", requires=["alpha-pkg>=2"], tag=tag)
    build_wheel(house, "zeta-pkg", "1.0", tag="cp312-cp312-win_amd64")  # never for a Linux machine
    bundle = tmp_path / "bundle"
    links = ["--find-links", str(house), "--find-links", str(wheelhouse)]
    args = ["--python-platform", f"{arch}-manylinux_2_28", "--python-version", "3.12", "--out", str(bundle)]
    assert a.run("bundle", "--venv", str(a.venv), "--offline", *links, *args, "zeta-pkg") == 0
    (manifest,) = bundle.glob("entries/*/manifest.json")
    entry = json.loads(manifest.read_text())
    assert entry["made_for"] == {"python_platform": f"{arch}-manylinux_2_28", "python_version": "3.12"}
    files = {p["name"]: [f["filename"] for f in p["files"]] for p in entry["packages"]}
    assert files == {
        "alpha-pkg": ["alpha_pkg-2.0-py3-none-any.whl"],
        "zeta-pkg": [f"zeta_pkg-1.0-{tag}.whl"],
    }
    capsys.readouterr()
    # this machine is of another class: the bundle is not its entry (and holds no wheel it could install)
    assert b.ensure("--store", bundle.as_uri(), "zeta-pkg") == 4
    assert "no entry for this key; installing normally" in capsys.readouterr().err
    # the class the bundle was made for is the one that machine's interpreter reports
    facts = {"implementation_name": "cpython", "python_version": "3.12", "sys_platform": "linux"}
    assert machine_class({**facts, "platform_machine": arch, "libc": ["glibc", "2.35"]}) == declared_class(
        f"{arch}-manylinux_2_28", "3.12"
    )


@pytest.mark.parametrize(
    ("facts", "python_platform"),
    [
        ({"sys_platform": "darwin", "platform_machine": "arm64", "libc": ["", ""]}, "macos"),
        ({"sys_platform": "darwin", "platform_machine": "x86_64", "libc": ["", ""]}, "x86_64-apple-darwin"),
        ({"sys_platform": "win32", "platform_machine": "AMD64", "platform": "win-amd64"}, "windows"),
        ({"sys_platform": "win32", "platform_machine": "AMD64", "platform": "win32"}, "i686-pc-windows-msvc"),
        ({"sys_platform": "linux", "platform_machine": "x86_64", "libc": ["", ""]}, "x86_64-unknown-linux-musl"),
        ({"sys_platform": "linux", "platform_machine": "x86_64", "libc": ["glibc", "2.17"]}, "linux"),
    ],
)
def test_a_machine_reports_the_class_uv_names(facts: dict[str, object], python_platform: str) -> None:
    """What the reading side computes from its interpreter (a 32-bit Python on 64-bit Windows says AMD64 as its
    machine: its sysconfig platform tells) against what ``--python-platform`` names."""
    from penvcache._store import declared_class, machine_class

    reported = machine_class({"implementation_name": "cpython", "python_version": "3.13", **facts})
    assert reported == declared_class(python_platform, "3.13")
    others = {declared_class(name, "3.13")["arch"] for name in ("linux", "macos", "i686-pc-windows-msvc")}
    assert others == {"x86_64", "aarch64", "i686"}


@pytest.mark.parametrize(
    "case",
    ["only a wheel for another platform", "two versions, neither for it", "an sdist that builds a platform wheel"],
)
def test_a_bundle_for_another_platform_refuses_a_package_without_a_wheel_for_it(
    machines: tuple[Machine, Machine], tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    a, _ = machines
    house = tmp_path / "house"
    if case == "only a wheel for another platform":
        build_wheel(house, "theta-pkg", "1.0", tag="cp312-cp312-win_amd64")
        expected = (
            "cannot bundle: theta-pkg 1.0 has no wheel for aarch64-manylinux_2_28 / Python 3.12 "
            "(no matching platform tag; its wheels are for win_amd64)"
        )
    elif case == "two versions, neither for it":  # uv rules out a range of versions, not one pin
        build_wheel(house, "theta-pkg", "1.0", tag="cp311-cp311-win_amd64")
        build_wheel(house, "theta-pkg", "2.0", tag="cp312-cp312-win_amd64")
        expected = "has no wheel for aarch64-manylinux_2_28 / Python 3.12 (no matching "
    else:
        build_slow_sdist(house, "theta-pkg", "1.0", 0, tag="cp312-cp312-linux_x86_64")
        expected = (
            "cannot bundle: theta-pkg 1.0 has no wheel for aarch64-manylinux_2_28 / Python 3.12: only an sdist, "
            "which builds theta_pkg-1.0-cp312-cp312-linux_x86_64.whl here"
        )
    bundle = tmp_path / "bundle"
    args = ["--python-platform", "aarch64-manylinux_2_28", "--python-version", "3.12", "--out", str(bundle)]
    assert a.run("bundle", "--venv", str(a.venv), "--offline", "--find-links", str(house), *args, "theta-pkg") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert expected in err
    assert err.startswith("penvcache: error: cannot bundle: theta-pkg")
    assert not list(bundle.rglob("manifest.json"))


def test_a_pure_sdist_is_bundled_for_another_platform(
    machines: tuple[Machine, Machine], wheelhouse: Path, tmp_path: Path, path_python_noted: Path
) -> None:
    """An sdist-only package that builds a pure-Python wheel has a wheel for any platform: the one built here,
    resolved and built with penvcache's own interpreter, never whatever ``python`` PATH has."""
    a, _ = machines
    bundle = tmp_path / "bundle"
    args = ["--python-platform", "x86_64-pc-windows-msvc", "--python-version", "3.13", "--out", str(bundle)]
    assert a.run("bundle", "--venv", str(a.venv), "--offline", "--find-links", str(wheelhouse), *args, "slow-pkg") == 0
    (manifest,) = bundle.glob("entries/*/manifest.json")
    (package,) = json.loads(manifest.read_text())["packages"]
    assert [f["filename"] for f in package["files"]] == ["slow_pkg-1.0-py3-none-any.whl"]
    assert not path_python_noted.exists(), path_python_noted.read_text()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--python-platform", "linux"], "--python-platform and --python-version go together"),
        (["--python-version", "3.12"], "--python-platform and --python-version go together"),
        (["--python-platform", "linux", "--python-version", "312"], "--python-version 312: give the other machine"),
        (["--python-platform", "wasm32-pyodide2024", "--python-version", "3.12"], "penvcache bundles for one of"),
    ],
)
def test_bundle_platform_arguments_are_checked(
    machines: tuple[Machine, Machine],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    expected: str,
) -> None:
    a, _ = machines
    assert a.run("bundle", "--venv", str(a.venv), "--out", str(tmp_path / "bundle"), *args, "alpha-pkg") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert expected in err


def test_the_target_read_in_process_is_the_one_the_interpreter_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A venv of penvcache's own interpreter has its facts read in this process, not by starting it: the same
    facts (so the same key) as the venv's interpreter reports for itself."""
    import venv

    from penvcache._store import target

    venv.create(tmp_path / "venv", with_pip=False, symlinks=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    with monkeypatch.context() as m:
        m.setattr(subprocess, "run", None)  # no process may be started for it
        in_process = target(python)
    monkeypatch.setenv("PYTHONHOME", sys.base_prefix)  # not in this process: the venv's interpreter is asked
    assert target(python) == in_process
    assert in_process["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_reading_a_file_store_needs_no_obstore(
    machines: tuple[Machine, Machine],
    wheelhouse: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The airgapped side of a bundle (and machine B of a shared filesystem) reads files: no obstore to import,
    nor to install there; publishing to a ``file://`` store writes files too. A remote store needs it, and says
    so."""
    from penvcache import InvalidInput
    from penvcache._store import Level

    a, b = machines
    store = _store(tmp_path)
    assert a.ensure("--find-links", str(wheelhouse), "--store", store, "delta-pkg") == 0
    for name in ("obstore", "obstore.store", "obstore.exceptions"):
        monkeypatch.setitem(sys.modules, name, None)  # import obstore raises ImportError
    capsys.readouterr()
    assert b.ensure("--store", store, "delta-pkg") == 0
    assert "installed 2 packages from store" in capsys.readouterr().err
    assert a.ensure("--find-links", str(wheelhouse), "--store", store, "gamma-pkg") == 0
    assert "published 1 packages to store" in capsys.readouterr().err
    with pytest.raises(InvalidInput, match=r"the store needs obstore: pip install 'penvcache\[store\]'$"):
        Level("http://127.0.0.1:9/store")


def test_explain_shows_the_portable_key(
    machines: tuple[Machine, Machine], wheelhouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The key explain shows is the one the entry was published under, and machine B computes the same."""
    a, b = machines
    entry = _published(a, wheelhouse, _store(tmp_path), capsys)
    assert a.run("explain", "--venv", str(a.venv), "--offline", "--json", "alpha-pkg==1.0") == 0
    assert json.loads(capsys.readouterr().out)["portable_key"] == entry.name
    assert b.ensure("--store", _store(tmp_path), "alpha-pkg==1.0") == 0
    assert b.run("explain", "--venv", str(b.venv), "--offline", "alpha-pkg==1.0") == 0
    assert f"  portable: {entry.name[:12]} (the set's key in shared stores)" in capsys.readouterr().out
    wheel = next(wheelhouse.glob("gamma_pkg-*.whl"))
    assert a.run("explain", "--venv", str(a.venv), "--offline", "--json", f"gamma-pkg @ {wheel.as_uri()}") == 0
    assert json.loads(capsys.readouterr().out)["portable_key"] is None
