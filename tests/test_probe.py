"""The validation probe's own distribution reader agrees with importlib.metadata, and its answers are exact JSON."""

from __future__ import annotations

import importlib
import json
import os
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
from tests._kit import add_finder, build_wheel
from tests.conftest import make_venv

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
    # an absolute RECORD path (never a module; a missing one is damage, as importlib.metadata locates it)
    (weird / "RECORD").write_text(f"weird.py,,\nweird_pkg-1.0.dist-info/METADATA,,\n{tmp_path / 'gone.dat'},,5\n")
    (site / "weird.py").write_text("")
    for info, metadata in HAND_MADE.items():  # read by the fast reader, as the email parser reads them
        (site / info).mkdir()
        (site / info / "METADATA").write_text(metadata)
        module = info.split("-")[0].lower().replace(".", "_")
        (site / info / "RECORD").write_text(f"{module}.py,,\n{info}/METADATA,,\n")
        (site / f"{module}.py").write_text("")
    egg = tmp_path / "egg_dir_pkg-1.0-py3.egg"  # an egg directory on sys.path: importlib.metadata reads it
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO" / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: egg-dir-pkg\nVersion: 1.0\n")
    (site / "egg-dir.pth").write_text(f"{egg}\n")
    return venv


#: hand-made .dist-info directories (name: METADATA) the fast reader reads itself
HAND_MADE = {
    "Runs__Of..Seps-1.0.dist-info": "Name: runs-of-seps\nVersion: 1.0\n",  # runs of separators in its name
    "from_line-1.5.dist-info": "From nobody\nName: from-line\nVersion: 1.5\n",  # an mbox "From " line first
    "no_newline-2.5.dist-info": "Name: no-newline\nVersion: 2.5",  # no blank line, no final newline
}


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
    "runs-of-seps",
    "from-line",
    "no-newline",
    "egg-dir-pkg",
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
    assert dists["weird-pkg"]["damaged"] == [[str(probe_venv.parent / "gone.dat"), None, 5]]
    assert [dists[n]["version"] for n in ("runs-of-seps", "from-line", "no-newline")] == ["1.0", "1.5", "2.5"]
    assert dists["egg-dir-pkg"]["version"] == "1.0"


@pytest.mark.private_uv_cache  # probe_venv edits installed files in place
@pytest.mark.skipif(sys.platform == "win32", reason="venv layout")
def test_a_dependency_read_only_is_never_imported_and_is_stamped_from_its_record(probe_venv: Path) -> None:
    """``~NAME``: a dependency of a checked distribution: version, requirements and files, no import."""
    read_only = ask(probe_venv, ["~" + name for name in NAMES])
    assert read_only == ask(probe_venv, ["~" + name for name in NAMES], "--importlib-metadata")
    dists = read_only["dists"]
    assert all(d["modules"] == {} and d["skipped"] == [] for d in dists.values() if d is not None)
    assert dists["broken-pkg"]["version"] == "1.0"  # its import would fail: it is not tried
    site = site_packages(probe_venv)
    assert {str(site / "beta_pkg" / "__init__.py"), str(site / "beta_pkg"), str(site / "quoted_mod.py")} <= set(
        dists["beta-pkg"]["paths"]
    )


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
    for info, (metadata, requires_txt) in LEFT_TO_IMPORTLIB.items():
        (site / info).mkdir()
        (site / info / "METADATA").write_text(metadata)
        (site / info / "RECORD").write_text(f"{info}/METADATA,,\n")
        if requires_txt:
            (site / info / "requires.txt").write_text(requires_txt)
    for name, raw, record in (  # files that are not UTF-8: importlib.metadata cannot decode them
        ("latin-meta", b"Name: latin-meta\nVersion: 1.0\nAuthor: Jos\xe9\n", b"x.py,,\n"),
        ("latin-record", b"Name: latin-record\nVersion: 1.0\n", b"Jos\xe9.py,,\n"),
    ):
        latin = site / f"{name.replace('-', '_')}-1.0.dist-info"
        latin.mkdir()
        (latin / "METADATA").write_bytes(raw)
        (latin / "RECORD").write_bytes(record)
    return venv


#: .dist-info directories (name: METADATA, requires.txt) the fast reader leaves to importlib.metadata
LEFT_TO_IMPORTLIB = {
    "cont_first-1.0.dist-info": (" folded\nName: cont-first\nVersion: 1.0\n", ""),  # a continuation first
    "no_version-1.0.dist-info": ("Name: no-version\n", ""),
    "empty_meta-1.0.dist-info": ("", ""),
    "req_txt-1.0.dist-info": ("Name: req-txt\nVersion: 1.0\n", "alpha-pkg>=1\n"),  # requirements in requires.txt
}
UNUSUAL = [
    "alpha-pkg",
    "norecord-pkg",
    "folded-pkg",
    "zipped-pkg",
    "old-pkg",
    "cont-first",
    "no-version",
    "empty-meta",
    "req-txt",
    "latin-meta",
    "latin-record",
    "not-installed",
]


def test_unusual_distributions_are_read_by_importlib_metadata(unusual_venv: Path) -> None:
    fast = ask(unusual_venv, UNUSUAL)
    assert fast == ask(unusual_venv, UNUSUAL, "--importlib-metadata")
    dists = fast["dists"]
    assert dists["alpha-pkg"]["version"] == "1.0"
    assert dists["norecord-pkg"]["modules"] == {"norecord": None}
    assert [r.split() for r in dists["folded-pkg"]["requires"]] == [["alpha-pkg", ">=1"]]  # re-indented, as it does
    assert dists["zipped-pkg"]["modules"] == {"zipped_mod": None}
    assert dists["old-pkg"]["version"] == "0.1"
    assert dists["cont-first"]["version"] == "1.0"
    assert dists["no-version"]["version"] is None  # validation calls it damaged
    assert dists["empty-meta"]["version"] is None
    assert dists["req-txt"]["requires"] == ["alpha-pkg>=1"]
    assert dists["latin-meta"]["version"] is None  # damaged (validation says so), never a probe that dies
    assert dists["latin-record"]["version"] is None
    assert dists["not-installed"] is None


def test_another_distribution_finder_turns_the_fast_reader_off(unusual_venv: Path) -> None:
    """A finder on sys.meta_path that knows distributions (as some tools install): importlib.metadata asks it."""
    add_finder(unusual_venv)
    fast = ask(unusual_venv, [*UNUSUAL, "finder-pkg"])
    assert fast == ask(unusual_venv, [*UNUSUAL, "finder-pkg"], "--importlib-metadata")
    assert fast["dists"]["alpha-pkg"]["version"] == "1.0"
    # known to the finder alone: no directory, no files, nothing to import or stamp
    assert fast["dists"]["finder-pkg"] == {
        "version": "4.2",
        "requires": ["alpha-pkg"],
        "roots": [],
        "modules": {},
        "missing": {},
        "skipped": [],
        "damaged": [],
        "paths": [],
        "facts": [],
    }


# --- the probe's own parts, in this process (it is stdlib-only; mypy does not check it, hence import_module) ------

probe_script: Any = importlib.import_module("penvcache._probe_script")
verify_script: Any = importlib.import_module("penvcache._verify_script")


@pytest.mark.parametrize("name", ["Zope.Interface", "Runs__Of..Seps", "a-_.b", "x---y", "Already-canonical", "A_B.C"])
def test_the_probes_name_rule_is_packagings(name: str) -> None:
    """The probe (and verify's script) find distributions by names canonicalised without packaging or re."""
    from packaging.utils import canonicalize_name

    assert probe_script.canonical(name) == canonicalize_name(name)
    assert verify_script.canonical(name) == canonicalize_name(name)


def test_the_marker_environment_of_a_pre_release_interpreter_is_packagings(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    # packaging's implementation_version (format_full_version); its default_environment() is computed once per
    # process, so it is never called while sys.implementation is patched
    expected = {**default_environment(), "implementation_version": "3.14.0b2"}
    version = types.SimpleNamespace(major=3, minor=14, micro=0, releaselevel="beta", serial=2)
    patched = types.SimpleNamespace(**{**vars(sys.implementation), "version": version})
    monkeypatch.setattr(sys, "implementation", patched)
    assert probe_script.marker_environment() == expected
    assert verify_script.marker_environment() == expected


def test_without_os_uname_the_marker_environment_comes_from_platform_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The probe's fast path (os.uname, sys.version) and its fallback (the platform module) give the same values."""
    expected = default_environment()  # computed once per process by packaging, with os.uname
    monkeypatch.delattr(os, "uname")
    assert probe_script.marker_environment() == expected


def test_on_another_implementation_site_packages_come_from_sysconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    cpython = probe_script.site_packages_dirs()
    monkeypatch.setattr(sys, "implementation", types.SimpleNamespace(**{**vars(sys.implementation), "name": "pypy"}))
    assert probe_script.site_packages_dirs() == cpython


def test_answers_are_exact_json_of_every_type_and_nothing_else() -> None:
    value = {"a": [True, False, None, 0, -7, 2**70], "t": ("x", ""), "s": ODD_MESSAGE + "\x00\x7f\u2028", "d": {}}
    assert json.loads(probe_script.to_json(value)) == {**value, "t": ["x", ""]}
    for wrong in (1.5, {"x"}, b"bytes"):
        with pytest.raises(TypeError, match="cannot encode"):
            probe_script.to_json(wrong)


@pytest.mark.parametrize(
    "text",
    [
        "Name: x\nVersion: 1.0\n\nthe body\nVersion: 9\n",
        "From nobody Mon Jan  1\nName: x\nVersion: 1.0\n",
        "Name: x\nVersion: 1.0",
        "Name: x\nRequires-Dist: a\n  >=1\nVersion: 1\n",
        "Name: x\nnot a header: y\nVersion: 2\n",
        "Name:x\nVersion:\t1.0\nEmpty:\n",
        "",
    ],
    ids=["body", "mbox-from", "no-final-newline", "folded", "bad-name", "no-space", "empty"],
)
def test_metadata_headers_are_read_as_the_email_parser_reads_them(text: str) -> None:
    import email

    expected = [(name.lower(), value) for name, value in email.message_from_string(text).items()]
    assert probe_script.parse_headers(text) == expected


def test_metadata_starting_with_a_continuation_is_left_to_importlib_metadata() -> None:
    with pytest.raises(probe_script.Unusual):
        probe_script.parse_headers(" folded\nName: x\nVersion: 1.0\n")


def _dist(site: Path, files: dict[str, str], top_level: str | None = None) -> Any:
    """A hand-made .dist-info in ``site`` holding ``files``, read by the probe's fast reader."""
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    info = site / "made-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Name: made\nVersion: 1.0\n")
    (info / "RECORD").write_text("".join(f"{rel},,{len(text)}\n" for rel, text in files.items()))
    if top_level is not None:
        (info / "top_level.txt").write_text(top_level)
    return probe_script.FastDist(str(site), info.name)


PKGUTIL = "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n"
PKG_RESOURCES = "__import__('pkg_resources').declare_namespace(__name__)\n"


@pytest.mark.parametrize(
    ("files", "roots"),
    [
        ({"ns/__init__.py": PKGUTIL, "ns/member/__init__.py": ""}, ["ns.member"]),
        ({"ns/__init__.py": PKG_RESOURCES, "ns/a.py": "", "ns/b/__init__.py": ""}, ["ns.a", "ns.b"]),
        ({"google/cloud/storage/__init__.py": "", "google/cloud/storage/blob.py": ""}, ["google.cloud.storage"]),
        ({"nsmod/direct.py": "", "nsmod/data.txt": ""}, ["nsmod.direct"]),
        ({"pkg/__init__.py": "X = 1\n", "pkg/sub/__init__.py": ""}, ["pkg"]),
        ({"big/__init__.py": PKGUTIL + "#" * 3000 + "\n", "big/sub/__init__.py": ""}, ["big"]),
        ({"top.py": "", "extras.pth": "", "__init__.py": "", "not-a-name/x.py": ""}, ["top"]),
    ],
    ids=["pkgutil", "pkg_resources", "native", "module-in-namespace", "regular", "large-init", "not-modules"],
)
def test_the_imports_of_a_distribution_are_its_first_regular_packages(
    tmp_path: Path, files: dict[str, str], roots: list[str]
) -> None:
    """Under a namespace (no __init__, or a pkgutil/pkg_resources one: at most 2 KB), the first regular packages
    and modules it ships; a top-level .pth, a stray __init__.py or a directory that is no name is never imported."""
    dist = _dist(tmp_path, files)
    assert [root for root, _ in probe_script.import_roots(dist, list(dist.files()))] == roots


def test_a_namespace_init_that_is_gone_leaves_its_package_to_the_import(tmp_path: Path) -> None:
    """Not readable: not known to be a namespace, so the package itself is imported (and its failure named)."""
    dist = _dist(tmp_path, {"ns/__init__.py": PKGUTIL, "ns/member/__init__.py": ""})
    (tmp_path / "ns" / "__init__.py").unlink()
    roots = probe_script.import_roots(dist, list(dist.files()))
    assert roots == [("ns", ("ns", "__init__.py"))]


def test_top_level_txt_chooses_the_imports(tmp_path: Path) -> None:
    """Only what top_level.txt names; a listed name the RECORD does not ship is imported all the same."""
    files = {"a/__init__.py": "", "b.py": "", "tests/__init__.py": ""}
    dist = _dist(tmp_path, files, top_level="a\nb\n\nnot.dotted\nlisted_only\n")
    roots = probe_script.import_roots(dist, list(dist.files()))
    assert roots == [("a", ("a", "__init__.py")), ("b", ("b.py",)), ("listed_only", None)]


@pytest.mark.parametrize(
    ("module", "shipped"),
    [("pkg.helper", True), ("pkg.sub", True), ("pkg", True), ("pkg.other", False), ("helper", False)],
)
def test_a_missing_module_is_known_to_be_the_distributions_own(tmp_path: Path, module: str, shipped: bool) -> None:
    """A module its own RECORD lists (a module file or a package) is damage, never an optional dependency."""
    dist = _dist(tmp_path, {"pkg/__init__.py": "", "pkg/helper.py": "", "pkg/sub/__init__.py": ""})
    assert probe_script.ships(list(dist.files()), module) is shipped


class OddError(Exception):
    """An exception class of a module, not a builtin: named with its module."""


def test_an_exception_of_a_module_is_named_with_its_module() -> None:
    assert probe_script.one_line(OddError("no display")) == f"{__name__}.OddError: no display"
    assert probe_script.one_line(OddError()) == f"{__name__}.OddError"
