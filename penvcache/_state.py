"""The cache dir and per-venv state files: owner-only, written atomically, and anything unexpected is a miss.

The state is stored with :mod:`marshal` (built in, no import cost, about 5x faster to load than JSON) because
every hit reads it; ``penvcache explain``/``list --json`` show it to people. It is data, not trust: the file
starts with a header and the payload's length (a truncated, foreign or hand-made file without them is refused
before :mod:`marshal` sees a byte of it: a 5-byte marshal file can claim a list of 2**31 items), its size is
capped, anything :mod:`marshal` raises is a miss, and the whole shape is checked after loading. (A digest of
the payload would cost a hit about 1 ms per 100 KB with Python 3.11's built-in SHA-256; the owner-only cache
dir is what keeps others from writing a state.)

Only the user may touch the cache dir: directories are made 0700 and files 0600 whatever the umask, and a cache
dir, ``venvs`` dir or entry that another user owns, or that group or others can write, is refused (as ssh and
pip do). Nothing found in it is followed as a symlink: files are opened with ``O_NOFOLLOW`` and temp files are
created with ``O_EXCL`` next to their target, and removed on any failure.
"""

from __future__ import annotations

import marshal
import os
import sys

from ._digest import hex_digest

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from typing import Any

    from ._errors import InvalidInput

FORMAT = 4  # 1: state.json; 2: the key's components and the installer's stand-in; 3: in marshal; 4: a header
STATE = "state.marshal"  #: the state file in a venv's cache entry
SUMMARY = "last.json"  #: the small per-venv summary ``list`` reads: venv, status, when (and a failure's error)
MAGIC = b"penvcache-state\n"
MAX_STATE = 64 << 20  #: bytes; a bigger state file is a miss (2,000 deps record about 1 MB)
MAX_READ = 64 << 20  #: bytes read from a deps or salt file named by the state on a hit; bigger is a miss
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_WRITABLE_BY_OTHERS = 0o022


def default_cache_dir() -> str:
    """``PENVCACHE_CACHE_DIR``, else platformdirs' user cache dir for penvcache."""
    env = os.environ.get("PENVCACHE_CACHE_DIR")
    if env:
        return os.path.abspath(env)
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):  # pragma: no cover (macOS, Windows)
        from platformdirs import user_cache_dir

        return user_cache_dir("penvcache", appauthor=False)
    # platformdirs' XDG rule, inlined so that a hit does not pay ~10 ms to import platformdirs;
    # tests/test_state.py checks that it agrees with platformdirs.user_cache_dir.
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.expanduser("~/.cache")
    return os.path.join(base, "penvcache")


def venv_dir(cache_dir: str, venv_path: str) -> str:
    """The directory that holds one venv's state, lock and holder info."""
    return os.path.join(cache_dir, "venvs", hex_digest(os.fsencode(os.path.realpath(venv_path)))[:32])


# --- who may touch the cache dir ------------------------------------------------------------------------------


def _chain(directory: str) -> list[str]:
    """The cache dir, its ``venvs`` dir and the entry, for an entry ``directory`` (or just the cache dir)."""
    if os.path.basename(os.path.dirname(directory)) == "venvs":
        venvs = os.path.dirname(directory)
        return [os.path.dirname(venvs), venvs, directory]
    return [directory]


def check_owned(directory: str) -> None:
    """Refuse (:class:`InvalidInput`) a cache dir, ``venvs`` dir or entry another user owns or may write.

    Missing ones are fine (nothing to read; they are made owner-only when needed). A few ``lstat`` calls: the hit
    path pays microseconds, not a walk.
    """
    for i, path in enumerate(_chain(directory)):
        try:
            st = os.stat(path) if i == 0 else os.lstat(path)  # the cache dir itself may be the user's symlink
        except FileNotFoundError:
            return
        except OSError as e:
            _refuse_unusable(path, e)
        _check_stat(path, st)


def _check_stat(path: str, st: os.stat_result) -> None:
    if st.st_mode & 0o170000 != 0o040000:  # S_ISDIR, without importing stat
        what = "a symlink" if st.st_mode & 0o170000 == 0o120000 else "not a directory"
        msg = f"cannot use the cache dir: {path} is {what}; remove it or pick another --cache-dir"
        raise _invalid(msg)
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    if uid is not None and st.st_uid != uid:
        msg = (
            f"refusing the cache dir {path}: it is owned by {_user(st.st_uid)}, not by {_user(uid)}; "
            "use a cache dir of your own (--cache-dir or PENVCACHE_CACHE_DIR)"
        )
        raise _invalid(msg)
    if uid is not None and st.st_mode & _WRITABLE_BY_OTHERS and not _private_group_only(st, uid):
        msg = (
            f"refusing the cache dir {path}: group or others can write it (mode {st.st_mode & 0o7777:04o}); "
            f"fix it with: chmod go-w {path}"
        )
        raise _invalid(msg)


def _invalid(msg: str) -> InvalidInput:
    from ._errors import InvalidInput  # here: a hit that raises nothing does not import the exceptions

    return InvalidInput(msg)


def _private_group_only(st: os.stat_result, uid: int) -> bool:
    """Only the group may write ``st``, and that group is the user's private group (its primary group, named
    after the user, with no other member): umask 002, the default of Debian and Ubuntu users, gives such
    modes. Debian's OpenSSH accepts them for the same reason."""
    if st.st_mode & 0o002:
        return False
    try:
        import grp
        import pwd

        user, group = pwd.getpwuid(uid), grp.getgrgid(st.st_gid)
    except (ImportError, KeyError):
        return False
    return user.pw_gid == st.st_gid and group.gr_name == user.pw_name and set(group.gr_mem) <= {user.pw_name}


def _user(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def make_dirs(directory: str) -> str:
    """Create the cache dir, ``venvs`` and the entry as needed (each 0700 whatever the umask); check each one."""
    chain = _chain(directory)
    parent = os.path.dirname(chain[0])
    try:
        _make_parents(parent)
    except OSError as e:
        _refuse_unusable(chain[0], e)
    for i, path in enumerate(chain):
        make_dir(path, follow=i == 0)
    return directory


def _make_parents(path: str) -> None:
    """Make the missing directories above the cache dir (``~/.cache`` on a new account) 0700, as the XDG base
    directory specification asks, never wider: under ``umask 000`` ``os.makedirs`` made them world-writable, and
    other programs keep their caches there. Existing ones are left as they are."""
    missing: list[str] = []
    while not os.path.isdir(path):
        missing.append(path)
        up = os.path.dirname(path)
        if up == path:
            break
        path = up
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs, as it is
        os.chmod(directory, 0o700)  # never wider, and not narrower than the owner's rwx whatever the umask


def make_dir(path: str, *, follow: bool = False) -> None:
    """``path`` as an owner-only directory: made 0700 if missing, else checked (see :func:`check_owned`)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        _refuse_unusable(path, e)
    else:
        try:
            os.chmod(path, 0o700)  # the umask may have taken the owner's bits too
        except OSError as e:
            _refuse_unusable(path, e)
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except OSError as e:
        _refuse_unusable(path, e)
    _check_stat(path, st)


#: errors of the file system, not of the caller's input: exit 1 (a full disk, a read-only mount, a bad disk)
FAULTS = {"ENOSPC", "EROFS", "EACCES", "EPERM", "EIO", "EDQUOT", "EMFILE", "ENFILE", "ENOMEM"}


def fault(path: str, e: OSError, doing: str = "cannot use the cache dir") -> Exception:
    """The one-line error for ``e`` at ``path``: :class:`CacheDirError` (exit 1) for a fault of the file system,
    :class:`InvalidInput` (exit 2) for a path that cannot be a cache dir (a file in the way, a name too long)."""
    import errno

    from ._errors import CacheDirError, InvalidInput

    name = errno.errorcode.get(e.errno or 0, "")
    msg = f"{doing}: {path}: {e.strerror or e}"
    if name == "EROFS":
        msg += " (read-only: hits are still served, but nothing can be installed or recorded through it)"
    elif name in {"ENOSPC", "EDQUOT"}:
        msg += " (free some space, or pick another --cache-dir)"
    return CacheDirError(msg) if name in FAULTS else InvalidInput(msg)


def _refuse_unusable(path: str, e: OSError) -> None:
    raise fault(path, e) from e


def is_read_only(path: str) -> bool:
    """``path`` is on a file system mounted read-only."""
    try:
        return bool(os.statvfs(path).f_flag & getattr(os, "ST_RDONLY", 1))
    except (OSError, AttributeError):
        return False


# --- reading -------------------------------------------------------------------------------------------------


def read_regular(path: str, *, limit: int = MAX_READ, follow: bool = True) -> bytes | None:
    """The bytes of ``path`` when it is a regular file of at most ``limit`` bytes, else ``None``.

    Opened without blocking (a FIFO does not hang) and checked with ``fstat`` before a byte is read (a device
    such as ``/dev/zero`` is never read).
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | (0 if follow else _NOFOLLOW))
    except (OSError, ValueError):
        return None
    try:
        st = os.fstat(fd)
        if st.st_mode & 0o170000 != 0o100000 or st.st_size > limit:  # S_ISREG, without importing stat
            return None
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


def read(directory: str) -> dict[str, Any] | None:
    """The recorded state, or ``None`` when there is none or it is truncated, garbage, foreign or misshapen."""
    data = read_regular(os.path.join(directory, STATE), limit=MAX_STATE, follow=False)
    head = len(MAGIC) + 8
    if data is None or not data.startswith(MAGIC) or int.from_bytes(data[len(MAGIC) : head], "big") != len(data) - head:
        return None
    try:
        state = marshal.loads(memoryview(data)[head:])
    except Exception:  # garbage of any kind, MemoryError included, is a miss
        return None
    return state if _valid(state) else None


def _all_str(values: Any) -> bool:
    """Every item is a str (``str.join`` checks that in C: a hit checks 1,500 stamp paths in microseconds)."""
    try:
        "".join(values)
    except TypeError:
        return False
    return True


def _is_str_list(value: object) -> bool:
    return type(value) is list and _all_str(value)


def _is_str_dict(value: object, check: Any = None) -> bool:
    if type(value) is not dict or not _all_str(value):
        return False
    return _all_str(value.values()) if check is None else all(map(check, value.values()))


def _is_local(project: object) -> bool:
    """A local project as :func:`penvcache._local.describe` records it: ``[path, kind, keys, digest]``."""
    if type(project) is not list or len(project) != 4:
        return False
    path, kind, keys, digest = project
    if type(path) is not str or "\0" in path or type(digest) is not str:
        return False
    if kind == "dir":
        return type(keys) is list and all(_is_str_list(k) and len(k) == 2 for k in keys)
    if kind == "archive":
        return type(keys) is list and all(type(n) is int for n in keys)
    return bool(kind == "missing")


def _valid(state: object) -> bool:
    """``state`` has the shape :func:`write` gives it, all the way down (a hit trusts every part of it)."""
    if type(state) is not dict or state.get("format") != FORMAT:
        return False
    get = state.get
    installer, details, components = get("installer"), get("details"), get("components")
    return bool(
        type(get("fingerprint")) is str
        and type(get("inputs")) is str
        and type(get("stamp")) is str
        and type(get("venv")) is str
        and type(get("status")) is str
        and type(get("when")) is float
        and _is_str_dict(get("files"))
        and _is_str_list(get("file_sources"))
        and _is_str_list(get("stamp_paths"))
        and not any("\0" in path for path in get("stamp_paths", ()))  # os.stat raises ValueError, not OSError
        and _is_str_dict(get("python", {}))
        and _is_str_list(get("warnings", []))
        and type(get("local", [])) is list
        and all(map(_is_local, get("local", [])))
        and _is_str_dict(components, lambda v: v is None or type(v) is str)
        and type(installer) is dict
        and all(type(k) is str for k in installer)
        and all(type(installer.get(k, "")) is str for k in ("request", "prefix", "bin", "version"))
        and (
            "stat" not in installer
            or (type(installer["stat"]) is list and all(type(n) is int for n in installer["stat"]))
        )
        and type(details) is dict
        and _is_str_dict(details.get("lines", {}), _is_str_list)
        and _is_str_list(details.get("sources", []))
        and type(details.get("salt", [])) is list
        and all(_is_str_list(part) for part in details.get("salt", []))
        and all(type(details.get(k, [])) is list for k in ("python", "pyvenv_cfg"))
        and _is_str_dict(details.get("vcs", {}))
    )


# --- writing -------------------------------------------------------------------------------------------------


def write(directory: str, state: dict[str, Any]) -> None:
    """Record the state atomically: a reader sees the old file or the new one, never part of one.

    Not fsynced: after a crash the file may be empty or garbage, which :func:`read` calls a miss, so the worst
    case is one more validation, not a false hit. Every miss would otherwise wait about a millisecond for the disk.
    """
    payload = marshal.dumps({"format": FORMAT, **state})
    write_atomically(os.path.join(directory, STATE), MAGIC + len(payload).to_bytes(8, "big") + payload, durable=False)


def write_json(path: str, data: dict[str, Any], *, durable: bool = True) -> None:
    """Write ``data`` as JSON, atomically (and with ``durable``, fsynced), owner-only."""
    import json

    write_atomically(path, json.dumps(data, indent=1, sort_keys=True).encode(), durable=durable)


def write_atomically(path: str, data: bytes, *, durable: bool) -> None:
    """Write ``path`` through a new owner-only temp file beside it and ``os.replace``; with ``durable``, fsync.

    The temp file is made with ``O_CREAT|O_EXCL|O_NOFOLLOW`` (never an existing file or a planted symlink) and
    removed on any failure (a full disk, a read-only mount, Ctrl-C); faults are :class:`CacheDirError`.
    """
    directory = os.path.dirname(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for attempt in range(100):
        tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{attempt}.tmp")
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileExistsError:
            continue  # left by a killed process that had our pid
        except OSError as e:
            raise fault(path, e, "cannot write") from e
        break
    else:
        raise fault(path, FileExistsError(17, "too many stale temp files"), "cannot write")
    try:
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as e:
        import contextlib

        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, OSError):
            raise fault(path, e, "cannot write") from e
        raise


def remove_stale_temps(directory: str) -> None:
    """Remove the temp files (``.NAME.<pid>.<n>.tmp``) that processes killed part way through a write left in
    ``directory``; a live process's are kept. Called under a lock, on a miss, never on a hit."""
    import contextlib

    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        parts = name.split(".")
        if not (name.startswith(".") and len(parts) >= 5 and parts[-1] == "tmp" and parts[-2].isdigit()):
            continue
        if not parts[-3].isdigit() or _pid_alive(int(parts[-3])):
            continue
        with contextlib.suppress(OSError):
            os.remove(os.path.join(directory, name))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True
    return True


def entries(cache_dir: str) -> list[tuple[str, dict[str, Any]]]:
    """Every venv the cache dir knows: (its entry directory, what was last recorded: venv, status, when...).

    Reads each entry's small summary; the whole state only for an entry recorded before summaries existed.
    """
    import json

    root = os.path.join(cache_dir, "venvs")
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    found = []
    for name in names:
        directory = os.path.join(root, name)
        info: Any = None
        data = read_regular(os.path.join(directory, SUMMARY), limit=1 << 20, follow=False)
        if data is not None:
            try:
                info = json.loads(data)
            except ValueError:
                info = None
        if not _is_summary(info):
            info = read(directory)  # recorded by an older penvcache: no summary yet
        if _is_summary(info):
            found.append((directory, {k: info[k] for k in ("venv", "status", "when") if k in info}))
    return found


def _is_summary(info: object) -> bool:
    return (
        type(info) is dict
        and type(info.get("venv")) is str
        and type(info.get("when")) is float
        and type(info.get("status", "")) is str
    )


def summarise(directory: str, info: dict[str, Any]) -> None:
    """Write the entry's small summary (what ``list`` shows); best effort on a hit-free path."""
    write_json(os.path.join(directory, SUMMARY), info, durable=False)


def forget(directory: str) -> None:
    """Drop what an entry recorded (the caller holds the venv's lock; the lock file itself stays)."""
    import contextlib

    for file in (STATE, SUMMARY):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(directory, file))
