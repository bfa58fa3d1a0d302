"""The ``penvcache`` command line: ``main(argv) -> exit code``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

from ._coordinator import EnsureResult, InUse, prepare, run_ensure
from ._errors import InvalidInput, PenvcacheError
from ._fastpath import report
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
        "-e",
        "--editable",
        action="append",
        default=[],
        metavar="PATH",
        help="a local project directory to install editable; repeatable",
    )
    parser.add_argument(
        "--index-url", "--default-index", dest="index_url", metavar="URL", help="the index (uv's --default-index)"
    )
    parser.add_argument(
        "--extra-index-url",
        "--index",
        dest="extra_index_url",
        action="append",
        default=[],
        metavar="URL",
        help="another index, before the default one (uv's --index); repeatable",
    )
    parser.add_argument("--no-index", action="store_true", help="use no index: only --find-links and local paths")
    parser.add_argument("--pre", action="store_true", help="allow pre-releases (uv's --prerelease allow)")
    parser.add_argument(
        "--prerelease",
        choices=("disallow", "allow", "if-necessary", "explicit", "if-necessary-or-explicit"),
        help="uv's pre-release strategy",
    )
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="NAME",
        help="also a pyproject.toml deps file's optional dependencies NAME; repeatable",
    )
    parser.add_argument("--all-extras", action="store_true", help="every extra of the pyproject.toml deps files")
    parser.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="NAME",
        help="also a pyproject.toml deps file's dependency group NAME (PEP 735); repeatable",
    )
    parser.add_argument(
        "--project",
        action="append",
        default=[],
        metavar="DIR",
        help="a project: its pyproject.toml's dependencies (with --extra/--group) and the project itself",
    )
    parser.add_argument("--no-editable", action="store_true", help="install --project non-editable")
    parser.add_argument(
        "--exact", action="store_true", help="remove what the set does not need, as uv's --exact (part of the key)"
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
    parser.add_argument(
        "--store",
        action="append",
        default=[],
        metavar="URL",
        help="a shared store (file://, s3://, gs://, az://, https:// WebDAV, or a directory) a miss installs from "
        "and publishes to; repeatable, in order (default: $PENVCACHE_STORE)",
    )
    parser.add_argument(
        "--store-readonly",
        "--no-store-write",
        dest="store_readonly",
        action="store_true",
        help="read the stores, never publish (for untrusted jobs)",
    )
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
        "store": args.store,
        "store_write": not args.store_readonly,
        "options": option_lines(args),
    }


def option_lines(args: argparse.Namespace) -> list[str]:
    """The uv options given on the command line, as the option lines :func:`penvcache.ensure` takes."""
    lines = [f"--editable {path}" for path in args.editable]
    lines += [f"--index-url {args.index_url}"] if args.index_url else []
    lines += [f"--extra-index-url {url}" for url in args.extra_index_url]
    lines += [f"--prerelease {args.prerelease}"] if args.prerelease else []
    lines += [f"--extra {name}" for name in args.extra]
    lines += [f"--group {name}" for name in args.group]
    lines += [f"--project {path}" for path in args.project]
    flags = ("--no-index", "--pre", "--all-extras", "--no-editable", "--exact")
    lines += [flag for flag in flags if getattr(args, flag[2:].replace("-", "_"))]
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="penvcache", description="Keep a virtual environment's dependencies installed, cheaply.")
    parser.add_argument("--version", action="version", version=f"penvcache {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    ensure = commands.add_parser("ensure", help="make sure a venv holds the dependencies (install on a miss)")
    add_ensure_options(ensure)
    ensure.add_argument(
        "--require-hit", action="store_true", help="on a miss, exit 5 with the reason and install nothing"
    )
    run = commands.add_parser(
        "run",
        help="ensure, then run a command with the venv activated, keeping the venv unchanged while it runs",
        usage="penvcache run [ensure options] -- CMD [ARG ...]",
    )
    add_ensure_options(run)
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
    bundle = commands.add_parser(
        "bundle", help="ensure the venv, then write its store entry (wheels + pylock.toml) into a directory"
    )
    add_ensure_options(bundle)
    bundle.add_argument("--out", required=True, metavar="DIR", help="the bundle directory (a file:// store)")
    store = commands.add_parser("store", help="look after a shared store: list, show KEY, gc")
    store.add_argument("action", choices=["list", "show", "gc"])
    store.add_argument("key", nargs="?", help="the portable key (show)")
    store.add_argument(
        "--store", action="append", default=[], metavar="URL", help="the store (default: $PENVCACHE_STORE)"
    )
    store.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    to_run: list[str] = []
    if argv[:1] == ["run"]:  # run's own options end at "--"; what follows is the command
        split = argv.index("--") if "--" in argv else len(argv)
        argv, to_run = argv[:split], argv[split + 1 :]
    args = _parser().parse_args(argv)
    if args.command == "run":
        args.to_run = to_run
        if not to_run:
            _Parser(prog="penvcache run").error("give the command to run after --, e.g. penvcache run -- pytest")
    command: Callable[[argparse.Namespace], int] = _COMMANDS[args.command]
    try:
        return command(args)
    except PenvcacheError as e:
        if args.json:
            out = {"status": "error", "error": str(e), "exit_code": e.exit_code}
            if isinstance(getattr(args, "venv", None), str):
                out["venv"] = os.path.abspath(args.venv)
            print(json.dumps(out), file=sys.stderr if args.command == "run" else sys.stdout)
        print(f"penvcache: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


def _ensure(args: argparse.Namespace) -> int:
    result = run_ensure(
        args.venv, args.requirements, **ensure_kwargs(args), require_hit=args.require_hit, verbose=args.verbose
    )
    _report(result, args, sys.stdout)
    return 0


def _report(result: EnsureResult, args: argparse.Namespace, out: TextIO) -> None:
    report(result, as_json=args.json, quiet=args.quiet, out=out)


def _run(args: argparse.Namespace) -> int:
    """Ensure, then run the command with the venv activated while holding the venv's shared lock."""
    with InUse(args.venv, tuple(args.requirements), **ensure_kwargs(args), verbose=args.verbose) as result:
        _report(result, args, sys.stderr)  # stdout belongs to the command
        return _run_activated(args.to_run, result.venv)


def _run_activated(command: list[str], venv: str) -> int:
    """Run ``command`` with ``venv`` activated; its exit code (128 + N when killed by signal N)."""
    import subprocess

    env = dict(os.environ, VIRTUAL_ENV=venv, PATH=os.pathsep.join([_bin_dir(venv), os.environ.get("PATH", "")]))
    env.pop("PYTHONHOME", None)
    try:
        proc = subprocess.Popen(command, env=env)
    except OSError as e:
        print(f"penvcache: error: cannot run {command[0]}: {e.strerror or e}", file=sys.stderr)
        return 127 if isinstance(e, FileNotFoundError) else 126
    # Stopped by a CI cancel or `timeout`: pass it on and keep holding the venv until the command has ended.
    forward = {signum: signal.signal(signum, lambda n, _: proc.send_signal(n)) for signum in _FORWARDED}
    try:
        while True:
            try:
                code = proc.wait()
            except KeyboardInterrupt:  # the command got the same Ctrl-C; let it decide when to stop
                continue
            return 128 - code if code < 0 else code
    finally:
        for signum, handler in forward.items():
            signal.signal(signum, handler)


_FORWARDED = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]


def _bin_dir(venv: str) -> str:
    return os.path.join(venv, "Scripts" if sys.platform == "win32" else "bin")


def _check(args: argparse.Namespace, *, probe: bool, quick: bool = False) -> Any:
    from ._explain import explain

    target, inputs, _, directory = prepare(
        args.venv,
        args.requirements,
        args.deps,
        args.python,
        args.offline,
        args.find_links,
        args.cache_dir,
        args.salt,
        args.salt_file,
        option_lines(args),
    )
    return explain(inputs, target, directory, probe=probe, quick=quick)


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
    for note in check.notes:
        print(f"  note: {note}")
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
    from ._state import check_owned, default_cache_dir

    cache = os.path.abspath(args.cache_dir) if args.cache_dir else default_cache_dir()
    check_owned(cache)  # another user's, or one others may write: refused before a file in it is read
    return cache


def _stats(args: argparse.Namespace) -> int:
    from . import _stats as stats

    cache = _cache_dir(args)
    counts = stats.summary(cache)
    if args.zero:
        try:
            stats.zero(cache)
        except PenvcacheError:
            raise
        except OSError as e:  # a full disk is exit 1, a file in the way exit 2
            from ._state import fault

            raise fault(cache, e, "cannot reset the stats in") from e
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


def _bundle(args: argparse.Namespace) -> int:
    """Ensure the venv, then publish its entry into ``--out`` (whatever the ensure's outcome)."""
    from . import _state
    from ._installer import uv_bin
    from ._store import Level, StoreUnusable, build_entry, portable_key, publish, target

    kwargs = ensure_kwargs(args)
    kwargs["store"], kwargs["store_write"] = [], False
    result = run_ensure(args.venv, args.requirements, **kwargs, verbose=args.verbose)
    _, inputs, _, directory = prepare(
        args.venv,
        args.requirements,
        args.deps,
        args.python,
        args.offline,
        args.find_links,
        args.cache_dir,
        args.salt,
        args.salt_file,
        option_lines(args),
    )
    from ._coordinator import parse
    from ._store import _sources, portable

    deps = parse(inputs)
    why_not = portable(deps)
    state = _state.read(directory)
    if why_not is not None or state is None:
        msg = f"cannot bundle {result.venv}: {why_not or 'nothing recorded'}"
        raise InvalidInput(msg)
    try:
        indexes, resolve, build = _sources(deps, inputs)
        key = portable_key(state["components"], indexes, target(result.python))
        import tempfile

        with tempfile.TemporaryDirectory(prefix="penvcache-bundle-") as work:
            pylock, packages, blobs = build_entry(
                result.python, [uv_bin(), "pip", "compile", *resolve], [str(r) for r in deps.requirements], build, work
            )
            level = Level("file://" + os.path.abspath(args.out))
            new = publish(level, key, pylock, packages, blobs)
    except StoreUnusable as e:
        from ._errors import InstallFailed

        msg = f"cannot bundle {result.venv}: {e}"
        raise InstallFailed(msg) from e
    if args.json:
        print(json.dumps({"status": "written" if new else "present", "key": key, "out": os.path.abspath(args.out)}))
    elif not args.quiet:
        what = "wrote" if new else "already holds"
        print(f"penvcache: {args.out} {what} entry {key[:12]} ({len(packages)} packages)")
    return 0


def _store(args: argparse.Namespace) -> int:
    from ._store import Level, entries, gc, store_urls

    urls = store_urls(args.store)
    if len(urls) != 1:
        msg = "give exactly one --store URL (or set PENVCACHE_STORE to one)"
        raise InvalidInput(msg)
    level = Level(urls[0])
    if args.action == "list":
        found = entries(level)
        if args.json:
            print(json.dumps({"store": level.shown, "entries": found}))
        for entry in [] if args.json else found:
            names = ", ".join(f"{p['name']}=={p['version']}" for p in entry.get("packages", []))
            print(f"{entry['key'][:16]}  {entry.get('problem') or names}")
        return 0
    if args.action == "show":
        if not args.key:
            msg = "store show needs a KEY (see penvcache store list)"
            raise InvalidInput(msg)
        matches = [e for e in entries(level) if e["key"].startswith(args.key)]
        if len(matches) != 1:
            msg = f"{args.key!r} names {len(matches)} entries of {level.shown}, not one"
            raise InvalidInput(msg)
        print(json.dumps(matches[0], indent=None if args.json else 1))
        return 0
    deleted = gc(level)
    if args.json:
        print(json.dumps({"store": level.shown, "deleted": deleted}))
    else:
        print(f"penvcache: {level.shown}: deleted {len(deleted)} unreferenced blob{'' if len(deleted) == 1 else 's'}")
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "bundle": _bundle,
    "store": _store,
    "ensure": _ensure,
    "run": _run,
    "explain": _explain,
    "status": _status,
    "stats": _stats,
    "list": _list,
    "clear": _clear,
}
