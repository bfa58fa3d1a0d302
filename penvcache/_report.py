"""What ``ensure`` prints about its result, or about the error it stopped at: one line, or one JSON object (without
importing json).

Shared by the warm path (:mod:`._fastpath`) and the full command line (:mod:`.cli`), which import it; it imports
neither.
"""

from __future__ import annotations

import os
import sys

from ._output import write_line

TYPE_CHECKING = False  # typing is not imported at run time: the warm path stays light
if TYPE_CHECKING:
    from typing import TextIO

    from ._errors import PenvcacheError
    from ._hit import EnsureResult


def report(result: EnsureResult, *, as_json: bool, quiet: bool, out: TextIO) -> None:
    """The one line (or JSON object) ``ensure`` prints about ``result``."""
    if as_json:
        write_line(json_object(result.to_dict()), out)
    elif not quiet:
        for warning in result.warnings:
            print(f"penvcache: warning: {warning}", file=sys.stderr, flush=True)
        line = f"penvcache: {result.status} {result.venv} ({result.fingerprint[:12]}) in {result.elapsed:.3f}s"
        write_line(line, out)


def report_error(error: PenvcacheError, *, as_json: bool, venv: object, out: TextIO) -> int:
    """What a command prints when it stops at ``error`` (the JSON object on ``out`` with ``as_json``, and always one
    line on stderr); its exit code."""
    if as_json:
        data: dict[str, object] = {"status": "error", "error": str(error), "exit_code": error.exit_code}
        if isinstance(venv, str):
            data["venv"] = os.path.abspath(venv)
        write_line(json_object(data), out)
    write_line(f"penvcache: error: {error}", sys.stderr)
    return error.exit_code


def json_object(data: dict[str, object]) -> str:
    """``json.dumps(data)`` for a flat dict of str, int, float, bool, None and lists of str, without importing json
    (and re)."""
    from _json import encode_basestring_ascii as quote

    parts = []
    for key, value in data.items():
        if value is None or isinstance(value, bool):
            text = {None: "null", True: "true", False: "false"}[value]
        elif isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):  # noqa: PLR0124
            text = repr(value)
        elif isinstance(value, str):
            text = quote(value)
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            text = "[" + ", ".join(quote(item) for item in value) + "]"
        else:
            import json

            return json.dumps(data)
        parts.append(f"{quote(key)}: {text}")
    return "{" + ", ".join(parts) + "}"
