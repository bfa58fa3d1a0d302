"""The command line's warm path: answer a ``penvcache ensure`` hit before importing argparse, json or typing.

Those imports cost a CLI hit more than the hit itself (about 25 ms on a 2-core machine). Anything this module
does not recognise, and every miss, goes to :func:`penvcache.cli.main`, which parses with argparse and
does the rest; a hit found here is the same answer that path would give.
"""

from __future__ import annotations

import os
import sys

from ._hit import check_hit
from ._request import Request

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NoReturn

#: ``ensure`` options that take a value, and the ``Request`` argument each one sets (``None``: no bearing on a hit)
VALUE_OPTIONS = {
    "-r": "deps_files",
    "--deps": "deps_files",
    "--venv": "venv",
    "--python": "python",
    "--find-links": "find_links",
    "--cache-dir": "cache_dir",
    "--salt": "salt",
    "--salt-file": "salt_files",
    "--lock-timeout": None,
    "--skip-import": "skip_imports",
    "--validate-timeout": None,
    "--store": None,  # where a miss installs from: no bearing on a hit
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
#: ``ensure`` flags, and what each one sets
FLAG_OPTIONS = {
    "--offline": "offline",
    "--json": "json",
    "-q": "quiet",
    "--quiet": "quiet",
    "-v": None,
    "--verbose": None,
    "--require-hit": None,  # a hit is what it requires
    "--retry": None,  # a hit is a hit: there is nothing to retry
    "--store-readonly": None,
    "--no-store-write": None,
    "--no-index": "options",
    "--pre": "options",
    "--all-extras": "options",
    "--no-editable": "options",
    "--exact": "options",
    "--no-python-downloads": None,
}
_LISTS = ("requirements", "deps_files", "find_links", "salt", "salt_files", "options", "skip_imports")


def main(argv: Sequence[str] | None = None) -> int:
    """The ``penvcache`` command: a hit answered here, everything else by :func:`penvcache.cli.main`."""
    try:
        args = list(sys.argv[1:] if argv is None else argv)
        if args[:1] == ["ensure"]:
            code = _ensure_hit(args[1:])
            if code is not None:
                return code
        from .cli import main as full_main

        return full_main(args)
    except KeyboardInterrupt:  # Ctrl-C before the full command line took over (it answers 130 itself after)
        return 130


def launch() -> NoReturn:
    """The ``penvcache`` script and ``python -m penvcache``: :func:`main`, and a hit exits at once.

    A hit leaves nothing to clean up (no lock, no thread, no temp file), so after flushing its output the
    process ends with ``os._exit`` instead of finalizing the interpreter, which costs about as much as the hit.
    Everything else ends the usual way, through ``sys.exit``.
    """
    args = sys.argv[1:]
    try:
        if args[:1] == ["ensure"]:
            code = _ensure_hit(args[1:])
            if code is not None:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        from .cli import main as full_main

        code = full_main(args)
    except KeyboardInterrupt:  # Ctrl-C before the full command line took over (it answers 130 itself after)
        code = 130
    sys.exit(code)


def _ensure_hit(args: list[str]) -> int | None:
    """Exit code 0 after reporting a hit; ``None`` for a miss or for anything argparse should look at."""
    parsed = parse_ensure(args)
    if parsed is None:
        return None
    options, flags = parsed
    if not options["requirements"] and not options["deps_files"] and not options["options"] and "quiet" not in flags:
        return None  # nothing to ensure: the full path warns
    if "venv" not in options:
        from ._discovery import default_venv

        options["venv"] = default_venv()
    try:
        result = check_hit(Request(**options))
    except Exception as e:
        from ._errors import PenvcacheError

        if isinstance(e, PenvcacheError):  # bad input: the full path reports it
            return None
        raise
    if result is None:
        return None
    if "json" in flags or "quiet" not in flags:
        from ._report import report

        report(result, as_json="json" in flags, quiet="quiet" in flags, out=sys.stdout)
    return 0


def parse_ensure(args: list[str]) -> tuple[dict[str, Any], set[str]] | None:  # noqa: PLR0911
    """``ensure``'s arguments as ``Request`` keywords and the output flags, or ``None`` when they need argparse.

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
            elif dest is not None:
                options[dest] = value
            elif not _is_seconds(value):
                return None
        elif arg in FLAG_OPTIONS:
            flags.add(arg)
            if FLAG_OPTIONS[arg] == "offline":
                options["offline"] = True
            elif FLAG_OPTIONS[arg] == "options" and OPTION_LINES[arg] not in options["options"]:
                options["options"].append(OPTION_LINES[arg])
        else:
            return None
    quiet, verbose = flags & {"-q", "--quiet"}, flags & {"-v", "--verbose"}
    if quiet and verbose:
        return None  # argparse says why not
    return options, {FLAG_OPTIONS[f] or "" for f in flags}


def _is_seconds(value: str) -> bool:
    try:
        return float(value) >= 0  # not nan, not negative
    except ValueError:
        return False
