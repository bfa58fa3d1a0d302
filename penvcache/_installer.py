"""Running the bundled uv: creating venvs and installing, with one offline retry when the index is unreachable."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ._errors import InstallFailed, InvalidInput, OfflineUnavailable
from ._requirements import DepsSet, listed_link, normalise
from ._state import read_regular
from ._venv import Venv

# What uv says when it cannot reach an index (connection refused, DNS, TLS, timeouts).
_UNREACHABLE = (
    "error sending request",
    "tcp connect error",
    "dns error",
    "failed to lookup address",
    "connection refused",
    "network is unreachable",
    "operation timed out",
    "connection reset",
)


_uv_bin: list[str] = []


def uv_bin() -> str:
    """``PENVCACHE_UV``, else the uv that came with penvcache (found once per process, re-found if it goes)."""
    override = os.environ.get("PENVCACHE_UV")
    if override:
        return shutil.which(override) or override
    if _uv_bin and os.path.isfile(_uv_bin[0]):
        return _uv_bin[0]
    from uv import find_uv_bin

    _uv_bin[:] = [find_uv_bin()]
    return _uv_bin[0]


def identify(request: str) -> dict[str, Any]:
    """The installer this process runs: its version, and the stat that stands for it on a hit.

    A hit must not start uv to ask its version. The bundled uv's version comes from its installed metadata;
    a ``PENVCACHE_UV`` binary is asked (``uv --version``), on a miss only. A hit compares the stat of the
    recorded binary (a reinstall, upgrade or downgrade replaces it) and ``sys.prefix`` instead.
    """
    path = uv_bin()
    try:
        if request:
            proc = _run([path, "--version"], verbose=False)
            words = proc.stdout.split()
            if proc.returncode != 0 or len(words) < 2:
                msg = f"PENVCACHE_UV={request}: `{path} --version` failed: {_uv_error(proc.stdout)}"
                raise InvalidInput(msg)
            version = f"{words[0]} {words[1]}"
        else:
            version = f"uv {bundled_version()}"
        st = os.stat(path)
    except OSError as e:
        msg = f"cannot run the installer {path}: {e.strerror or e}"
        raise InvalidInput(msg) from e
    return {
        "request": request,
        "prefix": sys.prefix,
        "bin": path,
        "stat": [st.st_ino, st.st_size, st.st_mtime_ns],
        "version": version,
    }


def bundled_version() -> str:
    """The version of the ``uv`` distribution penvcache came with, as :func:`importlib.metadata.version` gives it.

    Read from the ``METADATA`` of the one ``uv-VERSION.dist-info`` beside the ``uv`` package; importing
    :mod:`importlib.metadata` would cost a miss on the command line more (about 5 ms) than the rest of identifying
    uv. Anything unusual (no such directory, or several) is left to :mod:`importlib.metadata`.
    """
    import uv

    site = os.path.dirname(os.path.dirname(os.path.abspath(uv.__file__)))
    try:  # a dist-info directory is named NAME-VERSION.dist-info, with "_" for every "-" in the name
        found = [name for name in os.listdir(site) if name.startswith("uv-") and name.endswith(".dist-info")]
    except OSError:
        found = []
    data = read_regular(os.path.join(site, found[0], "METADATA"), limit=1 << 20) if len(found) == 1 else None
    for line in (data or b"").split(b"\n"):
        if not line.strip():  # the end of the headers
            break
        if line.startswith(b"Version:"):
            return line[len(b"Version:") :].strip().decode("utf-8", "replace")
    from importlib.metadata import version

    return version("uv")


def index_environment(deps: DepsSet) -> dict[str, str]:
    """penvcache's own source arguments as uv's environment variables, not its arguments: another local user can
    read a process's arguments (``/proc/PID/cmdline``), never its environment, and a URL may carry a password.
    Each acts as uv's option of the same name does, over the variable (``--default-index``, ``--index``,
    ``--find-links``). The deps files' sources reach uv in the requirements file it is given
    (:meth:`DepsSet.file_source_lines`)."""
    env: dict[str, str] = {}
    if deps.argument_index_urls:  # the last one wins, as in pip
        env["UV_DEFAULT_INDEX"] = deps.argument_index_urls[-1]
    if deps.argument_extra_index_urls:
        env["UV_EXTRA_INDEX_URL"] = " ".join(deps.argument_extra_index_urls)
    if deps.argument_find_links:
        env["UV_FIND_LINKS"] = ",".join(listed_link(link, ",") for link in deps.argument_find_links)
    return env


def file_source_environment(deps: DepsSet, env: Mapping[str, str]) -> dict[str, str]:
    """The deps files' sources as uv's environment variables, added to ``env`` (the arguments') and to the user's
    as a requirements file's lines would be: find-links and extra indexes searched too, an index only where no
    argument or ``UV_DEFAULT_INDEX``/``UV_INDEX_URL`` names one."""
    added: dict[str, str] = {}
    index, extras, links = deps.file_sources()
    if links:
        before = env.get("UV_FIND_LINKS") or os.environ.get("UV_FIND_LINKS", "")
        added["UV_FIND_LINKS"] = ",".join([*filter(None, [before]), *(listed_link(link, ",") for link in links)])
    if extras:
        before = env.get("UV_EXTRA_INDEX_URL") or os.environ.get("UV_EXTRA_INDEX_URL", "")
        added["UV_EXTRA_INDEX_URL"] = " ".join([*filter(None, [before]), *extras])
    named = "UV_DEFAULT_INDEX" in env or any(os.environ.get(v) for v in ("UV_DEFAULT_INDEX", "UV_INDEX_URL"))
    if index and not named:
        added["UV_DEFAULT_INDEX"] = index[0]
    return added


def _run(
    cmd: Sequence[str], *, verbose: bool, display: bool = False, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run uv in a process group of its own that never outlives penvcache; with ``display``, on a pseudo-terminal
    copied to our terminal as it runs, so uv draws its own progress there (see :mod:`._progress`).

    On Linux uv gets SIGKILL when the thread that started it dies (``kill -9`` of penvcache included). Ctrl-C,
    SIGTERM and SIGHUP stop uv's whole group and wait for it before they go on (to release the lock): Ctrl-C as
    :class:`KeyboardInterrupt`, SIGTERM and SIGHUP as ``SystemExit(128 + N)``. The terminal's Ctrl-C reaches
    penvcache only: uv is not in the foreground group.
    """
    terminal: tuple[int, int] | None = None
    if display:
        from ._progress import open_terminal

        terminal = open_terminal()
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if terminal is None else terminal[1],
            stderr=subprocess.STDOUT if terminal is None else terminal[1],
            text=True,
            start_new_session=True,
            env=None if not env else {**os.environ, **env},
            preexec_fn=_die_with_parent(),  # noqa: PLW1509 (async-signal-safe: a prctl and a getppid)
        )
    except BaseException:
        if terminal is not None:
            os.close(terminal[0])
        raise
    finally:
        if terminal is not None:
            os.close(terminal[1])
    with _StopSignals() as stop:
        try:
            if terminal is None:
                output, _ = proc.communicate()
            else:
                from ._progress import copy_terminal

                output = copy_terminal(terminal[0], proc)
        except BaseException:
            stop.stopping = True  # a second signal must not cut the stopping short
            _stop(proc)
            raise
        finally:
            if terminal is not None:
                os.close(terminal[0])
    if stop.signum:
        raise SystemExit(128 + stop.signum)
    if verbose and output and terminal is None:  # on a terminal, uv's output was shown as it came
        sys.stderr.write(output)
    return subprocess.CompletedProcess(proc.args, proc.returncode, output)


_STOP_SIGNALS = ("SIGTERM", "SIGHUP")
_STOP_GRACE = 5.0  #: seconds uv's group has to stop on SIGTERM before it is killed


class _Stopped(BaseException):
    """Raised by the SIGTERM/SIGHUP handler while uv runs (caught by :func:`_run`)."""


class _StopSignals:
    """While uv runs: SIGTERM and SIGHUP raise :class:`_Stopped` once, then are only noted.

    Only in the main thread, and only for a signal whose handler is the default (an application's own handler,
    or an ignored signal, is left as it is: when that handler raises, uv is stopped all the same).
    """

    def __init__(self) -> None:
        self.signum = 0
        self.stopping = False
        self.saved: dict[int, Any] = {}

    def _handler(self, signum: int, _frame: object) -> None:
        if self.signum or self.stopping:
            self.signum = self.signum or signum
            return
        self.signum = signum
        raise _Stopped

    def __enter__(self) -> _StopSignals:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for name in _STOP_SIGNALS:
                signum = getattr(signal, name, None)
                if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
                    self.saved[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        import signal

        for signum, handler in self.saved.items():
            signal.signal(signum, handler)
        return isinstance(exc, _Stopped)  # :func:`_run` exits by ``signum`` once uv is stopped


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stop uv's whole process group: SIGTERM, then SIGKILL after a grace period; wait until it has gone."""
    import signal

    group = proc.pid  # start_new_session: uv leads its own group
    blocked = {signal.SIGINT, *(getattr(signal, name) for name in _STOP_SIGNALS if hasattr(signal, name))}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)  # a second Ctrl-C waits until uv has gone
    try:
        _stop_group(proc, group)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _stop_group(proc: subprocess.Popen[str], group: int) -> None:
    import signal
    import time

    for signum, grace in ((signal.SIGTERM, _STOP_GRACE), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=grace)
        deadline = time.monotonic() + grace
        while _group_alive(group) and time.monotonic() < deadline:  # uv's children (a build backend)
            time.sleep(0.01)
        if proc.poll() is not None and not _group_alive(group):
            break


def _group_alive(group: int) -> bool:
    """True while a process of the group runs (a zombie waiting for a parent that does not reap it does not)."""
    if not os.path.isdir("/proc/self"):  # pragma: no cover (no /proc: macOS, the BSDs)
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(group).encode() and fields[0] != b"Z":  # state, ppid, pgrp
            return True
    return False


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when the thread that forked it dies (Linux only)."""
    if not sys.platform.startswith("linux"):  # pragma: no cover (PR_SET_PDEATHSIG is Linux's)
        return None
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the prctl took effect
            os._exit(1)

    return preexec


def wait_for_installs(venv: Venv, timeout: float) -> None:
    """Wait until no uv process installs into ``venv`` (uv holds ``<venv>/.lock`` while it changes a venv).

    The next holder of penvcache's lock calls this first: an installer left by a killed holder (where no
    parent-death signal stopped it) must finish or die before this process looks at the venv.
    """
    import fcntl
    import time

    from ._errors import LockTimeout

    try:
        fd = os.open(os.path.join(venv.path, ".lock"), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return  # no venv, or uv never installed into it
    try:
        deadline = time.monotonic() + timeout
        said = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    msg = (
                        f"timed out after {timeout:g}s waiting for another installer to finish with {venv.path} "
                        f"(a uv process holds {venv.path}/.lock)"
                    )
                    raise LockTimeout(msg) from None
                if not said:
                    sys.stderr.write(f"penvcache: waiting for the uv process that holds {venv.path}/.lock\n")
                    said = True
                time.sleep(0.05)
            else:
                return
    finally:
        os.close(fd)  # releases the flock


# The OS errors that say the disk or the venv failed: ENOSPC, EROFS, EACCES, EPERM, EIO, EDQUOT.
_OS_FAULTS = ("(os error 28)", "(os error 30)", "(os error 13)", "(os error 1)", "(os error 5)", "(os error 122)")


def _logical_lines(output: str) -> list[str]:
    """uv's output as lines, with its ``error:``/``cause:`` messages unwrapped (uv wraps them at ``COLUMNS``)."""
    lines: list[str] = []
    joinable = False
    for raw in output.splitlines():
        line = raw.strip()
        if joinable and line and raw[:1].isspace() and not line.startswith(("error:", "cause:", "hint:", "warning:")):
            lines[-1] += f" {line}"
            continue
        lines.append(line)
        joinable = line.startswith(("error:", "cause:"))
    return lines


def _os_fault(output: str) -> str | None:
    """uv's line that names a file-system fault (full disk, read-only, no permission, I/O error), if any."""
    for line in _logical_lines(output):
        if any(fault in line for fault in _OS_FAULTS):
            text = line.strip()
            for prefix in ("error:", "cause:", "Caused by:"):
                text = text.removeprefix(prefix).strip()
            return text
    return None


def _uv_error(output: str) -> str:
    """uv's error in one line: its ``error:`` line and the innermost ``cause:``."""
    lines = _logical_lines(output)
    errors = [line for line in lines if line.startswith("error:")]
    causes = [line[len("cause:") :].strip() for line in lines if line.startswith("cause:")]
    text = errors[0] if errors else (lines[-1] if lines else "no output")
    text = f"{text} ({causes[-1]})" if causes else text
    return text.replace("exit status exit status:", "exit status")  # uv's wording, doubled by uv


def create_venv(
    venv: Venv,
    python: str | None,
    *,
    offline: bool,
    verbose: bool,
    downloads: bool = True,
    display: bool = False,
) -> None:
    """Create the venv with uv in the directory :func:`penvcache._clearing.make_room` left, empty but for the mark's
    token (hence ``--allow-existing``); uv may download the Python asked for (as ``uv venv`` does) unless
    ``downloads`` is off or ``offline``."""
    cmd = [uv_bin(), "venv", venv.path, "--allow-existing", "--python", python or sys.executable]
    if offline:
        cmd.append("--offline")
    if offline or not downloads:
        cmd.append("--no-python-downloads")
    proc = _run(cmd, verbose=verbose, display=display)
    if proc.returncode == 0:
        problem = venv.problem()
        if problem is None:
            return
        msg = f"the installer {cmd[0]} said it created the venv {venv.path}, but {problem}"
        raise InstallFailed(msg)
    reason = _uv_error(proc.stdout)
    if "No interpreter found" in proc.stdout:
        msg = f"--python {python}: {_no_python(reason, offline=offline, downloads=downloads)}"
        raise InvalidInput(msg)
    msg = f"cannot create venv {venv.path} with --python {python or sys.executable}: {reason}"
    raise InstallFailed(msg)


def find_python(request: str, *, offline: bool = True, downloads: bool = False) -> str | None:
    """The interpreter a ``--python`` request names; ``None`` when it is not installed and uv may download it
    (online, ``downloads`` and not ``UV_PYTHON_DOWNLOADS=never``); else :class:`InvalidInput`, in one line."""
    if os.sep in request or (os.altsep and os.altsep in request):
        if not os.path.isfile(request) or not os.access(request, os.X_OK):
            msg = f"--python {request}: no such interpreter"
            raise InvalidInput(msg)
        return request
    proc = _run([uv_bin(), "python", "find", "--no-python-downloads", request], verbose=False)
    if proc.returncode == 0:
        return proc.stdout.strip().splitlines()[-1]
    downloads = downloads and os.environ.get("UV_PYTHON_DOWNLOADS", "").strip().lower() not in ("never", "manual")
    if "No interpreter found" in proc.stdout and downloads and not offline:
        listed = _run([uv_bin(), "python", "list", "--only-downloads", request], verbose=False)
        if listed.returncode == 0 and listed.stdout.strip():
            return None  # `uv venv --python REQUEST` downloads it
        reason = _uv_error(proc.stdout).removeprefix("error: ")
        msg = f"--python {request}: {reason}, and uv has no download for it"
        raise InvalidInput(msg)
    reason = _uv_error(proc.stdout).removeprefix("error: ")
    if "No interpreter found" in proc.stdout:
        reason = _no_python(reason, offline=offline, downloads=downloads)
    msg = f"--python {request}: {reason}"
    raise InvalidInput(msg)


def _no_python(reason: str, *, offline: bool, downloads: bool) -> str:
    """Why a Python was not found, and what would find it."""
    reason = reason.removeprefix("error: ")
    if offline:
        return f"{reason}; offline, no Python is downloaded (install one: uv python install, or give a path)"
    if not downloads:
        return f"{reason}; downloads are off (--no-python-downloads or UV_PYTHON_DOWNLOADS)"
    return reason


def install(
    venv: Venv,
    deps: DepsSet,
    *,
    missing: Sequence[str],
    reinstall: Sequence[str],
    offline: bool,
    verbose: bool,
    fresh: bool = False,
    display: bool = False,
) -> bool:
    """Install the dependency set into the venv; returns True when it fell back to offline.

    ``fresh`` fetches and unpacks what it installs anew (``--no-cache``): uv hardlinks installed files from its
    cache, so a file damaged in place in a venv is damaged in the cache too and a plain reinstall brings it back.
    """
    with contextlib.ExitStack() as stack:
        cmd = [uv_bin(), "pip", "install", "--python", venv.python]

        def temp_file(name: str, lines: Iterable[str]) -> str:
            """A file in a temp dir made only when needed (it costs a few ms)."""
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="penvcache-"))
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(f"{line}\n" for line in lines)
            return path

        # Requirements reach uv through a file, never argv (20,000 of them exceed the argument list), and so do the
        # deps files' sources: uv reads them as in the files themselves, with its own settings
        own = [r for r in deps.requirements if normalise(r) not in deps.from_lock]
        env = index_environment(deps)  # the arguments' sources: never on the command line
        if own or not deps.locks:
            lines = [*deps.file_source_lines(), *map(deps.install_line, own)]
            cmd += ["--requirement", temp_file("requirements.txt", lines)]
        else:  # uv takes no other requirements file beside a pylock.toml: the files' sources go in its environment
            env.update(file_source_environment(deps, env))
        for lock in deps.locks:  # pylock.toml, as uv reads it
            cmd += ["--requirement", lock]
        if deps.constraints:
            cmd += ["--constraint", temp_file("constraints.txt", map(deps.install_line, deps.constraints))]
            # uv's --constraint replaces its UV_CONSTRAINT, which `uv pip install -r` with a deps file's `-c` reads
            # too: its files go with it
            for path in os.environ.get("UV_CONSTRAINT", "").split():
                cmd += ["--constraint", path]
        if deps.implies_require_hashes():  # as pip: one --hash turns it on
            cmd.append("--require-hashes")
        cmd += deps.install_options()
        if deps.no_index:
            cmd.append("--no-index")
        for warning in dict.fromkeys(deps.warnings):
            sys.stderr.write(f"penvcache: warning: {warning}\n")
        for name in reinstall:
            cmd += ["--reinstall-package", name]
        if fresh:
            cmd.append("--no-cache")
        if offline:
            cmd.append("--offline")
        proc = _run(cmd, verbose=verbose, display=display, env=env)
        if proc.returncode == 0:
            return False
        reason = _uv_error(proc.stdout)
        names = ", ".join(missing) or "the set"  # exact mode installs when nothing is missing
        fault = _os_fault(proc.stdout)
        if fault:  # the disk or the venv, not the network: exit 1, whatever --offline says
            msg = f"installing {names} into {venv.path} failed: {fault}"
            raise InstallFailed(msg)
        if offline:
            msg = f"offline, and {names} cannot be installed from uv's cache or the find-links: {reason}"
            raise OfflineUnavailable(msg)
        if not any(marker in proc.stdout.lower() for marker in _UNREACHABLE):
            msg = f"installing {names} into {venv.path} failed: {reason}"
            raise InstallFailed(msg)
        sys.stderr.write(f"penvcache: the package index is unreachable ({reason}); retrying offline\n")
        proc = _run([*cmd, "--offline"], verbose=verbose, display=display, env=env)
        if proc.returncode != 0:
            msg = f"the index is unreachable, and {names} cannot be installed offline either: {_uv_error(proc.stdout)}"
            raise OfflineUnavailable(msg)
        return True
