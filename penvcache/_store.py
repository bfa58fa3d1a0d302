"""The shared store (L2): resolved, hash-checked wheelhouses on an object store, keyed by the portable key.

Layout of one store (any URL obstore reads: ``file://``, ``s3://``, ``gs://``, ``az://``, ``http(s)://`` WebDAV)::

    entries/<portable key>/manifest.json    written last, create-only: the first complete entry wins
    entries/<portable key>/pylock.toml      PEP 751, as uv resolved it: exactly what was installed
    blobs/sha256/<hh>/<sha256>              the wheels, content-addressed

Reading checks every blob's size and sha256 before uv sees it, and uv installs them with ``--require-hashes``
from that directory alone (``--offline --no-index``). A missing, partial or corrupt entry is a miss that falls
through to the normal install with one line saying why. Whoever can write a store can poison it for everyone who
reads it: give untrusted jobs ``--store-readonly``.

This module imports obstore (the ``penvcache[store]`` extra) and is only imported on a miss.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

from ._digest import digest
from ._errors import InvalidInput, PenvcacheError

FORMAT = 1
MANIFEST = "manifest.json"
PYLOCK = "pylock.toml"
#: a blob younger than this is never collected: its publisher may not have written the manifest yet
GC_GRACE = 3600.0
#: blobs fetched (or read, or downloaded for publishing) at once
_FETCHERS = 8
#: a manifest or lock read from a ``file://`` store is this size at most (the pioarduino manifest: about 10 KB)
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_HEX = frozenset("0123456789abcdef")
#: marker-environment fields left out of the portable key: kernel builds differ between machines of one fleet
_MACHINE_SPECIFIC = ("platform_release", "platform_version")

# What decides which wheels fit an interpreter (its markers and its tags' inputs): run by the venv's interpreter,
# or in this process when that is the same binary (a process saved on every miss that looks a store up).
_TARGET_FACTS = """
def facts():
    import os, platform, sys, sysconfig
    impl = sys.implementation
    v = impl.version
    iv = "%d.%d.%d" % (v.major, v.minor, v.micro)
    if v.releaselevel != "final":
        iv += v.releaselevel[0] + str(v.serial)
    return {
        "implementation_name": impl.name,
        "implementation_version": iv,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_system": platform.system(),
        "python_full_version": platform.python_version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
        "soabi": sysconfig.get_config_var("SOABI") or "",
        "platform": sysconfig.get_platform(),
        "libc": list(platform.libc_ver()),
        "maxsize": sys.maxsize,
    }
"""


class StoreUnusable(Exception):  # a reason to fall through, not an error the caller sees
    """This store level cannot serve the entry; the message says why in one line."""


class OddObject(StoreUnusable):
    """A ``file://`` store holds something else where a directory or a regular file of the store belongs (a
    symlink, a FIFO, a device, planted by whoever can write the store): never followed, written or deleted."""

    def __init__(self, path: str, what: str, expected: str) -> None:
        super().__init__(f"its {path} is {what}, not a {expected}")
        self.path, self.what = path, what


def _what(mode: int) -> str:
    for test, what in ((stat.S_ISLNK, "a symlink"), (stat.S_ISDIR, "a directory"), (stat.S_ISREG, "a regular file"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return what
    return "a device"


_Objects = list[dict[str, Any]]  #: what :meth:`Level.list` returns
#: a directory of a ``file://`` store is opened by its name in its parent, never through a symlink
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return parts._replace(netloc=f"****@{host}").geturl()


def store_urls(urls: Iterable[str]) -> list[str]:
    """The chain of store URLs: the arguments, else ``PENVCACHE_STORE`` (whitespace-separated); plain paths become
    ``file://`` URLs."""
    chain = [u for u in urls if u] or os.environ.get("PENVCACHE_STORE", "").split()
    out: list[str] = []
    for given in chain:
        url = given if "://" in given else "file://" + os.path.abspath(os.path.expanduser(given))
        if url not in out:
            out.append(url)
    return out


class Level:
    """One store of the chain, through obstore; a ``file://`` store is read and written with plain file calls (a
    miss served from it, the airgapped bundle's case, needs no obstore, nor does publishing to it: obstore is
    imported for a remote store only)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = _redact(url)
        self.root: str | None = None  #: a ``file://`` store's directory
        self._store: Any = None
        if url.startswith("file://"):
            self.root = unquote(urlsplit(url).path)
            try:
                os.makedirs(self.root, exist_ok=True)
            except OSError as e:
                msg = f"--store {self.shown}: cannot open it: {e.strerror or e}"
                raise InvalidInput(msg) from e
        else:
            self.store  # noqa: B018 (opened now: a bad URL is bad input, not a miss)

    @property
    def store(self) -> Any:
        """A remote store's obstore store, opened on first use (a ``file://`` store has none: see :class:`Level`)."""
        if self._store is not None:
            return self._store
        try:
            import obstore.store
        except ImportError as e:
            msg = f"--store {self.shown}: the store needs obstore: pip install 'penvcache[store]'"
            raise InvalidInput(msg) from e
        from datetime import timedelta

        try:
            # a store that does not answer is a miss in seconds, not after object_store's 3 minutes of retries
            options: dict[str, Any] = {"retry_config": {"max_retries": 2, "retry_timeout": timedelta(seconds=30)}}
            if self.url.startswith(("http://", "https://")):  # cloud stores take their options from the env
                options["client_options"] = {"timeout": "600s", "allow_http": self.url.startswith("http://")}
            self._store = obstore.store.from_url(self.url, **options)
        except (OSError, ValueError, obstore.exceptions.BaseError) as e:
            msg = f"--store {self.shown}: cannot open it: {_one_line(e)}"
            raise InvalidInput(msg) from e
        return self._store

    def local(self, path: str) -> str | None:
        """A ``file://`` store's object as a file path; None for any other store."""
        return None if self.root is None else os.path.join(self.root, *path.split("/"))

    def get(self, path: str, limit: int = MAX_MANIFEST_BYTES) -> bytes | None:
        """The object's bytes, or None when it does not exist; never more than ``limit`` + 1 of them (more is
        wrong anyway): a remote object larger than ``limit`` is refused before it is fetched. A ``file://``
        store's object must be a regular file: a symlink, a FIFO or a device planted by whoever can write the
        store is refused, never followed, waited on or read without end, and so is a directory on its way that is
        not a real directory of the store (:meth:`_open_dirs`)."""
        if self.root is not None:
            *names, name = path.split("/")
            try:
                parent = self._open_dirs(names)
            except FileNotFoundError:
                return None
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent)
            except FileNotFoundError:
                return None
            except OSError as e:  # ELOOP: a symlink
                msg = f"its {path} cannot be read ({_one_line(e)})"
                raise StoreUnusable(msg) from e
            finally:
                os.close(parent)
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    msg = f"its {path} is not a regular file"
                    raise StoreUnusable(msg)
                return f.read(limit + 1)
        import obstore

        try:
            got = obstore.get(self.store, path)
        except (FileNotFoundError, obstore.exceptions.NotFoundError):
            return None
        if got.meta["size"] > limit:  # said before a byte is fetched: a huge object is never read into memory
            msg = f"its {path} is {got.meta['size']} bytes, more than the {limit} expected"
            raise StoreUnusable(msg)
        return bytes(got.bytes())

    def put_new(self, path: str, data: bytes, *, refresh_before: float | None = None) -> bool:
        """Create the object; False when it exists already (never overwritten). A ``file://`` store is written
        here, with no obstore: each directory on the way is made or opened as a real directory of the store
        (:meth:`_open_dirs`) and the object is made in the last one by its descriptor, so a symlink (or anything
        else) planted on the way, or at the object's own name, is refused (:class:`OddObject`) or left as it is,
        never written through, even one swapped in meanwhile.

        ``refresh_before`` (seconds since the epoch), for a content-addressed object (a blob: ``data`` is what is
        there): an existing one last modified before then is made new, so that :func:`gc` leaves it to the entry
        about to reference it: a ``file://`` store's gets its time set to now (its name's, never followed), a
        remote one is put again (the same bytes). One gone meanwhile (collected) is made anew."""
        if self.root is not None:
            return self._put_file(path, data, refresh_before)
        store = self.store  # first: it says when obstore is missing
        import obstore

        if refresh_before is not None:  # looked at first: an existing blob is not sent only to be refused
            try:
                modified = obstore.head(store, path)["last_modified"].timestamp()
            except (FileNotFoundError, obstore.exceptions.NotFoundError):
                pass
            else:
                if modified < refresh_before:
                    obstore.put(store, path, data)
                return False
        try:
            obstore.put(store, path, data, mode="create")
        except (FileExistsError, obstore.exceptions.AlreadyExistsError):
            return False
        except NotImplementedError:  # HTTP/WebDAV: no conditional put, so check, then put the whole object
            if self.exists(path):
                return False
            obstore.put(store, path, data)
        return True

    def _put_file(self, path: str, data: bytes, refresh_before: float | None) -> bool:
        """:meth:`put_new` in a ``file://`` store."""
        *names, name = path.split("/")
        parent = self._open_dirs(names, create=True)
        try:
            try:
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                return self._link_new(parent, path, data)
            if not stat.S_ISREG(st.st_mode):
                raise OddObject(path, _what(st.st_mode), "regular file")
            if refresh_before is not None and st.st_mtime < refresh_before:
                try:
                    os.utime(name, dir_fd=parent, follow_symlinks=False)  # now; a symlink swapped in: its own time
                except FileNotFoundError:  # collected since it was looked at
                    return self._link_new(parent, path, data)
                except PermissionError:  # another user's file this one may not touch: left as it is (README)
                    pass
                except OSError as e:
                    msg = f"its {path} cannot be refreshed ({e.strerror or _one_line(e)})"
                    raise StoreUnusable(msg) from e
            return False
        finally:
            os.close(parent)

    @staticmethod
    def _link_new(parent: int, path: str, data: bytes) -> bool:
        """Make ``path``'s last name in the directory ``parent``: a temporary file of its own there (``O_EXCL``,
        never followed, mode 0666 less the umask, as obstore makes them), written whole and synced, then
        hard-linked to the name, which fails when the name exists (False, whatever it is: nothing is written
        through it). The temporary file is removed in every case, a full disk's too."""
        import secrets

        name = path.rsplit("/", 1)[-1]
        temporary = f".{name}.{secrets.token_hex(8)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(temporary, flags, 0o666, dir_fd=parent)
            try:
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                try:
                    os.link(temporary, name, src_dir_fd=parent, dst_dir_fd=parent, follow_symlinks=False)
                except FileExistsError:  # made meanwhile (another publisher), or planted: left as it is
                    return False
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary, dir_fd=parent)
        except OSError as e:  # a full disk, a file system without hard links: one line naming the object
            msg = f"its {path} cannot be written ({e.strerror or _one_line(e)})"
            raise StoreUnusable(msg) from e
        return True

    def exists(self, path: str) -> bool:
        local = self.local(path)
        if local is not None:
            return os.path.exists(local)
        store = self.store  # first: it says when obstore is missing
        import obstore

        try:
            obstore.head(store, path)
        except (FileNotFoundError, obstore.exceptions.NotFoundError):
            return False
        return True

    def list(self, prefix: str) -> list[dict[str, Any]]:
        """Every object under ``prefix``: its ``path``, ``size`` and ``last_modified``. A ``file://`` store is
        walked here, never through a symlink: what is neither a real directory nor a regular file is listed as
        ``{"path": ..., "odd": "a symlink"}`` (or a FIFO...), never entered."""
        if self.root is not None:
            return self._walk(prefix)
        store = self.store  # first: it says when obstore is missing
        import obstore

        # a WebDAV store lists its objects by their path from the server's root (its collection's path first):
        # each is given here as it is read, written and deleted, from the store's URL
        base = unquote(urlsplit(self.url).path).strip("/") + "/"
        found: list[dict[str, Any]] = []
        for chunk in obstore.list(store, prefix):
            for meta in map(dict, chunk):
                path = str(meta["path"])
                if self.url.startswith(("http://", "https://")) and path.startswith(base + prefix):
                    meta["path"] = path[len(base) :]
                found.append(meta)
        return found

    def delete(self, path: str, *, keep_after: float | None = None) -> bool:
        """Delete the object; in a ``file://`` store only a regular file reached through real directories of the
        store (:meth:`_open_dirs`), never through a symlink: anything else is :class:`OddObject`. With
        ``keep_after`` (seconds since the epoch) one last modified after then is kept (False): its time is looked
        at right before it is deleted, not taken from an earlier listing."""
        if self.root is not None:
            *names, name = path.split("/")
            parent = self._open_dirs(names)
            try:
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if not stat.S_ISREG(st.st_mode):
                    raise OddObject(path, _what(st.st_mode), "regular file")
                if keep_after is not None and st.st_mtime > keep_after:
                    return False
                os.unlink(name, dir_fd=parent)  # the name itself is never followed
            finally:
                os.close(parent)
            return True
        store = self.store  # first: it says when obstore is missing
        import obstore

        if keep_after is not None and obstore.head(store, path)["last_modified"].timestamp() > keep_after:
            return False
        obstore.delete(store, path)
        return True

    def _open_dirs(self, names: Sequence[str], *, create: bool = False) -> int:
        """A descriptor of the ``file://`` store's directory ``root/names...``, each opened by its name in the one
        before with ``O_NOFOLLOW``: a symlink (or anything but a directory) on the way is :class:`OddObject`, even
        one swapped in meanwhile; the root itself is the caller's. A missing one is FileNotFoundError, or made
        with ``create``."""
        if self.root is None or any(name in ("", ".", "..") for name in names):
            msg = f"not a path of a file:// store: {'/'.join(names)}"
            raise ValueError(msg)
        fd = os.open(self.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
        try:
            for done, name in enumerate(names, 1):
                try:
                    below = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(name, dir_fd=fd)
                    below = self._open_dir(fd, names[:done])
                except OSError:  # ELOOP, ENOTDIR: not a directory
                    below = self._open_dir(fd, names[:done])
                os.close(fd)
                fd = below
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def _open_dir(parent: int, names: Sequence[str]) -> int:
        """Open ``names[-1]`` in ``parent`` again, or say what it is when it is not a directory."""
        try:
            return os.open(names[-1], _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            raise
        except OSError as e:
            try:
                what = _what(os.stat(names[-1], dir_fd=parent, follow_symlinks=False).st_mode)
            except OSError:
                what = f"unreadable ({_one_line(e)})"
            raise OddObject("/".join(names), what, "directory") from e

    def _walk(self, prefix: str) -> _Objects:
        """:meth:`list` of a ``file://`` store: the tree under ``prefix``, each directory opened by its name in
        its parent, never through a symlink."""
        names = [name for name in prefix.split("/") if name]
        try:
            top = self._open_dirs(names)
        except FileNotFoundError:
            return []
        found: _Objects = []

        def walk(fd: int, at: str) -> None:
            with os.scandir(fd) as listing:
                for item in listing:
                    path = f"{at}/{item.name}" if at else item.name
                    try:
                        st = item.stat(follow_symlinks=False)
                        if stat.S_ISDIR(st.st_mode):
                            below = self._open_dir(fd, path.split("/"))
                    except FileNotFoundError:  # gone meanwhile (a publisher's temp object)
                        continue
                    except OddObject as e:  # swapped for a symlink meanwhile
                        found.append({"path": path, "odd": e.what})
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        try:
                            walk(below, path)
                        finally:
                            os.close(below)
                    elif stat.S_ISREG(st.st_mode):
                        modified = datetime.fromtimestamp(st.st_mtime, tz=timezone.utc)
                        found.append({"path": path, "size": st.st_size, "last_modified": modified})
                    else:
                        found.append({"path": path, "odd": _what(st.st_mode)})

        try:
            walk(top, "/".join(names))
        finally:
            os.close(top)
        return found


def _sha256(data: bytes) -> str:
    """A wheel's sha256: OpenSSL's, about 8x faster than the built-in one the hit path uses (38 MB: 0.02 s)."""
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _one_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return lines[0] if lines else type(e).__name__


def blob_path(sha256: str) -> str:
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


def entry_path(key: str, name: str) -> str:
    return f"entries/{key}/{name}"


# --- the portable key --------------------------------------------------------------------------------------------


def target(python: str) -> dict[str, Any]:
    """The facts of the venv's interpreter that decide which wheels fit it."""
    facts: dict[str, Any]
    if os.path.realpath(python) == os.path.realpath(sys.executable) and "PYTHONHOME" not in os.environ:
        namespace: dict[str, Any] = {}
        exec(_TARGET_FACTS, namespace)
        facts = json.loads(json.dumps(namespace["facts"]()))  # as the other interpreter's would arrive
    else:
        script = _TARGET_FACTS + "import json\nprint(json.dumps(facts()))\n"
        proc = subprocess.run([python, "-I", "-c", script], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            msg = f"cannot read the target of {python}: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}"
            raise StoreUnusable(msg)
        facts = json.loads(proc.stdout)
    for name in _MACHINE_SPECIFIC:
        facts.pop(name, None)
    return facts


def portable_key(components: dict[str, str | None], index_sources: Sequence[str], facts: dict[str, Any]) -> str:
    """The key another machine computes for the same set: every component of the local key but the venv instance,
    its base interpreter and the sources (find-links directories differ per machine; index URLs do not), plus
    the index URLs and the target's facts."""
    return _set_key(components, index_sources, {"target": facts})


def class_key(components: dict[str, str | None], index_sources: Sequence[str], cls: dict[str, str]) -> str:
    """The key of an entry made for a class of machines (:func:`declared_class`, :func:`machine_class`): what a
    bundle for another platform is stored under, since that machine's exact facts cannot be known here."""
    return _set_key(components, index_sources, {"target_class": cls})


def _set_key(components: dict[str, str | None], index_sources: Sequence[str], target: dict[str, Any]) -> str:
    parts = {name: value for name, value in components.items() if name not in ("python", "venv", "sources") and value}
    return digest({"format": FORMAT, "components": parts, "indexes": sorted(index_sources), **target})


# uv's --python-platform names: what each says of the machine (uv's own markers for it: crates/uv-configuration,
# target_triple.rs), as the fields that a machine's interpreter reports too
_ALIASES = {"linux": "x86_64-unknown-linux-gnu", "windows": "x86_64-pc-windows-msvc", "macos": "aarch64-apple-darwin"}
_ARCHES = {"amd64": "x86_64", "arm64": "aarch64", "i386": "i686", "x86": "i686"}
_WINDOWS_ARCHES = {"win-amd64": "x86_64", "win32": "i686", "win-arm64": "aarch64"}  # sysconfig.get_platform()
PLATFORMS_HELP = (
    "linux, macos, windows, ARCH-manylinux_2_NN, ARCH-unknown-linux-gnu|musl, ARCH-apple-darwin, ARCH-pc-windows-msvc"
)


def declared_class(python_platform: str, python_version: str) -> dict[str, str]:
    """The class of machines ``--python-platform``/``--python-version`` name: CPython of that minor version, the
    operating system, the architecture and the C library. What the class leaves open (the glibc or macOS version
    a wheel needs) uv checks when the entry is installed."""
    name = _ALIASES.get(python_platform, python_platform)
    arch, _, rest = name.partition("-")
    if rest == "pc-windows-msvc":
        system, libc = "win32", ""
    elif rest == "apple-darwin":
        system, libc = "darwin", ""
    elif rest in ("unknown-linux-gnu", "unknown-linux") or rest.startswith("manylinux"):
        system, libc = "linux", "glibc"
    elif rest == "unknown-linux-musl":
        system, libc = "linux", "musl"
    else:
        msg = f"--python-platform {python_platform}: penvcache bundles for one of {PLATFORMS_HELP}"
        raise InvalidInput(msg)
    arch = arch.lower()
    return {
        "implementation": "cpython",
        "python": python_version,
        "os": system,
        "arch": _ARCHES.get(arch, arch),
        "libc": libc,
    }


def machine_class(facts: dict[str, Any]) -> dict[str, str]:
    """The class (:func:`declared_class`) a machine's interpreter belongs to, from its :func:`target` facts."""
    system = str(facts.get("sys_platform", ""))
    if system == "win32":  # platform.machine() is the OS's, not the interpreter's: a 32-bit Python says AMD64
        arch = _WINDOWS_ARCHES.get(str(facts.get("platform", "")), str(facts.get("platform", "")))
    else:
        arch = str(facts.get("platform_machine", "")).lower()
        arch = _ARCHES.get(arch, arch)
    libc = ""
    if system == "linux":
        libc = "glibc" if (facts.get("libc") or [""])[0] == "glibc" else "musl"
    return {
        "implementation": str(facts.get("implementation_name", "")),
        "python": str(facts.get("python_version", "")),
        "os": system,
        "arch": arch,
        "libc": libc,
    }


# --- reading -----------------------------------------------------------------------------------------------------


@dataclass
class Fetched:
    """An entry whose wheels are checked and written to ``directory``."""

    store: str
    key: str
    directory: str
    packages: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0

    def requirement_lines(self) -> list[str]:
        """``name==version --hash=...`` for every package: uv installs exactly these files."""
        lines = []
        for package in self.packages:
            hashes = "".join(f" --hash=sha256:{f['sha256']}" for f in package["files"])
            lines.append(f"{package['name']}=={package['version']}{hashes}")
        return lines


def _checked_manifest(data: bytes, key: str) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError as e:
        msg = f"its manifest is not JSON ({_one_line(e)})"
        raise StoreUnusable(msg) from e
    newer = manifest.get("format") if isinstance(manifest, dict) else None
    if isinstance(newer, int) and not isinstance(newer, bool) and newer > FORMAT:
        msg = f"its manifest is of format {newer}, newer than this penvcache reads ({FORMAT}): upgrade penvcache"
        raise StoreUnusable(msg)
    ok = isinstance(manifest, dict) and manifest.get("format") == FORMAT and manifest.get("key") == key
    packages = manifest.get("packages") if ok else None
    if not isinstance(packages, list) or not packages:
        msg = "its manifest is not a penvcache manifest for this key"
        raise StoreUnusable(msg)
    for package in packages:
        files = package.get("files") if isinstance(package, dict) else None
        good = (
            isinstance(files, list)
            and files
            and isinstance(package.get("name"), str)
            and isinstance(package.get("version"), str)
            and all(
                isinstance(f, dict)
                and isinstance(f.get("filename"), str)
                and f["filename"].endswith(".whl")
                and "/" not in f["filename"]
                and f["filename"] not in (".", "..")
                and isinstance(f.get("sha256"), str)
                and len(f["sha256"]) == 64
                and set(f["sha256"]) <= _HEX  # it names the blob's path: nothing else may reach it
                and isinstance(f.get("size"), int)
                for f in files
            )
        )
        if not good:
            msg = f"its manifest lists a malformed package: {str(package)[:80]}"
            raise StoreUnusable(msg)
    checked: dict[str, Any] = manifest
    return checked


class NoEntry(StoreUnusable):
    """The store has no manifest for this key."""


def fetch(level: Level, key: str, directory: str) -> Fetched:
    """The entry for ``key`` from one store, every wheel checked against its sha256 and size (fetched in
    parallel: a remote store's latency is paid once, not once per wheel)."""
    data = level.get(entry_path(key, MANIFEST))
    if data is None:
        msg = "no entry for this key"
        raise NoEntry(msg)
    manifest = _checked_manifest(data, key)
    fetched = Fetched(level.url, key, directory, manifest["packages"])
    files = [f for package in fetched.packages for f in package["files"]]
    if level.root is not None:  # reading files: no latency to hide
        fetched.size = sum(_checked_blob(level, f, directory) for f in files)
        return fetched
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(_FETCHERS, len(files))) as pool:
        fetched.size = sum(pool.map(lambda f: _checked_blob(level, f, directory), files))
    return fetched


def _checked_blob(level: Level, f: dict[str, Any], directory: str) -> int:
    """Put one checked wheel in ``directory``: a ``file://`` store's blob is hashed where it is and hard-linked
    (copied when it cannot be: another filesystem, another owner); any other store's is fetched and written.
    uv checks the sha256 again as it reads the file (``--require-hashes``), so a blob replaced after this check
    is refused there too."""
    dest = os.path.join(directory, f["filename"])
    data = level.get(blob_path(f["sha256"]), limit=f["size"])
    if data is None:
        msg = f"its blob for {f['filename']} is missing"
        raise StoreUnusable(msg)
    if len(data) != f["size"] or _sha256(data) != f["sha256"]:
        msg = f"its blob for {f['filename']} fails its sha256 check"
        raise StoreUnusable(msg)
    path = level.local(blob_path(f["sha256"]))
    if path is not None:
        try:
            os.link(path, dest)
        except OSError:
            pass
        else:
            return len(data)
    with open(dest, "wb") as out:
        out.write(data)
    return len(data)


def lookup(urls: Sequence[str], keys: Sequence[str], directory: str) -> tuple[Fetched | None, list[str]]:
    """The first store of the chain that serves one of ``keys`` (tried in order in each store; its wheels checked,
    in ``directory``), and the stores before it that did not (to back-fill)."""
    missed: list[str] = []
    for url in urls:
        level = Level(url)
        why = "no entry for this key"
        for key in keys:
            try:
                return fetch(level, key, directory), missed
            except NoEntry:
                continue
            except StoreUnusable as e:  # a bad entry: the next key may still be served
                why = str(e)
                _empty(directory)
            except Exception as e:  # any fault of a store level is a miss, never an error
                why = f"cannot read it ({_one_line(e)})"
                _empty(directory)
                break
        _say(f"store {level.shown}: {why}; {'trying the next store' if url != urls[-1] else 'installing normally'}")
        missed.append(url)
    return None, missed


def _empty(directory: str) -> None:
    """Nothing of a rejected entry may reach uv."""
    for name in os.listdir(directory):
        os.remove(os.path.join(directory, name))


def _say(line: str) -> None:
    sys.stderr.write(f"penvcache: {line}\n")


# --- writing -----------------------------------------------------------------------------------------------------


def _pylock_packages(text: str) -> list[dict[str, Any]]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover (3.10)
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    packages: list[dict[str, Any]] = tomllib.loads(text).get("packages", [])
    return packages


def _read_source(where: dict[str, Any], base: str) -> tuple[str, bytes]:
    """A pylock wheel or sdist: its file name and bytes, checked against its sha256."""
    import urllib.request

    if "path" in where:
        path = os.path.join(base, where["path"])
        name = os.path.basename(path)
        with open(path, "rb") as f:
            data = f.read()
    else:
        url = where["url"]
        name = unquote(os.path.basename(urlsplit(url).path))
        if url.startswith("file://"):
            with open(unquote(urlsplit(url).path), "rb") as f:
                data = f.read()
        else:
            with urllib.request.urlopen(url, timeout=60) as response:  # an index's download URL
                data = response.read()
    expected = (where.get("hashes") or {}).get("sha256")
    if expected and _sha256(data) != expected:
        msg = f"{name} does not match the sha256 the resolver recorded"
        raise StoreUnusable(msg)
    return name, data


@dataclass
class Platform:
    """Another machine a bundle is made for: uv's ``--python-platform`` and ``--python-version``."""

    python_platform: str
    python_version: str

    def shown(self) -> str:
        return f"{self.python_platform} / Python {self.python_version}"


def build_entry(  # noqa: PLR0917
    python: str | None,
    resolve: list[str],
    requirement_lines: Sequence[str],
    build_options: list[str],
    work: str,
    env: dict[str, str] | None = None,
    platform: Platform | None = None,
    *,
    build_env: dict[str, str] | None = None,
) -> tuple[str, list[dict[str, Any]], dict[str, bytes]]:
    """Resolve the set into a PEP 751 lock and gather its wheels (sdists built into wheels once).

    ``resolve`` is the uv command prefix (``uv pip compile`` with the set's sources). With ``python`` (a venv's
    interpreter) the versions installed in the venv are given as constraints, so the lock says what was
    installed, not what the index has now, and of each package's wheels only the one installed (its ``WHEEL``
    tags) is kept. With ``platform`` the set is resolved for that machine and every wheel uv lists for it is kept
    (that machine's uv picks among them); a package without one is refused.
    """
    from packaging.utils import canonicalize_name

    from ._installer import _run, _uv_error

    requirements = os.path.join(work, "requirements.in")
    with open(requirements, "w", encoding="utf-8") as f:
        f.writelines(f"{line}\n" for line in requirement_lines)
    lock = os.path.join(work, PYLOCK)
    cmd = [*resolve, requirements, "--format", "pylock.toml", "-o", lock, "-q"]
    installed: dict[str, frozenset[str]] = {}
    if python is not None:
        listed = _installed(python)
        installed = _wheel_tags(listed)
        pins = os.path.join(work, "installed.txt")
        with open(pins, "w", encoding="utf-8") as f:
            f.writelines(f"{name}=={version}\n" for name, version, editable, _ in listed if not editable)
        cmd += ["-c", pins, "--python", python]
    if platform is not None:  # resolved for that machine; uv still runs an interpreter: this one, never PATH's
        cmd += ["--python-platform", platform.python_platform, "--python-version", platform.python_version]
        cmd += ["--python", sys.executable]
    proc = _run(cmd, verbose=False, env=env)
    if proc.returncode != 0:
        why = (platform and _no_wheel(proc.stdout, platform)) or f"cannot lock the set: {_uv_error(proc.stdout)}"
        raise StoreUnusable(why)
    with open(lock, encoding="utf-8") as f:
        text = f.read()
    chosen: list[tuple[dict[str, Any], list[Any]]] = []
    for package in _pylock_packages(text):
        sources: list[Any] = package.get("wheels") or []
        if not sources:
            if "sdist" not in package:
                msg = f"{package.get('name')} is neither a wheel nor an sdist (a local or VCS project)"
                raise StoreUnusable(msg)
            sources = [_built_wheel(package, work, build_options, platform, python or sys.executable, build_env)]
        elif python is not None:
            sources = _the_installed_one(sources, installed.get(canonicalize_name(package["name"])))
        chosen.append((package, sources))
    wheels = [source for _, sources in chosen for source in sources if not isinstance(source, tuple)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, min(_FETCHERS, len(wheels)))) as pool:
        read = dict(zip(map(id, wheels), pool.map(lambda w: _read_source(w, work), wheels), strict=True))
    packages: list[dict[str, Any]] = []
    blobs: dict[str, bytes] = {}
    for package, sources in chosen:
        files = []
        for source in sources:
            name, data = source if isinstance(source, tuple) else read[id(source)]
            sha = _sha256(data)
            blobs[sha] = data
            files.append({"filename": name, "sha256": sha, "size": len(data)})
        packages.append({"name": package["name"], "version": str(package["version"]), "files": files})
    return text, packages, blobs


def _no_wheel(output: str, platform: Platform) -> str | None:
    """uv's "has no wheels with a matching platform tag" (or ABI, or Python) failure, as one line naming the
    package (uv says it of a pin, ``theta-pkg==1.0``, or of a range it ruled out, ``pywin32>=306``)."""
    import re

    text = " ".join(output.split())
    found = re.findall(r"(?:Because|because|and) ([A-Za-z0-9][\w.-]*?)([=<>!~]=?\S+)? has no wheels with a matching "
                       r"([\w ]+?) tag", text)  # fmt: skip
    if not found:
        return None
    name, spec, what = next((f for f in found if f[2] == "platform"), found[-1])
    which = f"{name} {spec[2:]}" if spec.startswith("==") else f"{name}{spec}"
    hint = rf"Wheels are available for `{re.escape(name)}` \(v[^)]*\) on the following \w+: (.+?)$"
    available = re.search(hint, text)
    there = f"; its wheels are for {available.group(1).replace('`', '')}" if available else ""
    return f"{which} has no wheel for {platform.shown()} (no matching {what} tag{there})"


# Run by a venv's interpreter: each distribution's name, version, whether it is editable, and its WHEEL tags.
_INSTALLED_SCRIPT = """
import json, importlib.metadata as m
out = []
for d in m.distributions():
    try:
        wheel = d.read_text("WHEEL") or ""
        url = d.read_text("direct_url.json") or "{}"
        editable = json.loads(url).get("dir_info", {}).get("editable", False) is True
        tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
        if d.metadata["Name"]:
            out.append([d.metadata["Name"], d.version, editable, tags])
    except Exception:  # a damaged distribution (not UTF-8, bad JSON, no Name): validation judges it, not this list
        continue
print()
print(json.dumps(out))
"""


def _installed(python: str) -> list[list[Any]]:
    """What the venv of ``python`` holds: [name, version, editable, WHEEL tags] per distribution."""
    proc = subprocess.run([python, "-I", "-c", _INSTALLED_SCRIPT], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        msg = f"cannot list what {python} holds: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}"
        raise StoreUnusable(msg)
    try:  # the last line: a .pth may print before it
        listed: list[list[Any]] = json.loads(proc.stdout.rstrip("\n").rpartition("\n")[2])
    except ValueError as e:
        msg = f"cannot list what {python} holds: its answer is not JSON ({e})"
        raise StoreUnusable(msg) from e
    return listed


def _wheel_tags(listed: list[list[Any]]) -> dict[str, frozenset[str]]:
    """Each installed distribution's wheel tags (its ``WHEEL``'s ``Tag`` lines, expanded), by canonical name."""
    from packaging.tags import parse_tag
    from packaging.utils import canonicalize_name

    return {
        canonicalize_name(name): frozenset(str(t) for tag in tags for t in parse_tag(tag))
        for name, _, _, tags in listed
    }


def _the_installed_one(wheels: list[dict[str, Any]], tags: frozenset[str] | None) -> list[dict[str, Any]]:
    """Of the wheels uv lists for a package (all those that fit the venv), the one it installed; all of them when
    that cannot be told (no ``WHEEL`` tags, or none matches)."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    if not tags:
        return wheels
    same = []
    for wheel in wheels:
        where = str(wheel.get("url") or wheel.get("path") or "")
        try:
            wheel_tags = parse_wheel_filename(unquote(os.path.basename(urlsplit(where).path)))[3]
        except InvalidWheelFilename:
            continue
        if frozenset(str(t) for t in wheel_tags) == tags:
            same.append(wheel)
    return same[:1] or wheels


def _built_wheel(  # noqa: PLR0917
    package: dict[str, Any],
    work: str,
    build_options: list[str],
    platform: Platform | None,
    python: str,
    env: dict[str, str] | None = None,
) -> tuple[str, bytes]:
    """An sdist-only package, built into a wheel with uv for ``python`` (the venv's interpreter, as the install
    built it, or for another platform this one's: only a pure-Python wheel will do there)."""
    from ._installer import _run, _uv_error, uv_bin

    name, data = _read_source(package["sdist"], work)
    sdists = tempfile.mkdtemp(dir=work)
    sdist = os.path.join(sdists, name)
    with open(sdist, "wb") as f:
        f.write(data)
    out = tempfile.mkdtemp(dir=work)
    proc = _run(
        [uv_bin(), "build", "--wheel", sdist, "-o", out, "-q", "--python", python, *build_options],
        verbose=False,
        env=env,
    )
    wheels = [n for n in os.listdir(out) if n.endswith(".whl")]
    if proc.returncode != 0 or len(wheels) != 1:
        msg = f"cannot build a wheel of {name}: {_uv_error(proc.stdout)}"
        if platform is not None:
            msg = (
                f"{package['name']} {package['version']} has no wheel for {platform.shown()}: only an sdist, which "
                f"does not build here ({_uv_error(proc.stdout)})"
            )
        raise StoreUnusable(msg)
    if platform is not None and not wheels[0].endswith("-none-any.whl"):
        msg = (
            f"{package['name']} {package['version']} has no wheel for {platform.shown()}: only an sdist, "
            f"which builds {wheels[0]} here (make the bundle on such a machine)"
        )
        raise StoreUnusable(msg)
    with open(os.path.join(out, wheels[0]), "rb") as f:
        return wheels[0], f.read()


def publish(  # noqa: PLR0917
    level: Level,
    key: str,
    pylock: str,
    packages: list[dict[str, Any]],
    blobs: dict[str, bytes],
    made_for: dict[str, str] | None = None,
) -> bool:
    """Write the entry: blobs, then the lock, then the manifest, create-only. False when an entry was there.
    ``made_for`` names the platform of a bundle made for another machine (shown by ``store list``)."""
    if level.exists(entry_path(key, MANIFEST)):
        return False
    for sha, data in blobs.items():
        # one there already, older than half gc's grace, is refreshed: a gc that read the entries before this one's
        # manifest is written would otherwise collect it (it checks each blob's time again before deleting it)
        level.put_new(blob_path(sha), data, refresh_before=time.time() - GC_GRACE / 2)
    level.put_new(entry_path(key, PYLOCK), pylock.encode())
    manifest: dict[str, Any] = {"format": FORMAT, "key": key, "created": time.time(), "packages": packages}
    if made_for is not None:
        manifest["made_for"] = made_for
    return level.put_new(entry_path(key, MANIFEST), json.dumps(manifest, indent=1, sort_keys=True).encode())


# --- operating a store -------------------------------------------------------------------------------------------


def entries(level: Level) -> list[dict[str, Any]]:
    """Every complete entry: its key, when it was made, its packages; or its key and the ``problem`` that makes
    it unreadable (its manifest, or the entry's directory, is malformed, of a newer format, or not a file)."""
    found: list[dict[str, Any]] = []
    for meta in level.list("entries/"):
        path = str(meta["path"])
        parts = path.split("/")
        if parts[0] != "entries":  # a listing in another shape (a backend's prefix left on): no entry is known
            found.append({"key": path, "problem": "the store lists it outside entries/", "packages": []})
            continue
        if "odd" in meta and (len(parts) == 2 or parts[2:] == [MANIFEST]):  # no manifest can be read there
            found.append({"key": parts[1], "problem": f"its {path} is {meta['odd']}", "packages": []})
            continue
        if len(parts) != 3 or parts[2] != MANIFEST:
            continue
        key = parts[1]
        try:
            manifest = _checked_manifest(level.get(path) or b"", key)
        except StoreUnusable as e:
            found.append({"key": key, "problem": str(e), "packages": []})
            continue
        entry = {"key": key, "created": manifest.get("created"), "packages": manifest["packages"]}
        if isinstance(manifest.get("made_for"), dict):
            entry["made_for"] = manifest["made_for"]
        found.append(entry)
    return found


def gc(level: Level, *, now: float | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """Delete the blobs no manifest references, never one younger than :data:`GC_GRACE` seconds: (the paths
    deleted, what was left alone). What is found under ``blobs/`` that is not a regular file reached through real
    directories of the store (a symlink, a FIFO: planted by whoever can write it) is left alone, never followed
    nor deleted, and returned as ``{"path": ..., "what": "a symlink"}``.

    Nothing is deleted while an entry cannot be read (malformed, of a newer penvcache's format, not a file): what
    it references cannot be known, so its blobs could be deleted from under it. That is :class:`PenvcacheError`
    (exit 1), naming the entry.

    A blob's age is judged against ``now`` (this call's start: however long gc takes, a blob touched less than
    :data:`GC_GRACE` before it read the entries is kept), by the listing and again right before it is deleted:
    a publisher refreshes an old blob it found there (:func:`publish`), so one that an entry written since the
    entries were read references is kept. Only a refresh between that last look and the deletion is lost."""
    now = time.time() if now is None else now
    cutoff = now - GC_GRACE
    found = entries(level)
    unread = [entry for entry in found if "problem" in entry]
    if unread:
        more = f" (and {len(unread) - 1} more)" if len(unread) > 1 else ""
        msg = (
            f"store {level.shown}: deleting nothing: its entry entries/{unread[0]['key']}/{more} cannot be read "
            f"({unread[0]['problem']}); fix or remove it, or upgrade penvcache if a newer one wrote it"
        )
        raise PenvcacheError(msg)
    referenced = {f["sha256"] for entry in found for package in entry["packages"] for f in package["files"]}
    deleted: list[str] = []
    left: list[dict[str, str]] = []
    for meta in level.list("blobs/"):
        path = str(meta["path"])
        if "odd" in meta:
            left.append({"path": path, "what": str(meta["odd"])})
            continue
        modified = meta.get("last_modified")
        if path.rsplit("/", 1)[-1] in referenced or modified is None or modified.timestamp() > cutoff:
            continue
        try:
            if not level.delete(path, keep_after=cutoff):
                continue  # refreshed since it was listed: an entry written meanwhile references it
        except OddObject as e:  # swapped for a symlink (or its directory was) since it was listed
            left.append({"path": e.path, "what": e.what})
            continue
        except Exception:  # gone meanwhile, or not ours to delete: the next gc tries again
            continue
        deleted.append(path)
    return deleted, left


# --- the coordinator's two calls ---------------------------------------------------------------------------------


@dataclass
class Attempt:
    """What the read path did on one miss, for the write path after validation."""

    key: str | None = None
    served_by: str | None = None
    missed: list[str] = field(default_factory=list)
    bytes_fetched: int = 0
    installed: list[str] = field(default_factory=list)  #: the packages the store's wheels installed
    rejected: str | None = None  #: the store whose wheels installed but did not validate


def reject(attempt: Attempt, why: str) -> list[str]:
    """The store's wheels installed, but the set does not validate with them: say so, and return the packages
    the caller must install anew from the set's own sources. The store that served them is not written to."""
    store = attempt.served_by or ""
    _say(f"store {_redact(store)}: what it installed fails validation ({why}); installing normally")
    attempt.served_by, attempt.rejected = None, store
    return attempt.installed


def _sources(deps: Any, inputs: Any) -> tuple[list[str], list[str], list[str]]:
    """(index sources for the key, uv options for resolving, uv options for building sdists). The sources
    themselves reach uv as in an install (:func:`_source_environment`, the requirements file's lines), never on
    its command line: a URL may carry a password."""
    indexes = [_redact(line) for line in deps.source_lines() if not line.startswith("--find-links")]
    build = ["--offline"] if inputs.offline else []
    resolve = list(build)
    resolve += [opt for opt in deps.install_options() if opt not in ("--exact", "--require-hashes")]
    if deps.no_index:
        resolve.append("--no-index")
    return indexes, resolve, build


def _source_environment(deps: Any, *, build: bool = False) -> dict[str, str]:
    """uv's environment for the set's sources: the arguments' (:func:`._installer.index_environment`); for
    ``uv build``, which reads no requirements file, the deps files' find-links too, after the arguments' (or after
    ``UV_FIND_LINKS``, as ``uv pip install -r`` would add them)."""
    from ._installer import file_source_environment, index_environment

    env = index_environment(deps)
    if build:
        env.update(file_source_environment(deps, env))
        env.pop("UV_DEFAULT_INDEX", None)  # as before: sdists build with uv's own indexes
        env.pop("UV_EXTRA_INDEX_URL", None)
    return env


def portable(deps: Any) -> str | None:
    """Why this set cannot be shared between machines, or None."""
    local = [str(r) for r in deps.requirements if r.url]
    if local:  # printed: a direct URL's credentials hidden
        from ._redact import redact

        return f"{redact(local[0])} is a direct reference (its files are this machine's)"
    if deps.projects or deps.editables:
        return "it installs a local project"
    if deps.locks:
        return "a pylock.toml deps file is installed as it is (share the lock itself)"
    return None


def install_from_store(
    urls: Sequence[str], venv: Any, inputs: Any, components: dict[str, str | None], deps: Any, *, verbose: bool
) -> Attempt:
    """Look the set up in the chain and install it from the first store that has it, checked; else an empty
    attempt (the caller installs normally)."""
    from ._installer import _run, _uv_error, uv_bin

    attempt = Attempt()
    why_not = portable(deps)
    if why_not is not None:
        _say(f"store: not used: {why_not}")
        return attempt
    try:
        indexes, _, _ = _sources(deps, inputs)
        facts = target(venv.python)
    except StoreUnusable as e:
        _say(f"store: not used: {e}")
        return attempt
    attempt.key = portable_key(components, indexes, facts)
    keys = [attempt.key, class_key(components, indexes, machine_class(facts))]  # this machine's, then a bundle's
    with tempfile.TemporaryDirectory(prefix="penvcache-store-") as work:
        wheels = os.path.join(work, "wheels")
        os.mkdir(wheels)
        fetched, attempt.missed = lookup(urls, keys, wheels)
        if fetched is None:
            return attempt
        requirements = os.path.join(work, "requirements.txt")
        with open(requirements, "w", encoding="utf-8") as f:
            f.writelines(f"{line}\n" for line in fetched.requirement_lines())
        cmd = [uv_bin(), "pip", "install", "--python", venv.python, "-r", requirements, "--require-hashes"]
        cmd += ["--no-deps", "--offline", "--no-index", "--find-links", wheels, "--reinstall"]
        if deps.exact:  # what the set does not need goes, as it would without the store
            cmd.append("--exact")
        proc = _run(cmd, verbose=verbose)
        if proc.returncode != 0:
            why = _uv_error(proc.stdout)
            _say(f"store {_redact(fetched.store)}: its wheels did not install ({why}); installing normally")
            attempt.missed.append(fetched.store)
            return attempt
        attempt.served_by, attempt.bytes_fetched = fetched.store, fetched.size
        attempt.installed = [str(package["name"]) for package in fetched.packages]
        _say(f"installed {len(fetched.packages)} packages from store {_redact(fetched.store)}")
    return attempt


def publish_after(urls: Sequence[str], attempt: Attempt, python: str, inputs: Any, deps: Any) -> int:
    """After a validated install: write the entry to every store that lacked it (all, when the set came from the
    index; the faster levels before the one that served it, to back-fill). Failures are reported, never raised.
    Returns the bytes published."""
    targets = attempt.missed if attempt.served_by or attempt.rejected else list(urls)
    if attempt.key is None or not targets:
        return 0
    published = 0
    try:
        for _, new, size in write_entry(targets, attempt.key, python, inputs, deps, strict=False):
            published += size if new else 0
    except (StoreUnusable, InvalidInput, OSError) as e:
        _say(f"store: cannot publish ({_one_line(e)})")
    return published


def write_entry(
    urls: Sequence[str],
    key: str,
    python: str | None,
    inputs: Any,
    deps: Any,
    *,
    strict: bool,
    platform: Platform | None = None,
) -> list[tuple[Level, bool, int]]:
    """Lock what ``python``'s venv holds of the set (or, with ``platform``, the set as uv resolves it for that
    machine), gather its wheels and publish them to each store: (store, whether the entry is new, its bytes) per
    store. A store that fails is reported and skipped, or, with ``strict``, raises."""
    from ._installer import uv_bin

    _, resolve, build = _sources(deps, inputs)
    deps = deps.with_find_links(inputs.find_links)
    written = []
    with tempfile.TemporaryDirectory(prefix="penvcache-publish-") as work:
        lines = [*deps.file_source_lines(), *(str(r) for r in deps.requirements)]
        compile_cmd = [uv_bin(), "pip", "compile", *resolve]
        pylock, packages, blobs = build_entry(
            python, compile_cmd, lines, build, work, _source_environment(deps), platform,
            build_env=_source_environment(deps, build=True),
        )  # fmt: skip
        size = sum(len(b) for b in blobs.values())
        made_for = None
        if platform is not None:
            made_for = {"python_platform": platform.python_platform, "python_version": platform.python_version}
        for url in urls:
            level = Level(url)
            try:
                new = publish(level, key, pylock, packages, blobs, made_for)
            except Exception as e:  # publishing never fails the ensure
                if strict:
                    raise
                _say(f"store {level.shown}: cannot publish ({_one_line(e)})")
                continue
            if new:
                _say(f"published {len(packages)} packages to store {level.shown}")
            written.append((level, new, size))
    return written
