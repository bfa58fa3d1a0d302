"""The bundled uv is looked up once per process."""

from __future__ import annotations

from pathlib import Path

import pytest
import uv

from penvcache import _installer


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
