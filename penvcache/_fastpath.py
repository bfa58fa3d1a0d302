"""The command line's warm path: answer a ``penvcache ensure`` hit before importing argparse, json or typing.

Those imports cost a CLI hit more than the hit itself (about 25 ms on a 2-core machine). Anything this module
does not recognise, and every miss, goes to :func:`penvcache.cli.main`, which parses with argparse and
does the rest; a hit found here is the same answer that path would give.
"""

from __future__ import annotations

import os
import sys

from ._coordinator import check_hit
from ._errors import PenvcacheError

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, TextIO

    from ._coordinator import EnsureResult

#: ``ensure`` options that take a value, and the ``check_hit`` argument each one sets (``None``: no bearing on a hit)
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
    "--store-readonly": None,
    "--no-store-write": None,
    "--no-index": "options",
    "--pre": "options",
    "--all-extras": "options",
    "--no-editable": "options",
    "--exact": "options",
}
_LISTS = ("requirements", "deps_files", "find_links", "salt", "salt_files", "options")


def main(argv: Sequence[str] | None = None) -> int:
    """The ``penvcache`` command: a hit answered here, everything else by :func:`penvcache.cli.main`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["ensure"]:
        code = _ensure_hit(args[1:])
        if code is not None:
            return code
    from .cli import main as full_main

    return full_main(args)


def _ensure_hit(args: list[str]) -> int | None:
    """Exit code 0 after reporting a hit; ``None`` for a miss or for anything argparse should look at."""
    parsed = parse_ensure(args)
    if parsed is None:
        return None
    options, flags = parsed
    options.setdefault("venv", os.environ.get("PENVCACHE_VENV") or ".venv")
    try:
        result = check_hit(**options)
    except PenvcacheError:  # bad input: the full path reports it
        return None
    if result is None:
        return None
    report(result, as_json="json" in flags, quiet="quiet" in flags, out=sys.stdout)
    return 0


def parse_ensure(args: list[str]) -> tuple[dict[str, Any], set[str]] | None:  # noqa: PLR0911
    """``ensure``'s arguments as ``check_hit`` keywords and the output flags, or ``None`` when they need argparse.

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


def report(result: EnsureResult, *, as_json: bool, quiet: bool, out: TextIO) -> None:
    """The one line (or JSON object) ``ensure`` prints about ``result``."""
    if as_json:
        print(json_object(result.to_dict()), file=out, flush=True)
    elif not quiet:
        line = f"penvcache: {result.status} {result.venv} ({result.fingerprint[:12]}) in {result.elapsed:.3f}s"
        print(line, file=out, flush=True)


def json_object(data: dict[str, object]) -> str:
    """``json.dumps(data)`` for a flat dict of str, int, float, bool and None, without importing json (and re)."""
    from _json import encode_basestring_ascii as quote

    parts = []
    for key, value in data.items():
        if value is None or isinstance(value, bool):
            text = {None: "null", True: "true", False: "false"}[value]
        elif isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):  # noqa: PLR0124
            text = repr(value)
        elif isinstance(value, str):
            text = quote(value)
        else:
            import json

            return json.dumps(data)
        parts.append(f"{quote(key)}: {text}")
    return "{" + ", ".join(parts) + "}"
