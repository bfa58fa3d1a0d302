"""The CLI as a uv user expects it: help, version, `run` without `--`, nothing to ensure, a missing `--python` (and
uv's managed Pythons), which venv is meant, a closed stdout, Ctrl-C; and the API refusing one string for a list."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import penvcache
from penvcache import _fastpath, cli
from penvcache.version import __version__
from tests.conftest import ROOT, run_cli_here


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# -- help and version ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["help"], ["--help"]])
def test_penvcache_alone_and_help_show_the_help(args: list[str]) -> None:
    proc = run_cli_here(*args)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith("usage: penvcache ")
    for command in ("ensure", "run", "explain", "status", "stats", "list", "clear", "help"):
        assert f"    {command} " in proc.stdout


def test_help_command_shows_that_commands_help() -> None:
    proc = run_cli_here("help", "ensure")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith("usage: penvcache ensure ")
    assert "--require-hit" in proc.stdout
    assert proc.stdout == run_cli_here("ensure", "--help").stdout


def test_help_for_an_unknown_command_is_a_usage_error() -> None:
    proc = run_cli_here("help", "frobnicate")
    assert proc.returncode == 2
    assert "unknown command 'frobnicate'" in _one_line(proc.stderr)
    assert proc.stdout == ""
    unknown = run_cli_here("frobnicate")
    assert unknown.returncode == 2
    assert "frobnicate" in _one_line(unknown.stderr)


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(flag: str) -> None:
    proc = run_cli_here(flag)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"penvcache {__version__}\n", "")


# -- run without -- -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fixed"),
    [
        (["python", "-c", "print(1)"], "penvcache run -- python -c 'print(1)'"),
        (["--offline", "-r", "deps.txt", "python", "x.py"], "penvcache run --offline -r deps.txt -- python x.py"),
    ],
)
def test_run_without_dashes_says_where_they_go(venv: Path, args: list[str], fixed: str) -> None:
    proc = run_cli_here("run", "--venv", str(venv), *args)
    assert proc.returncode == 2
    line = _one_line(proc.stderr)
    assert fixed.replace("penvcache run ", f"penvcache run --venv {venv} ") in line
    assert "would be taken for a requirement" in line
    assert not venv.exists()


def test_run_help_still_shows_help() -> None:
    proc = run_cli_here("run", "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: penvcache run ")


# -- nothing to ensure --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [[], ["--pre"], ["--index-url", "https://index.invalid/simple", "--exact"]])
def test_ensure_with_nothing_to_ensure_warns(venv: Path, options: list[str]) -> None:
    """Options of how to install are not something to install."""
    for _ in range(2):  # the miss, then the hit (the fast path leaves it to the full path, which warns)
        proc = run_cli_here("ensure", "--venv", str(venv), "--offline", *options)
        assert proc.returncode == 0, proc.stderr
        assert "penvcache: warning: nothing to ensure (no REQ, -r, -e or --project)" in proc.stderr
    quiet = run_cli_here("ensure", "--venv", str(venv), "--offline", "-q", *options)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


def test_ensure_with_something_to_ensure_does_not_warn(venv: Path, wheelhouse: Path) -> None:
    proc = run_cli_here("ensure", "alpha-pkg", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse))
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr


# -- --python -------------------------------------------------------------------------------------------------------


def _env(**changes: str) -> dict[str, str]:
    return {**os.environ, **changes}


def _cli(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli_here(*args, env=env, cwd=cwd)


def test_a_python_that_fails_to_run_is_one_line_without_uvs_doubled_wording(tmp_path: Path, venv: Path) -> None:
    shims = tmp_path / "shims"  # what pyenv's shims do for a version that is not selected
    shims.mkdir()
    shim = shims / "python3.12"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    # a narrow terminal: uv wraps its error to $COLUMNS, and penvcache still makes one line of it
    env = _env(PATH=str(shims), UV_PYTHON_INSTALL_DIR=str(tmp_path / "pythons"), COLUMNS="60")
    proc = _cli("ensure", "alpha-pkg", "--venv", str(venv), "--python", "3.12", "--offline", env=env)
    assert proc.returncode == 2
    line = _one_line(proc.stderr)
    assert line.startswith("penvcache: error: --python 3.12: ")
    assert str(shim) in line
    assert "exit status 127" in line
    assert "exit status exit status" not in line
    assert "error: error:" not in line
    assert not venv.exists()


class _Mirror(http.server.BaseHTTPRequestHandler):
    """A Python download mirror with nothing on it, which remembers what it was asked for."""

    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def mirror() -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []
    handler = type("Mirror", (_Mirror,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mirror", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def _no_pythons(tmp_path: Path, mirror_url: str) -> dict[str, str]:
    """No Python to be found (an empty PATH, no managed ones), and uv's downloads pointed at the local mirror."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    return _env(
        PATH=str(empty),
        UV_PYTHON_INSTALL_DIR=str(tmp_path / "pythons"),
        UV_PYTHON_INSTALL_MIRROR=mirror_url,
        UV_PYTHON_DOWNLOADS="automatic",
    )


def test_online_a_missing_python_is_downloaded_as_uv_venv_does(
    tmp_path: Path, venv: Path, mirror: tuple[str, list[str]]
) -> None:
    url, requests = mirror
    proc = _cli("ensure", "alpha-pkg", "--venv", str(venv), "--python", "3.12", env=_no_pythons(tmp_path, url))
    assert requests, proc.stderr  # uv went to fetch a managed CPython 3.12, and penvcache said so first
    assert proc.stderr.startswith(f"penvcache: creating venv {venv} with 3.12 (not installed: uv downloads it)\n")
    assert all("cpython-3.12" in path for path in requests)
    assert proc.returncode == 1  # the mirror has nothing: a fault, in one line naming the venv
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"penvcache: error: cannot create venv {venv} with --python 3.12: ")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "env", "why"),
    [
        (["--no-python-downloads"], {}, "downloads are off"),
        ([], {"UV_PYTHON_DOWNLOADS": "never"}, "downloads are off"),
        (["--offline"], {}, "offline, no Python is downloaded"),
    ],
)
def test_a_missing_python_is_not_downloaded_when_refused_or_offline(
    tmp_path: Path, venv: Path, mirror: tuple[str, list[str]], args: list[str], env: dict[str, str], why: str
) -> None:
    url, requests = mirror
    environ = {**_no_pythons(tmp_path, url), **env}
    proc = _cli("ensure", "alpha-pkg", "--venv", str(venv), "--python", "3.12", *args, env=environ)
    assert proc.returncode == 2
    line = _one_line(proc.stderr)
    assert line.startswith("penvcache: error: --python 3.12: No interpreter found for Python 3.12")
    assert why in line
    assert requests == []
    assert not venv.exists()


# -- which venv -----------------------------------------------------------------------------------------------------


def _ensure_here(wheelhouse: Path, *extra: str) -> list[str]:
    return ["ensure", "alpha-pkg", "--offline", "--find-links", str(wheelhouse), "--json", *extra]


def _ensured_venv(capsys: pytest.CaptureFixture[str], main: object, args: list[str]) -> tuple[str, str]:
    assert callable(main)
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    return result["venv"], result["status"]


def test_a_parents_venv_is_found_from_a_subdirectory(
    tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "src" / "pkg").mkdir(parents=True)
    monkeypatch.chdir(project)
    assert _ensured_venv(capsys, cli.main, _ensure_here(wheelhouse)) == (str(project / ".venv"), "installed")
    monkeypatch.chdir(project / "src" / "pkg")
    assert _fastpath.parse_ensure(_ensure_here(wheelhouse)[1:]) is not None  # the fast path answers it...
    assert _ensured_venv(capsys, _fastpath.main, _ensure_here(wheelhouse)) == (str(project / ".venv"), "hit")
    assert _ensured_venv(capsys, cli.main, _ensure_here(wheelhouse)) == (
        str(project / ".venv"),
        "hit",
    )  # ... as the full command line does
    assert not (project / "src" / "pkg" / ".venv").exists()  # no second venv
    status = run_cli_here("status", "alpha-pkg", "--offline", "--find-links", str(wheelhouse), cwd=project / "src")
    assert (status.returncode, status.stdout) == (0, f"penvcache: hit {project / '.venv'}\n")


def test_a_venv_here_wins_over_a_parents_and_an_empty_parent_dot_venv_is_not_a_venv(
    tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a" / ".venv").mkdir(parents=True)  # not a venv (no pyvenv.cfg): not taken from below
    (tmp_path / "a" / "b" / ".venv").mkdir(parents=True)  # here: taken, whatever its state (empty: a miss fills it)
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert _ensured_venv(capsys, cli.main, _ensure_here(wheelhouse)) == (
        str(tmp_path / "a" / "b" / ".venv"),
        "installed",
    )
    (tmp_path / "a" / "b" / "c").mkdir()
    monkeypatch.chdir(tmp_path / "a" / "b" / "c")
    assert _ensured_venv(capsys, _fastpath.main, _ensure_here(wheelhouse)) == (
        str(tmp_path / "a" / "b" / ".venv"),
        "hit",
    )
    (tmp_path / "x" / "y").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "x" / "y")  # no .venv anywhere up: ./.venv
    assert _ensured_venv(capsys, cli.main, _ensure_here(wheelhouse)) == (
        str(tmp_path / "x" / "y" / ".venv"),
        "installed",
    )


def test_the_active_venv_is_used_and_penvcache_venv_wins_over_it(
    tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    active, chosen = tmp_path / "active", tmp_path / "chosen"
    assert cli.main(["ensure", "--venv", str(active), "--offline", "-q"]) == 0  # an existing venv, "activated"
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".venv").mkdir()  # loses to the active venv
    monkeypatch.setenv("VIRTUAL_ENV", str(active))
    assert _ensured_venv(capsys, cli.main, _ensure_here(wheelhouse)) == (str(active), "installed")
    assert _ensured_venv(capsys, _fastpath.main, _ensure_here(wheelhouse)) == (str(active), "hit")
    monkeypatch.setenv("PENVCACHE_VENV", str(chosen))
    assert _ensured_venv(capsys, cli.main, _ensure_here(wheelhouse)) == (str(chosen), "installed")
    assert os.listdir(tmp_path / ".venv") == []


def test_an_active_venv_that_is_not_a_venv_is_passed_over(
    tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "gone"))
    assert _ensured_venv(capsys, cli.main, _ensure_here(wheelhouse)) == (str(tmp_path / ".venv"), "installed")
    assert not (tmp_path / "gone").exists()


def test_the_discovery_keeps_the_fast_path_light(tmp_path: Path, wheelhouse: Path) -> None:
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    assert run_cli_here(*_ensure_here(wheelhouse), cwd=project).returncode == 0
    code = (
        "import sys\n"
        "before = set(sys.modules)  # what the interpreter (or coverage, in CI) loaded: not penvcache's doing\n"
        "from penvcache._fastpath import main\n"
        "code = main(sys.argv[1:])\n"
        "heavy = ['argparse', 'json', 'typing', 're']\n"
        "print([name for name in heavy if name in sys.modules and name not in before], code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *_ensure_here(wheelhouse)[:-1], "-q"],
        capture_output=True,
        text=True,
        cwd=project / "sub",
        env=_env(PYTHONPATH=str(ROOT)),
        check=True,
        timeout=120,
    )
    assert proc.stdout == "[] 0\n", proc.stderr


# -- a closed stdout, Ctrl-C ----------------------------------------------------------------------------------------


def _with_closed_stdout(*args: str) -> subprocess.CompletedProcess[str]:
    """``penvcache ARGS | head -0``: stdout is a pipe whose reader has already gone."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "penvcache", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            check=False,
            timeout=120,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize("command", ["explain", "status", "ensure", "ensure --json", "list", "stats", "help"])
def test_a_closed_stdout_ends_quietly(venv: Path, wheelhouse: Path, command: str) -> None:
    ensure = ["alpha-pkg", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse)]
    assert cli.main(["ensure", *ensure, "-q"]) == 0
    name, *flags = command.split()
    args = [name, *flags, *(ensure if name in ("explain", "status", "ensure") else [])]
    proc = _with_closed_stdout(*args)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_a_closed_stream_that_is_not_a_file_ends_the_output_too() -> None:
    """The library's output may go to any stream (a test's StringIO): no descriptor to silence, still no error."""
    import io

    from penvcache._output import write_line

    class Gone(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError

    gone = Gone()
    write_line("penvcache: hit", gone)
    write_line("penvcache: hit", gone)
    assert gone.getvalue() == ""


_CTRL_C_AT = """\
import os, signal, sys
event, what = sys.argv[1], sys.argv[2]

def hook(name, args):
    if name == event and what in str(args[:2]) and not getattr(hook, "fired", False):
        hook.fired = True  # audit hooks cannot be removed: this keeps it to one Ctrl-C
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered at this exact point

sys.addaudithook(hook)
if sys.argv[3] == "cli.main":  # the documented main(argv) -> int, as a program embedding the CLI calls it
    from penvcache.cli import main
    sys.exit(main(sys.argv[4:]))
from penvcache._fastpath import launch  # what the penvcache script and python -m penvcache run
sys.argv[1:] = sys.argv[4:]
launch()
"""


@pytest.mark.parametrize(
    ("entry", "event", "what", "args"),
    [
        ("launch", "import", "argparse", ["ensure", "--frobnicate"]),  # while the arguments are parsed
        ("launch", "import", "argparse", ["list"]),
        ("launch", "subprocess.Popen", "uv", ["ensure", "alpha-pkg", "--offline"]),  # while uv runs
        # main(argv) -> int, called by a program (penvcache.cli imports argparse itself, before main runs)
        ("cli.main", "subprocess.Popen", "uv", ["ensure", "alpha-pkg", "--offline"]),
    ],
)
def test_ctrl_c_anywhere_is_exit_130_without_a_traceback(
    venv: Path, wheelhouse: Path, entry: str, event: str, what: str, args: list[str]
) -> None:
    if args[0] == "ensure":
        args = [*args, "--venv", str(venv), "--find-links", str(wheelhouse)]
    proc = subprocess.run(
        [sys.executable, "-c", _CTRL_C_AT, event, what, entry, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
        start_new_session=True,
    )
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "KeyboardInterrupt" not in proc.stderr


# -- the API refuses one string where a list is expected ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("requirements", "six"),
        ("requirements", b"six"),
        ("deps_files", "deps.txt"),
        ("deps_files", Path("deps.txt")),
        ("find_links", "wheels"),
        ("salt", "build-42"),
        ("salt_files", Path("Dockerfile")),
        ("options", "--pre"),
    ],
)
@pytest.mark.parametrize("api", ["ensure", "use"])
def test_one_string_where_a_list_is_expected_is_a_type_error(
    venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: str, name: str, value: object
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").write_text("alpha-pkg\n")  # what deps_files="deps.txt" would have read
    call = getattr(penvcache, api)  # use() refuses when it is called, before its `with` block
    with pytest.raises(TypeError, match=rf"^{name} takes a list, not one \w+: write {name}=\[") as caught:
        call(venv, **{name: value})
    assert isinstance(caught.value, penvcache.InvalidArgumentType)
    assert isinstance(caught.value, penvcache.PenvcacheError)
    assert repr(value) in str(caught.value)
    assert not venv.exists()


def test_lists_and_other_iterables_are_still_fine(venv: Path, wheelhouse: Path) -> None:
    result = penvcache.ensure(venv, iter(["alpha-pkg"]), find_links=(wheelhouse,), offline=True, salt=("x",))
    assert result.status == "installed"
    with penvcache.use(venv, ["alpha-pkg"], find_links=[wheelhouse], offline=True, salt=["x"]) as used:
        assert used.status == "hit"


def test_a_python_uv_cannot_download_either_is_one_line_before_anything_starts(
    tmp_path: Path, venv: Path, mirror: tuple[str, list[str]]
) -> None:
    url, requests = mirror
    proc = _cli("ensure", "alpha-pkg", "--venv", str(venv), "--python", "3.99", env=_no_pythons(tmp_path, url))
    assert proc.returncode == 2
    line = _one_line(proc.stderr)  # no "creating venv" line first: nothing was started
    assert line.startswith("penvcache: error: --python 3.99: No interpreter found for Python 3.99")
    assert line.endswith(", and uv has no download for it")
    assert requests == []
    assert not venv.exists()


def test_no_python_downloads_does_not_keep_a_hit_from_the_fast_path(venv: Path, wheelhouse: Path) -> None:
    args = ["ensure", "alpha-pkg", "--venv", str(venv), "--offline", "--find-links", str(wheelhouse)]
    assert cli.main([*args, "-q"]) == 0
    assert _fastpath.parse_ensure([*args[1:], "--no-python-downloads"]) is not None
    assert _fastpath.main([*args, "--no-python-downloads", "-q"]) == 0
