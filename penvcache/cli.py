"""The ``penvcache`` command line: ``main(argv) -> exit code``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ._coordinator import cache_entry, make_inputs, run_ensure
from ._errors import InvalidInput, PenvcacheError
from ._venv import Venv
from .version import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line on stderr, exit 2 (bad input), as for every other bad input."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_cache_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where state and locks live (default: user cache dir or $PENVCACHE_CACHE_DIR)",
    )


def add_ensure_options(parser: argparse.ArgumentParser) -> None:
    """The options that say what a venv must hold, shared by every command that checks or ensures one."""
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
        "--salt", action="append", default=[], metavar="TEXT", help="extra text for the key; repeatable"
    )
    parser.add_argument(
        "--salt-file", action="append", default=[], metavar="FILE", help="a file whose content is in the key"
    )
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for another process (300)",
    )
    add_cache_dir_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    noise.add_argument("-v", "--verbose", action="store_true", help="show uv's output")


def ensure_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`penvcache.ensure` that :func:`add_ensure_options` parsed."""
    return {
        "deps_files": args.deps,
        "python": args.python,
        "offline": args.offline,
        "find_links": args.find_links,
        "lock_timeout": args.lock_timeout,
        "cache_dir": args.cache_dir,
        "salt": args.salt,
        "salt_files": args.salt_file,
    }


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="penvcache", description="Keep a virtual environment's dependencies installed, cheaply.")
    parser.add_argument("--version", action="version", version=f"penvcache {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    ensure = commands.add_parser("ensure", help="make sure a venv holds the dependencies (install on a miss)")
    add_ensure_options(ensure)
    ensure.add_argument(
        "--require-hit", action="store_true", help="on a miss, exit 5 with the reason and install nothing"
    )
    explain = commands.add_parser("explain", help="show the key's components and why a call would miss")
    add_ensure_options(explain)
    status = commands.add_parser("status", help="exit 0 on a hit, 1 on a miss; installs nothing")
    add_ensure_options(status)
    stats = commands.add_parser("stats", help="counts of hits, misses, installs, lock waits... for the cache dir")
    add_cache_dir_option(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    stats.add_argument("--zero", action="store_true", help="reset the counts (after printing them)")
    listing = commands.add_parser("list", help="the venvs the cache dir knows")
    add_cache_dir_option(listing)
    listing.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    clear = commands.add_parser("clear", help="forget venvs (never deletes one)")
    add_cache_dir_option(clear)
    which = clear.add_mutually_exclusive_group(required=True)
    which.add_argument("--venv", metavar="PATH", help="forget this venv")
    which.add_argument("--stale", action="store_true", help="forget the venvs that no longer exist")
    which.add_argument("--all", action="store_true", help="forget every venv")
    clear.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    clear.add_argument("--lock-timeout", type=float, default=300.0, metavar="SECONDS", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = _COMMANDS[args.command]
    try:
        return command(args)
    except PenvcacheError as e:
        if args.json:
            out = {"status": "error", "error": str(e), "exit_code": e.exit_code}
            if isinstance(getattr(args, "venv", None), str):
                out["venv"] = args.venv
            print(json.dumps(out))
        print(f"penvcache: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


def _ensure(args: argparse.Namespace) -> int:
    result = run_ensure(
        args.venv, args.requirements, **ensure_kwargs(args), require_hit=args.require_hit, verbose=args.verbose
    )
    if args.json:
        print(json.dumps(result.to_dict()))
    elif not args.quiet:
        print(f"penvcache: {result.status} {result.venv} ({result.fingerprint[:12]}) in {result.elapsed:.3f}s")
    return 0


def _check(args: argparse.Namespace, *, probe: bool, quick: bool = False) -> Any:
    from ._explain import explain

    kwargs = ensure_kwargs(args)
    target = Venv(args.venv)
    target.check_path()
    kwargs.pop("lock_timeout")
    kwargs.pop("cache_dir")
    inputs = make_inputs(args.requirements, **kwargs)
    return explain(inputs, target, cache_entry(args.cache_dir, target)[1], probe=probe, quick=quick)


def _explain(args: argparse.Namespace) -> int:
    check = _check(args, probe=True)
    if args.json:
        print(json.dumps(check.to_dict()))
        return 0
    print(f"penvcache: {'hit' if check.hit else 'miss'} {check.venv.path}")
    for name, component in check.components().items():
        value = "unknown" if component["value"] is None else component["value"][:12] or "-"
        short = "" if value == component["detail"] else f"  [{value}]"
        mark = "  (changed)" if component["changed"] else ""
        print(f"  {name:<13} {component['detail']}{short}{mark}")
    for reason in check.reasons:
        print(f"  why: {reason}")
    return 0


def _status(args: argparse.Namespace) -> int:
    check = _check(args, probe=False, quick=True)
    if args.json:
        print(json.dumps({"status": "hit" if check.hit else "miss", "venv": check.venv.path, "reasons": check.reasons}))
    elif not args.quiet:
        why = "" if check.hit else ": " + "; ".join(check.reasons)
        print(f"penvcache: {'hit' if check.hit else 'miss'} {check.venv.path}{why}")
    return 0 if check.hit else 1


def _cache_dir(args: argparse.Namespace) -> str:
    from ._state import default_cache_dir

    return os.path.abspath(args.cache_dir) if args.cache_dir else default_cache_dir()


def _stats(args: argparse.Namespace) -> int:
    from . import _stats as stats

    cache = _cache_dir(args)
    counts = stats.summary(cache)
    if args.zero:
        try:
            stats.zero(cache)
        except OSError as e:
            msg = f"cannot reset the stats in {cache}: {e.strerror or e}"
            raise InvalidInput(msg) from e
    if args.json:
        print(json.dumps({"cache_dir": cache, **counts, "zeroed": args.zero}))
        return 0
    print(
        f"penvcache: {cache}: {counts['hits']} hits, {counts['misses']} misses, {counts['installs']} installs "
        f"({counts['install_seconds']:.1f}s), {counts['adoptions']} adoptions, {counts['failures']} failures, "
        f"{counts['lock_waits']} lock waits ({counts['lock_wait_seconds']:.1f}s, "
        f"longest {counts['longest_lock_wait']:.1f}s)" + ("; now zeroed" if args.zero else "")
    )
    return 0


def _entries(cache: str) -> list[dict[str, Any]]:
    from ._state import entries

    return [
        {
            "venv": info["venv"],
            "status": info.get("status", "unknown"),
            "when": info["when"],
            "exists": os.path.isfile(os.path.join(info["venv"], "pyvenv.cfg")),
            "entry": directory,
        }
        for directory, info in entries(cache)
    ]


def _list(args: argparse.Namespace) -> int:
    cache = _cache_dir(args)
    rows = _entries(cache)
    if args.json:
        print(json.dumps({"cache_dir": cache, "venvs": rows}))
        return 0
    if not rows:
        print(f"penvcache: {cache} knows no venvs")
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["when"]))
        gone = "" if row["exists"] else "  (gone)"
        print(f"{row['status']:<9} {when}  {row['venv']}{gone}")
    return 0


def _clear(args: argparse.Namespace) -> int:
    from ._locking import VenvLock
    from ._state import forget

    cache = _cache_dir(args)
    rows = _entries(cache)
    if args.venv:
        target = Venv(args.venv).path
        rows = [row for row in rows if row["venv"] == target]
    elif args.stale:
        rows = [row for row in rows if not row["exists"]]
    for row in rows:
        with VenvLock(row["entry"], row["venv"], args.lock_timeout):
            forget(row["entry"])
    forgotten = [row["venv"] for row in rows]
    if args.json:
        print(json.dumps({"cache_dir": cache, "forgotten": forgotten}))
    else:
        print(f"penvcache: forgot {len(forgotten)} venv{'' if len(forgotten) == 1 else 's'}")
        for venv in forgotten:
            print(f"  {venv}")
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "ensure": _ensure,
    "explain": _explain,
    "status": _status,
    "stats": _stats,
    "list": _list,
    "clear": _clear,
}
