"""A miss says what it is doing: a line before each long step, uv's own display on a terminal, elsewhere a line
every few seconds while a step runs. The build is held open by the slow sdist until a release file appears,
so each wait is for an event."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from penvcache._progress import plain
from tests._kit import build_slow_sdist
from tests.conftest import ROOT

# Each miss builds the gated sdist (held open until its release file appears): a uv cache without its wheel, and
# uv's own summary counts what it installed.
pytestmark = pytest.mark.private_uv_cache

_EVERY = 0.05  # seconds between "still ..." lines in these tests (10 in real use)
_CLI = (
    "import sys\n"
    "import penvcache._progress as progress\n"
    "progress.EVERY = float(sys.argv[1])\n"
    "from penvcache._fastpath import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


@pytest.fixture(scope="module")
def gated_house(tmp_path_factory: pytest.TempPathFactory) -> Path:
    house = tmp_path_factory.mktemp("gated-wheelhouse")
    build_slow_sdist(house, "gated-pkg", "1.0", 0)  # held open by SLOW_BUILD_RELEASE, not by time
    return house


def _command(venv: Path, house: Path, *extra: str) -> list[str]:
    ensure = ["ensure", "gated-pkg", "--venv", str(venv), "--offline", "--find-links", str(house), *extra]
    return [sys.executable, "-c", _CLI, str(_EVERY), *ensure]


def _env(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    started, gate = tmp_path / "build-started", tmp_path / "gate"
    env = {**os.environ, "SLOW_BUILD_MARKER": str(started), "SLOW_BUILD_RELEASE": str(gate), "PYTHONPATH": str(ROOT)}
    return env, started, gate


def _kill(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 9)
    proc.wait(timeout=60)


@pytest.mark.parametrize("as_json", [False, True])
def test_a_slow_miss_says_each_step_then_what_is_still_running(
    tmp_path: Path, venv: Path, gated_house: Path, as_json: bool
) -> None:
    env, started, gate = _env(tmp_path)
    extra = ["--json"] if as_json else []
    proc = subprocess.Popen(
        _command(venv, gated_house, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        lines = []
        for line in proc.stderr:  # ends by itself: the build gives up waiting for the gate after 60 s
            lines.append(line.rstrip("\n"))
            if line.startswith("penvcache: still installing") and started.exists():
                break  # the build is under way and held: said while it runs...
        assert started.exists(), lines
        gate.touch()  # ...and let go
        out, err = proc.communicate(timeout=120)
    finally:
        _kill(proc)
    assert proc.returncode == 0, (lines, err)
    lines += err.splitlines()
    steps = [line for line in lines if not line.startswith("penvcache: still ")]
    assert steps == [
        f"penvcache: creating venv {venv} with {sys.executable}",
        f"penvcache: installing 1 package into {venv}: gated-pkg",
        f"penvcache: validating 1 distribution in {venv}",
    ]
    between = lines[lines.index(steps[1]) + 1 : lines.index(steps[2])]
    assert between
    assert all(re.fullmatch(r"penvcache: still installing 1 package after \d+s", line) for line in between)
    if as_json:  # stdout is the one object, nothing else
        assert json.loads(out)["status"] == "installed"
    else:
        assert out.startswith(f"penvcache: installed {venv} (")
        assert out.count("\n") == 1


def test_quiet_says_nothing(tmp_path: Path, venv: Path, gated_house: Path) -> None:
    env, _, gate = _env(tmp_path)
    gate.touch()
    proc = subprocess.run(
        _command(venv, gated_house, "-q"), capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=120
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def _read(master: int, seconds: float) -> bytes:
    """What the terminal shows within ``seconds`` (less once the other side has closed it)."""
    ready, _, _ = select.select([master], [], [], seconds)
    if not ready:
        return b""
    try:
        return os.read(master, 65536)
    except OSError:  # EIO: every process on the other side has closed it
        return b""


def _on_a_terminal(args: list[str], env: dict[str, str], until: str = "", then: Path | None = None) -> tuple[int, str]:
    """Run ``args`` with a terminal as stdin, stdout and stderr; once the screen shows ``until``, create ``then``.
    Returns the exit code and what the terminal showed, as plain text."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    shown = b""
    deadline = time.monotonic() + 90
    try:
        while until and until not in plain(shown.decode("utf-8", "replace")):
            assert time.monotonic() < deadline, f"the terminal never showed {until!r}: {shown!r}"
            assert proc.poll() is None, shown
            shown += _read(master, 1.0)
        if then is not None:
            then.touch()
        while time.monotonic() < deadline:
            data = _read(master, 1.0)
            if not data and proc.poll() is not None:
                break
            shown += data
        code = proc.wait(timeout=60)
    finally:
        os.close(master)
        _kill(proc)
    return code, plain(shown.decode("utf-8", "replace"))


def test_on_a_terminal_uv_draws_its_own_progress(tmp_path: Path, venv: Path, gated_house: Path) -> None:
    env, started, gate = _env(tmp_path)
    code, shown = _on_a_terminal(_command(venv, gated_house), env, until="Building gated-pkg==1.0", then=gate)
    assert code == 0, shown
    assert started.exists()
    assert f"penvcache: installing 1 package into {venv}: gated-pkg" in shown
    assert "Installed 1 package" in shown  # uv's own summary, shown without -v
    assert "still installing" not in shown  # no lines of ours across uv's display
    assert f"penvcache: installed {venv} (" in shown


def test_on_a_terminal_uvs_error_is_still_one_line_of_ours(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    env, _, _ = _env(tmp_path)
    args = [*_command(venv, wheelhouse)[:4], "ensure", "no-such-pkg", "--venv", str(venv), "--offline"]
    args += ["--find-links", str(wheelhouse)]
    code, shown = _on_a_terminal(args, env)
    assert code == 4, shown
    errors = [line for line in shown.splitlines() if line.startswith("penvcache: error: ")]
    assert len(errors) == 1, shown
    assert "no-such-pkg" in errors[0]
    assert "\x1b" not in errors[0]


# --- copying uv's terminal, in this process --------------------------------------------------------------------


def _drawing(*script: str) -> tuple[int, subprocess.Popen[str]]:
    """A process drawing on a new pseudo-terminal (as uv does): the master's end, and the process."""
    from penvcache._progress import open_terminal

    master, slave = open_terminal()
    try:
        proc = subprocess.Popen(["sh", "-c", *script], stdout=slave, stderr=slave, start_new_session=True, text=True)
    finally:
        os.close(slave)
    return master, proc


def test_uvs_output_is_kept_for_the_error_message_when_our_stderr_has_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    from penvcache._progress import copy_terminal

    read_end, write_end = os.pipe()
    os.close(read_end)  # whoever read our stderr has gone
    monkeypatch.setattr(sys, "stderr", os.fdopen(write_end, "w"))
    master, proc = _drawing("printf 'Resolving\\r\\033[2KResolved 1 package\\nerror: no-such-pkg\\n'")
    try:
        assert copy_terminal(master, proc) == "Resolved 1 package\nerror: no-such-pkg\n"
    finally:
        _kill(proc)
        os.close(master)
        sys.stderr.close()


def test_a_straggler_holding_uvs_terminal_does_not_keep_us_once_uv_has_ended(capfd: pytest.CaptureFixture[str]) -> None:
    """uv silent for a while, then gone, leaving a child of its own with the terminal open: copied until uv ends."""
    from penvcache._progress import copy_terminal

    master, proc = _drawing("sleep 1.2; printf 'Built gated-pkg\\n'; sleep 60 & exit 0")
    try:
        assert copy_terminal(master, proc) == "Built gated-pkg\n"
        assert proc.returncode == 0
        assert capfd.readouterr().err == "Built gated-pkg\r\n"  # copied to our stderr as it came
    finally:
        with contextlib.suppress(ProcessLookupError):  # the straggler, in the session uv led
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        os.close(master)
