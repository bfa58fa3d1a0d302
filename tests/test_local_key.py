"""One mechanism for local projects and archives in the key: every local form the requirements reader knows (a
`name @ file:` argument, a bare path, `-e`, `--project`, a pylock.toml `directory` or `archive` entry) enters the
key through the `local` component (uv's cache keys, or an archive's bytes), and a change is one reason in
`explain`, reinstalled by the next `ensure`."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from penvcache._installer import uv_bin
from penvcache._local import describe, digest_of
from penvcache._requirements import read_deps
from penvcache.cli import main
from tests._kit import build_project, build_wheel, site_packages
from tests.conftest import offline_args, run_cli, run_cli_here

CHANGED = "changed (its pyproject.toml, setup.py, setup.cfg or cache-keys, or its bytes)"


def compile_lock(tmp_path: Path, wheelhouse: Path, line: str) -> Path:
    """`uv pip compile` of one requirement line into tmp_path/pylock.toml (paths relative to it, as uv writes)."""
    (tmp_path / "requirements.in").write_text(line + "\n")
    lock = tmp_path / "pylock.toml"
    args = ["compile", "requirements.in", "--offline", "--no-index", "--find-links", str(wheelhouse)]
    subprocess.run(
        [uv_bin(), "pip", *args, "--format", "pylock.toml", "-o", str(lock), "-q", "--python", sys.executable],
        cwd=tmp_path,
        check=True,
        timeout=120,
        start_new_session=True,
    )
    return lock


def venv_says(venv: Path, code: str) -> str:
    python = str(venv / "bin" / "python")
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return proc.stdout.strip()


def project_version(venv: Path) -> str:
    return next(site_packages(venv).glob("proj_pkg-*.dist-info")).name.removesuffix(".dist-info").split("-")[1]


#: form -> (arguments for ensure, given tmp_path and the wheelhouse; the local path; how to change it; what the
#: venv must show before and after the change)
Setup = Callable[[Path, Path], tuple[list[str], Path, Callable[[], None], Callable[[Path], str]]]


def _project(tmp_path: Path) -> tuple[Path, Callable[[], None]]:
    project = build_project(tmp_path / "proj", "proj-pkg", "1.0", requires=["alpha-pkg"])

    def change() -> None:
        build_project(project, "proj-pkg", "2.0", requires=["alpha-pkg"])

    return project, change


def named(tmp_path: Path, wheelhouse: Path) -> tuple[list[str], Path, Callable[[], None], Callable[[Path], str]]:
    project, change = _project(tmp_path)
    return [f"proj-pkg @ {project.as_uri()}"], project, change, project_version


def bare(tmp_path: Path, wheelhouse: Path) -> tuple[list[str], Path, Callable[[], None], Callable[[Path], str]]:
    project, change = _project(tmp_path)
    (tmp_path / "deps.txt").write_text("./proj\n")
    return ["-r", str(tmp_path / "deps.txt")], project, change, project_version


def editable(tmp_path: Path, wheelhouse: Path) -> tuple[list[str], Path, Callable[[], None], Callable[[Path], str]]:
    project, change = _project(tmp_path)
    (tmp_path / "deps.txt").write_text("-e ./proj\n")
    return ["-r", str(tmp_path / "deps.txt")], project, change, project_version


def project_option(
    tmp_path: Path, wheelhouse: Path
) -> tuple[list[str], Path, Callable[[], None], Callable[[Path], str]]:
    project, change = _project(tmp_path)
    return ["--project", str(project)], project, change, project_version


def lock_directory(
    tmp_path: Path, wheelhouse: Path
) -> tuple[list[str], Path, Callable[[], None], Callable[[Path], str]]:
    project, change = _project(tmp_path)
    lock = compile_lock(tmp_path, wheelhouse, "./proj")
    assert 'directory = { path = "proj"' in lock.read_text()
    return ["-r", str(lock)], project, change, project_version


def lock_archive(tmp_path: Path, wheelhouse: Path) -> tuple[list[str], Path, Callable[[], None], Callable[[Path], str]]:
    wheel = build_wheel(tmp_path / "local", "epsilon-pkg", "1.0", module_source="WHICH = 'first'\n")
    lock = compile_lock(tmp_path, wheelhouse, f"./local/{wheel.name}")
    assert "archive = { path = " in lock.read_text()

    def change() -> None:  # rebuilt in place at the same version, and locked again (its hash is in the lock)
        build_wheel(tmp_path / "local", "epsilon-pkg", "1.0", module_source="WHICH = 'second'\n")
        compile_lock(tmp_path, wheelhouse, f"./local/{wheel.name}")

    def which(venv: Path) -> str:
        return venv_says(venv, "import epsilon_pkg; print(epsilon_pkg.WHICH)")

    return ["-r", str(lock)], wheel, change, which


FORMS: dict[str, Setup] = {
    "name @ file:": named,
    "bare path": bare,
    "-e path": editable,
    "--project": project_option,
    "pylock directory": lock_directory,
    "pylock archive": lock_archive,
}
BEFORE_AFTER = {"pylock archive": ("first", "second")}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


@pytest.mark.parametrize("form", list(FORMS))
def test_every_local_form_enters_the_key_once(
    tmp_path: Path,
    venv: Path,
    wheelhouse: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    form: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    args, path, change, show = FORMS[form](tmp_path, wheelhouse)
    before, after = BEFORE_AFTER.get(form, ("1.0", "2.0"))
    base = [*offline_args(venv, wheelhouse), *args]
    assert _run(capsys, "ensure", "-q", *base) == (0, "")
    assert show(venv) == before
    code, out = _run(capsys, "ensure", "--json", *base)
    assert (code, json.loads(out)["status"]) == (0, "hit")
    change()
    code, out = _run(capsys, "explain", "--json", *base)
    explained = json.loads(out)
    assert (code, explained["status"]) == (0, "miss")
    assert {name for name, c in explained["components"].items() if c["changed"]} == {"local"}
    assert explained["reasons"] == [f"local projects changed: {path} {CHANGED}"]
    code, out = _run(capsys, "ensure", "--json", *base)
    assert (code, json.loads(out)["status"]) == (0, "installed")
    assert show(venv) == after
    code, out = _run(capsys, "ensure", "--json", *base)
    assert (code, json.loads(out)["status"]) == (0, "hit")


def test_the_requirement_lines_carry_no_file_digests(tmp_path: Path) -> None:
    """The requirements component is the set as written: what is at a local path is the `local` component's."""
    project = build_project(tmp_path / "proj", "proj-pkg", "1.0")
    deps = tmp_path / "deps.txt"
    deps.write_text("./proj\n")
    read = read_deps((), [deps])
    assert read.requirement_lines() == [f"proj-pkg @ {project.as_uri()}"]
    assert read.local == {f"proj-pkg @ {project.as_uri()}": str(project)}
    assert list(read.files) == [str(deps)]  # only the deps file is read: its project's files are not deps files


def test_a_local_path_that_is_not_a_file_or_directory_is_refused_unread(tmp_path: Path) -> None:
    fifo = tmp_path / "pkg.whl"
    os.mkfifo(fifo)
    deps = tmp_path / "deps.txt"
    deps.write_text(f"pkg @ {fifo.as_uri()}\n")
    with pytest.raises(ValueError, match="not a project directory or an archive file") as exc:
        read_deps((), [deps])
    assert str(exc.value) == f"{deps}:1: pkg: not a project directory or an archive file: {fifo}"


def test_a_cache_key_that_becomes_a_fifo_does_not_hang_the_check(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    """A hit reads the cache-key files again: a FIFO (or a device) there is not a file to wait on, but a changed key."""
    keys = 'cache-keys = [{ file = "pyproject.toml" }, "VERSION"]'
    project = build_project(tmp_path / "proj", "proj-pkg", "1.0", tool_uv=keys)
    (project / "VERSION").write_text("1\n")
    args = ["ensure", *offline_args(venv, wheelhouse), f"proj-pkg @ {project.as_uri()}"]
    proc = run_cli_here(*args)
    assert proc.returncode == 0, proc.stderr
    (project / "VERSION").unlink()
    os.mkfifo(project / "VERSION")
    proc = run_cli(
        *args
    )  # a process of its own: killed with a failure at the deadline if it opens the FIFO and waits for a writer
    assert (proc.returncode, proc.stdout.split()[1:2]) == (0, ["installed"]), proc.stderr
    assert run_cli_here(*args).stdout.split()[1:2] == ["hit"]


def test_a_large_local_archive_is_keyed_by_its_bytes(tmp_path: Path) -> None:
    """A local wheel may be bigger than a deps file may be (16 MiB): it is read in chunks, never refused for size."""
    wheel = tmp_path / "big_pkg-1.0-py3-none-any.whl"
    with wheel.open("wb") as f:
        f.truncate(17 * 1024 * 1024)
        f.write(b"PK")
    deps = tmp_path / "deps.txt"
    deps.write_text(f"big-pkg @ {wheel.as_uri()}\n")
    assert read_deps((), [deps]).local == {f"big-pkg @ {wheel.as_uri()}": str(wheel)}
    recorded = describe(str(wheel))
    assert recorded[1:] == ["archive", recorded[2], hashlib.sha256(wheel.read_bytes()).hexdigest()]


# --- what a project's key is made of, in this process ---------------------------------------------------------------


def _git(project: Path, *args: str) -> None:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", *identity, *args], cwd=project, env=env, check=True, capture_output=True, timeout=60)


def test_each_kind_of_cache_key_changes_the_key_when_what_it_names_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uv's cache-keys: a file glob by content, a plain file, a directory by mtime, an env var, git's commit and
    tags; what they do not name never changes the key. Anything else in the list is ignored, as uv ignores it."""
    keys = (
        'cache-keys = [{ file = "pyproject.toml" }, { file = "src/**/*.txt" }, "VERSION", { dir = "src" }, '
        '{ env = "PROJ_FLAVOUR" }, { git = { commit = true, tags = true } }, 42, { unknown = "x" }]'
    )
    project = build_project(tmp_path / "proj", "proj-pkg", "1.0", tool_uv=keys)
    (project / "src" / "a").mkdir(parents=True)
    (project / "src" / "a" / "b.txt").write_text("one\n")
    (project / "VERSION").write_text("1\n")
    _git(project, "init", "-q", "-b", "main")
    _git(project, "commit", "-q", "--allow-empty", "-m", "first")
    monkeypatch.delenv("PROJ_FLAVOUR", raising=False)
    recorded = describe(str(project))
    assert recorded[2] == [
        ["file", "pyproject.toml"],
        ["file", "src/**/*.txt"],
        ["file", "VERSION"],
        ["dir", "src"],
        ["env", "PROJ_FLAVOUR"],
        ["git", "commit"],
        ["git", "tags"],
    ]
    (project / "README.md").write_text("not a key\n")
    assert digest_of(recorded) == (recorded[3], recorded)  # unchanged: the same description, nothing recomputed
    src_mtime = (project / "src").stat().st_mtime_ns

    def changes(what: str, change: Callable[[], object]) -> None:
        nonlocal recorded
        change()
        os.utime(project / "src", ns=(src_mtime, src_mtime))  # each change alone (a new file touches src)
        digest, now = digest_of(recorded)
        assert digest != recorded[3], what
        assert now == describe(str(project)), what
        recorded = now

    changes("a file a glob matches", lambda: (project / "src" / "a" / "b.txt").write_text("two\n"))
    changes("a new file the glob matches", lambda: (project / "src" / "new.txt").write_text("new\n"))
    changes("a plain file removed", (project / "VERSION").unlink)

    def touch_src() -> None:
        nonlocal src_mtime
        src_mtime += 10**9

    changes("the directory's mtime", touch_src)
    changes("the variable", lambda: monkeypatch.setenv("PROJ_FLAVOUR", "fast"))
    changes("a new commit", lambda: _git(project, "commit", "-q", "--allow-empty", "-m", "second"))
    changes("a new tag", lambda: _git(project, "tag", "v1"))
    changes("a detached HEAD", lambda: _git(project, "checkout", "-q", "--detach"))
    changes("a commit on the detached HEAD", lambda: _git(project, "commit", "-q", "--allow-empty", "-m", "third"))


@pytest.mark.parametrize(
    ("tool_uv", "keys"),
    [
        ("cache-keys = [{ git = true }]", [["git", "commit"]]),
        ("cache-keys = [{ git = { commit = false, tags = true } }]", [["git", "tags"]]),
        ('cache-keys = [{ dir = "absent" }]', [["dir", "absent"]]),
        ('cache-keys = "pyproject.toml"', [["file", "pyproject.toml"], ["file", "setup.py"], ["file", "setup.cfg"]]),
        ("not = toml = at all", [["file", "pyproject.toml"], ["file", "setup.py"], ["file", "setup.cfg"]]),
    ],
    ids=["git-true", "tags-only", "absent-dir", "not-a-list", "bad-toml"],
)
def test_cache_keys_are_read_as_uv_reads_them(tmp_path: Path, tool_uv: str, keys: list[list[str]]) -> None:
    """What uv would refuse (bad TOML) keeps uv's defaults: uv says what is wrong when it builds the project."""
    project = build_project(tmp_path / "proj", "proj-pkg", "1.0", tool_uv=tool_uv)
    recorded = describe(str(project))
    assert recorded[2] == keys
    assert digest_of(recorded)[0] == recorded[3]  # not a git checkout: the git keys are stable too


def test_a_project_without_pyproject_is_keyed_by_setup_files(tmp_path: Path) -> None:
    project = tmp_path / "legacy"
    project.mkdir()
    (project / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    (project / "pyproject.toml").write_bytes(b"[project]\nname = 'caf\xe9'\n")  # not UTF-8: uv's defaults
    recorded = describe(str(project))
    assert recorded[2] == [["file", "pyproject.toml"], ["file", "setup.py"], ["file", "setup.cfg"]]
    (project / "pyproject.toml").unlink()
    assert describe(str(project))[2] == recorded[2]
    (project / "setup.cfg").write_text("[metadata]\nname = legacy\n")
    assert digest_of(recorded)[0] != recorded[3]


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="a regular file whose reads fail: Linux's procfs")
def test_a_key_file_that_cannot_be_read_is_keyed_as_unreadable_not_an_error(tmp_path: Path) -> None:
    """A read that fails (EIO here) on the hit path: a key like a missing file's, never a traceback."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").symlink_to("/proc/self/mem")
    recorded = describe(str(project))
    assert recorded[2] == [["file", "pyproject.toml"], ["file", "setup.py"], ["file", "setup.cfg"]]
    (project / "pyproject.toml").unlink()
    assert describe(str(project)) == recorded  # the same key as without the file


def test_a_local_path_that_goes_or_comes_back_is_keyed_as_it_is_now(tmp_path: Path) -> None:
    project = build_project(tmp_path / "proj", "proj-pkg", "1.0")
    wheel = build_wheel(tmp_path / "local", "epsilon-pkg", "1.0")
    fifo = tmp_path / "fifo.whl"
    os.mkfifo(fifo)
    assert describe(str(fifo)) == [str(fifo), "missing", None, "missing"]  # never opened for reading
    assert describe(str(tmp_path / "nowhere")) == [str(tmp_path / "nowhere"), "missing", None, "missing"]
    recorded_dir, recorded_archive = describe(str(project)), describe(str(wheel))
    moved = tmp_path / "moved"
    project.rename(moved)
    wheel.rename(tmp_path / "moved.whl")
    gone = [str(project), "missing", None, "missing"]
    assert digest_of(recorded_dir) == ("missing", gone)
    assert digest_of(recorded_archive) == ("missing", [str(wheel), "missing", None, "missing"])
    moved.rename(project)
    assert digest_of(gone) == (recorded_dir[3], recorded_dir)
    (tmp_path / "moved.whl").rename(wheel)
    os.utime(wheel, ns=(1, 1))  # a new stat, the same bytes: the same key, the new stat recorded
    digest, now = digest_of(recorded_archive)
    assert (digest, now[1], now[2][2]) == (recorded_archive[3], "archive", 1)
