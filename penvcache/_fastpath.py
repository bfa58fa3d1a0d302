"""``penvcache ensure`` without argparse: a hit answered before argparse, json or typing are imported, and a miss
run through the ensure flow without them.

Those imports cost a CLI hit more than the hit itself (about 25 ms on a 2-core machine), and a miss needs none
of them either. Only the plain spellings of ``ensure``'s arguments are read here; anything else (``-h``, an
abbreviation, a bad value, another command) goes to :func:`penvcache.cli.main`, which parses with argparse.
Both build the same :class:`._request.Request` and report the same way (:mod:`._report`).
"""

from __future__ import annotations

import os
import sys

from ._hit import FirstLook
from ._request import Request

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NoReturn

#: ``ensure`` options that take a value, and the ``Request`` argument each one sets
VALUE_OPTIONS = {
    "-r": "deps_files",
    "--deps": "deps_files",
    "--venv": "venv",
    "--python": "python",
    "--find-links": "find_links",
    "--cache-dir": "cache_dir",
    "--salt": "salt",
    "--salt-file": "salt_files",
    "--lock-timeout": "lock_timeout",
    "--skip-import": "skip_imports",
    "--validate-timeout": "validate_timeout",
    "--store": "store",
    "-e": "options",
    "--editable": "options",
    "--index-url": "options",
    "--default-index": "options",
    "--extra-index-url": "options",
    "--index": "options",
    "--prerelease": "options",
    "--extra": "options",
    "--group": "options",
    "--project": "options",
}
#: the option line (as :func:`penvcache.cli.option_lines` writes it) of each option that sets ``options``
OPTION_LINES = {
    "-e": "--editable",
    "--editable": "--editable",
    "--index-url": "--index-url",
    "--default-index": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "--index": "--extra-index-url",
    "--prerelease": "--prerelease",
    "--extra": "--extra",
    "--group": "--group",
    "--project": "--project",
    "--no-editable": "--no-editable",
    "--exact": "--exact",
    "--no-index": "--no-index",
    "--pre": "--pre",
    "--all-extras": "--all-extras",
}
#: ``--prerelease``'s values (argparse refuses others)
PRERELEASE = ("disallow", "allow", "if-necessary", "explicit", "if-necessary-or-explicit")
#: the options that take a number of seconds (argparse's ``type=float``; negative and nan are left to it)
SECONDS = ("lock_timeout", "validate_timeout")
#: ``ensure`` flags, and the ``Request`` argument each one sets to the value given (``json`` and ``quiet``: the output)
FLAG_OPTIONS = {
    "--offline": ("offline", True),
    "--json": ("json", True),
    "-q": ("quiet", True),
    "--quiet": ("quiet", True),
    "-v": ("verbose", True),
    "--verbose": ("verbose", True),
    "--require-hit": ("require_hit", True),
    "--retry": ("retry", True),
    "--store-readonly": ("store_write", False),
    "--no-store-write": ("store_write", False),
    "--no-index": ("options", True),
    "--pre": ("options", True),
    "--all-extras": ("options", True),
    "--no-editable": ("options", True),
    "--exact": ("options", True),
    "--no-python-downloads": ("python_downloads", False),
}
_LISTS = ("requirements", "deps_files", "find_links", "salt", "salt_files", "options", "skip_imports", "store")
_OUTPUT = ("json", "quiet")


def main(argv: Sequence[str] | None = None) -> int:
    """The ``penvcache`` command: ``ensure`` answered here, everything else by :func:`penvcache.cli.main`."""
    try:
        args = list(sys.argv[1:] if argv is None else argv)
        if args[:1] == ["ensure"]:
            answered = ensure(args[1:])
            if answered is not None:
                return answered[0]
        from .cli import main as full_main

        return full_main(args)
    except KeyboardInterrupt:  # Ctrl-C before the full command line took over (it answers 130 itself after)
        return 130


def launch() -> NoReturn:
    """The ``penvcache`` script and ``python -m penvcache``: :func:`main`, and ``ensure`` exits at once.

    An ``ensure`` answered by :func:`ensure`, hit or miss, leaves nothing to clean up once it returns: its locks
    are released, the processes it started have ended, its files are written with ``os.write`` and closed, and it
    starts no thread that outlives it. So after flushing its output the process ends with ``os._exit`` instead of
    finalizing the interpreter, which costs a hit about as much as the hit, and a miss (which has imported some
    200 modules) about 8 %. Everything else ends the usual way, through ``sys.exit``.
    """
    args = sys.argv[1:]
    try:
        answered = ensure(args[1:]) if args[:1] == ["ensure"] else None
        if answered is not None:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(answered[0])
        from .cli import main as full_main

        code = full_main(args)
    except KeyboardInterrupt:  # Ctrl-C before the full command line took over (it answers 130 itself after)
        code = 130
    sys.exit(code)


def ensure(args: list[str]) -> tuple[int, bool] | None:
    """``penvcache ensure ARGS``: its exit code and whether it was a hit, after printing what the full command
    line prints; ``None`` when argparse must read the arguments (or warn that there is nothing to ensure)."""
    parsed = parse_ensure(args)
    if parsed is None:
        return None
    options, output = parsed
    as_json, quiet = "json" in output, "quiet" in output
    projects = any(line.startswith(("--editable ", "--project ")) for line in options["options"])
    if not options["requirements"] and not options["deps_files"] and not projects and not quiet:
        return None  # nothing to ensure (as cli's _nothing_to_ensure says it, options or not): the full path warns
    if "venv" not in options:
        from ._discovery import default_venv

        options["venv"] = default_venv()
    request = Request(**options, progress=not quiet)
    result, hit = None, False
    try:
        first = FirstLook(request)
        result, hit = first.hit, first.hit is not None
        if result is None:  # a miss: the ensure flow goes on from this look, importing what it needs as it goes
            from ._coordinator import run_ensure

            result = run_ensure(request, first)
    except Exception as e:
        from ._errors import PenvcacheError

        if not isinstance(e, PenvcacheError):
            raise
        from ._report import report_error

        return report_error(e, as_json=as_json, venv=request.venv, out=sys.stdout), False
    if as_json or not quiet:
        from ._report import report

        report(result, as_json=as_json, quiet=quiet, out=sys.stdout)
    return 0, hit


def parse_ensure(args: list[str]) -> tuple[dict[str, Any], set[str]] | None:  # noqa: PLR0911
    """``ensure``'s arguments as ``Request`` keywords and the output flags (``json``, ``quiet``), or ``None`` when
    they need argparse.

    Only the plain spellings are read here (``--opt VALUE``, ``--opt=VALUE``, flags, requirement strings);
    abbreviations, ``-rFILE``, ``--``, ``-h``, unknown options and bad values are left to argparse.
    """
    options: dict[str, Any] = {name: [] for name in _LISTS}
    flags: set[str] = set()
    runs, in_run = 0, False  # runs of requirement strings: argparse takes one (REQ --opt REQ is an error there)
    i = 0
    while i < len(args):
        arg, i = args[i], i + 1
        name, eq, value = arg.partition("=")
        if not arg.startswith("-") or arg == "-":
            runs += not in_run
            if runs > 1:
                return None
            options["requirements"].append(arg)
            in_run = True
            continue
        in_run = False
        if name in VALUE_OPTIONS:
            if not eq:
                if i == len(args) or args[i].startswith("-"):
                    return None
                value, i = args[i], i + 1
            dest = VALUE_OPTIONS[name]
            if dest == "options":
                line = OPTION_LINES[name]
                if line == "--prerelease" and value not in PRERELEASE:
                    return None
                if line in {"--index-url", "--prerelease"}:  # argparse keeps the last one
                    options[dest] = [o for o in options[dest] if not o.startswith(line + " ")]
                options[dest].append(f"{line} {value}")
            elif dest in _LISTS:
                options[dest].append(value)
            elif dest in SECONDS:
                if not _is_seconds(value):
                    return None
                options[dest] = float(value)
            else:
                options[dest] = value
        elif arg in FLAG_OPTIONS:
            flags.add(arg)
            dest, flag = FLAG_OPTIONS[arg]
            if dest in _OUTPUT:
                continue
            if dest != "options":
                options[dest] = flag
            elif OPTION_LINES[arg] not in options["options"]:
                options["options"].append(OPTION_LINES[arg])
        else:
            return None
    quiet, verbose = flags & {"-q", "--quiet"}, flags & {"-v", "--verbose"}
    if quiet and verbose:
        return None  # argparse says why not
    return options, {FLAG_OPTIONS[f][0] for f in flags} & set(_OUTPUT)


def _is_seconds(value: str) -> bool:
    try:
        return float(value) >= 0  # not nan, not negative
    except ValueError:
        return False
