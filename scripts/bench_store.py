"""The shared store against a cold online install: "machine B" installs a real set from a ``file://`` store.

Machine A installs the set from the package index once and publishes it to a fresh ``file://`` store. Then, in
interleaved rounds, each with a fresh venv, a fresh penvcache cache dir and an EMPTY uv cache:

* ``online``: ``penvcache ensure -r deps.txt`` from the index (what a cold CI runner does today);
* ``store``: ``penvcache ensure --offline --store file://... -r deps.txt`` with the index unreachable.

It prints each round, the medians and the ratio, and checks that the store's installs hold exactly the versions
machine A installed. It needs the network (for machine A and the online rounds). Usage::

    python scripts/bench_store.py [--rounds 5] [--keep]     # or: python scripts/bench.py --store
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import REAL_DEPS  # the pioarduino set


def _penvcache(root: Path, name: str, *args: str, offline_index: bool = False) -> tuple[float, str]:
    """``penvcache ensure ARGS`` as machine ``name``: its own cache dir and an empty uv cache; (seconds, stderr)."""
    machine = root / name
    shutil.rmtree(machine, ignore_errors=True)
    env = dict(os.environ, PENVCACHE_CACHE_DIR=str(machine / "cache"), UV_CACHE_DIR=str(machine / "uv-cache"))
    if offline_index:
        env["UV_DEFAULT_INDEX"] = "http://127.0.0.1:9/simple"  # nothing listens there
        env["UV_INDEX_URL"] = env["UV_DEFAULT_INDEX"]
    cmd = [sys.executable, "-m", "penvcache", "ensure", "--venv", str(machine / "venv"), *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{name}: exit {proc.returncode}: {proc.stderr.strip()}")
    return elapsed, proc.stderr


def _import_all(venv: Path) -> float:
    """Seconds one import of every top-level module takes in the venv: the floor validation cannot go under."""
    code = "import " + ", ".join(REAL_DEPS.values())
    start = time.perf_counter()
    subprocess.run([str(venv / "bin" / "python"), "-c", code], check=True)
    return time.perf_counter() - start


def _versions(venv: Path) -> set[str]:
    return {p.name for p in venv.glob("lib/python*/site-packages/*.dist-info")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="penvcache-bench-store-"))
    try:
        deps = root / "deps.txt"
        deps.write_text("".join(f"{req}\n" for req in REAL_DEPS), encoding="utf-8")
        store = (root / "shared-store").as_uri()
        seconds, err = _penvcache(root, "a", "-r", str(deps), "--store", store)
        print(f"machine A: installed from the index and published in {seconds:.1f}s ({err.strip().splitlines()[-1]})")
        expected = _versions(root / "a" / "venv")
        online, stored, imports = [], [], []
        for n in range(1, args.rounds + 1):
            t_online, _ = _penvcache(root, "online", "-r", str(deps))
            t_store, err = _penvcache(
                root, "from-store", "-r", str(deps), "--offline", "--store", store, offline_index=True
            )
            assert "from store" in err, err
            assert _versions(root / "from-store" / "venv") == expected, "the store's install differs from machine A's"
            t_import = _import_all(root / "from-store" / "venv")
            online.append(t_online)
            stored.append(t_store)
            imports.append(t_import)
            print(f"round {n}: cold online {t_online:.2f}s, from the store {t_store:.2f}s, import all {t_import:.2f}s")
        m_online, m_store, m_import = (statistics.median(x) for x in (online, stored, imports))
        print()
        head = f"| {len(expected)} distributions, empty uv cache | median of {args.rounds} | ratio |"
        print(head + " without the import floor | ratio |")
        print("| --- | ---: | ---: | ---: | ---: |")
        print(f"| online install from the index | {m_online:.2f} s | 1.00 | {m_online - m_import:.2f} s | 1.00 |")
        print(
            f"| offline install from a file:// store | {m_store:.2f} s | {m_store / m_online:.2f} "
            f"| {m_store - m_import:.2f} s | {(m_store - m_import) / (m_online - m_import):.2f} |"
        )
        print(
            f"| (one import of every module in the venv: validation's floor, paid by both) | {m_import:.2f} s | | | |"
        )
        print("identical versions in every round: yes")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
