"""Every requirements-file form and option in pip's and uv's documentation, as a table: each line either parses
(and reaches uv, as uv reads it) or is bad input naming the file, the line and what to write instead.

Sources: pip's "Requirements File Format", "Requirement Specifiers", "VCS Support", "Secure installs" and
``pip install`` examples; uv's ``pip compile``/``export`` output and its requirements-file options.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import hypothesis
import pytest

from penvcache import InvalidDeps
from penvcache._installer import uv_bin
from penvcache._requirements import _words, read_deps
from tests._kit import build_project, build_wheel, site_packages
from tests.conftest import run_cli_here

SHA = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
SHA2 = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"

# (line as the documentation writes it, what penvcache makes of it: a normalised line, credentials redacted as
# explain shows them; {root} is the deps file's directory). Lines with local paths name files the `root` fixture
# makes.
ACCEPTED = [
    # pip: requirement specifiers
    ("pytest", "pytest"),
    ("docopt == 0.6.1", "docopt==0.6.1"),
    (
        'requests [security] >= 2.8.1, == 2.8.* ; python_version < "2.7"',
        'requests[security]==2.8.*,>=2.8.1; python_version < "2.7"',
    ),
    ("SomeProject ~= 1.4.2", "someproject~=1.4.2"),
    ("SomeProject == 5.4 ; python_version < '3.8'", 'someproject==5.4; python_version < "3.8"'),
    ("SomeProject ; sys_platform == 'win32'", 'someproject; sys_platform == "win32"'),
    ("SomeProject[foo, bar]", "someproject[bar,foo]"),
    ("pip @ https://github.com/pypa/pip/archive/22.0.2.zip", "pip @ https://github.com/pypa/pip/archive/22.0.2.zip"),
    (
        'requests [security] @ https://github.com/psf/requests/archive/refs/heads/main.zip ; python_version >= "3.11"',
        'requests[security] @ https://github.com/psf/requests/archive/refs/heads/main.zip; python_version >= "3.11"',
    ),
    # pip: archives and URLs without a name
    (
        "http://wxpython.org/Phoenix/snapshot-builds/wxPython_Phoenix-3.0.3.dev1820+49a8884-cp34-none-win_amd64.whl",
        "wxpython-phoenix @ http://wxpython.org/Phoenix/snapshot-builds/"
        "wxPython_Phoenix-3.0.3.dev1820+49a8884-cp34-none-win_amd64.whl",
    ),
    ("http://my.package.repo/SomePackage-1.0.4.zip", "somepackage @ http://my.package.repo/SomePackage-1.0.4.zip"),
    ("SomeProject@http://my.package.repo/1.2.3.tar.gz", "someproject @ http://my.package.repo/1.2.3.tar.gz"),
    ("./downloads/SomePackage-1.0.4.tar.gz", "somepackage @ file://{root}/downloads/SomePackage-1.0.4.tar.gz"),
    ("./downloads/numpy-1.9.2-cp34-none-win32.whl", "numpy @ file://{root}/downloads/numpy-1.9.2-cp34-none-win32.whl"),
    # pip: local projects, editable or not
    ("-e .", "-e proj-pkg @ file://{root}"),
    ("-e ./proj", "-e proj-pkg @ file://{root}/proj"),
    ("--editable=./proj", "-e proj-pkg @ file://{root}/proj"),
    (".[PDF]", "proj-pkg[pdf] @ file://{root}"),
    ("-e ./proj[PDF]", "-e proj-pkg[pdf] @ file://{root}/proj"),
    ("-e proj-pkg @ file:./proj", "-e proj-pkg @ file://{root}/proj"),
    ('-e "./proj"', "-e proj-pkg @ file://{root}/proj"),
    ("file:./proj", "proj-pkg @ file://{root}/proj"),
    # uv: a name at a relative path
    ("proj-pkg @ ./proj", "proj-pkg @ file://{root}/proj"),
    # pip: VCS (uv installs git only)
    ("MyProject @ git+https://git.example.com/MyProject", "myproject @ git+https://git.example.com/MyProject"),
    ("MyProject @ git+ssh://git@git.example.com/MyProject", "myproject @ git+ssh://****@git.example.com/MyProject"),
    (
        "MyProject @ git+https://git.example.com/MyProject.git@refs/pull/123/head",
        "myproject @ git+https://git.example.com/MyProject.git@refs/pull/123/head",
    ),
    (
        "SomePackage[PDF] @ git+https://git.repo/SomePackage@main#subdirectory=subdir_path",
        "somepackage[pdf] @ git+https://git.repo/SomePackage@main#subdirectory=subdir_path",
    ),
    (
        "git+https://git.repo/some_pkg.git#egg=SomePackage&subdirectory=sub",
        "somepackage @ git+https://git.repo/some_pkg.git#subdirectory=sub",
    ),
    ("-e git+https://git.repo/some_pkg.git#egg=SomePackage", "somepackage @ git+https://git.repo/some_pkg.git"),
    ("-e SomePackage @ git+https://git.repo/some_pkg.git", "somepackage @ git+https://git.repo/some_pkg.git"),
    (
        "-e 'SomePackage @ git+https://git.repo/some_repo.git#subdirectory=subdir_path'",
        "somepackage @ git+https://git.repo/some_repo.git#subdirectory=subdir_path",
    ),
    # pip: global options
    ("-i http://my.package.repo/simple/", "--index-url http://my.package.repo/simple/"),
    ("--index-url=http://my.package.repo/simple/", "--index-url http://my.package.repo/simple/"),
    ("--extra-index-url http://my.package.repo/simple", "--extra-index-url http://my.package.repo/simple"),
    ("--no-index", "--no-index"),
    ("--find-links /my/local/archives", "--find-links /my/local/archives"),
    ("--find-links http://some.archives.com/archives", "--find-links http://some.archives.com/archives"),
    ("--find-links=file:///local/dir/", "--find-links file:///local/dir/"),
    ("-f relative/dir/", "--find-links {root}/relative/dir"),
    ("--no-binary :all:", "--no-binary :all:"),
    ("--only-binary=:all:", "--only-binary :all:"),
    ("--require-hashes", "--require-hashes"),
    ("--no-require-hashes", "--no-require-hashes"),
    ("--pre", "--prerelease allow"),
    ("--all-releases :all:", "--prerelease allow"),
    ("--only-final :all:", "--prerelease disallow"),
    ("--trusted-host example.com", "--allow-insecure-host example.com"),
    ("--config-settings key=value", "--config-setting key=value"),
    ("--pre --no-index --find-links /w", "--prerelease allow"),
    # pip: per-requirement --hash, with a continuation (as uv pip compile --generate-hashes writes it)
    (
        f"FooProject == 1.2 --hash=sha256:{SHA} \\\n    --hash=sha256:{SHA2}\n    # via -r requirements.in",
        f"fooproject==1.2 --hash=sha256:{SHA} --hash=sha256:{SHA2}",
    ),
    # pip: other files, environment variables
    ("-r other.txt", "other-pkg"),
    ("--requirement=other.txt", "other-pkg"),
    ("-rother.txt", "other-pkg"),
    ("-c constraints.txt", "-c constrained-pkg<2"),
    (
        "--extra-index-url https://${API_TOKEN}@example.com/simple",
        "--extra-index-url https://****@example.com/simple",
    ),
    # uv's spellings
    ("--index https://example.com/simple", "--extra-index-url https://example.com/simple"),
    ("--default-index https://example.com/simple", "--index-url https://example.com/simple"),
    ("--allow-insecure-host example.com", "--allow-insecure-host example.com"),
]

# (line, what the error must say after "FILE:1: "): each names what to write instead.
REFUSED = [
    ("MyProject @ hg+https://hg.myproject.org/MyProject", "uv installs from git only, not Mercurial; write an archive"),
    ("MyProject @ svn+ssh://user@svn.example.com/MyProject", "not Subversion; write an archive URL of the revision"),
    ("MyProject @ bzr+lp:MyProject", "not Bazaar; write an archive URL of the revision (`NAME @ https://"),
    ("-e MyProject @ svn+http://svn.example.com/svn/MyProject/trunk@2019", "or install a local checkout (`-e ./DIR`)"),
    ("git+https://git.example.com/MyProject", "write it as `NAME @ git+https://git.example.com/MyProject`"),
    ("--all-releases SomePackage", "(write --pre for every package, or a pre-release in the requirement"),
    ("--only-final SomePackage", "(write --prerelease disallow for every package"),
    ("--user", "option --user is not supported by penvcache (penvcache installs into the venv given by --venv"),
    ("FooProject == 1.2 --config-settings key=value", "(write it on a line of its own, as uv takes it)"),
    ("-e ./proj --config-settings key=value", "(write it on a line of its own, as uv takes it)"),
    ("--no-build", "(write --only-binary :all:)"),
    ("--upgrade", "pin a version (NAME==X) to move it"),
    ("--index-strategy unsafe-best-match", "name the index that must win with --index-url"),
    ("--global-option=--x", "(write --config-settings KEY=VALUE)"),
    ("--group dev", "option --group is not supported in a requirements file"),
    ("-e SomePackage", "an editable requirement must be a local project directory (e.g. `-e ./pkg`)"),
    (
        "-e SomePackage @ https://example.com/SomePackage-1.0.tar.gz",
        "an editable requirement must be a local project directory (e.g. `-e ./pkg`)",
    ),
    ('-e "./proj', """cannot parse '-e "./proj': No closing quotation"""),
    ("--pre=yes", "--pre takes no value: '--pre=yes'"),
    ("--no-index extra", "'extra' is neither an option nor a value of one: '--no-index extra'"),
    ("--index-url=", "--index-url takes exactly one value: '--index-url='"),
]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with the files the catalogue's lines name."""
    build_project(tmp_path, "proj-pkg", "1.0", extra_toml="[project.optional-dependencies]\nPDF = []\n")
    build_project(tmp_path / "proj", "proj-pkg", "1.0")
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "SomePackage-1.0.4.tar.gz").write_bytes(b"")
    (tmp_path / "downloads" / "numpy-1.9.2-cp34-none-win32.whl").write_bytes(b"")
    (tmp_path / "other.txt").write_text("other-pkg\n")
    (tmp_path / "constraints.txt").write_text("constrained-pkg<2\n")
    monkeypatch.setenv("API_TOKEN", "s3cret")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("line", "expected"), ACCEPTED, ids=[line for line, _ in ACCEPTED])
def test_a_documented_form_is_read(root: Path, line: str, expected: str) -> None:
    deps = root / "requirements.txt"
    deps.write_text(line + "\n")
    lines = [entry.split(" (")[0] for entry in read_deps((), [deps]).normalised()]  # without local files' digests
    assert expected.format(root=root) in lines


@pytest.mark.parametrize(("line", "says"), REFUSED, ids=[line for line, _ in REFUSED])
def test_a_form_uv_cannot_install_is_refused_saying_what_to_write(root: Path, line: str, says: str) -> None:
    deps = root / "requirements.txt"
    deps.write_text(f"pytest\n{line}\n")
    with pytest.raises(InvalidDeps) as exc:
        read_deps((), [deps])
    assert str(exc.value).startswith(f"{deps}:2: ")
    assert says in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_refusal_is_exit_2_and_one_line(tmp_path: Path, venv: Path) -> None:
    deps = tmp_path / "requirements.txt"
    deps.write_text("MyProject @ hg+https://hg.myproject.org/MyProject\n")
    proc = run_cli_here("ensure", "--venv", str(venv), "-r", str(deps))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"penvcache: error: {deps}:1: ")
    assert proc.stderr.count("\n") == 1


# -- the forms reach uv and install, hermetically -------------------------------------------------------------------
def uv_wrapper(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose uv logs its arguments and the requirements files it is given, then runs the real uv."""
    log = tmp_path / "uv-log"
    wrapper = tmp_path / "uv-wrapper"
    real = shutil.which("uv") or __import__("uv").find_uv_bin()
    wrapper.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" >> {log}\n'
        'prev=""; for a in "$@"; do [ "$prev" = "--requirement" ] && cat "$a" >> ' + str(log) + '; prev="$a"; done\n'
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    return dict(os.environ, PENVCACHE_UV=str(wrapper)), log


def ensure(env: dict[str, str], venv: Path, deps: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "penvcache", "ensure", "--venv", str(venv), "-r", str(deps)]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=180, check=False)


def versions(venv: Path) -> dict[str, str]:
    found = {}
    for path in site_packages(venv).glob("*.dist-info"):
        name, version = path.name.removesuffix(".dist-info").rsplit("-", 1)
        found[name] = version
    return found


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pip_documentations_example_file_installs_and_hits(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    """pip's example, with local stand-ins for what it fetches: specifiers with spaces, extras and markers, -r, -c,
    a wheel path, an editable `NAME @ file:` project, options several to a line, ${VAR}."""
    build_wheel(tmp_path / "downloads", "zeta-pkg", "1.0")
    build_project(tmp_path / "edit", "edit-pkg", "1.0")
    (tmp_path / "other-requirements.txt").write_text("gamma-pkg ~= 1.0\n")
    (tmp_path / "constraints.txt").write_text("alpha-pkg < 2\n")
    deps = tmp_path / "requirements.txt"
    deps.write_text(
        "# This is a comment, to show how #-prefixed lines are ignored.\n"
        "alpha-pkg\n"
        'beta-pkg [fast] >= 1.0, == 1.* ; python_version >= "3"   # a trailing comment\n'
        "-r other-requirements.txt\n"
        "-c constraints.txt\n"
        "./downloads/zeta_pkg-1.0-py3-none-any.whl\n"
        "-e edit-pkg @ file:./edit\n"
        "--no-index --find-links ${WHEELS}\n"
    )
    env, log = uv_wrapper(tmp_path)
    env["WHEELS"] = str(wheelhouse)
    proc = ensure(env, venv, deps)
    assert proc.returncode == 0, proc.stderr
    assert (
        versions(venv).items() >= {"alpha_pkg": "1.0", "beta_pkg": "1.0", "gamma_pkg": "1.0", "zeta_pkg": "1.0"}.items()
    )
    assert f"-e {tmp_path / 'edit'}" in log.read_text().splitlines()
    assert "hit" in ensure(env, venv, deps).stdout


def test_pip_freeze_from_windows_utf16_and_a_coding_comment(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    """PowerShell's `pip freeze > requirements.txt` writes UTF-16 with a byte order mark; pip reads it, and a PEP 263
    coding comment, and so does penvcache (uv is handed UTF-8)."""
    deps = tmp_path / "requirements.txt"
    deps.write_bytes(b"\xff\xfe" + f"alpha-pkg==1.0\r\n--find-links {wheelhouse}\r\n".encode("utf-16-le"))
    latin = tmp_path / "latin.txt"
    latin.write_bytes(
        b"# -*- coding: latin-1 -*-\n# caf\xe9\ngamma-pkg ; platform_machine != '\xe9'\n-r requirements.txt\n"
    )
    env, _ = uv_wrapper(tmp_path)
    proc = ensure(env, venv, latin)
    assert proc.returncode == 0, proc.stderr
    assert versions(venv).items() >= {"alpha_pkg": "1.0", "gamma_pkg": "1.0"}.items()
    assert "hit" in ensure(env, venv, latin).stdout
    deps.write_bytes(b"\xff\xfe" + "alpha-pkg==1.0\n\udcff".encode("utf-16-le", "surrogatepass"))
    with pytest.raises(InvalidDeps, match=r"requirements\.txt:2: not utf-16-le text: .*\(save it as UTF-8\)"):
        read_deps((), [deps])


def test_uv_export_output_with_hashes_and_the_project_itself(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    """`uv export` writes `-e .` beside hashed pins: uv checks the hashes given; pip's all-or-nothing rule would
    ask a hash of the project directory, which cannot have one."""
    project = build_project(tmp_path / "proj", "proj-pkg", "1.0", requires=["alpha-pkg"])
    alpha = wheelhouse / "alpha_pkg-1.0-py3-none-any.whl"
    deps = project / "requirements.txt"
    deps.write_text(
        "# This file was autogenerated by uv via the following command:\n"
        "#    uv export --format requirements-txt\n"
        "-e .\n"
        f"alpha-pkg==1.0 \\\n    --hash=sha256:{sha256(alpha)}\n    # via proj-pkg\n"
        f"--no-index --find-links {wheelhouse}\n"
    )
    env, log = uv_wrapper(tmp_path)
    proc = ensure(env, venv, deps, cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "--require-hashes" not in log.read_text().splitlines()
    assert versions(venv).items() >= {"alpha_pkg": "1.0", "proj_pkg": "1.0"}.items()
    assert "hit" in ensure(env, venv, deps, cwd=project).stdout
    # a wrong hash is still refused: uv checks the hashes it is given
    deps.write_text(f"-e .\nalpha-pkg==1.0 --hash=sha256:{SHA}\n--no-index --find-links {wheelhouse}\n")
    proc = ensure(env, tmp_path / "other", deps, cwd=project)
    assert proc.returncode == 1
    assert "Hash mismatch" in proc.stderr


def test_a_local_directory_beside_hashed_pins_does_not_require_hashes(root: Path) -> None:
    """A project directory cannot have a hash: like `-e .`, a plain `./proj` beside hashed pins leaves uv checking
    the hashes given, where pip's all-or-nothing rule would refuse the file."""
    deps = root / "requirements.txt"
    deps.write_text(f"./proj\nalpha-pkg==1.0 --hash=sha256:{SHA}\n")
    assert not read_deps((), [deps]).implies_require_hashes()
    deps.write_text(f"gamma-pkg\nalpha-pkg==1.0 --hash=sha256:{SHA}\n")
    assert read_deps((), [deps]).implies_require_hashes()


def test_no_require_hashes_turns_off_pips_all_or_nothing(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    alpha = wheelhouse / "alpha_pkg-1.0-py3-none-any.whl"
    deps = tmp_path / "requirements.txt"
    hashed = f"alpha-pkg==1.0 --hash=sha256:{sha256(alpha)}\ngamma-pkg\n--no-index --find-links {wheelhouse}\n"
    deps.write_text(hashed)
    env, _ = uv_wrapper(tmp_path)
    proc = ensure(env, venv, deps)
    assert proc.returncode == 1  # pip's rule: one --hash asks a hash of every package
    assert "In `--require-hashes` mode" in proc.stderr
    deps.write_text("--no-require-hashes\n" + hashed)
    proc = ensure(env, venv, deps)
    assert proc.returncode == 0, proc.stderr
    assert versions(venv).items() >= {"alpha_pkg": "1.0", "gamma_pkg": "1.0"}.items()
    assert "--no-require-hashes" in read_deps((), [deps]).requirement_lines()


def test_pips_all_releases_reaches_uv_as_prerelease_allow(tmp_path: Path, venv: Path) -> None:
    house = tmp_path / "house"
    build_wheel(house, "pre-pkg", "1.0")
    build_wheel(house, "pre-pkg", "2.0b1")
    deps = tmp_path / "requirements.txt"
    deps.write_text(f"--all-releases :all:\n--no-index --find-links {house}\npre-pkg\n")
    env, log = uv_wrapper(tmp_path)
    proc = ensure(env, venv, deps)
    assert proc.returncode == 0, proc.stderr
    assert versions(venv)["pre_pkg"] == "2.0b1"
    argv = log.read_text().splitlines()
    assert argv[argv.index("--prerelease") + 1] == "allow"


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed: uv needs it for git URLs")


@needs_git
def test_an_editable_name_at_vcs_url_as_pips_docs_write_it(tmp_path: Path, venv: Path) -> None:
    repo = build_project(tmp_path / "repo", "vcs-pkg", "1.0")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    deps = tmp_path / "requirements.txt"
    deps.write_text(f"-e vcs-pkg @ git+{repo.as_uri()}\n")
    env, _ = uv_wrapper(tmp_path)
    proc = ensure(env, venv, deps)
    assert proc.returncode == 0, proc.stderr
    assert "uv cannot install a VCS source editable; installing it from the URL" in proc.stderr
    assert versions(venv)["vcs_pkg"] == "1.0"


def test_a_path_meant_from_the_current_directory_says_what_to_write(tmp_path: Path, venv: Path) -> None:
    """pip and uv take a deps file's paths from the current directory; penvcache from the file's. Where only the
    current directory has it, the error says how to write it."""
    build_project(tmp_path / "proj", "proj-pkg", "1.0")
    (tmp_path / "requirements").mkdir()
    deps = tmp_path / "requirements" / "dev.txt"
    deps.write_text("-e ./proj\n")
    proc = run_cli_here("ensure", "--venv", str(venv), "-r", str(deps), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"for {tmp_path / 'proj'} write ../proj" in proc.stderr
    deps.write_text("-e ../proj\n")
    assert read_deps((), [deps]).editables == {f"proj-pkg @ {(tmp_path / 'proj').as_uri()}": str(tmp_path / "proj")}


# -- reading a compiled lock fast ----------------------------------------------------------------------------------
@hypothesis.given(hypothesis.strategies.text())
def test_options_are_split_into_the_words_shlex_gives(text: str) -> None:
    """A requirement line's options are split without shlex when nothing is quoted (shlex reads a character at a
    time: the --hash options of a 1,839-line compiled lock took 0.19 s, 0.02 s without): the same words."""
    try:
        expected = shlex.split(text)
    except ValueError:
        return
    assert _words(text) == expected


# -- a pylock.toml's local projects ---------------------------------------------------------------------------------
def test_a_pylock_directory_entrys_files_are_in_the_key(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    """`uv export --format pylock.toml` of a project lists the project as `directory = { path = "." }`: when its
    files change the lock's bytes do not, yet the venv must follow, as for `-e .` in a requirements file."""
    project = build_project(tmp_path / "proj", "proj-pkg", "1.0", requires=["alpha-pkg"])
    (tmp_path / "requirements.in").write_text("./proj\n")
    lock = tmp_path / "pylock.toml"
    compile_args = ["compile", "requirements.in", "--offline", "--no-index", "--find-links", str(wheelhouse)]
    subprocess.run(
        [uv_bin(), "pip", *compile_args, "--format", "pylock.toml", "-o", str(lock), "-q", "--python", sys.executable],
        cwd=tmp_path,
        check=True,
        timeout=120,
    )
    assert 'directory = { path = "proj"' in lock.read_text()
    args = ["ensure", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "-r", str(lock)]
    proc = run_cli_here(*args)
    assert proc.returncode == 0, proc.stderr
    assert versions(venv)["proj_pkg"] == "1.0"
    assert "hit" in run_cli_here(*args).stdout
    build_project(project, "proj-pkg", "2.0", requires=["alpha-pkg"])
    proc = run_cli_here(*args)
    assert proc.returncode == 0, proc.stderr
    assert "installed" in proc.stdout
    assert versions(venv)["proj_pkg"] == "2.0"
    assert "hit" in run_cli_here(*args).stdout


def test_a_pip_freeze_line_naming_a_gone_build_dir_says_what_to_write(tmp_path: Path) -> None:
    """conda's pip freeze writes `numpy @ file:///croot/numpy_1/work`: a build directory that is gone."""
    deps = tmp_path / "requirements.txt"
    deps.write_text(f"numpy @ file://{tmp_path}/croot/numpy_1/work\n")
    with pytest.raises(InvalidDeps) as exc:
        read_deps((), [deps])
    assert str(exc.value).startswith(f"{deps}:1: numpy @ file://{tmp_path}/croot/numpy_1/work: no such file")
    assert str(exc.value).endswith("`pip list --format=freeze` writes NAME==VERSION lines instead")


# -- pyproject.toml as uv users write it ----------------------------------------------------------------------------
def test_uvs_legacy_dev_dependencies_are_the_dev_group(tmp_path: Path, venv: Path, wheelhouse: Path) -> None:
    project = build_project(
        tmp_path / "proj",
        "proj-pkg",
        "1.0",
        requires=["alpha-pkg"],
        extra_toml='[dependency-groups]\ndev = ["beta-pkg"]\n\n[tool.uv]\ndev-dependencies = ["gamma-pkg"]\n',
    )
    args = ["--venv", str(venv), "--offline", "--find-links", str(wheelhouse), "-r", str(project / "pyproject.toml")]
    proc = run_cli_here("ensure", *args, "--group", "dev")
    assert proc.returncode == 0, proc.stderr
    assert versions(venv).keys() >= {"alpha_pkg", "beta_pkg", "gamma_pkg"}


def test_a_dependency_with_a_uv_source_is_refused_saying_what_to_write(tmp_path: Path) -> None:
    """uv installs `x = { path = "../x" }` from there; penvcache would take `x` from an index: refused."""
    project = build_project(
        tmp_path / "proj",
        "proj-pkg",
        "1.0",
        requires=["alpha-pkg", "sibling-pkg"],
        extra_toml='[tool.uv.sources]\nsibling-pkg = { path = "../sibling" }\n',
    )
    pyproject = project / "pyproject.toml"
    with pytest.raises(InvalidDeps) as exc:
        read_deps((), [pyproject])
    assert str(exc.value) == (
        f"{pyproject}: dependencies: sibling-pkg has a [tool.uv.sources] entry ({{'path': '../sibling'}}) that "
        "penvcache does not apply; write the source in a requirements file instead (`sibling-pkg @ URL`, "
        "`-e ./DIR`): `uv export --format requirements-txt` writes one"
    )
