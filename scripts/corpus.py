"""Real dependency sets from the package index, installed by penvcache and by plain uv: do they agree?

For each set: plain ``uv pip install`` into a fresh venv (does uv call the set installable?), then
``penvcache ensure`` into another fresh venv (cold), five times again (a warm hit: the median of the calls' own
``elapsed``), once more after ``clear`` (an adoption: the validation's own cost), and ``penvcache verify``
(every RECORD hash of the closure). It prints a table: set, packages, uv, cold, warm hit, validation, warnings,
agree?, verify clean?
A set penvcache refuses is called again: the "warm" column then shows how fast its recorded failure comes back.

It needs the network (the package index), so it is not part of ``.ci/run``. uv's cache is a temp directory shared
by the sets (plain uv runs first, so penvcache's cold install links from a warm cache, as it would on a machine
that has installed before). Usage::

    python scripts/corpus.py [--only NAME ...] [--markdown] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uv import find_uv_bin

UV = find_uv_bin()
TIMEOUT = 1200

#: name -> (what it covers, requirement lines); a line "@compile PKG" is replaced by `uv pip compile PKG`'s lock
SETS: dict[str, tuple[str, list[str]]] = {
    "namespace-google": ("namespace packages (google.*)", ["google-cloud-storage", "protobuf"]),
    "namespace-zope": ("namespace packages (zope.*)", ["zope.interface", "zope.event", "zope.deprecation"]),
    "sphinx": ("namespace packages (sphinxcontrib.*)", ["sphinx", "sphinxcontrib-mermaid"]),
    "scientific": ("heavy scientific imports", ["numpy", "pandas", "scipy", "matplotlib"]),
    "c-extensions": (
        "C extensions",
        ["lxml", "pyyaml", "cryptography", "pillow", "orjson", "msgpack", "psycopg2-binary", "markupsafe"],
    ),
    "extras-markers": (
        "extras and markers",
        [
            "requests[socks]",
            "httpx[http2,brotli]",
            "uvicorn[standard]",
            "pydantic[email]",
            'tomli; python_version < "3.11"',
            'colorama; sys_platform == "win32"',
            'typing-extensions; python_version >= "3.8"',
        ],
    ),
    "jupyterlab-lock": ("a compiled lock of a large application", ["@compile jupyterlab"]),
    "cli-tools": ("entry points, pip and setuptools together", ["black", "pytest", "pip", "setuptools", "wheel"]),
    "web-app": ("a web application's pins", ["django", "celery[redis]", "flask", "sqlalchemy", "gunicorn"]),
}


@dataclass
class Row:
    name: str
    covers: str
    packages: int = 0
    uv_ok: bool = False
    uv_seconds: float = 0.0
    uv_error: str = ""
    cold: float | None = None
    cold_status: str = ""
    warm: float | None = None
    warm_status: str = ""
    validation: float | None = None
    warnings: list[str] = field(default_factory=list)
    penvcache_error: str = ""
    verify_clean: bool | None = None
    verify_summary: str = ""

    @property
    def penvcache_ok(self) -> bool:
        return self.cold_status in ("installed", "adopted")

    @property
    def agree(self) -> bool:
        return self.penvcache_ok == self.uv_ok


def run(cmd: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    return proc, time.monotonic() - start


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:400] if lines else ""


def deps_file(lines: list[str], where: Path, env: dict[str, str]) -> Path:
    """The set as a deps file; ``@compile PKG`` lines become the lock ``uv pip compile`` writes for PKG."""
    out: list[str] = []
    for line in lines:
        if line.startswith("@compile "):
            source = where / "compile-in.txt"
            source.write_text(line.split(None, 1)[1] + "\n")
            lock = where / "lock.txt"
            proc, _ = run([UV, "pip", "compile", "-q", "--python", sys.executable, str(source), "-o", str(lock)], env)
            if proc.returncode != 0:
                raise RuntimeError(f"uv pip compile failed: {last_line(proc.stderr)}")
            out += [x for x in lock.read_text().splitlines() if x.strip() and not x.lstrip().startswith("#")]
        else:
            out.append(line)
    path = where / "deps.txt"
    path.write_text("\n".join(out) + "\n")
    return path


def penvcache(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    return run([sys.executable, "-m", "penvcache", *args], env)


def one(name: str, covers: str, lines: list[str], root: Path, env: dict[str, str]) -> Row:
    row = Row(name, covers)
    where = root / name
    where.mkdir()
    deps = deps_file(lines, where, env)

    uv_venv = where / "uv-venv"
    run([UV, "venv", "-q", "--python", sys.executable, str(uv_venv)], env)
    proc, row.uv_seconds = run([UV, "pip", "install", "-q", "--python", str(uv_venv), "-r", str(deps)], env)
    row.uv_ok = proc.returncode == 0
    row.uv_error = "" if row.uv_ok else last_line(proc.stderr)
    if row.uv_ok:
        code = "import importlib.metadata as m; print(len(list(m.distributions())))"
        count = subprocess.run(
            [str(uv_venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=False
        )
        row.packages = int(count.stdout.strip() or 0)

    venv = where / "venv"
    common = ["--venv", str(venv), "-r", str(deps)]
    proc, cold = penvcache(["ensure", "--json", *common], env)
    result = _json(proc.stdout)
    if proc.returncode != 0:
        row.penvcache_error = last_line(proc.stderr)
        row.cold, row.cold_status = cold, "failed"
        # the same call again: the recorded failure, at once, instead of another install
        proc, again = penvcache(["ensure", "--json", *common], env)
        row.warm, row.warm_status = again, "failed again, wall time" if proc.returncode else "passed"
    else:
        row.cold, row.cold_status = result["elapsed"], result["status"]
        row.warnings = list(result.get("warnings") or [])
        warm_calls = []
        for _ in range(5):  # the median of five: the machine may be busy
            proc, _ = penvcache(["ensure", "--json", *common], env)
            warm_calls.append(_json(proc.stdout))
        row.warm_status = ",".join(sorted({w.get("status", last_line(proc.stderr)) for w in warm_calls}))
        elapsed = sorted(w["elapsed"] for w in warm_calls if "elapsed" in w)
        row.warm = elapsed[len(elapsed) // 2] if elapsed else None
        penvcache(["clear", "--venv", str(venv)], env)
        proc, _ = penvcache(["ensure", "--json", *common], env)
        adopted = _json(proc.stdout)
        if adopted.get("status") == "adopted":
            row.validation = adopted["elapsed"]
    proc, _ = penvcache(["verify", "--json", *common], env)
    verified = _json(proc.stdout)
    row.verify_clean = proc.returncode == 0 and verified.get("status") == "clean"
    if verified:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(verified.get("skipped", {}).items()))
        row.verify_summary = (
            f"{len(verified.get('distributions', {}))} dists, {verified.get('files', 0)} files, "
            f"{len(verified.get('mismatches', []))} mismatches" + (f" (skipped {skipped})" if skipped else "")
        )
        for mismatch in verified.get("mismatches", [])[:5]:
            print(f"  {name}: verify: {mismatch}", file=sys.stderr)
    else:
        row.verify_summary = last_line(proc.stderr)
    return row


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _seconds(value: float | None, ms: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f} ms" if ms else f"{value:.2f} s"


def table(rows: list[Row], markdown: bool) -> str:
    head = ["set", "covers", "packages", "uv", "cold", "warm hit", "validation", "warnings", "agree?", "verify clean?"]
    body = [
        [
            r.name,
            r.covers,
            str(r.packages),
            _seconds(r.uv_seconds) + ("" if r.uv_ok else " (failed)"),
            _seconds(r.cold) + (f" ({r.cold_status})" if r.cold_status not in ("", "installed") else ""),
            _seconds(r.warm, ms=True) + ("" if r.warm_status in ("", "hit") else f" ({r.warm_status})"),
            _seconds(r.validation),
            str(len(r.warnings)),
            "yes" if r.agree else "NO",
            {True: "yes", False: "NO", None: "-"}[r.verify_clean],
        ]
        for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(cells[i]) for cells in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in [head, *body])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SETS), help="run only these sets")
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory (venvs, caches)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="penvcache-corpus-"))
    env = dict(os.environ, PENVCACHE_CACHE_DIR=str(root / "penvcache-cache"), UV_CACHE_DIR=str(root / "uv-cache"))
    for name in ("VIRTUAL_ENV", "PENVCACHE_VENV", "PENVCACHE_OFFLINE", "UV_OFFLINE"):
        env.pop(name, None)
    rows = []
    try:
        for name in args.only or list(SETS):
            covers, lines = SETS[name]
            print(f"corpus: {name} ...", file=sys.stderr, flush=True)
            try:
                row = one(name, covers, lines, root, env)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                row = Row(name, covers, penvcache_error=str(e)[:200], uv_error="not run")
            rows.append(row)
            for why in (row.uv_error, row.penvcache_error):
                if why:
                    print(f"  {name}: {why}", file=sys.stderr)
            for warning in row.warnings:
                print(f"  {name}: warning: {warning}", file=sys.stderr)
            print(f"  {name}: verify: {row.verify_summary}", file=sys.stderr)
    finally:
        if args.keep:
            print(f"corpus: kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    uv_version = subprocess.run([UV, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"Python {sys.version.split()[0]}, {uv_version}")
    print(table(rows, args.markdown))
    return 0 if all(r.agree and r.verify_clean is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
