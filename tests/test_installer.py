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
