"""The ``penvcache`` command line: ``main(argv) -> exit code``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from ._coordinator import run_ensure
from ._errors import PenvcacheError
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
    ensure.add_argument("requirements", nargs="*", metavar="REQ", help="a requirement, e.g. 'rich>=13'")
    ensure.add_argument("-r", "--deps", action="append", default=[], metavar="FILE", help="a pip-style deps file")
    ensure.add_argument(
        "--venv",
        default=os.environ.get("PENVCACHE_VENV") or ".venv",
        help="the venv (default: .venv or $PENVCACHE_VENV)",
    )
    ensure.add_argument(
        "--python", metavar="PY", help="interpreter for a new venv (default: the one running penvcache)"
    )
    ensure.add_argument("--offline", action="store_true", help="never touch the network")
    ensure.add_argument(
        "--find-links", action="append", default=[], metavar="DIR", help="a directory of wheels to install from"
    )
    ensure.add_argument(
        "--lock-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for another process (300)",
    )
    ensure.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where state and locks live (default: user cache dir or $PENVCACHE_CACHE_DIR)",
    )
    ensure.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    noise = ensure.add_mutually_exclusive_group()
    noise.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    noise.add_argument("-v", "--verbose", action="store_true", help="show uv's output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        result = run_ensure(
            args.venv,
            args.requirements,
            deps_files=args.deps,
            python=args.python,
            offline=args.offline,
            find_links=args.find_links,
            lock_timeout=args.lock_timeout,
            cache_dir=args.cache_dir,
            verbose=args.verbose,
        )
    except PenvcacheError as e:
        if args.json:
            print(json.dumps({"status": "error", "error": str(e), "exit_code": e.exit_code, "venv": args.venv}))
        print(f"penvcache: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(result.to_dict()))
    elif not args.quiet:
        print(f"penvcache: {result.status} {result.venv} ({result.fingerprint[:12]}) in {result.elapsed:.3f}s")
    return 0
