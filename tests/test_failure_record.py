"""No reinstall loop: a set that still fails validation after an install fails at once until something changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import penvcache
from penvcache import ValidationFailed, _state
from tests._kit import build_wheel, site_packages
from tests.conftest import run_cli_here

# Each test removes its uv cache, so that nothing can install the broken wheel again.
pytestmark = pytest.mark.private_uv_cache


@pytest.fixture
def house(tmp_path: Path) -> Path:
    """A wheelhouse of the test's own: the test takes the broken wheel away to prove nothing installs again."""
    house = tmp_path / "house"
    build_wheel(house, "broken-pkg", "1.0", module_source="raise ImportError('broken on purpose')\n")
    build_wheel(house, "gamma-pkg", "1.0")
    return house


def ensure(venv: Path, house: Path, *reqs: str, **kwargs: object) -> penvcache.EnsureResult:
    return penvcache.ensure(venv, reqs, find_links=[house], offline=True, **kwargs)  # type: ignore[arg-type]


def fail_once(venv: Path, house: Path, tmp_path: Path) -> str:
    """Install the broken set (it fails validation after the install), then make any new install impossible."""
    with pytest.raises(ValidationFailed) as first:
        ensure(venv, house, "broken-pkg")
    assert "still fails validation after installing" in str(first.value)
    assert "broken on purpose" in str(first.value)
    # neither the find-links (its path is in the key, not its content) nor uv's cache can install it again
    (house / "broken_pkg-1.0-py3-none-any.whl").unlink()
    shutil.rmtree(tmp_path / "uv-cache")
    return str(first.value)


def test_the_same_call_fails_at_once_with_the_same_reason(venv: Path, house: Path, tmp_path: Path) -> None:
    reason = fail_once(venv, house, tmp_path)
    with pytest.raises(ValidationFailed) as again:  # an install would fail as OfflineUnavailable: none was tried
        ensure(venv, house, "broken-pkg")
    assert str(again.value).startswith(reason)
    assert "--retry" in str(again.value)
    assert again.value.exit_code == 1


def test_retry_installs_again(venv: Path, house: Path, tmp_path: Path) -> None:
    fail_once(venv, house, tmp_path)
    with pytest.raises(penvcache.OfflineUnavailable, match="broken-pkg"):  # it did try to install
        ensure(venv, house, "broken-pkg", retry=True)


def test_a_changed_input_installs_again(venv: Path, house: Path, tmp_path: Path) -> None:
    fail_once(venv, house, tmp_path)
    with pytest.raises(penvcache.OfflineUnavailable):
        ensure(venv, house, "broken-pkg", "gamma-pkg")


def test_a_changed_venv_installs_again(venv: Path, house: Path, tmp_path: Path) -> None:
    fail_once(venv, house, tmp_path)
    (site_packages(venv) / "something_else.py").write_text("X = 1\n")  # the venv changed since the failure
    with pytest.raises(penvcache.OfflineUnavailable):  # so it tried to install again
        ensure(venv, house, "broken-pkg")


def test_the_cli_exits_1_at_once_and_explain_shows_it(venv: Path, house: Path, tmp_path: Path) -> None:
    fail_once(venv, house, tmp_path)
    args = ["--venv", str(venv), "--offline", "--find-links", str(house), "broken-pkg"]
    proc = run_cli_here("ensure", *args)
    assert proc.returncode == 1, proc.stderr
    assert "broken on purpose" in proc.stderr
    assert "recorded" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    explained = run_cli_here("explain", "--json", *args)
    assert explained.returncode == 0, explained.stderr
    reasons = json.loads(explained.stdout)["reasons"]
    assert reasons[0].startswith("failed: ")
    assert "broken on purpose" in reasons[0]
    retried = run_cli_here("ensure", "--retry", *args)
    assert retried.returncode == 4, retried.stderr  # offline and nothing to install it from: it tried


def test_use_takes_retry(venv: Path, house: Path, tmp_path: Path) -> None:
    fail_once(venv, house, tmp_path)
    with (
        pytest.raises(penvcache.OfflineUnavailable),
        penvcache.use(venv, ["broken-pkg"], find_links=[house], offline=True, retry=True),
    ):
        pass


@pytest.mark.parametrize("when", ["yesterday", 1e300])
def test_a_recorded_failure_with_an_odd_time_is_no_traceback(
    venv: Path, house: Path, tmp_path: Path, when: object
) -> None:
    """The summary is a file in the cache dir: a time that is not a number is no record (an install is tried),
    one no calendar holds still repeats the failure, with the time unknown."""
    reason = fail_once(venv, house, tmp_path)
    (summary,) = (tmp_path / "penvcache-cache").glob(f"venvs/*/{_state.SUMMARY}")
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "when": when}))
    if isinstance(when, str):
        with pytest.raises(penvcache.OfflineUnavailable, match="broken-pkg"):  # no failure to repeat: it tried
            ensure(venv, house, "broken-pkg")
        return
    with pytest.raises(ValidationFailed) as again:
        ensure(venv, house, "broken-pkg")
    assert str(again.value).startswith(reason + " [recorded at an unknown time and not retried")
