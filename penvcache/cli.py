"""The ``penvcache`` command line: ``main(argv) -> exit code``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from ._coordinator import EnsureResult, run_ensure
from ._errors import PenvcacheError
from ._fastpath import report
from .version import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line on stderr, exit 2 (bad input), as for every other bad input."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="penvcache", description="Keep a virtual environment's dependencies installed, cheaply.")
    parser.add_argument("--version", action="version", version=f"penvcache {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    ensure = commands.add_parser("ensure", help="make sure a venv holds the dependencies (install on a miss)")
    _add_ensure_options(ensure)
    run = commands.add_parser(
        "run",
        help="ensure, then run a command with the venv activated, keeping the venv unchanged while it runs",
        usage="penvcache run [ensure options] -- CMD [ARG ...]",
    )
    _add_ensure_options(run)
    return parser


def _add_ensure_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("requirements", nargs="*", metavar="REQ", help="a requirement, e.g. 'rich>=13'")
    parser.add_argument("-r", "--deps", action="append", default=[], metavar="FILE", help="a pip-style deps file")
    parser.add_argument(
        "--venv",
        default=os.environ.get("PENVCACHE_VENV") or ".venv",
        help="the venv (default: .venv or $PENVCACHE_VENV)",
    )
    parser.add_argument(
        "--python", metavar="PY", help="interpreter for a new venv (default: the one running penvcache)"
    )
    parser.add_argument("--offline", action="store_true", help="never touch the network")
    parser.add_argument(
        "--find-links", action="append", default=[], metavar="DIR", help="a directory of wheels to install from"
    )
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for another process (300)",
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where state and locks live (default: user cache dir or $PENVCACHE_CACHE_DIR)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    noise.add_argument("-v", "--verbose", action="store_true", help="show uv's output")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if argv[:1] == ["run"]:
        if "--" not in argv:
            _parser().parse_args(["run", "--help"] if "-h" in argv or "--help" in argv else argv)
            _Parser(prog="penvcache run").error("give the command to run after --, e.g. penvcache run -- pytest")
        split = argv.index("--")
        argv, command = argv[:split], argv[split + 1 :]
        if not command:
            _Parser(prog="penvcache run").error("give the command to run after --, e.g. penvcache run -- pytest")
    args = _parser().parse_args(argv)
    options = {
        "deps_files": args.deps,
        "python": args.python,
        "offline": args.offline,
        "find_links": args.find_links,
        "lock_timeout": args.lock_timeout,
        "cache_dir": args.cache_dir,
        "verbose": args.verbose,
    }
    report = sys.stderr if command else sys.stdout  # `run` leaves stdout to the command
    try:
        if command:
            from ._coordinator import InUse

            with InUse(args.venv, tuple(args.requirements), **options) as result:
                _report(result, args, report)
                return _run(command, result.venv)
        result = run_ensure(args.venv, args.requirements, **options)
    except PenvcacheError as e:
        if args.json:
            error = {"status": "error", "error": str(e), "exit_code": e.exit_code, "venv": args.venv}
            print(json.dumps(error), file=report)
        print(f"penvcache: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    _report(result, args, report)
    return 0


def _report(result: EnsureResult, args: argparse.Namespace, out: TextIO) -> None:
    report(result, as_json=args.json, quiet=args.quiet, out=out)


def _run(command: list[str], venv: str) -> int:
    """Run ``command`` with ``venv`` activated; its exit code (128 + N when killed by signal N)."""
    import subprocess

    env = dict(os.environ, VIRTUAL_ENV=venv, PATH=os.pathsep.join([_bin_dir(venv), os.environ.get("PATH", "")]))
    env.pop("PYTHONHOME", None)
    try:
        proc = subprocess.Popen(command, env=env)
    except OSError as e:
        print(f"penvcache: error: cannot run {command[0]}: {e.strerror or e}", file=sys.stderr)
        return 127 if isinstance(e, FileNotFoundError) else 126
    while True:
        try:
            code = proc.wait()
        except KeyboardInterrupt:  # the command got the same Ctrl-C; let it decide when to stop
            continue
        return 128 - code if code < 0 else code


def _bin_dir(venv: str) -> str:
    return os.path.join(venv, "Scripts" if sys.platform == "win32" else "bin")
