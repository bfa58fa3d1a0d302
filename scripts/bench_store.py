"""The shared store against a cold online install: "machine B" installs a real set from a ``file://`` store.

Machine A installs the set from the package index once and publishes it to a fresh ``file://`` store. Then, in
interleaved rounds (the order rotates), each with a fresh venv, a fresh penvcache cache dir and an EMPTY uv cache:

* ``online``: ``penvcache ensure -r deps.txt`` from the index (what a cold CI runner does today);
* ``store``: ``penvcache ensure --offline --store file://... -r deps.txt`` with the index unreachable;
* ``floor``: no penvcache: ``uv venv``, ``uv pip install`` of the store's very wheels from a local directory
  (``--no-deps --offline --require-hashes``), then one import of the modules validation imports, compiling their
  bytecode as validation must. What any validated install of these files costs on this machine: the part of
  ``store`` nothing can cut.

It prints each round, the medians, the ratios (of the medians, and the median of the per-round ratios), and
checks that the store's installs hold exactly the versions machine A installed. It needs the network (for
machine A and the online rounds). Usage::

    python scripts/bench_store.py [--rounds 5] [--keep]     # or: python scripts/bench.py --store
"""

from __future__ import annotations

import argparse
import json
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


def _env(machine: Path, *, offline_index: bool) -> dict[str, str]:
    env = dict(os.environ, PENVCACHE_CACHE_DIR=str(machine / "cache"), UV_CACHE_DIR=str(machine / "uv-cache"))
    if offline_index:
        env["UV_DEFAULT_INDEX"] = "http://127.0.0.1:9/simple"  # nothing listens there
        env["UV_INDEX_URL"] = env["UV_DEFAULT_INDEX"]
    return env


def _penvcache(root: Path, name: str, *args: str, offline_index: bool = False) -> tuple[float, str]:
    """``penvcache ensure ARGS`` as machine ``name``: its own cache dir and an empty uv cache; (seconds, stderr)."""
    machine = root / name
    shutil.rmtree(machine, ignore_errors=True)
    cmd = [sys.executable, "-m", "penvcache", "ensure", "--venv", str(machine / "venv"), *args]
    start = time.perf_counter()
    env = _env(machine, offline_index=offline_index)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{name}: exit {proc.returncode}: {proc.stderr.strip()}")
    return elapsed, proc.stderr


def _wheels_of(store: Path, work: Path) -> Path:
    """The store's one entry as a directory of wheels and a hashed requirements file (what machine B fetches)."""
    (manifest,) = (store / "entries").glob("*/manifest.json")
    wheels = work / "wheels"
    wheels.mkdir(parents=True)
    lines = []
    for package in json.loads(manifest.read_text())["packages"]:
        for f in package["files"]:
            shutil.copyfile(store / "blobs" / "sha256" / f["sha256"][:2] / f["sha256"], wheels / f["filename"])
        hashes = "".join(f" --hash=sha256:{f['sha256']}" for f in package["files"])
        lines.append(f"{package['name']}=={package['version']}{hashes}\n")
    (work / "requirements.txt").write_text("".join(lines), encoding="utf-8")
    return work


def _validated_modules(venv: Path, deps: Path) -> list[str]:
    """The modules validation imports in the venv (every top-level module of every listed distribution), in its
    order."""
    from penvcache._probe import _Validation
    from penvcache._requirements import read_deps

    validation = _Validation(str(venv / "bin" / "python"), read_deps([], [str(deps)], []), (), 300.0)
    validation.run()
    return [module for answer in validation.answers.values() if answer for module in answer["modules"]]


def _floor(root: Path, wheels: Path, modules: list[str]) -> tuple[float, float, float]:
    """``uv venv`` + ``uv pip install`` of the wheels (empty uv cache) + one compiling import of the modules
    validation imports: (venv, install, import) seconds."""
    from uv import find_uv_bin

    uv, machine = find_uv_bin(), root / "floor"
    shutil.rmtree(machine, ignore_errors=True)
    env, venv = _env(machine, offline_index=True), machine / "venv"
    start = time.perf_counter()
    subprocess.run([uv, "venv", "-q", str(venv), "--python", sys.executable], env=env, check=True)
    made = time.perf_counter()
    install = ["pip", "install", "-q", "--python", str(venv / "bin" / "python"), "--no-deps", "--offline"]
    install += ["--no-index", "--find-links", str(wheels / "wheels"), "--require-hashes"]
    subprocess.run([uv, *install, "-r", str(wheels / "requirements.txt")], env=env, check=True)
    installed = time.perf_counter()
    subprocess.run([str(venv / "bin" / "python"), "-c", "import " + ", ".join(modules)], check=True)
    return made - start, installed - made, time.perf_counter() - installed


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
        store = root / "shared-store"
        seconds, err = _penvcache(root, "a", "-r", str(deps), "--store", store.as_uri())
        print(f"machine A: installed from the index and published in {seconds:.1f}s ({err.strip().splitlines()[-1]})")
        expected = _versions(root / "a" / "venv")
        size = sum(f.stat().st_size for f in (store / "blobs").rglob("*") if f.is_file())
        wheels = _wheels_of(store, root / "floor-wheels")
        modules = _validated_modules(root / "a" / "venv", deps)
        print(f"validation imports {len(modules)} modules: {', '.join(modules)}")
        times: dict[str, list[float]] = {"online": [], "store": [], "floor": []}
        parts: list[tuple[float, float, float]] = []
        for n in range(1, args.rounds + 1):
            order = ["online", "store", "floor"]
            order = order[n % 3 :] + order[: n % 3]
            for what in order:
                if what == "online":
                    times[what].append(_penvcache(root, "online", "-r", str(deps))[0])
                elif what == "store":
                    t, err = _penvcache(
                        root, "from-store", "-r", str(deps), "--offline", "--store", store.as_uri(), offline_index=True
                    )
                    assert "from store" in err, err
                    assert _versions(root / "from-store" / "venv") == expected, "the store's install differs from A's"
                    times[what].append(t)
                else:
                    parts.append(_floor(root, wheels, modules))
                    times[what].append(sum(parts[-1]))
            print(
                f"round {n} ({', '.join(order)}): cold online {times['online'][-1]:.2f}s, from the store "
                f"{times['store'][-1]:.2f}s ({times['store'][-1] / times['online'][-1]:.2f}), floor "
                f"{times['floor'][-1]:.2f}s (venv {parts[-1][0]:.2f}, unpack {parts[-1][1]:.2f}, "
                f"import {parts[-1][2]:.2f})",
                flush=True,
            )
        med = {what: statistics.median(values) for what, values in times.items()}
        per_round = [s / o for s, o in zip(times["store"], times["online"], strict=True)]
        floor_round = [f / o for f, o in zip(times["floor"], times["online"], strict=True)]
        venv_s, unpack_s, import_s = (statistics.median(p) for p in zip(*parts, strict=True))
        print()
        head = f"| {len(expected)} distributions ({size / 1e6:.0f} MB of wheels), empty uv cache "
        print(head + f"| median of {args.rounds} | ratio of medians | median of per-round ratios |")
        print("| --- | ---: | ---: | ---: |")
        print(f"| online install from the index | {med['online']:.2f} s | 1.00 | 1.00 |")
        print(
            f"| offline install from a file:// store | {med['store']:.2f} s | {med['store'] / med['online']:.2f} "
            f"| {statistics.median(per_round):.2f} (range {min(per_round):.2f}-{max(per_round):.2f}) |"
        )
        print(
            f"| floor: uv venv {venv_s:.2f} + uv unpack {unpack_s:.2f} + compiling import {import_s:.2f} "
            f"| {med['floor']:.2f} s | {med['floor'] / med['online']:.2f} | {statistics.median(floor_round):.2f} |"
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
