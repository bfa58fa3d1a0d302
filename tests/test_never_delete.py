"""penvcache clears a partial venv only when it can prove it made that directory; it refuses system paths."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import penvcache
from penvcache._installer import uv_bin
from penvcache._state import venv_dir
from tests.conftest import run_cli_here

USER_FILES = {"bin/tool": "#!/bin/sh\necho mine\n", "lib/data.txt": "precious\n", "share/doc.txt": "notes\n"}


def user_dir(path: Path) -> None:
    """A directory like ``~/.local``: bin, lib and share, holding the user's files."""
    for rel, text in USER_FILES.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)


def assert_user_files_kept(path: Path) -> None:
    assert {rel: (path / rel).read_text() for rel in USER_FILES if (path / rel).exists()} == USER_FILES


def sleeping_uv(tmp_path: Path) -> tuple[Path, Path]:
    """A ``PENVCACHE_UV`` that, asked to create a venv, says so in a marker file and sleeps before exec'ing uv."""
    marker = tmp_path / "uv-venv-started"
    wrapper = tmp_path / "sleeping-uv"
    wrapper.write_text(f'#!/bin/sh\nif [ "$1" = venv ]; then touch "{marker}"; sleep 60; fi\nexec "{uv_bin()}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, marker


def ensure_killed_while_creating(
    procs: list[subprocess.Popen[str]], venv: Path, wheelhouse: Path, wrapper: Path, marker: Path
) -> tuple[int, str]:
    """``penvcache ensure`` through the sleeping uv, killed (whole session) once uv was asked to create the venv.

    Returns its exit code and stderr: killed inside ``uv venv``, or ended on its own if it never got that far.
    """
    args = ["ensure", "alpha-pkg", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "penvcache", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PENVCACHE_UV": str(wrapper)},
    )
    procs.append(proc)
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "ensure neither created the venv nor ended"
        time.sleep(0.01)
    if marker.exists():
        os.killpg(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_an_interrupted_creation_over_user_files_deletes_nothing(
    tmp_path: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    local = tmp_path / "dot-local"
    user_dir(local)
    wrapper, marker = sleeping_uv(tmp_path)
    code, err = ensure_killed_while_creating(procs, local, wheelhouse, wrapper, marker)
    with contextlib.suppress(penvcache.InvalidInput):  # the next call, whatever the first left behind
        penvcache.ensure(local, ["alpha-pkg"], offline=True, find_links=[wheelhouse])
    assert_user_files_kept(local)
    assert not marker.exists()  # refused before uv was asked anything about the directory
    assert code == 2
    assert "is not empty (bin, lib, share) and is not a virtual environment" in err


def test_a_partial_venv_penvcache_made_is_cleared_after_a_kill(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    wrapper, marker = sleeping_uv(tmp_path)
    ensure_killed_while_creating(procs, venv, wheelhouse, wrapper, marker)
    assert marker.exists()  # the kill landed inside `uv venv`
    assert venv.is_dir()  # penvcache made the directory before uv ran
    # what `uv venv` has written by the time it writes pyvenv.cfg
    (venv / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    (venv / "bin").mkdir()
    os.symlink(sys.executable, venv / "bin" / "python")
    (venv / "lib" / "python3.99" / "site-packages").mkdir(parents=True)
    result = penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse])
    assert result.status == "installed"
    assert not (venv / "lib" / "python3.99").exists()
    entry = Path(venv_dir(str(tmp_path / "penvcache-cache"), str(venv)))
    assert not (entry / "creating").exists()
    assert not (venv / ".penvcache-creating").exists()  # the token goes with the mark once the venv is whole


def test_a_directory_put_in_the_place_of_a_killed_creation_is_left_alone(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    wrapper, marker = sleeping_uv(tmp_path)
    ensure_killed_while_creating(procs, venv, wheelhouse, wrapper, marker)
    if venv.exists():
        venv.rename(tmp_path / "the-one-penvcache-made")  # kept: the new directory cannot reuse its inode
    venv.mkdir()
    user_dir(venv)
    with pytest.raises(penvcache.InvalidInput, match="is not a virtual environment"):
        penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse])
    assert_user_files_kept(venv)


@pytest.mark.parametrize("how", ["the same inode", "removed and made again"])
def test_a_directory_made_again_at_the_path_is_left_alone_whatever_its_inode(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]], how: str
) -> None:
    """After a kill during the creation, the user removes the directory and makes their own there, with files
    whose names are uv's. ext4 gives a new directory the inode number the removed one had, so the identity the mark
    recorded can match: only the mark's token, which the new directory lacks, tells them apart. "the same inode"
    makes that case certain (the directory kept, penvcache's files replaced by the user's)."""
    wrapper, marker = sleeping_uv(tmp_path)
    ensure_killed_while_creating(procs, venv, wheelhouse, wrapper, marker)
    assert marker.exists()  # the kill landed inside `uv venv`: the mark and its token are left
    assert (venv / ".penvcache-creating").is_file()
    if how == "the same inode":
        (venv / ".penvcache-creating").unlink()
    else:
        shutil.rmtree(venv)
        venv.mkdir()
    (venv / ".gitignore").write_text("my precious notes\n")
    (venv / "include").mkdir()
    with pytest.raises(penvcache.InvalidInput, match="is not a virtual environment"):
        penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse])
    assert sorted(p.name for p in venv.iterdir()) == [".gitignore", "include"]
    assert (venv / ".gitignore").read_text() == "my precious notes\n"


def test_a_file_named_as_uvs_directories_is_never_cleared(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    """In the directory penvcache made (its token still there), a regular file ``lib`` is not uv's: kept."""
    wrapper, marker = sleeping_uv(tmp_path)
    ensure_killed_while_creating(procs, venv, wheelhouse, wrapper, marker)
    assert marker.exists()
    (venv / "lib").write_text("keep\n")
    with pytest.raises(penvcache.InvalidInput, match="is not a virtual environment"):
        penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse])
    assert (venv / "lib").read_text() == "keep\n"


def test_user_files_in_a_partial_venv_penvcache_made_are_left_alone(
    tmp_path: Path, venv: Path, wheelhouse: Path, procs: list[subprocess.Popen[str]]
) -> None:
    wrapper, marker = sleeping_uv(tmp_path)
    ensure_killed_while_creating(procs, venv, wheelhouse, wrapper, marker)
    assert marker.exists()
    user_dir(venv)  # same directory, but bin/tool and lib/data.txt are not uv's
    (venv / "share" / "doc.txt").unlink()
    (venv / "share").rmdir()
    with pytest.raises(penvcache.InvalidInput, match="is not a virtual environment"):
        penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse])
    assert (venv / "bin" / "tool").exists()
    assert (venv / "lib" / "data.txt").exists()


def test_an_existing_empty_directory_becomes_the_venv(venv: Path, wheelhouse: Path) -> None:
    venv.mkdir()
    inode = venv.stat().st_ino
    assert penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse]).status == "installed"
    assert venv.stat().st_ino == inode  # filled, not replaced
    assert not (venv / ".penvcache-creating").exists()


def _refused(venv: str | Path, wheelhouse: Path) -> str:
    proc = run_cli_here("ensure", "alpha-pkg", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    return proc.stderr


@pytest.mark.parametrize("path", ["/", "/usr", "/usr/local", sys.base_prefix])
def test_system_paths_are_refused(path: str, wheelhouse: Path) -> None:
    assert f"--venv {path} is" in _refused(path, wheelhouse)


def test_the_home_directory_is_refused_even_if_it_holds_a_venv(
    tmp_path: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "pyvenv.cfg").write_text("home = /nowhere\n")  # a broken venv penvcache would otherwise replace
    (home / "notes.txt").write_text("mine\n")
    monkeypatch.setenv("HOME", str(home))
    assert "is the home directory" in _refused(home, wheelhouse)
    assert (home / "notes.txt").read_text() == "mine\n"


def test_a_project_directory_with_bin_and_lib_is_refused(tmp_path: Path, wheelhouse: Path) -> None:
    project = tmp_path / "project"
    for rel in ("bin/run.sh", "lib/helpers.py", "README.md"):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text("mine\n")
    assert "is not a virtual environment" in _refused(project, wheelhouse)
    assert sorted(p.name for p in project.rglob("*")) == ["README.md", "bin", "helpers.py", "lib", "run.sh"]


@pytest.mark.parametrize(
    "intruder",
    [None, "include/mine.h", "lib/pythonX.Y/site-packages/mine.py", "lib/pythonX.Y/notes.txt", "another venv's mark"],
)
def test_a_partial_venv_is_cleared_only_while_it_holds_nothing_but_uvs_layout(
    tmp_path: Path, intruder: str | None
) -> None:
    """In this process: penvcache made the directory (its mark names it), uv was killed before pyvenv.cfg; a file
    anywhere uv does not write one, or a mark naming another venv, leaves everything as it is."""
    from penvcache._clearing import CreationMark, make_room
    from penvcache._venv import Venv

    venv, entry = Venv(tmp_path / "venv"), tmp_path / "entry"
    entry.mkdir()
    mark = CreationMark(str(entry), venv)
    make_room(venv, mark)  # absent: made, and marked as penvcache's
    cmd = [uv_bin(), "venv", "-q", venv.path, "--allow-existing", "--python", sys.executable]  # as penvcache runs it
    subprocess.run(cmd, check=True, timeout=60)
    root = Path(venv.path)
    (root / "pyvenv.cfg").unlink()  # killed part way
    (root / "include").mkdir(exist_ok=True)  # uv's layout, empty
    if intruder == "another venv's mark":
        (entry / "creating").write_text(json.dumps({"venv": str(tmp_path / "other"), "identity": []}))
    elif intruder is not None:
        (lib,) = (root / "lib").glob("python3*")
        (root / intruder.replace("lib/pythonX.Y", str(lib.relative_to(root)))).write_text("mine\n")
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    if intruder is None:
        make_room(venv, mark)
        assert [p.name for p in root.iterdir()] == [".penvcache-creating"]  # emptied, and marked anew
        return
    with pytest.raises(penvcache.InvalidInput, match="is not a virtual environment"):
        make_room(venv, mark)
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before
    assert not (entry / "creating").exists()  # a mark that cannot licence this directory is dropped


def test_a_directory_holding_only_the_token_is_empty_even_without_its_record(
    tmp_path: Path, venv: Path, wheelhouse: Path
) -> None:
    """A creation killed before uv wrote anything, then the cache dir cleared: the token alone is no user's."""
    venv.mkdir()
    (venv / ".penvcache-creating").write_text("0" * 32)
    assert penvcache.ensure(venv, ["alpha-pkg"], offline=True, find_links=[wheelhouse]).status == "installed"
    assert not (venv / ".penvcache-creating").exists()
