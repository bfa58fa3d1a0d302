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

from ._coordinator import InUse, run_ensure
from ._discovery import default_venv
from ._errors import InvalidInput, PenvcacheError
from ._hit import EnsureResult
from ._output import write_line
from ._report import report, report_error
from ._request import Request, prepare
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
        help="the venv (default: $PENVCACHE_VENV, the active $VIRTUAL_ENV, .venv here or in a parent, else ./.venv)",
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
    parser.add_argument(
        "--skip-import",
        action="append",
        default=[],
        metavar="NAME",
        help="a module (or distribution) validation does not import; still checks its version and files; repeatable",
    )
    parser.add_argument(
        "--validate-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long validation may take before the probe is killed (300)",
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
    parser.add_argument(
        "--no-python-downloads",
        action="store_true",
        help="never download a managed Python for --python (also UV_PYTHON_DOWNLOADS=never; offline never does)",
    )


def add_retry_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retry",
        action="store_true",
        help="install and validate again even though this same set failed validation after an install",
    )


def ensure_request(args: argparse.Namespace) -> Request:
    """The request that :func:`add_ensure_options` parsed (with ``--retry``, ``--require-hit``, ``-v``, where the
    command has them); what a miss shows is :func:`_miss_output`'s."""
    return Request(
        args.venv,
        args.requirements,
        deps_files=args.deps,
        python=args.python,
        offline=args.offline,
        find_links=args.find_links,
        lock_timeout=args.lock_timeout,
        cache_dir=args.cache_dir,
        salt=args.salt,
        salt_files=args.salt_file,
        options=option_lines(args),
        require_hit=getattr(args, "require_hit", False),
        retry=getattr(args, "retry", False),
        store=args.store,
        store_write=not args.store_readonly,
        skip_imports=args.skip_import,
        validate_timeout=args.validate_timeout,
        verbose=args.verbose,
    )


def option_lines(args: argparse.Namespace) -> list[str]:
    """The uv options given on the command line, as the option lines :func:`penvcache.ensure` takes."""
    lines = [f"--editable {path}" for path in args.editable]
    lines += [f"--index-url {args.index_url}"] if args.index_url is not None else []  # "": bad input
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
    parser.add_argument("-V", "--version", action="version", version=f"penvcache {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    ensure = commands.add_parser("ensure", help="make sure a venv holds the dependencies (install on a miss)")
    add_ensure_options(ensure)
    ensure.add_argument(
        "--require-hit", action="store_true", help="on a miss, exit 5 with the reason and install nothing"
    )
    add_retry_option(ensure)
    run = commands.add_parser(
        "run",
        help="ensure, then run a command with the venv activated, keeping the venv unchanged while it runs",
        usage="penvcache run [ensure options] -- CMD [ARG ...]",
    )
    add_ensure_options(run)
    add_retry_option(run)
    explain = commands.add_parser("explain", help="show the key's components and why a call would miss")
    add_ensure_options(explain)
    verify = commands.add_parser(
        "verify", help="check every RECORD hash of the set's whole closure in the venv; exit 1 on any mismatch"
    )
    add_ensure_options(verify)
    verify.add_argument(
        "--repair", action="store_true", help="reinstall the distributions that fail, fetched and unpacked anew"
    )
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
        "bundle",
        help="ensure the venv, then write its store entry (wheels + pylock.toml) into a directory; or, with "
        "--python-platform, the entry for another machine",
    )
    add_ensure_options(bundle)
    bundle.add_argument("--out", required=True, metavar="DIR", help="the bundle directory (a file:// store)")
    bundle.add_argument(
        "--python-platform",
        metavar="PLATFORM",
        help="bundle for another machine, as uv names it (e.g. aarch64-manylinux_2_28); needs --python-version",
    )
    bundle.add_argument("--python-version", metavar="X.Y", help="the other machine's Python (with --python-platform)")
    store = commands.add_parser("store", help="look after a shared store: list, show KEY, gc")
    store.add_argument("action", choices=["list", "show", "gc"])
    store.add_argument("key", nargs="?", help="the portable key (show)")
    store.add_argument(
        "--store", action="append", default=[], metavar="URL", help="the store (default: $PENVCACHE_STORE)"
    )
    store.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    helping = commands.add_parser("help", help="show the help of penvcache or of one command")
    helping.add_argument("topic", nargs="?", metavar="COMMAND", help="the command to show the help of")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line, from its arguments to its exit code; Ctrl-C anywhere is 130, without a traceback."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        return 130


def _main(argv: list[str]) -> int:
    parser = _parser()
    if not argv:  # as `penvcache help`
        return _help(parser, None)
    to_run: list[str] = []
    if argv[0] == "run" and not _wants_help(argv):  # run's own options end at "--"; what follows is the command
        if "--" not in argv:
            _Parser(prog="penvcache run").error(_missing_dashes(parser, argv[1:]))
        split = argv.index("--")
        argv, to_run = argv[:split], argv[split + 1 :]
    args = parser.parse_args(argv)
    if args.command == "help":
        return _help(parser, args.topic)
    if args.command in _ENSURING and args.venv is None:
        args.venv = default_venv()
    if args.command == "run":
        args.to_run = to_run
        if not to_run:
            _Parser(prog="penvcache run").error("give the command to run after --, e.g. penvcache run -- pytest")
    command: Callable[[argparse.Namespace], int] = _COMMANDS[args.command]
    try:
        return command(args)
    except PenvcacheError as e:
        out = sys.stderr if args.command == "run" else sys.stdout
        return report_error(e, as_json=args.json, venv=getattr(args, "venv", None), out=out)


_ENSURING = ("ensure", "run", "explain", "status", "bundle")  # the commands whose --venv has a default


def _help(parser: argparse.ArgumentParser, topic: str | None) -> int:
    """``penvcache help [COMMAND]``: the help on stdout, exit 0; an unknown command is a usage error (exit 2)."""
    if topic is None:
        write_line(parser.format_help().rstrip("\n"), sys.stdout)
        return 0
    choices = _subparsers(parser)
    if topic not in choices:
        known = ", ".join(repr(name) for name in choices)
        _Parser(prog="penvcache").error(f"help: unknown command {topic!r} (choose from {known})")
    write_line(choices[topic].format_help().rstrip("\n"), sys.stdout)
    return 0


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    # argparse keeps its subparsers there, and nowhere public; _parser() always adds them
    (action,) = (action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return dict(action.choices)


def _wants_help(argv: list[str]) -> bool:
    """``-h``/``--help`` among ``run``'s own options (before ``--``)."""
    own = argv[: argv.index("--")] if "--" in argv else argv
    return "-h" in own or "--help" in own


def _missing_dashes(parser: argparse.ArgumentParser, args: list[str]) -> str:
    """The error for ``penvcache run ARGS`` without ``--``, with the command line that would work."""
    import shlex

    takes_value = {
        option
        for action in _subparsers(parser)["run"]._actions
        if action.nargs != 0
        for option in action.option_strings
    }
    options = {option for action in _subparsers(parser)["run"]._actions for option in action.option_strings}
    i = 0
    while i < len(args):  # the command starts at the first word that is neither an option nor an option's value
        arg = args[i]
        if not arg.startswith("-") or arg == "-":
            break
        i += 2 if arg in takes_value else 1
    if i >= len(args) or any(arg.partition("=")[0] in options for arg in args[i:]):  # REQs, then run's options
        return "give the command to run after --, e.g. penvcache run -- pytest"
    fixed = shlex.join(["penvcache", "run", *args[:i], "--", *args[i:]])
    return f"give the command to run after --: {fixed} (without --, {args[i]!r} would be taken for a requirement)"


def _ensure(args: argparse.Namespace) -> int:
    result = run_ensure(ensure_request(args).copy(**_miss_output(args)))
    if not args.quiet and _nothing_to_ensure(args):  # once it worked: an error is the one line that matters then
        write_line(
            "penvcache: warning: nothing to ensure (no REQ, -r, -e or --project): only the venv is made or checked",
            sys.stderr,
        )
    _report(result, args, sys.stdout)
    return 0


def _nothing_to_ensure(args: argparse.Namespace) -> bool:
    """No requirement, no file or project of them: the call can only make or check an empty venv (a likely mistake)."""
    return not args.requirements and not args.deps and not args.editable and not args.project


def _miss_output(args: argparse.Namespace) -> dict[str, Any]:
    """What a miss shows on stderr (each step, uv's display on a terminal) and whether a Python may be downloaded."""
    return {"progress": not args.quiet, "python_downloads": not args.no_python_downloads}


def _report(result: EnsureResult, args: argparse.Namespace, out: TextIO) -> None:
    report(result, as_json=args.json, quiet=args.quiet, out=out)


def _run(args: argparse.Namespace) -> int:
    """Ensure, then run the command with the venv activated while holding the venv's shared lock."""
    with InUse(ensure_request(args).copy(**_miss_output(args))) as result:
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
        write_line(f"penvcache: error: cannot run {command[0]}: {e.strerror or e}", sys.stderr)
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

    target, inputs, _, directory = prepare(ensure_request(args))
    return explain(inputs, target, directory, probe=probe, quick=quick, validate_timeout=args.validate_timeout)


def _explain(args: argparse.Namespace) -> int:
    check = _check(args, probe=True)
    if args.json:
        write_line(json.dumps(check.to_dict()), sys.stdout)
        return 0
    write_line(f"penvcache: {'hit' if check.hit else 'miss'} {check.venv.path}", sys.stdout)
    for name, component in check.components().items():
        value = "unknown" if component["value"] is None else component["value"][:12] or "-"
        short = "" if value == component["detail"] else f"  [{value}]"
        mark = "  (changed)" if component["changed"] else ""
        write_line(f"  {name:<13} {component['detail']}{short}{mark}", sys.stdout)
    portable, what = check.portable
    write_line(f"  portable: {portable[:12] if portable else 'none'} ({what})", sys.stdout)
    for reason in check.reasons:
        write_line(f"  why: {reason}", sys.stdout)
    for warning in check.warnings():
        write_line(f"  warning: {warning}", sys.stdout)
    for note in check.notes:
        write_line(f"  note: {note}", sys.stdout)
    return 0


def _status(args: argparse.Namespace) -> int:
    check = _check(args, probe=False, quick=True)
    if args.json:
        out = {"status": "hit" if check.hit else "miss", "venv": check.venv.path, "reasons": check.reasons}
        write_line(json.dumps(out), sys.stdout)
    elif not args.quiet:
        why = "" if check.hit else ": " + "; ".join(check.reasons)
        write_line(f"penvcache: {'hit' if check.hit else 'miss'} {check.venv.path}{why}", sys.stdout)
    return 0 if check.hit else 1


def _verify(args: argparse.Namespace) -> int:
    """Check every RECORD hash of the closure; with --repair, reinstall what fails afresh and check again."""
    from ._key import parse
    from ._locking import VenvLock
    from ._verify import repair, verify

    # --skip-import has no bearing on verify (it checks files, not imports): not read, as before
    target, inputs, _, directory = prepare(ensure_request(args).copy(skip_imports=()))
    deps = parse(inputs)  # with UV_OVERRIDE and UV_EXCLUDE: the closure as uv installs it
    with VenvLock(directory, target.path, args.lock_timeout) as lock:  # no install changes it while it is read
        found = verify(target, deps)
        before, repaired = found, found.failed
        if args.repair and repaired:
            if not args.json and not args.quiet:
                _print_mismatches(found)
                print(
                    f"penvcache: repairing {', '.join(repaired)}: reinstalling, fetched anew (uv --no-cache); uv's "
                    f"cache may still hold the damaged files (uv hardlinks them): `uv cache clean {' '.join(repaired)}`"
                )
            lock.exclude_users()
            repair(
                target,
                deps,
                repaired,
                find_links=list(inputs.find_links),
                offline=inputs.offline,
                verbose=args.verbose,
            )
            found = verify(target, deps)
    if args.json:
        out = found.to_dict()
        if args.repair:
            out["repaired"] = repaired
            out["mismatches_before"] = before.mismatches
            if repaired and found.clean:
                out["status"] = "repaired"
        print(json.dumps(out))
    else:
        if not args.quiet or not found.clean:
            _print_mismatches(found)
        if not args.quiet or not found.clean:
            status = ("repaired" if args.repair and repaired else "clean") if found.clean else "mismatch"
            counts = f"{len(found.distributions)} distributions, {found.files} files checked"
            skipped = ", ".join(f"{n} {why}" for why, n in sorted(found.skipped.items()))
            bad = f", {len(found.mismatches)} mismatches in {', '.join(found.failed)}" if found.mismatches else ""
            print(f"penvcache: {status} {found.venv}: {counts}{bad}" + (f" (skipped: {skipped})" if skipped else ""))
    return 0 if found.clean else 1


def _print_mismatches(found: Any) -> None:
    for m in found.mismatches:
        where = f"penvcache: verify: {m['distribution']} {m['version']}: {m['file']}"
        if m["found"] == "missing":
            print(f"{where}: missing (expected {m['expected']})")
        else:
            print(f"{where}: expected {m['expected']}, found {m['found']}")
    for req in found.not_installed:
        print(f"penvcache: verify: {req} is not installed (run penvcache ensure)")


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
        write_line(json.dumps({"cache_dir": cache, **counts, "zeroed": args.zero}), sys.stdout)
        return 0
    write_line(
        f"penvcache: {cache}: {counts['hits']} hits, {counts['misses']} misses, {counts['installs']} installs "
        f"({counts['install_seconds']:.1f}s), {counts['adoptions']} adoptions, {counts['failures']} failures, "
        f"{counts['lock_waits']} lock waits ({counts['lock_wait_seconds']:.1f}s, "
        f"longest {counts['longest_lock_wait']:.1f}s)" + ("; now zeroed" if args.zero else ""),
        sys.stdout,
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
    rows = sorted(_entries(cache), key=lambda row: str(row["venv"]))  # by path, not by the entries' digests
    if args.json:
        write_line(json.dumps({"cache_dir": cache, "venvs": rows}), sys.stdout)
        return 0
    if not rows:
        write_line(f"penvcache: {cache} knows no venvs", sys.stdout)
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["when"]))
        gone = "" if row["exists"] else "  (gone)"
        write_line(f"{row['status']:<9} {when}  {row['venv']}{gone}", sys.stdout)
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
        write_line(json.dumps({"cache_dir": cache, "forgotten": forgotten}), sys.stdout)
    else:
        write_line(f"penvcache: forgot {len(forgotten)} venv{'' if len(forgotten) == 1 else 's'}", sys.stdout)
        for venv in forgotten:
            write_line(f"  {venv}", sys.stdout)
    return 0


def _bundle(args: argparse.Namespace) -> int:
    """Ensure the venv, then write its store entry into ``--out`` (whatever the ensure's outcome); for another
    platform, write the entry uv resolves for it instead (no venv)."""
    from . import _state
    from ._key import parse
    from ._store import _sources, portable, portable_key, target

    if args.python_platform or args.python_version:
        return _bundle_for_another_platform(args)
    request = ensure_request(args).copy(store=[], store_write=False)
    result = run_ensure(request)
    _, inputs, _, directory = prepare(request)
    deps = parse(inputs)
    state = _state.read(directory)
    why_not = portable(deps) or (None if state else "nothing recorded")
    if why_not is not None or state is None:
        msg = f"cannot bundle {result.venv}: {why_not}"
        raise InvalidInput(msg)
    key = portable_key(state["components"], _sources(deps, inputs)[0], target(result.python))
    new = _write_bundle(args, f"cannot bundle {result.venv}", key, result.python, inputs, deps)
    return _bundled(args, key, new)


def _write_bundle(  # noqa: PLR0917
    args: argparse.Namespace, failure: str, key: str, python: str | None, inputs: Any, deps: Any, platform: Any = None
) -> bool:
    """Write the entry into ``--out`` (True when it is new); any failure is one line starting with ``failure``."""
    from pathlib import Path

    from ._errors import InstallFailed
    from ._store import _one_line, write_entry

    out = Path(args.out).absolute().as_uri()  # quoted: a '#', '?' or '%' in the path is part of it
    try:
        ((_, new, _),) = write_entry([out], key, python, inputs, deps, strict=True, platform=platform)
    except PenvcacheError:
        raise
    except Exception as e:  # StoreUnusable, or obstore's error for an --out it cannot write
        msg = f"{failure}: {_one_line(e)}"
        raise InstallFailed(msg) from e
    return new


def _bundled(args: argparse.Namespace, key: str, new: bool, made_for: str = "") -> int:
    if args.json:
        out = {"status": "written" if new else "present", "key": key, "out": os.path.abspath(args.out)}
        write_line(json.dumps(out), sys.stdout)
    elif not args.quiet:
        what = f"{'wrote' if new else 'already holds'} entry {key[:12]}{made_for}"
        write_line(f"penvcache: {args.out} {what}", sys.stdout)
    return 0


def _bundle_for_another_platform(args: argparse.Namespace) -> int:
    """The set as uv resolves it for ``--python-platform``/``--python-version``, keyed by that class of machines
    (their exact facts cannot be known here): every package needs a wheel for it."""
    import re

    from ._key import build, parse
    from ._store import Platform, _sources, class_key, declared_class, portable

    if not (args.python_platform and args.python_version):
        msg = "--python-platform and --python-version go together: name the other machine's platform and Python"
        raise InvalidInput(msg)
    if not re.fullmatch(r"3\.\d+", args.python_version):
        msg = f"--python-version {args.python_version}: give the other machine's Python as X.Y, e.g. 3.12"
        raise InvalidInput(msg)
    if args.python:
        msg = "--python names this machine's interpreter; a bundle for another platform has no venv here"
        raise InvalidInput(msg)
    platform = Platform(args.python_platform, args.python_version)
    cls = declared_class(platform.python_platform, platform.python_version)
    venv, inputs, _, _ = prepare(ensure_request(args))
    deps = parse(inputs)
    why_not = portable(deps)
    if why_not is not None:
        msg = f"cannot bundle for {platform.shown()}: {why_not}"
        raise InvalidInput(msg)
    components = build(inputs, venv, None, exact=True, deps=deps).components
    key = class_key(components, _sources(deps, inputs)[0], cls)
    new = _write_bundle(args, "cannot bundle", key, None, inputs, deps, platform)
    return _bundled(args, key, new, f" for {platform.shown()}")


def _store(args: argparse.Namespace) -> int:
    from ._store import Level, _one_line, store_urls

    urls = store_urls(args.store)
    if len(urls) != 1:
        msg = "give exactly one --store URL (or set PENVCACHE_STORE to one)"
        raise InvalidInput(msg)
    level = Level(urls[0])
    try:
        return _store_action(args, level)
    except PenvcacheError:
        raise
    except Exception as e:  # obstore's errors name the URL with its password and span many lines
        msg = f"store {level.shown}: cannot read it ({_one_line(e)})"
        raise PenvcacheError(msg) from e


def _store_action(args: argparse.Namespace, level: Any) -> int:
    from ._store import entries, gc

    if args.action == "list":
        found = entries(level)
        if args.json:
            write_line(json.dumps({"store": level.shown, "entries": found}), sys.stdout)
        for entry in [] if args.json else found:
            names = ", ".join(f"{p['name']}=={p['version']}" for p in entry.get("packages", []))
            made_for = entry.get("made_for")
            if made_for:
                names = f"(for {made_for.get('python_platform')} / Python {made_for.get('python_version')}) {names}"
            write_line(f"{entry['key'][:16]}  {entry.get('problem') or names}", sys.stdout)
        return 0
    if args.action == "show":
        if not args.key:
            msg = "store show needs a KEY (see penvcache store list)"
            raise InvalidInput(msg)
        matches = [e for e in entries(level) if e["key"].startswith(args.key)]
        if len(matches) != 1:
            msg = f"{args.key!r} names {len(matches)} entries of {level.shown}, not one"
            raise InvalidInput(msg)
        write_line(json.dumps(matches[0], indent=None if args.json else 1), sys.stdout)
        return 0
    deleted, left = gc(level)
    if args.json:
        write_line(json.dumps({"store": level.shown, "deleted": deleted, "left": left}), sys.stdout)
        return 0
    for odd in left:
        write_line(
            f"penvcache: {level.shown}: left {odd['path']} alone: it is {odd['what']}, not a blob "
            "(remove it if nobody put it there on purpose)",
            sys.stderr,
        )
    write_line(
        f"penvcache: {level.shown}: deleted {len(deleted)} unreferenced blob{'' if len(deleted) == 1 else 's'}",
        sys.stdout,
    )
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "bundle": _bundle,
    "store": _store,
    "ensure": _ensure,
    "run": _run,
    "explain": _explain,
    "status": _status,
    "verify": _verify,
    "stats": _stats,
    "list": _list,
    "clear": _clear,
    "help": lambda args: 0,  # answered before the commands run
}
