"""Running uv: the bundled uv is looked up once per process; signals while it runs."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest
import uv

import penvcache
from penvcache import _installer
from tests.conftest import DEADLINE


def test_uv_bin_is_found_once_and_again_when_it_goes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[str] = []
    real = uv.find_uv_bin()

    def counting() -> str:
        calls.append("call")
        return real

    monkeypatch.setattr(uv, "find_uv_bin", counting)
    monkeypatch.setattr(_installer, "_uv_bin", [])
    assert _installer.uv_bin() == real
    assert _installer.uv_bin() == real
    assert len(calls) == 1
    monkeypatch.setattr(_installer, "_uv_bin", [str(tmp_path / "gone" / "uv")])
    assert _installer.uv_bin() == real
    assert len(calls) == 2


def test_the_bundled_uv_version_is_the_one_its_metadata_gives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Read from the dist-info beside the uv package, as importlib.metadata reads it; anything unusual is left to
    importlib.metadata."""
    from importlib.metadata import version

    assert _installer.bundled_version() == version("uv")
    (tmp_path / "uv").mkdir()
    monkeypatch.setattr(uv, "__file__", str(tmp_path / "uv" / "__init__.py"))
    info = tmp_path / "uv-9.8.7.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.4\nName: uv\nVersion: 9.8.7\n\nVersion: 1.0 (the body)\n")
    (tmp_path / "uv_build-1.2.3.dist-info").mkdir()  # another distribution whose name starts with uv
    assert _installer.bundled_version() == "9.8.7"
    (tmp_path / "uv-9.8.8.dist-info").mkdir()  # two of them: which one is uv's is not for penvcache to guess
    assert _installer.bundled_version() == version("uv")


def test_an_ensure_from_another_thread_installs_without_touching_signals(venv: Path, wheelhouse: Path) -> None:
    """Only the main thread may set signal handlers: a miss in a worker thread installs all the same."""
    results: list[object] = []

    def work() -> None:
        try:
            results.append(penvcache.ensure(venv, ["alpha-pkg"], find_links=[wheelhouse], offline=True).status)
        except BaseException as e:  # reported by the assertion below, not lost in the thread
            results.append(e)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=DEADLINE)
    assert results == ["installed"]


def test_an_applications_own_sigterm_handler_is_left_to_decide(
    tmp_path: Path, venv: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGTERM while uv runs goes to the handler the application set (which here only notes it), not to
    penvcache's, which would stop uv: the install goes on."""
    wrapper = tmp_path / "uv-terminating-its-parent"
    wrapper.write_text(f'#!/bin/sh\n[ "$2" = install ] && kill -TERM "$PPID"\nexec {uv.find_uv_bin()} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PENVCACHE_UV", str(wrapper))
    got: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: got.append(signum))
    try:
        result = penvcache.ensure(venv, ["alpha-pkg"], find_links=[wheelhouse], offline=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert got == [signal.SIGTERM]
    assert result.status == "installed"
