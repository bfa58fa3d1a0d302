"""Several real processes and one venv: the lock fails fast, waiters get a hit, exactly one installs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import penvcache
from tests.conftest import ROOT, hold_lock, offline_args, spawn, start, wait_for, wait_until


@pytest.fixture
def held_lock(tmp_path: Path, venv: Path, procs: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    """Another process holding the venv's lock until the test ends."""
    return hold_lock(tmp_path, venv, procs)[0]


def test_lock_held_elsewhere_fails_fast_and_installs_nothing(
    venv: Path, wheelhouse: Path, held_lock: subprocess.Popen[str], capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(penvcache.LockTimeout, match=f"pid {held_lock.pid} on ") as exc:
        penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse], lock_timeout=1.0)
    assert isinstance(exc.value, TimeoutError)
    assert exc.value.waited >= 1.0  # it waited its timeout, then gave up (the holder still holds the lock)
    assert held_lock.poll() is None
    assert not venv.exists()
    assert f"held by pid {held_lock.pid}" in capfd.readouterr().err


def test_lock_timeout_exit_code(
    venv: Path, wheelhouse: Path, held_lock: subprocess.Popen[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from penvcache.cli import main

    code = main(["ensure", "alpha-pkg", *offline_args(venv, wheelhouse), "--lock-timeout", "0.2"])
    assert code == 3
    assert "timed out after 0.2s waiting for the lock" in capsys.readouterr().err


def test_a_hit_takes_no_lock(tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]) -> None:
    penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse])
    hold_lock(tmp_path, venv, procs)
    result = penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse], lock_timeout=0.1)
    assert result.status == "hit"


def _ensure_args(venv: Path, wheelhouse: Path) -> list[str]:
    return ["ensure", "slow-pkg", *offline_args(venv, wheelhouse), "--json"]


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file that lets slow-pkg's build end (the build waits for it instead of sleeping)."""
    monkeypatch.setenv("SLOW_BUILD_RELEASE", str(tmp_path / "release"))
    return tmp_path / "release"


def start_logged(procs: list[subprocess.Popen[str]], log: Path, *args: str) -> subprocess.Popen[str]:
    """``tests._worker ARGS`` with its stderr in ``log`` (so a test can read it while it runs)."""
    with log.open("w") as err:
        return spawn(procs, [sys.executable, "-m", "tests._worker", *args], cwd=ROOT, stderr=err)


@pytest.mark.private_uv_cache  # it waits for slow-pkg's build
def test_waiter_gets_a_hit_after_the_holder_installs(
    tmp_path: Path, venv: Path, wheelhouse: Path, entry: Path, release: Path, procs: list[subprocess.Popen[str]]
) -> None:
    go = tmp_path / "go"
    go.touch()
    holder = start(procs, str(go), *_ensure_args(venv, wheelhouse))
    wait_for(entry / "holder.json", holder)
    log = tmp_path / "waiter.err"
    waiter = start_logged(procs, log, str(go), *_ensure_args(venv, wheelhouse))
    wait_until(lambda: "waiting up to" in log.read_text(), waiter, "the waiter to wait for the lock")
    release.touch()
    out_h, err_h = holder.communicate(timeout=120)
    out_w, _ = waiter.communicate(timeout=120)
    err_w = log.read_text()
    assert (holder.returncode, waiter.returncode) == (0, 0), (err_h, err_w)
    assert json.loads(out_h)["status"] == "installed"
    assert json.loads(out_w)["status"] == "hit"
    assert f"held by pid {holder.pid}" in err_w
    assert json.loads(out_w)["waited"] > 0


@pytest.mark.private_uv_cache  # it waits for slow-pkg's build
def test_many_processes_on_a_cold_venv_install_exactly_once(
    tmp_path: Path, venv: Path, wheelhouse: Path, release: Path, procs: list[subprocess.Popen[str]]
) -> None:
    go = tmp_path / "go"
    logs = [tmp_path / f"worker-{i}.err" for i in range(4)]
    workers = [start_logged(procs, log, str(go), *_ensure_args(venv, wheelhouse)) for log in logs]
    go.touch()
    # The build ends only when the three others wait for the lock: they race for it for real.
    waiting = lambda: sum("waiting up to" in log.read_text() for log in logs) == 3  # noqa: E731
    wait_until(waiting, None, "three workers to wait for the lock")
    release.touch()
    results = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0], [log.read_text() for log in logs]
    statuses = sorted(json.loads(out)["status"] for out, _ in results)
    assert statuses == ["hit", "hit", "hit", "installed"]
    assert os.path.exists(venv / "pyvenv.cfg")


def test_a_long_wait_reports_every_interval(
    venv: Path,
    wheelhouse: Path,
    held_lock: subprocess.Popen[str],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from penvcache import _locking

    monkeypatch.setattr(_locking, "REPORT_EVERY", 0.2)
    with pytest.raises(penvcache.LockTimeout):
        penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse], lock_timeout=1.0)
    err = capfd.readouterr().err
    assert err.count(f"held by pid {held_lock.pid}") == 1  # who: once, when it starts waiting
    assert err.count(f"penvcache: still waiting for the lock on {venv} after ") >= 2


def test_a_dead_holder_frees_the_lock_at_once(
    entry: Path,
    venv: Path,
    wheelhouse: Path,
    held_lock: subprocess.Popen[str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    held_lock.kill()  # SIGKILL: no clean-up; holder.json stays behind
    held_lock.wait()
    assert (entry / "holder.json").exists()
    result = penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse], lock_timeout=0)
    assert result.status == "installed"
    assert "waiting" not in capfd.readouterr().err


def test_a_dead_holders_info_is_not_shown_as_the_holder(
    tmp_path: Path,
    venv: Path,
    wheelhouse: Path,
    entry: Path,
    procs: list[subprocess.Popen[str]],
    capfd: pytest.CaptureFixture[str],
) -> None:
    entry.mkdir(parents=True)
    dead = spawn(procs, [sys.executable, "-c", "pass"])
    dead.communicate(timeout=60)
    dead_pid = dead.pid  # a process that has exited
    penvcache_holder = {"pid": dead_pid, "host": socket.gethostname(), "command": "penvcache ensure", "since": 0}
    (entry / "holder.json").write_text(json.dumps(penvcache_holder))
    # Some process holds the lock without saying who (as in the instant between taking it and writing holder.json).
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    code = "import os, sys, time; from filelock import FileLock; l = FileLock(sys.argv[1]); l.acquire(); "
    code += "open(sys.argv[2], 'w').close(); end = time.monotonic() + 60\n"
    code += "while not os.path.exists(sys.argv[3]) and time.monotonic() < end: time.sleep(0.01)"
    holder = spawn(procs, [sys.executable, "-c", code, str(entry / "lock"), str(ready), str(stop)])
    wait_for(ready, holder)
    with pytest.raises(penvcache.LockTimeout, match="held by another process") as exc:
        penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse], lock_timeout=0.2)
    assert f"pid {dead_pid}" not in str(exc.value)
    assert f"pid {dead_pid}" not in capfd.readouterr().err


@pytest.mark.private_uv_cache  # it waits for slow-pkg's build
def test_a_slow_install_into_one_venv_never_delays_another(
    tmp_path: Path, wheelhouse: Path, release: Path, procs: list[subprocess.Popen[str]]
) -> None:
    go, slow_venv, building = tmp_path / "go", tmp_path / "slow-venv", tmp_path / "building"
    go.touch()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SLOW_BUILD_MARKER", str(building))
        slow = start(procs, str(go), *_ensure_args(slow_venv, wheelhouse))
    wait_for(building, slow)  # it holds its venv's lock and builds until released
    other = penvcache.ensure(tmp_path / "other", ["alpha-pkg"], offline=True, find_links=[wheelhouse], lock_timeout=0)
    assert other.status == "installed"
    assert slow.poll() is None  # the slow install was still under way all along
    assert not release.exists()
    release.touch()
    out, err = slow.communicate(timeout=120)
    assert slow.returncode == 0, err
    assert json.loads(out)["status"] == "installed"


# --- who holds a lock, and the use lock's edges, in this process -------------------------------------------------

NOT_SAID = "another process (it has not said who)"


@pytest.mark.parametrize(
    ("holder", "said"),
    [
        (
            {"pid": 4242, "host": "build-box-2", "command": "penvcache ensure x", "since": 0},
            "pid 4242 on build-box-2 (penvcache ensure x) since ",  # another host: it cannot be asked, so it is named
        ),
        ({"pid": 4242, "host": "build-box-2"}, NOT_SAID),  # it has not said enough
        ("not json {", NOT_SAID),
        (["a", "list"], NOT_SAID),
    ],
    ids=["another-host", "incomplete", "not-json", "not-an-object"],
)
def test_the_holder_is_named_as_it_described_itself_or_not_at_all(
    entry: Path, venv: Path, holder: object, said: str
) -> None:
    from penvcache._locking import VenvLock

    lock = VenvLock(str(entry), str(venv), timeout=0)
    (entry / "holder.json").write_text(holder if isinstance(holder, str) else json.dumps(holder))
    assert lock.holder().startswith(said)


def test_excluding_users_twice_does_not_wait_for_itself(entry: Path, venv: Path) -> None:
    """The second call keeps the write lock the first took (another would wait for it until the timeout)."""
    from penvcache._locking import UseLock, VenvLock

    with VenvLock(str(entry), str(venv), timeout=0.5) as lock:
        lock.exclude_users()
        lock.exclude_users()
    with UseLock(str(entry), str(venv), timeout=0.5) as use:  # released: a use starts at once
        assert use.waited == 0.0


def test_a_user_on_another_host_with_our_pid_is_not_taken_for_our_own_use(entry: Path, venv: Path) -> None:
    """A shared cache dir: a pid names a process on its own host only."""
    from penvcache._locking import VenvLock

    (entry / "users").mkdir(parents=True)
    elsewhere = {"pid": os.getpid(), "host": f"not-{socket.gethostname()}", "command": "penvcache run", "since": 0}
    (entry / "users" / "1-a.json").write_text(json.dumps(elsewhere))
    with VenvLock(str(entry), str(venv), timeout=0.5) as lock:
        lock.exclude_users()  # no "in use by this process": nobody holds the use lock, so it is taken at once
        assert lock.waited == 0.0
