"""``penvcache verify``'s helper, run by the venv's own interpreter (``python -I``): the stdlib only.

``metadata``: print one JSON object: the marker environment, ``sys.prefix`` and, for every distribution
``importlib.metadata`` finds (the first of each name on ``sys.path``, as imports see it), its name, version,
``Requires-Dist`` and ``.dist-info`` directory.

``check``: read a JSON list of ``.dist-info`` directories on stdin and print, for each, every ``RECORD`` file
whose bytes do not match its recorded hash (or that is missing), and what was skipped and why: lines with no
hash (the ``RECORD`` itself, bytecode an installer compiled), bytecode (``.pyc``: rewritten by any interpreter
that recompiles), and paths outside the venv.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import sys
from importlib import metadata
from typing import Any


def canonical(name: str) -> str:
    name = name.replace("_", "-").replace(".", "-")
    while "--" in name:
        name = name.replace("--", "-")
    return name.lower()


def marker_environment() -> dict[str, str]:
    import platform

    impl = sys.implementation
    version = f"{impl.version.major}.{impl.version.minor}.{impl.version.micro}"
    if impl.version.releaselevel != "final":
        version += impl.version.releaselevel[0] + str(impl.version.serial)
    return {
        "implementation_name": impl.name,
        "implementation_version": version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def dists() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        path = getattr(dist, "_path", None)  # a PathDistribution's directory; other finders cannot be checked
        if not name or canonical(name) in found:
            continue
        found[canonical(name)] = {
            "name": name,
            "version": dist.version,
            "requires": dist.requires or [],
            "path": os.path.abspath(str(path)) if path is not None else None,
        }
    return found


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def check(dist_info: str, prefix: str) -> dict[str, Any]:
    """The mismatches and skips of one ``.dist-info`` directory."""
    location = os.path.dirname(dist_info)
    out: dict[str, Any] = {"path": dist_info, "files": 0, "mismatches": [], "skipped": {}}

    def skip(why: str) -> None:
        out["skipped"][why] = out["skipped"].get(why, 0) + 1

    try:
        with open(os.path.join(dist_info, "RECORD"), encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        out["mismatches"].append({"file": os.path.join(dist_info, "RECORD"), "expected": "a RECORD", "found": str(e)})
        return out
    for row in rows:
        if not row or not row[0]:
            continue
        relative, recorded = row[0], row[1] if len(row) > 1 else ""
        path = os.path.normpath(os.path.join(location, relative))
        if not recorded:
            skip("no hash in RECORD")
            continue
        if path.endswith(".pyc"):
            skip(".pyc")
            continue
        if not _inside(os.path.realpath(path), os.path.realpath(prefix)) and not _inside(path, prefix):
            skip("outside the venv")
            continue
        algorithm, _, expected = recorded.partition("=")
        try:
            hasher = hashlib.new(algorithm)
        except (ValueError, TypeError):
            skip("unknown hash algorithm")
            continue
        out["files"] += 1
        try:
            with open(path, "rb") as data:
                for block in iter(lambda: data.read(1 << 20), b""):
                    hasher.update(block)
        except FileNotFoundError:
            out["mismatches"].append({"file": path, "expected": recorded, "found": "missing"})
            continue
        except OSError as e:
            out["mismatches"].append({"file": path, "expected": recorded, "found": f"unreadable: {e.strerror or e}"})
            continue
        found = base64.urlsafe_b64encode(hasher.digest()).rstrip(b"=").decode()
        if found != expected.rstrip("="):
            out["mismatches"].append({"file": path, "expected": recorded, "found": f"{algorithm}={found}"})
    return out


def main() -> None:
    answer: dict[str, Any]
    if sys.argv[1:] == ["metadata"]:
        answer = {"environment": marker_environment(), "prefix": sys.prefix, "dists": dists()}
    else:
        answer = {"checked": [check(path, sys.prefix) for path in json.load(sys.stdin)]}
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
