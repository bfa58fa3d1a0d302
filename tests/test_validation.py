"""Validation that holds on real packages: namespace packages, RECORD files, the dependency closure, imports that
interfere, optional dependencies, imports to skip, and a probe that neither hangs nor reads its requests as stdin."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from uv import find_uv_bin

import penvcache
from penvcache import _probe
from penvcache._requirements import read_deps
from tests._kit import build_wheel, build_wheel_files, site_packages
from tests.conftest import ROOT, error_lines, make_venv, premake_measured_venv, run_cli_here, wait_for

NAMESPACE_FILES = {
    "nsco/cloud/storage/__init__.py": "from nsco.cloud.storage.blob import Blob\n",
    "nsco/cloud/storage/blob.py": "class Blob:\n    pass\n",
    "nsco/cloud/storage/py.typed": "",
}
INTERFERING = "import sys\nsys.modules['victim_pkg'] = None  # poisons another distribution's module\n"
RERAISED = """\
try:
    import server_lib_of_an_extra
except ModuleNotFoundError as e:
    raise ImportError("install extra-user[server] to use it") from e
"""
PID_THEN_SLEEP = """\
import os, time
if os.environ.get("SLEEPY_PID_FILE"):
    with open(os.environ["SLEEPY_PID_FILE"] + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(os.environ["SLEEPY_PID_FILE"] + ".tmp", os.environ["SLEEPY_PID_FILE"])
    time.sleep(float(os.environ.get("SLEEPY_SECONDS", "60")))
"""


@pytest.fixture
def venv(venv: Path) -> Path:
    """conftest's venv; under ``coverage run`` (.ci/run) made first, so that the probe in it is measured."""
    premake_measured_venv(venv)
    return venv


PID_THEN_LINGER = """\
import os, time
if os.environ.get("LINGER_PID_FILE"):  # the probe's last act, os._exit, now sleeps instead
    with open(os.environ["LINGER_PID_FILE"], "w") as f:
        f.write(str(os.getpid()))
    os._exit = lambda code: time.sleep(60)
"""


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels reproducing each case validation must get right."""
    house = tmp_path_factory.mktemp("validation-wheels")
    build_wheel_files(house, "nsco-cloud-storage", "1.0", NAMESPACE_FILES, top_level=["nsco"])
    build_wheel_files(house, "nsco-core", "1.0", {"nsco/core/__init__.py": "", "nsco/direct.py": ""})
    pkgutil_init = "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n"
    old_style = {"oldns/__init__.py": pkgutil_init, "oldns/member/__init__.py": "MEMBER = 1\n"}
    build_wheel_files(house, "oldns-member", "1.0", old_style, top_level=["oldns"])
    build_wheel(house, "trunc-pkg", "1.0")
    build_wheel(house, "dep-pkg", "1.0")
    build_wheel(house, "dep-pkg", "2.0")
    build_wheel(house, "top-pkg", "1.0", requires=["dep-pkg>=2", "never-installed>=1; python_version < '3'"])
    build_wheel(house, "interfere-a", "1.0", module_source=INTERFERING)
    build_wheel(house, "victim-pkg", "1.0")
    build_wheel(house, "optional-user", "1.0", module_source="import plotting_lib_nobody_declares\n")
    build_wheel(house, "extra-user", "1.0", module_source=RERAISED)
    build_wheel(house, "helper-pkg", "1.0")
    build_wheel(house, "needs-helper", "1.0", requires=["helper-pkg"], module_source="import helper_pkg.sub\n")
    build_wheel(house, "display-pkg", "1.0", module_source="raise RuntimeError('no display: $DISPLAY is unset')\n")
    build_wheel(house, "multiline-pkg", "1.0", module_source="raise ValueError('first line\\nsecond line')\n")
    build_wheel(house, "stdin-reader", "1.0", module_source="import sys\nDATA = sys.stdin.read()\n")
    build_wheel(house, "sleepy-pkg", "1.0", module_source=PID_THEN_SLEEP)
    build_wheel(house, "exits-pkg", "1.0", module_source="import os\nos._exit(3)\n")
    build_wheel(house, "cyc-pkg", "1.0", extras={"a": ["cyc-pkg[b]"], "b": ["cyc-pkg[a]", "helper-pkg"]})
    build_wheel(house, "loop-a", "1.0", requires=["loop-b"], module_source="import undeclared_optional_mod\n")
    build_wheel(house, "loop-b", "1.0", requires=["loop-a"])
    build_wheel(house, "needs-absent", "1.0", requires=["absent-dep"], module_source="import absent_dep\n")
    build_wheel_files(house, "shared-one", "1.0", {"sharedmod/__init__.py": ""})
    build_wheel_files(house, "shared-two", "1.0", {"sharedmod/__init__.py": ""})
    build_wheel(house, "interrupts-pkg", "1.0", module_source="raise KeyboardInterrupt\n")
    build_wheel(house, "lingers-pkg", "1.0", module_source=PID_THEN_LINGER)
    return house


@pytest.fixture(scope="module")
def odd_venv(tmp_path_factory: pytest.TempPathFactory, house: Path) -> Path:
    """One venv (never changed by the tests that share it) of dependency graphs validation must walk right."""
    venv = tmp_path_factory.mktemp("odd") / "venv"
    make_venv(venv)
    uv_pip(venv, house, "install", "cyc-pkg[a]", "loop-a", "shared-one", "shared-two", "interrupts-pkg", "lingers-pkg")
    uv_pip(venv, house, "install", "--no-deps", "needs-absent")
    # an interpreter that hangs as it starts (a slow .pth), when a test asks for it
    (site_packages(venv) / "zz_hang.pth").write_text(
        "import os, time; os.environ.get('HANG_AT_START') and time.sleep(60)\n"
    )
    return venv


def ensure(venv: Path, house: Path, *reqs: str, **kwargs: object) -> penvcache.EnsureResult:
    return penvcache.ensure(venv, reqs, offline=True, find_links=[house], **kwargs)  # type: ignore[arg-type]


def uv_pip(venv: Path, house: Path, *args: str) -> None:
    cmd = [find_uv_bin(), "pip", *args, "--python", str(venv / "bin" / "python")]
    if args[0] == "install":
        cmd += ["--offline", "--find-links", str(house)]
    subprocess.run(cmd, capture_output=True, check=True, timeout=120)


def imports(venv: Path, module: str, name: str = "") -> bool:
    code = f"from {module} import {name}" if name else f"import {module}"
    proc = subprocess.run([venv / "bin" / "python", "-c", code], capture_output=True, timeout=60, check=False)
    return proc.returncode == 0


# --- 1. namespace packages -----------------------------------------------------------------------------------------


def test_a_namespace_distribution_imports_its_own_package(venv: Path, house: Path) -> None:
    ensure(venv, house, "nsco-cloud-storage", "nsco-core")
    report = _probe.validate(str(venv / "bin" / "python"), read_deps(["nsco-cloud-storage", "nsco-core"]))
    assert report.satisfied, report.summary()
    site = site_packages(venv)
    assert str(site / "nsco" / "cloud" / "storage") in report.stamp_paths
    assert str(site / "nsco" / "cloud" / "storage" / "__init__.py") in report.stamp_paths
    assert str(site / "nsco" / "core" / "__init__.py") in report.stamp_paths
    assert str(site / "nsco" / "direct.py") in report.stamp_paths  # a module directly in the namespace


def test_a_pkgutil_namespace_is_walked_like_a_native_one(venv: Path, house: Path) -> None:
    assert ensure(venv, house, "oldns-member").status == "installed"
    report = _probe.validate(str(venv / "bin" / "python"), read_deps(["oldns-member"]))
    member = site_packages(venv) / "oldns" / "member"
    assert str(member / "__init__.py") in report.stamp_paths
    shutil.rmtree(member)
    assert ensure(venv, house, "oldns-member").status == "installed"
    assert imports(venv, "oldns.member", "MEMBER")


@pytest.mark.parametrize("damage", ["package deleted", "__init__.py deleted"])
def test_a_namespace_distributions_package_damaged_misses_and_is_repaired(venv: Path, house: Path, damage: str) -> None:
    assert ensure(venv, house, "nsco-cloud-storage").status == "installed"
    assert ensure(venv, house, "nsco-cloud-storage").status == "hit"
    package = site_packages(venv) / "nsco" / "cloud" / "storage"
    if damage == "package deleted":
        shutil.rmtree(package)
    else:
        (package / "__init__.py").unlink()
    assert not imports(venv, "nsco.cloud.storage", "Blob")
    assert ensure(venv, house, "nsco-cloud-storage").status == "installed"
    assert imports(venv, "nsco.cloud.storage", "Blob")
    assert ensure(venv, house, "nsco-cloud-storage").status == "hit"


# --- 2. files against RECORD ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [pytest.param("truncated in place", marks=pytest.mark.private_uv_cache), "deleted"],
)
def test_a_half_written_install_is_reinstalled_never_adopted(
    venv: Path, house: Path, tmp_path: Path, damage: str
) -> None:
    assert ensure(venv, house, "trunc-pkg").status == "installed"
    sub = site_packages(venv) / "trunc_pkg" / "sub.py"
    if damage == "deleted":
        sub.unlink()
    else:  # the same inode: uv hardlinked it from its cache, so the cache holds the damage too
        with open(sub, "r+b") as f:
            f.truncate(3)
    fresh_cache = tmp_path / "another-cache"  # nothing recorded: this validation decides between adopt and install
    result = ensure(venv, house, "trunc-pkg", cache_dir=fresh_cache)
    assert result.status == "installed"
    assert sub.read_text() == "VALUE = 1\n"
    assert ensure(venv, house, "trunc-pkg", cache_dir=fresh_cache).status == "hit"


def test_a_damaged_file_is_named_with_its_sizes(venv: Path, house: Path) -> None:
    ensure(venv, house, "trunc-pkg")
    sub = site_packages(venv) / "trunc_pkg" / "sub.py"
    sub.unlink()
    sub.write_text("VALUE = 22\n")  # a new file (a new inode): uv's cache is not touched
    report = _probe.validate(str(venv / "bin" / "python"), read_deps(["trunc-pkg"]))
    assert report.failures == {"trunc-pkg": [f"a file differs from its RECORD: {sub} has 11 bytes, its RECORD says 10"]}
    assert report.broken == {"trunc-pkg"}


@pytest.mark.parametrize("damage", ["deleted", "not UTF-8"])
def test_a_dist_info_without_readable_metadata_is_broken_and_reinstalled(
    venv: Path, house: Path, tmp_path: Path, damage: str
) -> None:
    ensure(venv, house, "trunc-pkg")
    metadata = site_packages(venv) / "trunc_pkg-1.0.dist-info" / "METADATA"
    good = metadata.read_bytes()
    metadata.unlink()
    if damage == "not UTF-8":
        metadata.write_bytes(good + b"Author: Jos\xe9\n")
    report = _probe.validate(str(venv / "bin" / "python"), read_deps(["trunc-pkg"]))
    assert report.failures["trunc-pkg"][0] == "its metadata has no version or is not UTF-8 (a damaged .dist-info)"
    assert report.broken == {"trunc-pkg"}
    assert ensure(venv, house, "trunc-pkg", cache_dir=tmp_path / "another-cache").status == "installed"
    assert metadata.read_bytes() == good


# --- 3. the dependency closure -------------------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["uninstalled", "dist-info deleted", "downgraded", "a dist-info file deleted"])
def test_a_dependency_changed_underneath_a_listed_package_misses_and_is_repaired(
    venv: Path, house: Path, change: str
) -> None:
    assert ensure(venv, house, "top-pkg").status == "installed"
    assert ensure(venv, house, "top-pkg").status == "hit"
    if change == "uninstalled":
        uv_pip(venv, house, "uninstall", "dep-pkg")
    elif change == "dist-info deleted":
        shutil.rmtree(site_packages(venv) / "dep_pkg-2.0.dist-info")
    elif change == "a dist-info file deleted":  # site-packages itself does not change: the stamp of the closure must
        (site_packages(venv) / "dep_pkg-2.0.dist-info" / "INSTALLER").unlink()
    else:
        uv_pip(venv, house, "install", "dep-pkg==1.0")
    assert ensure(venv, house, "top-pkg").status == "installed"
    assert (site_packages(venv) / "dep_pkg-2.0.dist-info").is_dir()
    assert ensure(venv, house, "top-pkg").status == "hit"


def test_the_closure_is_checked_from_metadata_and_stamped(venv: Path, house: Path) -> None:
    ensure(venv, house, "top-pkg")
    python = str(venv / "bin" / "python")
    report = _probe.validate(python, read_deps(["top-pkg"]))
    assert report.satisfied, report.summary()  # never-installed's marker does not apply
    dep_info = site_packages(venv) / "dep_pkg-2.0.dist-info"
    assert str(dep_info) in report.stamp_paths
    assert str(site_packages(venv) / "dep_pkg") in report.stamp_paths  # its package directory, not imported
    uv_pip(venv, house, "install", "dep-pkg==1.0")
    report = _probe.validate(python, read_deps(["top-pkg"]))
    assert report.failures == {"dep-pkg": ["1.0 is installed but dep-pkg>=2 is required by top-pkg"]}


def test_extras_that_require_each_other_are_walked_once(odd_venv: Path) -> None:
    """``pkg[a]`` requires ``pkg[b]``, which requires ``pkg[a]`` (as ``pkg[all]`` lists its own extras)."""
    report = _probe.validate(str(odd_venv / "bin" / "python"), read_deps(["cyc-pkg[a]"]))
    assert report.satisfied, report.summary()
    assert str(site_packages(odd_venv) / "helper_pkg") in report.stamp_paths  # required by extra b, through a


def test_a_constraint_whose_marker_does_not_apply_is_not_checked(odd_venv: Path) -> None:
    from packaging.requirements import Requirement

    deps = read_deps(["helper-pkg"])
    deps.constraints += [
        Requirement("helper-pkg>=2; python_version < '3'"),
        Requirement("helper-pkg<1; os_name == 'x'"),
    ]
    assert _probe.validate(str(odd_venv / "bin" / "python"), deps).satisfied
    deps.constraints += [Requirement("helper-pkg>=2; python_version >= '3'")]
    assert _probe.validate(str(odd_venv / "bin" / "python"), deps).failures == {
        "helper-pkg": ['1.0 is installed but helper-pkg>=2; python_version >= "3" is required']
    }


def test_two_distributions_shipping_one_package_stamp_it_once(odd_venv: Path) -> None:
    """Two distributions of one package (as opencv-python and opencv-contrib-python): each path stamped once."""
    report = _probe.validate(str(odd_venv / "bin" / "python"), read_deps(["shared-one", "shared-two"]))
    assert report.satisfied, report.summary()
    assert str(site_packages(odd_venv) / "sharedmod" / "__init__.py") in report.stamp_paths
    assert len(report.stamp_paths) == len(set(report.stamp_paths))


# --- 4. imports in isolation ---------------------------------------------------------------------------------------


def test_one_packages_import_never_fails_anothers(venv: Path, house: Path) -> None:
    result = ensure(venv, house, "interfere-a", "victim-pkg")
    assert result.status == "installed"
    assert result.warnings == []
    report = _probe.validate(str(venv / "bin" / "python"), read_deps(["interfere-a", "victim-pkg"]))
    assert report.satisfied, report.summary()
    assert str(site_packages(venv) / "victim_pkg" / "__init__.py") in report.stamp_paths  # stamped from the retry


# --- 5. classified import failures ---------------------------------------------------------------------------------


def test_an_undeclared_optional_import_is_a_warning(venv: Path, house: Path) -> None:
    result = ensure(venv, house, "optional-user")
    assert result.status == "installed"
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("optional-user: import optional_user failed: ModuleNotFoundError")
    assert "plotting_lib_nobody_declares" in result.warnings[0]
    hit = ensure(venv, house, "optional-user")
    assert (hit.status, hit.warnings) == ("hit", result.warnings)


def test_a_package_whose_import_warns_is_stamped_from_its_record(venv: Path, house: Path) -> None:
    assert ensure(venv, house, "optional-user").status == "installed"
    assert ensure(venv, house, "optional-user").status == "hit"
    (site_packages(venv) / "optional_user" / "sub.py").unlink()
    assert ensure(venv, house, "optional-user").status == "installed"
    assert (site_packages(venv) / "optional_user" / "sub.py").is_file()


def test_a_missing_module_re_raised_as_another_import_error_is_a_warning(venv: Path, house: Path) -> None:
    result = ensure(venv, house, "extra-user")
    assert result.status == "installed"
    assert result.warnings == [
        "extra-user: import extra_user failed: ImportError: install extra-user[server] to use it "
        "(server_lib_of_an_extra is not a dependency it requires: an optional one?)"
    ]


def test_warnings_in_the_cli_json_and_explain(venv: Path, house: Path) -> None:
    args = ["optional-user", "--venv", str(venv), "--offline", "--find-links", str(house)]
    human = run_cli_here("ensure", *args)
    assert human.returncode == 0, human.stderr
    warning = "penvcache: warning: optional-user: import optional_user failed"  # after the miss's progress lines
    assert any(line.startswith(warning) for line in human.stderr.splitlines()), human.stderr
    for command in ("ensure", "explain"):  # the ensure is a hit, answered by the fast path
        out = run_cli_here(command, *args, "--json")
        assert out.returncode == 0, out.stderr
        assert [w.split(":")[0] for w in json.loads(out.stdout)["warnings"]] == ["optional-user"]
    explained = run_cli_here("explain", *args)
    assert "  warning: optional-user: import optional_user failed" in explained.stdout


def test_an_undeclared_import_in_a_dependency_cycle_is_a_warning(odd_venv: Path) -> None:
    """loop-a requires loop-b, which requires loop-a: neither ships the module, so it is optional."""
    report = _probe.validate(str(odd_venv / "bin" / "python"), read_deps(["loop-a"]))
    assert report.satisfied, report.summary()
    assert report.warnings == [
        "loop-a: import loop_a failed: ModuleNotFoundError: No module named 'undeclared_optional_mod' "
        "(undeclared_optional_mod is not a dependency it requires: an optional one?)"
    ]


def test_a_module_a_missing_dependency_may_provide_is_a_failure(odd_venv: Path) -> None:
    """Installing the missing dependency may bring the module: a failure, and nothing installed is blamed."""
    report = _probe.validate(str(odd_venv / "bin" / "python"), read_deps(["needs-absent"]))
    assert report.warnings == []
    assert report.failures == {
        "absent-dep": ["absent-dep (required by needs-absent) is not installed"],
        "needs-absent": ["import needs_absent failed: ModuleNotFoundError: No module named 'absent_dep'"],
    }
    assert report.broken == set()


def test_a_module_a_required_dependency_should_provide_is_a_failure_of_that_dependency(venv: Path, house: Path) -> None:
    ensure(venv, house, "needs-helper")
    (site_packages(venv) / "helper_pkg" / "sub.py").unlink()
    report = _probe.validate(str(venv / "bin" / "python"), read_deps(["needs-helper"]))
    assert report.warnings == []
    assert report.failures["needs-helper"] == [
        "import needs_helper failed: ModuleNotFoundError: No module named 'helper_pkg.sub' "
        "(helper-pkg should provide it)"
    ]
    assert report.broken == {"helper-pkg"}
    assert ensure(venv, house, "needs-helper").status == "installed"
    assert imports(venv, "needs_helper")


def test_another_exception_says_how_to_skip_the_import(venv: Path, house: Path) -> None:
    with pytest.raises(penvcache.InstallFailed) as failed:
        ensure(venv, house, "display-pkg")
    message = str(failed.value)
    assert "RuntimeError: no display: $DISPLAY is unset; to skip this import: --skip-import display_pkg" in message
    assert "\n" not in message


def test_a_skipped_import_still_checks_version_and_files_and_is_in_the_key(
    venv: Path, house: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ensure(venv, house, "display-pkg", skip_imports=["display_pkg"]).status == "installed"
    assert ensure(venv, house, "display-pkg", skip_imports=["display_pkg"]).status == "hit"
    monkeypatch.setenv("PENVCACHE_SKIP_IMPORT", "display_pkg,")
    assert ensure(venv, house, "display-pkg").status == "hit"  # the same set of names, from the environment
    monkeypatch.delenv("PENVCACHE_SKIP_IMPORT")
    with pytest.raises(penvcache.InstallFailed):
        ensure(venv, house, "display-pkg")  # not skipped: another key, and the import fails
    python = str(venv / "bin" / "python")
    (site_packages(venv) / "display_pkg" / "sub.py").unlink()
    report = _probe.validate(python, read_deps(["display-pkg>=2"]), skip_imports=["display-pkg"])
    assert [reason.split(":")[0] for reason in report.failures["display-pkg"]] == [
        "1.0 is installed but display-pkg>=2 is required",
        "a file differs from its RECORD",
    ]


def test_the_cli_takes_skip_import_and_refuses_a_bad_name(venv: Path, house: Path) -> None:
    args = ["display-pkg", "--venv", str(venv), "--offline", "--find-links", str(house)]
    assert run_cli_here("ensure", *args, "--skip-import", "display_pkg").returncode == 0
    hit = run_cli_here("ensure", *args, "--skip-import", "display_pkg", "--validate-timeout", "30")
    assert hit.stdout.startswith("penvcache: hit")
    explained = run_cli_here("explain", *args)
    assert "  skip_imports  none  [-]  (changed)\n" in explained.stdout
    assert "  why: skipped imports changed: removed display_pkg\n" in explained.stdout
    bad = run_cli_here("ensure", *args, "--skip-import", "not a name")
    assert bad.returncode == 2
    assert bad.stderr == (
        "penvcache: error: --skip-import 'not a name': not a module name (like yaml or google.cloud.storage) "
        "or a distribution name\n"
    )


def test_a_multi_line_exception_is_folded_to_its_last_line(venv: Path, house: Path) -> None:
    ensure(venv, house, "trunc-pkg")
    uv_pip(venv, house, "install", "multiline-pkg")
    report = _probe.validate(str(venv / "bin" / "python"), read_deps(["multiline-pkg"]))
    assert report.failures["multiline-pkg"] == [
        "import multiline_pkg failed: ValueError: ... second line; to skip this import: --skip-import multiline_pkg"
    ]


# --- 6. a robust probe ---------------------------------------------------------------------------------------------


def test_an_import_reading_stdin_does_not_read_the_requests(venv: Path, house: Path) -> None:
    """In a process of its own with a deadline: a probe reading its requests as stdin would hang."""
    cmd = [sys.executable, "-m", "penvcache", "ensure", "stdin-reader", "--venv", str(venv), "--offline"]
    proc = subprocess.Popen(
        [*cmd, "--find-links", str(house)],
        cwd=ROOT,
        stdin=subprocess.PIPE,  # a terminal-like stdin that never ends: the probe must not hand it to imports
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, err
    assert out.startswith("penvcache: installed")


def test_validation_works_with_descriptors_numbered_past_1024(venv: Path, house: Path) -> None:
    """A process with many open files (a build tool, a test runner) gets pipes numbered past select()'s limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"needs 1200 open files, the hard limit is {hard}")
    ensure(venv, house, "trunc-pkg")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    opened: list[int] = []
    try:
        while not opened or opened[-1] < 1100:
            opened.append(os.open(os.devnull, os.O_RDONLY))
        report = _probe.validate(str(venv / "bin" / "python"), read_deps(["trunc-pkg"]))
    finally:
        for fd in opened:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert report.satisfied, report.summary()


def test_an_import_that_ends_the_interpreter_is_named(venv: Path, house: Path) -> None:
    ensure(venv, house, "trunc-pkg")
    uv_pip(venv, house, "install", "exits-pkg")
    with pytest.raises(penvcache.InstallFailed) as failed:
        ensure(venv, house, "exits-pkg")
    assert str(failed.value) == (
        f"validation probe in {venv / 'bin' / 'python'} died while importing exits_pkg (of exits-pkg): exit code 3; "
        "to skip this import: --skip-import exits_pkg"
    )


def test_an_import_raising_keyboard_interrupt_ends_the_probe_naming_the_module(odd_venv: Path) -> None:
    with pytest.raises(penvcache.InstallFailed) as failed:
        _probe.validate(str(odd_venv / "bin" / "python"), read_deps(["interrupts-pkg"]))
    assert str(failed.value) == (
        f"validation probe in {odd_venv / 'bin' / 'python'} died while importing interrupts_pkg (of interrupts-pkg): "
        "KeyboardInterrupt; to skip this import: --skip-import interrupts_pkg"
    )


def test_an_interpreter_that_hangs_as_it_starts_times_out_before_any_import(
    odd_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANG_AT_START", "1")
    with pytest.raises(penvcache.InstallFailed) as failed:
        _probe.validate(str(odd_venv / "bin" / "python"), read_deps(["helper-pkg"]), timeout=1)
    assert str(failed.value) == (
        f"validation in {odd_venv / 'bin' / 'python'} timed out after 1s while reading the venv's metadata; "
        "allow more time with --validate-timeout SECONDS"
    )


def test_a_probe_that_does_not_exit_after_answering_is_killed_at_the_deadline(
    odd_venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "probe.pid"
    monkeypatch.setenv("LINGER_PID_FILE", str(pid_file))
    report = _probe.validate(str(odd_venv / "bin" / "python"), read_deps(["lingers-pkg"]), timeout=2)
    assert report.satisfied, report.summary()  # its answers count
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)  # killed and reaped


def test_an_interpreter_that_cannot_run_is_one_line(venv: Path, house: Path) -> None:
    """A venv whose bin/python is not executable: exit 1 and what to do, never a traceback."""
    if not venv.exists():
        make_venv(venv)
    python = venv / "bin" / "python"
    python.unlink()
    python.write_text("not a program\n")
    proc = run_cli_here("ensure", "helper-pkg", "--venv", str(venv), "--offline", "--find-links", str(house))
    assert proc.returncode == 1
    assert error_lines(proc.stderr) == [
        f"penvcache: error: validation probe in {python} cannot start: Permission denied; "
        "remove the venv to have it remade"
    ]


def test_validation_times_out_naming_the_module_and_kills_the_probe(
    venv: Path, house: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure(venv, house, "trunc-pkg")
    uv_pip(venv, house, "install", "sleepy-pkg")
    pid_file = tmp_path / "probe.pid"
    monkeypatch.setenv("SLEEPY_PID_FILE", str(pid_file))
    with pytest.raises(penvcache.InstallFailed) as failed:
        ensure(venv, house, "sleepy-pkg", validate_timeout=2)
    assert str(failed.value) == (
        f"validation in {venv / 'bin' / 'python'} timed out after 2s while importing sleepy_pkg (of sleepy-pkg); "
        "skip it with --skip-import sleepy_pkg or allow more time with --validate-timeout SECONDS"
    )
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped
    monkeypatch.delenv("SLEEPY_PID_FILE")
    assert ensure(venv, house, "sleepy-pkg", validate_timeout=2).status == "adopted"  # the lock was released


def test_ctrl_c_during_validation_kills_the_probe_at_once(
    venv: Path, house: Path, tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    ensure(venv, house, "trunc-pkg")
    uv_pip(venv, house, "install", "sleepy-pkg")
    pid_file = tmp_path / "probe.pid"
    cmd = [sys.executable, "-m", "penvcache", "ensure", "sleepy-pkg", "--venv", str(venv), "--offline"]
    proc = subprocess.Popen(
        [*cmd, "--find-links", str(house)],
        cwd=ROOT,
        env={**os.environ, "SLEEPY_PID_FILE": str(pid_file), "SLEEPY_SECONDS": "3600"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    procs.append(proc)
    wait_for(pid_file, proc)
    probe = int(pid_file.read_text())
    try:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)  # a deadline: the import sleeps for an hour, the validation timeout is 300 s
        assert proc.returncode == 130
        with pytest.raises(ProcessLookupError):
            os.kill(probe, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(probe, signal.SIGKILL)  # the probe runs in a session of its own


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan"), float("inf")])
def test_a_validate_timeout_must_be_positive(venv: Path, house: Path, seconds: float) -> None:
    with pytest.raises(penvcache.InvalidInput, match="validate timeout must be a number of seconds > 0"):
        ensure(venv, house, "trunc-pkg", validate_timeout=seconds)


def test_explain_names_a_record_made_before_skipped_imports_were_in_the_key(venv: Path, house: Path) -> None:
    from penvcache import _state

    ensure(venv, house, "trunc-pkg")
    directory = _state.venv_dir(os.environ["PENVCACHE_CACHE_DIR"], str(venv))
    state = _state.read(directory)
    assert state is not None
    del state["components"]["skip_imports"]
    state["fingerprint"] = "0" * 64  # made of the six components an older penvcache knew
    _state.write(directory, state)
    explained = run_cli_here("explain", "trunc-pkg", "--venv", str(venv), "--offline", "--find-links", str(house))
    assert "  why: skipped imports: not in the record (an older penvcache made it)\n" in explained.stdout


@pytest.mark.private_uv_cache  # it edits METADATA and RECORD in place
def test_a_version_that_is_not_pep_440_satisfies_only_no_specifier(venv: Path, house: Path) -> None:
    """Older packaging raises InvalidVersion where newer ones answer False: either way a failure, never a crash."""
    ensure(venv, house, "top-pkg")
    info = site_packages(venv) / "dep_pkg-2.0.dist-info"
    (info / "METADATA").write_text((info / "METADATA").read_text().replace("Version: 2.0", "Version: 2.0-legacy-x"))
    record = (info / "RECORD").read_text().splitlines()
    (info / "RECORD").write_text("".join(f"{line.split(',')[0]},,\n" for line in record))
    python = str(venv / "bin" / "python")
    assert _probe.validate(python, read_deps(["dep-pkg"])).satisfied
    report = _probe.validate(python, read_deps(["top-pkg"]))
    assert report.failures == {"dep-pkg": ["2.0-legacy-x is installed but dep-pkg>=2 is required by top-pkg"]}


def test_a_marker_packaging_cannot_compare_is_read_as_uv_reads_it(
    tmp_path: Path, venv: Path, hermetic: list[str]
) -> None:
    """``python_version ~= "3"`` (``~=`` needs two release segments): packaging raises UndefinedComparison where
    uv drops the comparison from its and/or (a marker of nothing but it holds), in a deps file and in a
    dependency's own metadata alike; validation was a traceback on every call."""
    build_wheel(
        tmp_path / "house",
        "marked-pkg",
        "1.0",
        requires=[
            'gamma-pkg; python_version ~= "3"',
            'beta-pkg; os_name == "nt" or python_version ~= "3"',
            'delta-pkg; extra == "x" and os_name ~= "x"',
        ],
        extras={"x": []},
    )
    deps = tmp_path / "deps.txt"
    deps.write_text(
        'alpha-pkg; python_version ~= "3"\nmarked-pkg[x]\nbroken-pkg; os_name == "nt" and "3" ~= python_version\n'
    )
    args = ["-r", str(deps), *hermetic, "--find-links", str(tmp_path / "house")]
    for command in ("ensure", "ensure", "verify"):
        result = run_cli_here(command, *args)
        assert (result.returncode, error_lines(result.stderr)) == (0, []), result.stderr
    installed = sorted(p.name.split("-")[0] for p in site_packages(venv).glob("*.dist-info"))
    assert installed == ["alpha_pkg", "delta_pkg", "gamma_pkg", "marked_pkg"]
