"""Requirements files as uv reads them: every line form and option, against the real uv; and bounded input."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from penvcache import InvalidDeps
from penvcache._digest import MAX_FILE_BYTES
from penvcache._requirements import read_deps
from tests._kit import build_project, build_wheel, site_packages
from tests.conftest import run_cli_here

#: for the tests of a local server: uv caches what it fetched by URL, and a later test's server may get the port again
served = pytest.mark.private_uv_cache


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An http.server on 127.0.0.1 serving a directory: (base URL, the directory)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=30)


def ensure_file(venv: Path, deps: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli_here("ensure", "--venv", str(venv), "-r", str(deps), *extra)


def dist_info(venv: Path, name: str) -> Path:
    (found,) = site_packages(venv).glob(f"{name.replace('-', '_')}-*.dist-info")
    return found


def direct_url(venv: Path, name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((dist_info(venv, name) / "direct_url.json").read_text())
    return data


def test_a_bare_local_project_and_an_editable_one(tmp_path: Path, venv: Path) -> None:
    build_project(tmp_path / "proj", "proj-pkg", "1.0")
    build_project(tmp_path / "edit", "edit-pkg", "1.0")
    deps = tmp_path / "deps.txt"
    deps.write_text("./proj\n-e ./edit\n")
    proc = ensure_file(venv, deps, "--offline")
    assert proc.returncode == 0, proc.stderr
    assert direct_url(venv, "proj-pkg")["dir_info"] == {}
    assert direct_url(venv, "edit-pkg")["dir_info"] == {"editable": True}
    assert "hit" in ensure_file(venv, deps, "--offline").stdout
    # the project's metadata is in the key: a new version is a miss, and installs it
    build_project(tmp_path / "proj", "proj-pkg", "2.0")
    proc = ensure_file(venv, deps, "--offline")
    assert proc.returncode == 0, proc.stderr
    assert "installed" in proc.stdout
    assert dist_info(venv, "proj-pkg").name == "proj_pkg-2.0.dist-info"


def test_a_local_directory_without_a_static_name_says_what_to_write(tmp_path: Path, venv: Path) -> None:
    (tmp_path / "noname").mkdir()
    (tmp_path / "noname" / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    deps = tmp_path / "deps.txt"
    deps.write_text("alpha-pkg\n./noname\n")
    proc = ensure_file(venv, deps)
    assert proc.returncode == 2
    assert f"{deps}:2: cannot tell the package name of './noname'; write it as `NAME @ file://" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_setuptools_project_is_named_by_its_setup_cfg(tmp_path: Path) -> None:
    """A project whose pyproject.toml only names its build backend has its name in setup.cfg, where pip finds it
    without a build; an unreadable setup.cfg leaves the name unknown, which the error says how to give."""
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\n')
    (legacy / "setup.cfg").write_text("[metadata]\nname = Legacy_Pkg\nversion = 1.0\n")
    deps = tmp_path / "deps.txt"
    deps.write_text("./legacy\n")
    assert read_deps((), [deps]).normalised() == [f"legacy-pkg @ {legacy.as_uri()}"]
    (legacy / "setup.cfg").write_text("[metadata\nname = Legacy_Pkg\n")
    with pytest.raises(InvalidDeps) as exc:
        read_deps((), [deps])
    assert str(exc.value) == (
        f"{deps}:1: cannot tell the package name of './legacy'; write it as `NAME @ {legacy.as_uri()}` "
        "(or add #egg=NAME to the URL)"
    )


def test_wheel_files_bare_names_and_file_urls(tmp_path: Path, venv: Path) -> None:
    wheel = build_wheel(tmp_path, "alpha-pkg", "1.0")
    gamma = build_wheel(tmp_path / "sub", "gamma-pkg", "1.0")
    deps = tmp_path / "deps.txt"
    # a bare wheel file name is a file next to the deps file, not a package name
    deps.write_text(f"{wheel.name}\n{gamma.as_uri()}\n")
    proc = ensure_file(venv, deps, "--offline")
    assert proc.returncode == 0, proc.stderr
    assert dist_info(venv, "alpha-pkg").name == "alpha_pkg-1.0.dist-info"
    assert dist_info(venv, "gamma-pkg").name == "gamma_pkg-1.0.dist-info"
    again = ensure_file(venv, deps, "--offline")
    assert again.returncode == 0, again.stderr
    assert "hit" in again.stdout
    read = read_deps((), [deps])
    assert read.normalised() == [f"alpha-pkg @ {wheel.as_uri()}", f"gamma-pkg @ {gamma.as_uri()}"]
    # the archives' bytes are in the key's `local` component, not in the requirement lines
    assert read.local == {f"alpha-pkg @ {wheel.as_uri()}": str(wheel), f"gamma-pkg @ {gamma.as_uri()}": str(gamma)}


@served
def test_archive_urls_with_and_without_egg(tmp_path: Path, venv: Path, server: tuple[str, Path]) -> None:
    url, root = server
    alpha = build_wheel(root, "alpha-pkg", "2.0")
    gamma = build_wheel(root, "gamma-pkg", "1.0")
    deps = tmp_path / "deps.txt"
    deps.write_text(f"{url}/{alpha.name}\n{url}/{gamma.name}#egg=gamma-pkg\n")
    proc = ensure_file(venv, deps)
    assert proc.returncode == 0, proc.stderr
    assert direct_url(venv, "alpha-pkg")["url"] == f"{url}/{alpha.name}"
    assert dist_info(venv, "gamma-pkg").name == "gamma_pkg-1.0.dist-info"


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed: uv needs it for git URLs")


@needs_git
def test_vcs_urls_and_an_editable_one_from_pip_freeze(tmp_path: Path, venv: Path) -> None:
    repo = build_project(tmp_path / "repo", "vcs-pkg", "1.0")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    deps = tmp_path / "deps.txt"
    deps.write_text(f"-e git+{repo.as_uri()}#egg=vcs-pkg\n")
    proc = ensure_file(venv, deps)
    assert proc.returncode == 0, proc.stderr
    assert "uv cannot install a VCS source editable; installing it from the URL" in proc.stderr
    assert direct_url(venv, "vcs-pkg")["vcs_info"]["vcs"] == "git"  # type: ignore[index]
    deps.write_text(f"git+{repo.as_uri()}\n")
    proc = ensure_file(venv, deps)
    assert proc.returncode == 2
    assert f"write it as `NAME @ git+{repo.as_uri()}`" in proc.stderr


def test_env_vars_are_expanded_pips_way(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    deps = tmp_path / "deps.txt"
    deps.write_text("--find-links ${WHEELS}\nalpha-pkg==${ALPHA_VERSION}\n")
    env = dict(os.environ, WHEELS=str(wheelhouse), ALPHA_VERSION="1.0")
    cmd = [sys.executable, "-m", "penvcache", "ensure", "--venv", str(venv), "-r", str(deps), "--offline"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert dist_info(venv, "alpha-pkg").name == "alpha_pkg-1.0.dist-info"
    env["ALPHA_VERSION"] = "2.0"  # the file is byte for byte the same: the variable is in the key
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "installed" in proc.stdout
    assert dist_info(venv, "alpha-pkg").name == "alpha_pkg-2.0.dist-info"
    # lower case, and unset names, are left as they are (pip's rule)
    os.environ.pop("NOT_SET_ANYWHERE", None)
    deps.write_text("--find-links ${NOT_SET_ANYWHERE}/x\n--find-links $HOME/y\n--find-links ${home}\n")
    assert read_deps((), [deps]).find_links == [
        str(tmp_path / "${NOT_SET_ANYWHERE}" / "x"),
        str(tmp_path / "$HOME" / "y"),
        str(tmp_path / "${home}"),
    ]


def test_a_deps_file_read_from_home_is_another_file_under_another_home(
    tmp_path: Path, venv: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-r ~/pins.txt`` names a file in HOME: with another HOME it is another file, so a miss, not a hit on the
    first HOME's pins; ``~=`` (a specifier) does not put HOME in the key."""
    deps = tmp_path / "deps.txt"
    deps.write_text(f"--find-links {wheelhouse}\n-r ~/pins.txt\n")
    for home, pin in (("first", "alpha-pkg==1.0"), ("second", "alpha-pkg==2.0")):
        (tmp_path / home).mkdir()
        (tmp_path / home / "pins.txt").write_text(pin + "\n")
    args = ("ensure", "--venv", str(venv), "-r", str(deps), "--offline", "--json")
    for home, status, version in (("first", "installed", "1.0"), ("second", "installed", "2.0")):
        proc = run_cli_here(*args, env={**os.environ, "HOME": str(tmp_path / home)})
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["status"] == status
        assert [p.name for p in site_packages(venv).glob("alpha_pkg-*.dist-info")] == [f"alpha_pkg-{version}.dist-info"]
    deps.write_text(f"--find-links {wheelhouse}\nalpha-pkg~=2.0\n")
    assert "${HOME}" not in read_deps((), [deps]).files
    # pip's attached forms and a file: URL read from HOME too
    monkeypatch.setenv("HOME", str(tmp_path / "second"))
    (tmp_path / "second" / "w").mkdir()
    shutil.copy(wheelhouse / "alpha_pkg-1.0-py3-none-any.whl", tmp_path / "second" / "w")
    for line in (
        "-r~/pins.txt",
        "-c~/pins.txt",
        "-f~/w",
        "--find-links=~/w",
        "x @ file:~/w/alpha_pkg-1.0-py3-none-any.whl",
    ):
        deps.write_text(line + "\n")
        assert "${HOME}" in read_deps((), [deps]).files, line


def test_pre_releases_and_several_options_on_one_line(tmp_path: Path, venv: Path) -> None:
    house = tmp_path / "house"
    build_wheel(house, "pre-pkg", "1.0")
    build_wheel(house, "pre-pkg", "2.0b1")
    deps = tmp_path / "deps.txt"
    deps.write_text(f"--no-index --find-links {house}\npre-pkg\n")
    proc = ensure_file(venv, deps)
    assert proc.returncode == 0, proc.stderr
    assert dist_info(venv, "pre-pkg").name == "pre_pkg-1.0.dist-info"
    deps.write_text(f"--no-index --find-links {house} --pre\npre-pkg\n")
    other = tmp_path / "other"
    proc = ensure_file(other, deps)
    assert proc.returncode == 0, proc.stderr
    assert dist_info(other, "pre-pkg").name == "pre_pkg-2.0b1.dist-info"


def test_every_pip_option_is_handed_to_uv(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    """uv ignores --pre and --trusted-host in a file: they reach its command line, as uv spells them."""
    log = tmp_path / "argv"
    wrapper = tmp_path / "uv-wrapper"
    real = shutil.which("uv") or __import__("uv").find_uv_bin()
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    deps = tmp_path / "deps.txt"
    deps.write_text(
        f"--find-links {wheelhouse}\n--pre\n--only-binary :all:\n--no-binary :none:\n--prefer-binary\n"
        "--trusted-host example.invalid\n--config-settings key=value\n--no-index\nalpha-pkg\ngamma-pkg\n"
    )
    cmd = [sys.executable, "-m", "penvcache", "ensure", "--venv", str(venv), "-r", str(deps)]
    env = dict(os.environ, PENVCACHE_UV=str(wrapper))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"{deps}:5: ignoring --prefer-binary, as uv does" in proc.stderr
    argv = log.read_text().split("\n")
    install = argv[argv.index("install") :]
    for option in (
        ["--prerelease", "allow"],
        ["--only-binary", ":all:"],
        ["--no-binary", ":none:"],
        ["--allow-insecure-host", "example.invalid"],
        ["--config-setting", "key=value"],
    ):
        assert any(install[i : i + 2] == option for i in range(len(install))), option
    assert "--no-index" in install
    assert "alpha-pkg" not in install  # requirements reach uv through a file, never argv
    assert "--prefer-binary" not in install


def test_require_hashes_from_a_file(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    deps = tmp_path / "deps.txt"
    deps.write_text(f"--require-hashes\n--no-index --find-links {wheelhouse}\nalpha-pkg==1.0\n")
    proc = ensure_file(venv, deps)
    assert proc.returncode == 1
    assert "In `--require-hashes` mode, all requirements must have a hash" in proc.stderr
    assert read_deps((), [deps]).requirement_lines()[-1] == "--require-hashes"


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--no-cache", "option --no-cache is not supported by penvcache (set UV_NO_CACHE=1 in the environment"),
        ("--install-option=--x", "(write --config-settings KEY=VALUE)"),
        ("--extra-index https://h/simple", "(did you mean --extra-index-url?)"),
        (
            "--group dev",
            "option --group is not supported in a requirements file (by uv either): give it on penvcache's",
        ),
        ("--config-settings novalue", "--config-settings 'novalue' is not KEY=VALUE"),
        ("-e alpha-pkg", "an editable requirement must be a local project directory (e.g. `-e ./pkg`)"),
        ("alpha-pkg --no-binary :all:", "(write it on a line of its own, as uv takes it)"),
    ],
)
def test_unsupported_lines_name_the_file_line_and_what_to_write(tmp_path: Path, line: str, says: str) -> None:
    deps = tmp_path / "deps.txt"
    deps.write_text(f"gamma-pkg\n{line}\n")
    with pytest.raises(InvalidDeps) as exc:
        read_deps((), [deps])
    assert str(exc.value).startswith(f"{deps}:2: ")
    assert says in str(exc.value)


# -- bounded input (issue 10.7) ------------------------------------------------------------------------------------
def test_a_device_or_a_fifo_is_refused_unread(tmp_path: Path, venv: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        proc = run_cli_here("ensure", "--venv", str(venv), "-r", path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == f"penvcache: error: cannot read deps file {path}: not a regular file\n"


def test_a_file_over_the_cap_is_refused_unread(tmp_path: Path, venv: Path) -> None:
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing is written, nothing would be read
    deps = tmp_path / "deps.txt"
    deps.write_text("-r big.txt\n")
    proc = run_cli_here("ensure", "--venv", str(venv), "-r", str(deps))
    assert proc.returncode == 2
    assert f"{deps}:1: cannot read deps file {big}: {MAX_FILE_BYTES + 1} bytes, more than the" in proc.stderr


def test_a_deep_include_chain_is_bad_input_not_a_recursion_error(tmp_path: Path, venv: Path) -> None:
    for i in range(1500):
        (tmp_path / f"d{i}.txt").write_text(f"-r d{i + 1}.txt\n")
    (tmp_path / "d1500.txt").write_text("alpha-pkg\n")
    proc = run_cli_here("ensure", "--venv", str(venv), "-r", str(tmp_path / "d0.txt"))
    assert proc.returncode == 2
    assert "requirements files nest more than 64 deep" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- the same on the command line, with uv's names and environment variables ------------------------------------
def simple_index(root: Path, *wheels: Path) -> str:
    """A PEP 503 index under ``root/simple`` for ``wheels`` (moved to ``root/files``); its path below the server."""
    files = root / "files"
    files.mkdir(exist_ok=True)
    for wheel in wheels:
        name = wheel.name.split("-")[0].replace("_", "-")
        page = root / "simple" / name
        page.mkdir(parents=True, exist_ok=True)
        shutil.move(wheel, files / wheel.name)
        links = "".join(
            f'<a href="../../files/{w.name}">{w.name}</a>\n'
            for w in sorted(files.glob(f"{wheel.name.split('-')[0]}-*"))
        )
        (page / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    return "/simple"


@served
@pytest.mark.parametrize("spelling", ["--index-url", "--default-index", "--extra-index-url", "--index"])
def test_index_options_on_the_command_line(tmp_path: Path, venv: Path, server: tuple[str, Path], spelling: str) -> None:
    url, root = server
    index = url + simple_index(root, build_wheel(tmp_path / "w", "alpha-pkg", "2.0"))
    proc = run_cli_here("ensure", "alpha-pkg", "--venv", str(venv), spelling, index)
    assert proc.returncode == 0, proc.stderr
    assert direct_url_free_version(venv, "alpha-pkg") == "2.0"
    again = run_cli_here("ensure", "alpha-pkg", "--venv", str(venv), spelling, index)
    assert "hit" in again.stdout, again.stderr
    explained = run_cli_here("explain", "alpha-pkg", "--venv", str(venv), spelling, index)
    canonical = "--index-url" if spelling in {"--index-url", "--default-index"} else "--extra-index-url"
    assert f"{canonical} {index}" in explained.stdout


def direct_url_free_version(venv: Path, name: str) -> str:
    return dist_info(venv, name).name.split("-")[1].removesuffix(".dist")


def test_no_index_pre_and_editable_on_the_command_line(tmp_path: Path, venv: Path) -> None:
    house = tmp_path / "house"
    build_wheel(house, "pre-pkg", "1.0")
    build_wheel(house, "pre-pkg", "2.0b1")
    build_project(tmp_path / "proj", "proj-pkg", "1.0", requires=["pre-pkg"])
    args = ["--venv", str(venv), "--no-index", "--find-links", str(house), "-e", "./proj"]
    proc = run_cli_here("ensure", *args, "--pre", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert direct_url(venv, "proj-pkg")["dir_info"] == {"editable": True}
    assert direct_url_free_version(venv, "pre-pkg") == "2.0b1"
    assert "hit" in run_cli_here("ensure", *args, "--pre", cwd=tmp_path).stdout
    other = tmp_path / "other"
    proc = run_cli_here("ensure", *args, "--venv", str(other), "--prerelease", "disallow", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert direct_url_free_version(other, "pre-pkg") == "1.0"
    # -e ./proj from another directory is another project: the current directory is in the key
    (tmp_path / "elsewhere").mkdir()
    proc = run_cli_here("status", *args, "--pre", cwd=tmp_path / "elsewhere")
    assert proc.returncode == 2
    assert "an editable requirement must be a local project directory" in proc.stderr


def test_uvs_index_environment_variables_are_in_the_key(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    args = ["alpha-pkg", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse)]
    assert run_cli_here("ensure", *args).returncode == 0
    assert "hit" in run_cli_here("ensure", *args).stdout
    env = dict(os.environ, UV_INDEX_URL="https://mirror.invalid/simple")
    cmd = [sys.executable, "-m", "penvcache"]
    status = subprocess.run([*cmd, "status", *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert status.returncode == 1
    explained = subprocess.run(
        [*cmd, "explain", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert "UV_INDEX_URL=https://mirror.invalid/simple" in explained.stdout
    assert "uv's default index" not in explained.stdout
    assert "sources changed" in explained.stdout


# --- a deps file's sources add to uv's own settings, as in `uv pip install -r` ------------------------------------


def test_a_deps_files_find_links_are_searched_with_uv_find_links(
    tmp_path: Path, venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uv searches ``UV_FIND_LINKS`` and a requirements file's ``-f`` both (an argument would replace the variable,
    as uv's own ``--find-links`` does); the key has both."""
    build_wheel(tmp_path / "env-links", "my-pkg", "1.0")
    build_wheel(tmp_path / "file-links", "zz-local-b", "1.0")
    deps = tmp_path / "fl.txt"
    deps.write_text(f"--no-index\n-f {tmp_path / 'file-links'}\nmy_pkg\nzz_local_b\n")
    monkeypatch.setenv("UV_FIND_LINKS", str(tmp_path / "env-links"))
    args = ["-r", str(deps), "--venv", str(venv)]
    proc = run_cli_here("ensure", *args)
    assert proc.returncode == 0, proc.stderr
    assert [direct_url_free_version(venv, name) for name in ("my-pkg", "zz-local-b")] == ["1.0", "1.0"]
    explained = run_cli_here("explain", *args)
    assert "penvcache: hit" in explained.stdout
    env_links = f"UV_DEFAULT_INDEX=http://127.0.0.1:9/simple; UV_FIND_LINKS={tmp_path / 'env-links'}"
    assert f"  sources       --find-links {tmp_path / 'file-links'}; --no-index; {env_links}  [" in explained.stdout
    monkeypatch.setenv("UV_FIND_LINKS", str(tmp_path / "elsewhere"))  # what uv would search changed: a miss
    assert run_cli_here("status", *args).returncode == 1
    # an argument replaces the variable, as uv's own --find-links does: it is not a source then
    instead = ["my-pkg", "--no-index", "--find-links", str(tmp_path / "env-links"), "--venv", str(tmp_path / "v2")]
    assert "UV_FIND_LINKS" not in run_cli_here("explain", *instead).stdout


def test_find_links_arguments_with_a_comma_or_space_in_their_path(tmp_path: Path, venv: Path) -> None:
    """The arguments' find-links reach uv in ``UV_FIND_LINKS``, which is comma-separated: such a path goes as a
    ``file:`` URL; a deps file's, in the requirements file uv reads (where a space ends a value), likewise."""
    build_wheel(tmp_path / "wheels,1", "my-pkg", "1.0")
    build_wheel(tmp_path / "wheels 2#x", "zz-local-b", "1.0")
    deps = tmp_path / "deps.txt"
    deps.write_text("--find-links 'wheels 2#x'\nzz_local_b\n")
    args = ["my-pkg", "-r", str(deps), "--venv", str(venv), "--no-index", "--find-links", str(tmp_path / "wheels,1")]
    proc = run_cli_here("ensure", *args)
    assert proc.returncode == 0, proc.stderr
    assert [direct_url_free_version(venv, name) for name in ("my-pkg", "zz-local-b")] == ["1.0", "1.0"]


@served
def test_a_deps_files_extra_index_is_searched_after_uv_extra_index_url(
    tmp_path: Path,
    venv: Path,
    server: tuple[str, Path],
    index: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, root = server
    extra = url + simple_index(root, build_wheel(tmp_path / "w", "my-pkg", "1.0"))
    monkeypatch.setenv("UV_EXTRA_INDEX_URL", index[1])  # gamma-pkg; my-pkg is in the file's index only
    deps = tmp_path / "ei.txt"
    deps.write_text(f"--extra-index-url {extra}\nmy_pkg\ngamma-pkg\n")
    proc = run_cli_here("ensure", "-r", str(deps), "--venv", str(venv))
    assert proc.returncode == 0, proc.stderr
    assert [direct_url_free_version(venv, name) for name in ("my-pkg", "gamma-pkg")] == ["1.0", "1.0"]


@served
@pytest.mark.parametrize("variable", ["UV_DEFAULT_INDEX", "UV_INDEX_URL"])
def test_uvs_index_variable_wins_over_a_deps_files_index_url(
    tmp_path: Path, venv: Path, index: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """As in ``uv pip install -r``: the environment's index is the default one, the file's is not used."""
    monkeypatch.delenv("UV_DEFAULT_INDEX")
    monkeypatch.setenv(variable, index[1])
    deps = tmp_path / "deps.txt"
    deps.write_text("--index-url http://127.0.0.1:9/simple\ngamma-pkg\n")  # nothing listens there
    proc = run_cli_here("ensure", "-r", str(deps), "--venv", str(venv))
    assert proc.returncode == 0, proc.stderr
    assert direct_url_free_version(venv, "gamma-pkg") == "1.0"
    explained = run_cli_here("explain", "-r", str(deps), "--venv", str(venv))
    assert f"--index-url http://127.0.0.1:9/simple; {variable}={index[1]}" in explained.stdout


@pytest.mark.parametrize(
    "extra",
    [
        ["--index-url", "https://a.invalid/simple", "--default-index", "https://b.invalid/simple"],
        ["--extra-index-url", "https://a.invalid/simple", "--index", "https://b.invalid/simple"],
        ["--no-index", "--pre", "--prerelease", "explicit", "-e", "./p", "--editable", "./q"],
        ["--extra", "test", "--all-extras", "--group", "dev", "--group", "docs"],
    ],
)
def test_the_fast_path_reads_uvs_options_as_argparse_does(extra: list[str]) -> None:
    from penvcache import _fastpath, cli

    parsed = _fastpath.parse_ensure(["alpha-pkg", *extra])
    assert parsed is not None
    args = cli._parser().parse_args(["ensure", "alpha-pkg", *extra])
    assert sorted(parsed[0]["options"]) == sorted(cli.option_lines(args))


def test_a_cli_hit_with_variables_and_uv_options_imports_nothing_heavy(
    tmp_path: Path, venv: Path, wheelhouse: Path
) -> None:
    deps = tmp_path / "deps.txt"
    deps.write_text("--find-links ${WHEELS}\nalpha-pkg\n")
    args = ["ensure", "--venv", str(venv), "-r", str(deps), "--offline", "--exact", "--no-index", "--pre", "-q"]
    env = dict(os.environ, WHEELS=str(wheelhouse), UV_PRERELEASE="allow")
    first = subprocess.run(
        [sys.executable, "-m", "penvcache", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert first.returncode == 0, first.stderr
    code = (  # what penvcache imports: under coverage (.ci/run), coverage has imported some of these already
        "import sys\n"
        "before = set(sys.modules)\n"
        "from penvcache._fastpath import main\n"
        "code = main(sys.argv[1:])\n"
        "heavy = ['argparse', 'json', 'hashlib', 'typing', 're', 'packaging', 'filelock', 'subprocess', 'shlex']\n"
        "print([name for name in heavy if name in set(sys.modules) - before], code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    assert proc.stdout == "[] 0\n", proc.stderr


@needs_git
def test_a_moving_vcs_reference_is_recorded_at_its_commit_and_explained(tmp_path: Path, venv: Path) -> None:
    repo = build_project(tmp_path / "repo", "vcs-pkg", "1.0")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    args = ["--venv", str(venv), f"vcs-pkg @ git+{repo.as_uri()}@main"]
    proc = run_cli_here("ensure", *args)
    assert proc.returncode == 0, proc.stderr
    explained = run_cli_here("explain", *args)
    assert (
        f"note: vcs-pkg: git+{repo.as_uri()}@main is a branch, a tag or no reference: it can move" in explained.stdout
    )
    assert f"(installed at commit {commit})" in explained.stdout
    pinned = run_cli_here("explain", "--venv", str(venv), f"vcs-pkg @ git+{repo.as_uri()}@{commit}")
    assert "note:" not in pinned.stdout


def test_a_fifo_in_a_recorded_deps_files_place_does_not_block_a_hit(
    tmp_path: Path, venv: Path, wheelhouse: Path
) -> None:
    deps = tmp_path / "deps.txt"
    deps.write_text("alpha-pkg\n")
    args = ["ensure", "--venv", str(venv), "-r", str(deps), "--offline", "--find-links", str(wheelhouse)]
    assert run_cli_here(*args).returncode == 0
    deps.unlink()
    os.mkfifo(deps)
    proc = run_cli_here(*args)
    assert proc.returncode == 2
    assert proc.stderr == f"penvcache: error: cannot read deps file {deps}: not a regular file\n"


@served
def test_an_index_url_in_a_nested_deps_file(tmp_path: Path, venv: Path, server: tuple[str, Path]) -> None:
    url, root = server
    index = url + simple_index(root, build_wheel(tmp_path / "w", "gamma-pkg", "1.0"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.txt").write_text("--index-url ${INDEX}\ngamma-pkg\n")
    deps = tmp_path / "deps.txt"
    deps.write_text("-r sub/base.txt\n")
    env = dict(os.environ, INDEX=index)
    del env["UV_DEFAULT_INDEX"]  # it would win over the file's, as in `uv pip install -r`
    cmd = [sys.executable, "-m", "penvcache", "ensure", "--venv", str(venv), "-r", str(deps)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert direct_url_free_version(venv, "gamma-pkg") == "1.0"
    explain = [sys.executable, "-m", "penvcache", "explain", "--venv", str(venv), "-r", str(deps)]
    proc = subprocess.run(explain, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert f"--index-url {index}" in proc.stdout
    assert "penvcache: hit" in proc.stdout


def test_a_relative_path_with_a_fragment_is_the_path_and_the_fragment(tmp_path: Path, venv: Path) -> None:
    """``./app#egg=app``: the fragment is the URL's, as uv takes it, not part of the path (it was percent-encoded
    into it: "no such file or directory")."""
    build_project(tmp_path / "app", "app-pkg", "1.0")
    wheel = build_wheel(tmp_path, "gamma-pkg", "1.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    deps = tmp_path / "deps.txt"
    app = f"file://{tmp_path}/app"
    for line, normalised in [
        ("-e ./app#egg=app-pkg", f"-e app-pkg @ {app}"),
        ("./app#egg=app-pkg", f"app-pkg @ {app}"),
        ("file:./app#egg=app-pkg", f"app-pkg @ {app}"),
        ("./app#egg=other&subdirectory=sub", f"other @ {app}#subdirectory=sub"),
        (f"./{wheel.name}#sha256={digest}", f"gamma-pkg @ file://{wheel}#sha256={digest}"),
        (f"gamma-pkg @ ./{wheel.name}#sha256={digest}", f"gamma-pkg @ file://{wheel}#sha256={digest}"),
    ]:
        deps.write_text(line + "\n")
        assert read_deps((), [deps]).normalised() == [normalised], line
    wrong = digest[:-1] + ("0" if digest[-1] != "0" else "1")  # uv checks the fragment's hash
    deps.write_text(f"./{wheel.name}#sha256={wrong}\n")
    proc = ensure_file(venv, deps, "--offline")
    assert proc.returncode == 4  # offline: what uv cannot install is OfflineUnavailable
    assert f"Hash mismatch for `gamma-pkg @ file://{wheel}#sha256={wrong}`" in proc.stderr
    deps.write_text(f"-e ./app#egg=app-pkg\n./{wheel.name}#sha256={digest}\n")
    proc = ensure_file(venv, deps, "--offline")
    assert (proc.returncode, proc.stderr.count("error")) == (0, 0), proc.stderr
    assert direct_url(venv, "app-pkg")["dir_info"] == {"editable": True}
    assert dist_info(venv, "gamma-pkg").name == "gamma_pkg-1.0.dist-info"


def test_an_editable_directory_without_dot_slash_is_the_directory(
    tmp_path: Path, venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-e app``, as pip and uv take it: the directory (from the file's, as every path of a deps file here);
    a name that is no directory there is still refused, naming the directory it is from the current one."""
    build_project(tmp_path / "app", "app-pkg", "1.0")
    deps = tmp_path / "deps.txt"
    deps.write_text("-e app\n")
    assert read_deps((), [deps]).normalised() == [f"-e app-pkg @ file://{tmp_path}/app"]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deps.txt").write_text("-e app\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidDeps) as exc:
        read_deps((), [tmp_path / "sub" / "deps.txt"])
    assert str(exc.value).endswith(
        "-e app: an editable requirement must be a local project directory (e.g. `-e ./pkg`); for a package from "
        "an index write it without -e; paths in a deps file are relative to the file, where pip and uv take them "
        f"from the current directory: for {tmp_path}/app write ../app"
    )
    proc = run_cli_here("ensure", "--venv", str(venv), "--offline", "-e", "app", "-q", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert direct_url(venv, "app-pkg")["dir_info"] == {"editable": True}
