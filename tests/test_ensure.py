"""ensure end to end: real uv, real venvs, real probes, wheels from a local wheelhouse, offline."""

from __future__ import annotations

import hashlib
import marshal
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from uv import find_uv_bin

import penvcache
from penvcache import _state
from tests._kit import site_packages


def ensure(venv: Path, wheelhouse: Path, *reqs: str, **kwargs: object) -> penvcache.EnsureResult:
    kwargs.setdefault("offline", True)
    return penvcache.ensure(venv, reqs, find_links=[wheelhouse], **kwargs)  # type: ignore[arg-type]


def venv_python_says(venv: Path, code: str) -> str:
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def test_cold_install_then_warm_hit(venv: Path, wheelhouse: Path) -> None:
    first = ensure(venv, wheelhouse, "alpha-pkg<2", "gamma-pkg")
    assert first.status == "installed"
    assert first.python == str(venv / "bin" / "python")
    assert len(first.fingerprint) == 64
    assert venv_python_says(venv, "import alpha_pkg, gamma_pkg; print(alpha_pkg.__version__)") == "1.0"
    second = ensure(venv, wheelhouse, "alpha-pkg<2", "gamma-pkg")
    assert second.status == "hit"
    assert second.fingerprint == first.fingerprint


def test_a_result_compares_by_value_and_shows_its_fields(venv: Path, wheelhouse: Path) -> None:
    """EnsureResult behaves as the dataclass it replaced: equal by its fields, shown with them, unhashable."""
    result = ensure(venv, wheelhouse, "alpha-pkg")
    same = penvcache.EnsureResult(**result.to_dict())
    assert same == result
    assert same != penvcache.EnsureResult(**{**result.to_dict(), "status": "hit"})
    assert result != result.to_dict()
    assert repr(result) == "EnsureResult(" + ", ".join(f"{k}={v!r}" for k, v in result.to_dict().items()) + ")"
    assert repr(result).startswith(f"EnsureResult(status='installed', venv={str(venv)!r}, ")
    with pytest.raises(TypeError):
        hash(result)


def test_hit_starts_no_process_and_takes_no_lock(venv: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ensure(venv, wheelhouse, "alpha-pkg")

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a hit started a process")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.delitem(sys.modules, "filelock", raising=False)
    monkeypatch.delitem(sys.modules, "penvcache._locking", raising=False)
    assert ensure(venv, wheelhouse, "alpha-pkg").status == "hit"
    assert "filelock" not in sys.modules


def test_order_case_spacing_and_comments_do_not_matter(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    deps = tmp_path / "deps.txt"
    deps.write_text("alpha-pkg<2\ngamma-pkg\n")
    first = ensure(venv, wheelhouse, deps_files=[deps])
    deps.write_text("# the same set\nGamma_Pkg   # a comment\n\n  Alpha.Pkg < 2\n")
    second = ensure(venv, wheelhouse, deps_files=[deps])
    assert (first.status, second.status) == ("installed", "hit")
    assert first.fingerprint == second.fingerprint


def test_recreated_venv_at_same_path_is_a_miss(venv: Path, wheelhouse: Path) -> None:
    """Made again the way penvcache makes it, holding the same package: only the venv instance differs."""
    first = ensure(venv, wheelhouse, "alpha-pkg")
    shutil.rmtree(venv)
    uv = [find_uv_bin()]
    subprocess.run([*uv, "venv", "-q", str(venv), "--python", sys.executable, "--offline"], check=True)
    install = [*uv, "pip", "install", "-q", "--python", str(venv), "--offline", "--find-links", str(wheelhouse)]
    subprocess.run([*install, "alpha-pkg"], check=True)
    second = ensure(venv, wheelhouse, "alpha-pkg")
    assert second.status == "adopted"  # a miss (a new venv), validated as it is: nothing to install
    assert second.fingerprint != first.fingerprint
    assert ensure(venv, wheelhouse, "alpha-pkg").status == "hit"


def test_deleted_init_py_is_caught_and_repaired(venv: Path, wheelhouse: Path) -> None:
    ensure(venv, wheelhouse, "alpha-pkg")
    init = site_packages(venv) / "alpha_pkg" / "__init__.py"
    init.unlink()
    # uv itself calls this venv satisfied:
    uv = subprocess.run(
        [find_uv_bin(), "pip", "install", "--offline", "--python", str(venv), "alpha-pkg"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert uv.returncode == 0
    assert not init.exists()
    again = ensure(venv, wheelhouse, "alpha-pkg")
    assert again.status == "installed"
    assert init.exists()


def test_version_drift_is_repaired(venv: Path, wheelhouse: Path) -> None:
    ensure(venv, wheelhouse, "alpha-pkg<2")
    subprocess.run(
        [
            find_uv_bin(),
            "pip",
            "install",
            "--offline",
            "--find-links",
            str(wheelhouse),
            "--python",
            str(venv),
            "alpha-pkg==2.0",
        ],
        capture_output=True,
        check=True,
    )
    assert ensure(venv, wheelhouse, "alpha-pkg<2").status == "installed"
    assert venv_python_says(venv, "import alpha_pkg; print(alpha_pkg.__version__)") == "1.0"


def test_requirement_whose_marker_does_not_apply_is_skipped(venv: Path, wheelhouse: Path) -> None:
    result = ensure(venv, wheelhouse, 'alpha-pkg; python_version < "3"', "gamma-pkg")
    assert result.status == "installed"
    assert not list(site_packages(venv).glob("alpha_pkg*"))
    assert ensure(venv, wheelhouse, 'alpha-pkg; python_version < "3"', "gamma-pkg").status == "hit"


def test_extras_requirements_are_installed_and_checked(venv: Path, wheelhouse: Path) -> None:
    assert ensure(venv, wheelhouse, "beta-pkg[fast]").status == "installed"
    assert venv_python_says(venv, "import gamma_pkg; print('ok')") == "ok"
    subprocess.run(
        [find_uv_bin(), "pip", "uninstall", "--python", str(venv), "gamma-pkg"],
        capture_output=True,
        check=True,
    )
    assert ensure(venv, wheelhouse, "beta-pkg[fast]").status == "installed"
    assert venv_python_says(venv, "import gamma_pkg; print('ok')") == "ok"


def test_nested_requirement_and_constraint_files(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "base.txt").write_text("alpha-pkg\n-c cons.txt\n")
    (sub / "cons.txt").write_text("alpha-pkg<=1.5\n")
    deps = tmp_path / "deps.txt"
    deps.write_text("-r sub/base.txt\ngamma-pkg\n")
    first = ensure(venv, wheelhouse, deps_files=[deps])
    assert first.status == "installed"
    assert venv_python_says(venv, "import alpha_pkg; print(alpha_pkg.__version__)") == "1.0"
    (sub / "cons.txt").write_text("alpha-pkg<1.5\n")  # a nested file's content is part of the key
    second = ensure(venv, wheelhouse, deps_files=[deps])
    assert second.status == "adopted"
    assert second.fingerprint != first.fingerprint
    (sub / "cons.txt").write_text("alpha-pkg>=2\n")
    assert ensure(venv, wheelhouse, deps_files=[deps]).status == "installed"
    assert venv_python_says(venv, "import alpha_pkg; print(alpha_pkg.__version__)") == "2.0"


def test_existing_satisfying_venv_is_adopted(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    ensure(venv, wheelhouse, "alpha-pkg", cache_dir=tmp_path / "other-cache")
    assert ensure(venv, wheelhouse, "alpha-pkg").status == "adopted"
    assert ensure(venv, wheelhouse, "alpha-pkg").status == "hit"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not marshal",
        marshal.dumps({"format": _state.FORMAT})[:-3],  # truncated
        marshal.dumps({"format": _state.FORMAT}),
        marshal.dumps({"format": 99, "fingerprint": "x"}),
        marshal.dumps([1, 2]),
    ],
)
def test_corrupted_state_file_is_a_miss(venv: Path, wheelhouse: Path, tmp_path: Path, content: bytes) -> None:
    ensure(venv, wheelhouse, "alpha-pkg")
    (state_file,) = (tmp_path / "penvcache-cache" / "venvs").glob("*/state.marshal")
    state_file.write_bytes(content)
    assert ensure(venv, wheelhouse, "alpha-pkg").status == "adopted"
    assert ensure(venv, wheelhouse, "alpha-pkg").status == "hit"


def test_conflicting_specifiers_fail_every_time_and_record_nothing(
    venv: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    for _ in range(2):
        with pytest.raises(penvcache.InstallFailed, match="alpha-pkg"):
            ensure(venv, wheelhouse, "delta-pkg", "alpha-pkg<2")
    assert not list((tmp_path / "penvcache-cache").glob("venvs/*/state.marshal"))


def test_package_that_installs_but_does_not_import_fails_every_time(
    venv: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    for _ in range(2):
        with pytest.raises(
            penvcache.InstallFailed, match=r"broken-pkg: import broken_pkg failed: ImportError: broken on purpose"
        ):
            ensure(venv, wheelhouse, "broken-pkg")
    assert not list((tmp_path / "penvcache-cache").glob("venvs/*/state.marshal"))


def test_offline_miss_names_what_is_missing(venv: Path, wheelhouse: Path) -> None:
    with pytest.raises(penvcache.OfflineUnavailable, match="no-such-pkg"):
        ensure(venv, wheelhouse, "alpha-pkg", "no-such-pkg")


def test_uv_offline_env_counts_as_offline(venv: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_OFFLINE", "1")
    with pytest.raises(penvcache.OfflineUnavailable):
        ensure(venv, wheelhouse, "no-such-pkg", offline=False)


def test_unreachable_index_falls_back_to_offline(
    venv: Path, wheelhouse: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result = ensure(venv, wheelhouse, "alpha-pkg", offline=False)
    assert result.status == "installed"
    assert result.offline_fallback
    assert "retrying offline" in capfd.readouterr().err


def test_unreachable_index_and_not_installable_offline_either_is_exit_4(
    venv: Path, wheelhouse: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(penvcache.OfflineUnavailable) as exc:
        ensure(venv, wheelhouse, "alpha-pkg", "no-such-pkg", offline=False)
    assert str(exc.value).startswith("the index is unreachable, and alpha-pkg, no-such-pkg cannot be installed offline")
    assert "no-such-pkg" in str(exc.value).split("offline either: ", 1)[1]
    assert exc.value.exit_code == 4
    assert "penvcache: the package index is unreachable (" in capfd.readouterr().err


def test_state_lives_under_the_cache_dir_not_the_venv(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    ensure(venv, wheelhouse, "alpha-pkg")
    directory = Path(_state.venv_dir(str(tmp_path / "penvcache-cache"), str(venv)))
    state = _state.read(str(directory))
    assert state is not None
    assert state["status"] == "installed"
    assert (directory / "state.marshal").exists()
    assert (directory / "lock").exists()
    assert not (venv / "penvcache").exists()


def test_empty_dependency_set_creates_the_venv(venv: Path, wheelhouse: Path) -> None:
    assert ensure(venv, wheelhouse).status == "installed"
    assert (venv / "pyvenv.cfg").exists()
    assert ensure(venv, wheelhouse).status == "hit"


def test_hash_pins_are_passed_to_uv(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    wheel = wheelhouse / "alpha_pkg-1.0-py3-none-any.whl"
    good = hashlib.sha256(wheel.read_bytes()).hexdigest()
    deps = tmp_path / "deps.txt"
    deps.write_text(f"alpha-pkg==1.0 \\\n    --hash=sha256:{'0' * 64}\n")
    with pytest.raises(penvcache.InstallFailed, match="alpha-pkg"):
        ensure(venv, wheelhouse, deps_files=[deps])
    deps.write_text(f"alpha-pkg==1.0 \\\n    --hash=sha256:{good}\n")
    first = ensure(venv, wheelhouse, deps_files=[deps])
    assert first.status == "installed"
    assert venv_python_says(venv, "import alpha_pkg; print(alpha_pkg.__version__)") == "1.0"
    # uv requires a hash for every package once one has a hash: gamma-pkg has none
    deps.write_text(f"alpha-pkg==1.0 --hash=sha256:{good}\ngamma-pkg==1.0\n")
    with pytest.raises(penvcache.InstallFailed, match="gamma-pkg"):
        ensure(venv, wheelhouse, deps_files=[deps])


def test_direct_reference_to_a_wheel(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    wheel = wheelhouse / "alpha_pkg-2.0-py3-none-any.whl"
    deps = tmp_path / "deps.txt"
    deps.write_text(f"alpha-pkg @ {wheel.as_uri()}\n")
    assert ensure(venv, wheelhouse, deps_files=[deps]).status == "installed"
    assert venv_python_says(venv, "import alpha_pkg; print(alpha_pkg.__version__)") == "2.0"
    assert ensure(venv, wheelhouse, deps_files=[deps]).status == "hit"


def test_a_miss_parses_the_deps_once(
    venv: Path, wheelhouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deps parsed before the lock are reused under it while their files are byte for byte the same."""
    from penvcache import _requirements

    calls: list[object] = []
    real = _requirements.read_deps

    def counting(*args: object, **kwargs: object) -> _requirements.DepsSet:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_requirements, "read_deps", counting)
    deps = tmp_path / "deps.txt"
    deps.write_text("alpha-pkg\n")
    assert penvcache.ensure(venv, deps_files=[deps], find_links=[wheelhouse], offline=True).status == "installed"
    assert len(calls) == 1


def test_deps_changed_while_waiting_for_the_lock_are_read_again(
    venv: Path, wheelhouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from penvcache import _locking

    deps = tmp_path / "deps.txt"
    deps.write_text("alpha-pkg\n")
    enter = _locking.VenvLock.__enter__

    def edit_then_enter(self: _locking.VenvLock) -> _locking.VenvLock:
        deps.write_text("gamma-pkg\n")  # another process edits the file while this one waits
        return enter(self)

    with monkeypatch.context() as patch:
        patch.setattr(_locking.VenvLock, "__enter__", edit_then_enter)
        result = penvcache.ensure(venv, deps_files=[deps], find_links=[wheelhouse], offline=True)
    assert result.status == "installed"
    assert list(site_packages(venv).glob("gamma_pkg-*.dist-info"))
    assert not list(site_packages(venv).glob("alpha_pkg-*.dist-info"))
    assert penvcache.ensure(venv, deps_files=[deps], find_links=[wheelhouse], offline=True).status == "hit"
