"""The validation probe's own distribution reader agrees with importlib.metadata, and its answers are exact JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import default_environment
from uv import find_uv_bin

from penvcache import _probe
from penvcache._requirements import read_deps
from tests._kit import build_wheel
from tests.conftest import measure_coverage_in

ODD_MESSAGE = 'broken "on" purpose: caf\u00e9 \U0001f40d back\\slash\ttab'


@pytest.fixture
def probe_venv(tmp_path: Path, wheelhouse: Path) -> Path:
    """A venv holding wheels of every shape the probe must read, plus hand-made oddities in site-packages."""
    house = tmp_path / "more-wheels"
    build_wheel(house, "odd-msg-pkg", "1.0", module_source=f"raise ImportError({ODD_MESSAGE!r})\n")
    build_wheel(house, "Mixed.Case_Name", "3.1")
    venv = tmp_path / "probe-venv"
    make_venv(venv)
    reqs = ["alpha-pkg==2.0", "beta-pkg[fast]", "delta-pkg", "broken-pkg", "odd-msg-pkg", "mixed-case-name"]
    install(venv, *reqs, "--find-links", str(wheelhouse), "--find-links", str(house))
    site = site_packages(venv)
    # A folded header, a quoted RECORD line with a comma, and an .egg-info distribution.
    meta = site / "gamma_pkg-1.0.dist-info" / "METADATA"
    meta.write_text(meta.read_text() + "Requires-Dist: alpha-pkg\n  >=1\nSummary: x\n\nthe body: not a header\n")
    record = site / "gamma_pkg-1.0.dist-info" / "RECORD"  # the edited METADATA: listed without a size
    lines = record.read_text().splitlines()
    record.write_text("".join(f"{ln.split(',')[0]},,\n" if "METADATA" in ln else f"{ln}\n" for ln in lines))
    (site / "comma,dir").mkdir()
    (site / "comma,dir" / "__init__.py").write_text("")
    (site / "quoted_mod.py").write_text("")
    record = site / "beta_pkg-1.0.dist-info" / "RECORD"  # beta-pkg has no top_level.txt: RECORD names its modules
    record.write_text(record.read_text() + '"comma,dir/__init__.py",,\n"quoted_mod.py",,\n')
    egg = site / "eggy_pkg-0.5-py3.11.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: eggy-pkg\nVersion: 0.5\n")
    (egg / "top_level.txt").write_text("eggy\n")
    (egg / "requires.txt").write_text("alpha-pkg>=1\n\n[fast]\ngamma-pkg\n")
    (site / "eggy.py").write_text("")
    weird = site / "weird_pkg-1.0.dist-info"  # a line that is not a header ends the headers, as in email
    weird.mkdir()
    (weird / "METADATA").write_text("Name: weird-pkg\nVersion: 1.0\nRequires-Dist: a\nnot a: x\nRequires-Dist: b\n")
    (weird / "RECORD").write_text("weird.py,,\nweird_pkg-1.0.dist-info/METADATA,,\n")
    (site / "weird.py").write_text("")
    return venv


def make_venv(venv: Path) -> None:
    subprocess.run([find_uv_bin(), "venv", str(venv), "--python", sys.executable, "--offline", "-q"], check=True)
    measure_coverage_in(venv)


def install(venv: Path, *args: str) -> None:
    subprocess.run([find_uv_bin(), "pip", "install", "--python", str(venv), "--offline", "-q", *args], check=True)


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python*/site-packages"))


def ask(venv: Path, names: list[str], *args: str) -> dict[str, Any]:
    """The probe's answer to one request, run as penvcache runs it (plus ``args``)."""
    proc = subprocess.run(
        [*_probe.probe_command(str(venv / "bin" / "python")), *args],
        input=" ".join(names) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    answers = [line for line in proc.stdout.splitlines() if not line.startswith(">")]  # not the progress lines
    assert len(answers) == 1, proc.stdout
    answer: dict[str, Any] = json.loads(answers[0])
    return answer


NAMES = [
    "alpha-pkg",
    "beta-pkg",
    "gamma-pkg",
    "delta-pkg",
    "broken-pkg",
    "odd-msg-pkg",
    "mixed-case-name",
    "eggy-pkg",
    "weird-pkg",
    "not-installed",
]


@pytest.mark.skipif(sys.platform == "win32", reason="venv layout")
@pytest.mark.private_uv_cache  # probe_venv edits installed files in place
def test_fast_reader_answers_exactly_as_importlib_metadata(probe_venv: Path) -> None:
    fast = ask(probe_venv, NAMES)
    slow = ask(probe_venv, NAMES, "--importlib-metadata")
    assert fast == slow
    dists = fast["dists"]
    assert dists["not-installed"] is None
    assert dists["alpha-pkg"]["version"] == "2.0"
    assert dists["alpha-pkg"]["modules"] == {"alpha_pkg": None}
    assert dists["beta-pkg"]["modules"] == {"beta_pkg": None, "quoted_mod": None}
    assert dists["beta-pkg"]["requires"] == ['gamma-pkg>=1; extra == "fast"']
    assert dists["mixed-case-name"]["version"] == "3.1"
    assert dists["eggy-pkg"]["requires"] == ["alpha-pkg>=1", 'gamma-pkg; extra == "fast"']
    assert dists["weird-pkg"]["requires"] == ["a"]
    assert dists["weird-pkg"]["modules"] == {"weird": None}
    assert dists["broken-pkg"]["modules"]["broken_pkg"].startswith("import broken_pkg failed: ImportError")


@pytest.mark.private_uv_cache  # probe_venv edits installed files in place
def test_answers_are_json_with_any_text(probe_venv: Path) -> None:
    reason = ask(probe_venv, ["odd-msg-pkg"])["dists"]["odd-msg-pkg"]["modules"]["odd_msg_pkg"]
    assert reason == f"import odd_msg_pkg failed: ImportError: {ODD_MESSAGE}"


def test_marker_environment_is_packagings(tmp_path: Path) -> None:
    venv = tmp_path / "plain"
    make_venv(venv)
    answer = ask(venv, [])
    assert answer["environment"] == default_environment()
    assert answer["python"]["version"] == default_environment()["python_full_version"]
    assert answer["environment"] == ask(venv, [], "--importlib-metadata")["environment"]


def test_site_packages_cover_sysconfigs_purelib_and_platlib(tmp_path: Path) -> None:
    venv = tmp_path / "plain"
    make_venv(venv)
    code = "import sysconfig; p = sysconfig.get_paths(); print(p['purelib']); print(p['platlib'])"
    out = subprocess.run([venv / "bin" / "python", "-I", "-c", code], capture_output=True, text=True, check=True)
    assert set(out.stdout.split()) <= set(ask(venv, [])["site_packages"])


def test_penvcaches_own_modules_never_shadow_a_dependency(tmp_path: Path, wheelhouse: Path) -> None:
    """The probe is imported from penvcache's directory, which must be off sys.path before any dependency is."""
    house = tmp_path / "shadow-wheels"
    build_wheel(house, "version", "1.0", module_source="ORIGIN = 'venv'\n")
    build_wheel(house, "cli", "1.0")
    venv = tmp_path / "shadow"
    make_venv(venv)
    install(venv, "--find-links", str(house), "version", "cli")
    dists = ask(venv, ["version", "cli"])["dists"]
    site = str(site_packages(venv))
    for name in ("version", "cli"):
        assert dists[name]["modules"] == {name: None}
        assert all(path.startswith(site) for path in dists[name]["paths"])


@pytest.mark.private_uv_cache  # probe_venv edits installed files in place
def test_distribution_is_found_by_its_dist_info_directory_name(probe_venv: Path) -> None:
    """As importlib.metadata.distribution(name) and uv find it, not by scanning every METADATA for its Name."""
    site = site_packages(probe_venv)
    shutil.move(site / "gamma_pkg-1.0.dist-info", site / "renamed-1.0.dist-info")
    answer = ask(probe_venv, ["gamma-pkg", "renamed"])
    assert answer["dists"]["gamma-pkg"] is None
    assert answer["dists"]["renamed"]["version"] == "1.0"
    assert answer == ask(probe_venv, ["gamma-pkg", "renamed"], "--importlib-metadata")


@pytest.mark.private_uv_cache  # probe_venv edits installed files in place
def test_validate_reads_extras_and_egg_info(probe_venv: Path, tmp_path: Path) -> None:
    deps = read_deps(["beta-pkg[fast]", "eggy-pkg", "alpha-pkg>=2", "mixed_case.name==3.1"])
    report = _probe.validate(str(probe_venv / "bin" / "python"), deps)
    assert report.satisfied, report.summary()
    assert any(p.endswith("gamma_pkg") for p in report.stamp_paths)  # checked through beta-pkg's extra
    failing = _probe.validate(str(probe_venv / "bin" / "python"), read_deps(["broken-pkg", "alpha-pkg<2"]))
    assert set(failing.failures) == {"broken-pkg", "alpha-pkg"}
    assert failing.broken == {"broken-pkg"}


@pytest.mark.private_uv_cache  # probe_venv edits installed files in place
def test_constraints_apply_by_canonical_name(probe_venv: Path) -> None:
    from packaging.requirements import Requirement

    deps = read_deps(["alpha-pkg", "gamma-pkg"])
    deps.constraints += [Requirement("Alpha_Pkg<2"), Requirement("gamma.pkg>=1"), Requirement("beta-pkg<0")]
    report = _probe.validate(str(probe_venv / "bin" / "python"), deps)
    assert set(report.failures) == {"alpha-pkg"}
    assert report.failures["alpha-pkg"] == ["2.0 is installed but Alpha_Pkg<2 is required"]


@pytest.fixture
def unusual_venv(tmp_path: Path, wheelhouse: Path) -> Path:
    """A venv whose distributions the fast reader leaves to importlib.metadata: no RECORD, in a zip, in an egg."""
    import zipfile

    venv = tmp_path / "unusual"
    make_venv(venv)
    install(venv, "--find-links", str(wheelhouse), "alpha-pkg==1.0")
    site = site_packages(venv)
    norecord = site / "norecord_pkg-1.0.dist-info"  # no RECORD: importlib.metadata falls back on top_level.txt
    norecord.mkdir()
    (norecord / "METADATA").write_text("Metadata-Version: 2.1\nName: norecord-pkg\nVersion: 1.0\n")
    (norecord / "top_level.txt").write_text("norecord\n")
    (site / "norecord.py").write_text("")
    folded = site / "folded_pkg-2.0.dist-info"  # a folded Requires-Dist
    folded.mkdir()
    (folded / "METADATA").write_text("Name: folded-pkg\nVersion: 2.0\nRequires-Dist: alpha-pkg\n  >=1\n")
    (folded / "RECORD").write_text("folded.py,,\n")
    (site / "folded.py").write_text("")
    with zipfile.ZipFile(tmp_path / "dists.zip", "w") as zf:  # a zip on sys.path
        zf.writestr("zipped_pkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped-pkg\nVersion: 1.0\n")
        zf.writestr("zipped_pkg-1.0.dist-info/RECORD", "zipped_mod.py,,\nzipped_pkg-1.0.dist-info/METADATA,,\n")
        zf.writestr("zipped_mod.py", "")
    egg = tmp_path / "old_pkg-0.1-py3.egg"  # an egg directory on sys.path
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO" / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: old-pkg\nVersion: 0.1\n")
    (egg / "old_mod.py").write_text("")
    (site / "extra-paths.pth").write_text(f"{tmp_path / 'dists.zip'}\n{egg}\n")
    return venv


UNUSUAL = ["alpha-pkg", "norecord-pkg", "folded-pkg", "zipped-pkg", "old-pkg", "not-installed"]


def test_unusual_distributions_are_read_by_importlib_metadata(unusual_venv: Path) -> None:
    fast = ask(unusual_venv, UNUSUAL)
    assert fast == ask(unusual_venv, UNUSUAL, "--importlib-metadata")
    dists = fast["dists"]
    assert dists["alpha-pkg"]["version"] == "1.0"
    assert dists["norecord-pkg"]["modules"] == {"norecord": None}
    assert [r.split() for r in dists["folded-pkg"]["requires"]] == [["alpha-pkg", ">=1"]]  # re-indented, as it does
    assert dists["zipped-pkg"]["modules"] == {"zipped_mod": None}
    assert dists["old-pkg"]["version"] == "0.1"
    assert dists["not-installed"] is None


def test_another_distribution_finder_turns_the_fast_reader_off(unusual_venv: Path) -> None:
    """A finder on sys.meta_path that knows distributions (as some tools install): importlib.metadata asks it."""
    finder = (
        "import sys\n"
        "class Finder:\n"
        "    def find_spec(self, *args): return None\n"
        "    def find_distributions(self, context=None): return iter([])\n"
        "sys.meta_path.append(Finder())\n"
    )
    site = site_packages(unusual_venv)
    (site / "extra_finder.py").write_text(finder)
    (site / "extra-finder.pth").write_text("import extra_finder\n")
    fast = ask(unusual_venv, UNUSUAL)
    assert fast == ask(unusual_venv, UNUSUAL, "--importlib-metadata")
    assert fast["dists"]["alpha-pkg"]["version"] == "1.0"
