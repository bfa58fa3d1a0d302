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
from ._requirements import DepsSet
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


def _run(cmd: Sequence[str], *, verbose: bool) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if verbose and proc.stdout:
        sys.stderr.write(proc.stdout)
    return proc


def _uv_error(output: str) -> str:
    """uv's error in one line: its ``error:`` line and the innermost ``cause:``."""
    lines = [line.strip() for line in output.splitlines()]
    errors = [line for line in lines if line.startswith("error:")]
    causes = [line[len("cause:") :].strip() for line in lines if line.startswith("cause:")]
    text = errors[0] if errors else (lines[-1] if lines else "no output")
    return f"{text} ({causes[-1]})" if causes else text


def create_venv(venv: Venv, python: str | None, *, clear: bool, offline: bool, verbose: bool) -> None:
    """Create (or, with ``clear``, replace) the venv with uv."""
    cmd = [uv_bin(), "venv", venv.path, "--python", python or sys.executable]
    if clear:
        cmd.append("--clear")
    if offline:
        cmd += ["--offline", "--no-python-downloads"]
    proc = _run(cmd, verbose=verbose)
    if proc.returncode == 0:
        return
    reason = _uv_error(proc.stdout)
    if "No interpreter found" in proc.stdout:
        msg = f"--python {python}: no such interpreter: {reason}"
        raise InvalidInput(msg)
    msg = f"cannot create venv {venv.path}: {reason}"
    raise InstallFailed(msg)


def find_python(request: str) -> str:
    """The interpreter a ``--python`` request names, or :class:`InvalidInput`."""
    if os.sep in request or (os.altsep and os.altsep in request):
        if not os.path.isfile(request) or not os.access(request, os.X_OK):
            msg = f"--python {request}: no such interpreter"
            raise InvalidInput(msg)
        return request
    proc = _run([uv_bin(), "python", "find", "--no-python-downloads", request], verbose=False)
    if proc.returncode != 0:
        msg = f"--python {request}: no such interpreter: {_uv_error(proc.stdout)}"
        raise InvalidInput(msg)
    return proc.stdout.strip().splitlines()[-1]


def install(
    venv: Venv,
    deps: DepsSet,
    *,
    missing: Sequence[str],
    reinstall: Sequence[str],
    offline: bool,
    verbose: bool,
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

        if deps.hashes:  # --hash pins reach uv only through a requirements file
            cmd += ["--requirement", temp_file("requirements.txt", map(deps.install_line, deps.requirements))]
        else:
            cmd += [str(r) for r in deps.requirements]
        if deps.constraints:
            cmd += ["--constraint", temp_file("constraints.txt", map(deps.install_line, deps.constraints))]
        if deps.hashes:  # as pip does: one --hash turns on hash-checking mode for every package
            cmd.append("--require-hashes")
        for link in deps.find_links:
            cmd += ["--find-links", link]
        for url in deps.index_urls[-1:]:
            cmd += ["--default-index", url]  # uv's name: beats $UV_DEFAULT_INDEX, as --index-url does not
        for url in deps.extra_index_urls:
            cmd += ["--extra-index-url", url]
        for name in reinstall:
            cmd += ["--reinstall-package", name]
        if offline:
            cmd.append("--offline")
        proc = _run(cmd, verbose=verbose)
        if proc.returncode == 0:
            return False
        reason = _uv_error(proc.stdout)
        names = ", ".join(missing)
        if offline:
            msg = f"offline, and {names} cannot be installed from uv's cache or the find-links: {reason}"
            raise OfflineUnavailable(msg)
        if not any(marker in proc.stdout.lower() for marker in _UNREACHABLE):
            msg = f"installing {names} into {venv.path} failed: {reason}"
            raise InstallFailed(msg)
        sys.stderr.write(f"penvcache: the package index is unreachable ({reason}); retrying offline\n")
        proc = _run([*cmd, "--offline"], verbose=verbose)
        if proc.returncode != 0:
            msg = f"the index is unreachable, and {names} cannot be installed offline either: {_uv_error(proc.stdout)}"
            raise OfflineUnavailable(msg)
        return True
