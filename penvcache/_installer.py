"""Running the bundled uv: creating venvs and installing, with one offline retry when the index is unreachable."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

from ._errors import InstallFailed, InvalidInput, OfflineUnavailable
from ._requirements import DepsSet, normalise
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
            from importlib.metadata import version as dist_version

            version = f"uv {dist_version('uv')}"
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


def _run(cmd: Sequence[str], *, verbose: bool, display: bool = False) -> subprocess.CompletedProcess[str]:
    """Run uv and keep its output; with ``display``, uv draws on our terminal as it runs (see :mod:`._progress`)."""
    if display:
        from ._progress import run_on_terminal

        code, output = run_on_terminal(list(cmd))
        return subprocess.CompletedProcess(cmd, code, output)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if verbose and proc.stdout:
        sys.stderr.write(proc.stdout)
    return proc


def _uv_error(output: str) -> str:
    """uv's error in one line: its ``error:`` line and the innermost ``cause:``."""
    lines = _unwrapped(output)
    errors = [line for line in lines if line.startswith("error:")]
    causes = [line[len("cause:") :].strip() for line in lines if line.startswith("cause:")]
    text = errors[0] if errors else (lines[-1] if lines else "no output")
    text = f"{text} ({causes[-1]})" if causes else text
    return text.replace("exit status exit status:", "exit status")  # uv's wording, doubled by uv


def _unwrapped(output: str) -> list[str]:
    """uv's output as stripped lines, each ``error:``/``cause:`` whole again (uv wraps them to ``$COLUMNS``)."""
    lines: list[str] = []
    joining = False
    for raw in output.splitlines():
        line = raw.strip()
        if joining and line and raw[:1].isspace() and not line.startswith(("cause:", "[")):
            lines[-1] += " " + line  # an indented continuation of the message above
            continue
        joining = line.startswith(("error:", "cause:"))
        lines.append(line)
    return lines


def create_venv(
    venv: Venv,
    python: str | None,
    *,
    clear: bool,
    offline: bool,
    verbose: bool,
    downloads: bool = True,
    display: bool = False,
) -> None:
    """Create (or, with ``clear``, replace) the venv with uv, which may download the Python asked for (as
    ``uv venv`` does) unless ``downloads`` is off or ``offline``."""
    cmd = [uv_bin(), "venv", venv.path, "--python", python or sys.executable]
    if clear:
        cmd.append("--clear")
    if offline:
        cmd.append("--offline")
    if offline or not downloads:
        cmd.append("--no-python-downloads")
    proc = _run(cmd, verbose=verbose, display=display)
    if proc.returncode == 0:
        return
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
    display: bool = False,
) -> bool:
    """Install the dependency set into the venv; returns True when it fell back to offline."""
    with contextlib.ExitStack() as stack:
        cmd = [uv_bin(), "pip", "install", "--python", venv.python]

        def temp_file(name: str, lines: Iterable[str]) -> str:
            """A file in a temp dir made only when needed (it costs a few ms)."""
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="penvcache-"))
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(f"{line}\n" for line in lines)
            return path

        # Requirements reach uv through a file, never argv (20,000 of them exceed the argument list).
        own = [r for r in deps.requirements if normalise(r) not in deps.from_lock]
        if own or not deps.locks:
            cmd += ["--requirement", temp_file("requirements.txt", map(deps.install_line, own))]
        for lock in deps.locks:  # pylock.toml, as uv reads it
            cmd += ["--requirement", lock]
        if deps.constraints:
            cmd += ["--constraint", temp_file("constraints.txt", map(deps.install_line, deps.constraints))]
        if deps.hashes and ("--require-hashes", "") not in deps.options:  # as pip: one --hash turns it on
            cmd.append("--require-hashes")
        cmd += deps.install_options()
        for link in deps.find_links:
            cmd += ["--find-links", link]
        for url in deps.index_urls[-1:]:
            cmd += ["--default-index", url]  # uv's name: --index-url would lose to UV_DEFAULT_INDEX
        for url in deps.extra_index_urls:
            cmd += ["--extra-index-url", url]
        if deps.no_index:
            cmd.append("--no-index")
        for warning in dict.fromkeys(deps.warnings):
            sys.stderr.write(f"penvcache: warning: {warning}\n")
        for name in reinstall:
            cmd += ["--reinstall-package", name]
        if offline:
            cmd.append("--offline")
        proc = _run(cmd, verbose=verbose, display=display)
        if proc.returncode == 0:
            return False
        reason = _uv_error(proc.stdout)
        names = ", ".join(missing) or "the set"  # exact mode installs when nothing is missing
        if offline:
            msg = f"offline, and {names} cannot be installed from uv's cache or the find-links: {reason}"
            raise OfflineUnavailable(msg)
        if not any(marker in proc.stdout.lower() for marker in _UNREACHABLE):
            msg = f"installing {names} into {venv.path} failed: {reason}"
            raise InstallFailed(msg)
        sys.stderr.write(f"penvcache: the package index is unreachable ({reason}); retrying offline\n")
        proc = _run([*cmd, "--offline"], verbose=verbose, display=display)
        if proc.returncode != 0:
            msg = f"the index is unreachable, and {names} cannot be installed offline either: {_uv_error(proc.stdout)}"
            raise OfflineUnavailable(msg)
        return True
