"""Local projects and archives in the key: a changed version, dependency list or archive misses and reinstalls."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import penvcache
from tests._kit import build_project, build_wheel
from tests.conftest import run_cli_here


def ensure(venv: Path, wheelhouse: Path, *reqs: str) -> penvcache.EnsureResult:
    return penvcache.ensure(venv, reqs, find_links=[wheelhouse], offline=True)


def venv_says(venv: Path, code: str) -> str:
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def installed(venv: Path) -> set[str]:
    code = "import importlib.metadata as m; print(' '.join(sorted(d.metadata['Name'] for d in m.distributions())))"
    return set(venv_says(venv, code).split())


def test_a_changed_version_misses_and_reinstalls(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    project = build_project(tmp_path / "proj", "local-proj", "1.0")
    req = f"local-proj @ {project.as_uri()}"
    assert ensure(venv, wheelhouse, req).status == "installed"
    (project / "README").write_text("not a key: nothing to rebuild\n")
    assert ensure(venv, wheelhouse, req).status == "hit"
    build_project(project, "local-proj", "2.0")
    assert ensure(venv, wheelhouse, req).status == "installed"
    assert venv_says(venv, "import local_proj; print(local_proj.__version__)") == "2.0"
    assert ensure(venv, wheelhouse, req).status == "hit"


def test_a_changed_dependency_list_misses_and_reinstalls(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    project = build_project(tmp_path / "proj", "local-proj", "1.0")
    req = f"local-proj @ {project.as_uri()}"
    ensure(venv, wheelhouse, req)
    build_project(project, "local-proj", "1.0", requires=["gamma-pkg"])  # the same version
    assert ensure(venv, wheelhouse, req).status == "installed"
    assert "gamma-pkg" in installed(venv)
    code = "import importlib.metadata as m; print(m.requires('local-proj'))"
    assert venv_says(venv, code) == "['gamma-pkg']"


def test_cache_keys_globs_are_honoured(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    keys = 'cache-keys = [{ file = "pyproject.toml" }, { file = "deps/**/*.txt" }, "VERSION"]'
    project = build_project(tmp_path / "proj", "local-proj", "1.0", tool_uv=keys)
    (project / "deps" / "more").mkdir(parents=True)
    (project / "deps" / "more" / "a.txt").write_text("a\n")
    req = f"local-proj @ {project.as_uri()}"
    assert ensure(venv, wheelhouse, req).status == "installed"
    (project / "deps" / "more" / "a.md").write_text("does not match\n")
    (project / "setup.cfg").write_text("# not a key once cache-keys are given\n")
    assert ensure(venv, wheelhouse, req).status == "hit"
    (project / "deps" / "more" / "a.txt").write_text("changed\n")
    assert ensure(venv, wheelhouse, req).status == "installed"
    assert ensure(venv, wheelhouse, req).status == "hit"
    (project / "deps" / "b.txt").write_text("a new file that matches\n")
    assert ensure(venv, wheelhouse, req).status == "installed"
    (project / "VERSION").write_text("a plain string key\n")
    assert ensure(venv, wheelhouse, req).status == "installed"


def test_an_archive_is_keyed_by_its_bytes(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "local", "epsilon-pkg", "1.0", module_source="WHICH = 'first'\n")
    req = f"epsilon-pkg @ {wheel.as_uri()}"
    assert ensure(venv, wheelhouse, req).status == "installed"
    assert ensure(venv, wheelhouse, req).status == "hit"
    build_wheel(tmp_path / "local", "epsilon-pkg", "1.0", module_source="WHICH = 'second'\n")  # rebuilt in place
    assert ensure(venv, wheelhouse, req).status == "installed"
    assert venv_says(venv, "import epsilon_pkg; print(epsilon_pkg.WHICH)") == "second"


def test_explain_names_the_changed_project(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    project = build_project(tmp_path / "proj", "local-proj", "1.0")
    req = f"local-proj @ {project.as_uri()}"
    ensure(venv, wheelhouse, req)
    build_project(project, "local-proj", "2.0")
    proc = run_cli_here("explain", "--json", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), req)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "miss"
    assert {name for name, c in out["components"].items() if c["changed"]} == {"local"}
    # one reason: the requirement lines no longer carry the project's file digests as a second mechanism
    assert out["reasons"] == [
        f"local projects changed: {project} changed "
        "(its pyproject.toml, setup.py, setup.cfg or cache-keys, or its bytes)"
    ]
