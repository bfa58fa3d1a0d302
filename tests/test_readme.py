"""The README's console examples run, and print what the README says they print.

Every ```console block in README.md is preceded by a marker: ``<!-- readme: run scene=NAME -->`` runs it here,
``<!-- readme: skip: WHY -->`` says why it cannot run in a test (the package index, minutes of benchmarks).
A block of ``$ command`` lines and their output runs in one bash session, and each command's output (stdout and
stderr) must match the README's; a block of bare commands must exit 0. Each block runs in a fresh directory
(the README's ``/work``) with the scene's files, its own cache dir (``/home/me/.cache/penvcache``) and a local
wheelhouse standing in for the index (offline, ``UV_FIND_LINKS``, the README's ``/wheels``).

Matching ignores what differs from run to run: numbers (times, counts, inodes, dates, pids) and 12-digit hex
digests; ``...`` in the README matches anything, and a line that is only ``...`` matches any number of lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
_MARKER = re.compile(r"<!-- readme: (run scene=(?P<scene>[\w-]+)|skip: (?P<why>.+?)) -->")

SCENES: dict[str, dict[str, str]] = {
    "build": {
        "deps.txt": "alpha-pkg\n",
        "build.py": "import sys\nimport alpha_pkg\nprint('built', alpha_pkg.__version__, sys.argv[1:])\n",
    },
    "pytest": {
        "deps.txt": "alpha-pkg\n",
        "test_tool.py": (
            "import subprocess\n\n\n"
            "def test_tool_runs_in_the_deps_venv(penv):\n"
            "    subprocess.run([penv.python, '-c', 'import alpha_pkg'], check=True)\n"
        ),
    },
    "story": {
        "deps.txt": "-c cons.txt\nalpha-pkg\n",
        "cons.txt": "alpha-pkg<=1.5\n",
        "Dockerfile": "FROM python:3.11\n",
    },
}


def _blocks() -> list[tuple[int, str | None, str | None, str]]:
    """Each console block: its line in the README, its scene (or None), why it is skipped (or None), its text."""
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.strip() != "```console":
            continue
        end = lines.index("```", i + 1)
        marker = _MARKER.fullmatch(lines[i - 1].strip()) if i else None
        scene = marker.group("scene") if marker else None
        why = marker.group("why") if marker else None
        blocks.append((i + 1, scene, why, "\n".join(lines[i + 1 : end])))
    return blocks


def test_every_console_block_says_whether_it_runs() -> None:
    blocks = _blocks()
    assert blocks
    for line, scene, why, _ in blocks:
        assert scene or why, f"README.md:{line}: a console block without a <!-- readme: ... --> marker"
        assert scene is None or scene in SCENES, f"README.md:{line}: no scene {scene!r} in tests/test_readme.py"


def _normalise(text: str) -> str:
    text = re.sub(r"\b[0-9a-f]{12}\b", "<hex>", text)
    return re.sub(r"\d+(\.\d+)?", "<n>", text)


def _matches(expected: list[str], actual: list[str]) -> bool:
    """``actual`` lines match ``expected`` (already normalised), with ``...`` as a wildcard."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(_matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    pattern = ".*".join(re.escape(part) for part in expected[0].split("..."))
    return re.fullmatch(pattern, actual[0]) is not None and _matches(expected[1:], actual[1:])


_END = "@@readme-command-end@@"


def _run_block(text: str, work: Path, env: dict[str, str]) -> list[tuple[str, list[str], list[str]]]:
    """Run a ``$ command`` block in one bash session: each command, what the README shows, what it printed."""
    commands: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            commands[-1][1].append(line)
    script = ["exec 2>&1"]
    for command, _ in commands:
        script += [command, f"__rc=$?; echo {_END}; (exit $__rc)"]
    proc = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=work, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    outputs = proc.stdout.split(f"{_END}\n")
    assert len(outputs) == len(commands) + 1, proc.stdout
    return [(command, shown, outputs[i].splitlines()) for i, (command, shown) in enumerate(commands)]


def _environment(tmp_path: Path, wheelhouse: Path) -> tuple[Path, dict[str, str], dict[str, str]]:
    """The block's directory, environment, and what to write in place of this run's paths to read as the README."""
    work = tmp_path / "work"
    work.mkdir()
    cache = tmp_path / "cache"
    env = {**os.environ}
    env.pop("UV_DEFAULT_INDEX", None)  # offline below: nothing reaches an index
    env.update(
        PATH=os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")]),
        PENVCACHE_CACHE_DIR=str(cache),
        PENVCACHE_OFFLINE="1",
        UV_FIND_LINKS=str(wheelhouse),
        # a block's pytest without hypothesis's plugin: this suite's test dependency, not the reader's, it imports
        # hypothesis (a second of CPU) at the end of every session
        PYTEST_ADDOPTS="-p no:hypothesispytest",
    )
    python = os.path.realpath(sys.executable)
    readable = {str(work): "/work", str(cache): "/home/me/.cache/penvcache", python: "/usr/bin/python3.11"}
    readable[str(wheelhouse)] = "/wheels"
    readable[os.path.dirname(sys.executable) + os.sep] = "/usr/bin/"  # the venv's python, python3, python3.X
    return work, env, readable


_RUN = [(line, scene, text) for line, scene, why, text in _blocks() if scene]


@pytest.mark.parametrize(("line", "scene", "text"), _RUN, ids=[f"README.md:{line}" for line, _, _ in _RUN])
def test_console_example(tmp_path: Path, wheelhouse: Path, line: int, scene: str, text: str) -> None:
    work, env, readable = _environment(tmp_path, wheelhouse)
    for name, content in SCENES[scene].items():
        (work / name).write_text(content)
    if not any(row.startswith("$ ") for row in text.splitlines()):  # bare commands: each must succeed
        for command in text.splitlines():
            proc = subprocess.run(
                ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, check=False, timeout=600
            )
            assert proc.returncode == 0, f"README.md:{line}: {command}\n{proc.stdout}{proc.stderr}"
        return
    for command, shown, printed in _run_block(text, work, env):
        actual = [_normalise(_readable(row, readable)) for row in printed]
        expected = [_normalise(row) for row in shown]
        said = "\n".join(printed)
        assert _matches(expected, actual), f"README.md:{line}: `{command}` printed:\n{said}\nthe README shows:\n" + (
            "\n".join(shown)
        )


def _readable(row: str, readable: dict[str, str]) -> str:
    """``row`` with this run's paths written as the README writes them (the longest first)."""
    for path, name in sorted(readable.items(), key=lambda item: -len(item[0])):
        row = row.replace(path, name)
    return row
