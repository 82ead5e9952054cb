"""SyncScope beside ShareDB: the in-process fan-out of `bench.fanout`, interleaved with ShareDB's (issue 16).

    python -m bench.peers [--runs 3] [--observers 1000] [--updates 1000] [--quick]

ShareDB (`bench/peers/sharedb/`, pinned in its package.json) runs the same workload in Node.js: one
document, `--observers` subscribed replicas, one op at a time for latency and 16 in flight for
throughput, every replica's change handler calling the same arrival counter (`inproc.js`). Each run
starts three fresh processes one after the other — SyncScope with 10 runtimes (`bench.fanout`'s own
shape), ShareDB, SyncScope with one runtime per replica (ShareDB's shape: one document copy per
connection) — so machine noise hits all three alike. The figures compared are the medians over runs
of CPU time per replica-update (the figure that moves least on a shared machine) and of the median
latency; a ratio above 1 means SyncScope costs more than ShareDB.

Without Node.js the bench says so and exits 0 with `"skipped"` in its JSON line; `npm ci` installs
ShareDB into `bench/peers/sharedb/node_modules` the first time (the npm registry must be reachable).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench._common import emit, machine, median, note, spread

HERE = Path(__file__).resolve().parent
SHAREDB = HERE / "sharedb"
ROOT = HERE.parent.parent


def last_json(output: str) -> dict[str, Any]:
    """The result line a bench prints last."""
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    raise ValueError("no JSON result line in the bench's output")


def run(cmd: list[str], cwd: Path, timeout: float) -> dict[str, Any]:
    note("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return last_json(proc.stdout)


def ensure_sharedb(node: str) -> str | None:
    """Install ShareDB when it is missing; the reason it cannot be run, or None."""
    if (SHAREDB / "node_modules" / "sharedb" / "package.json").exists():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm not found on PATH (it comes with Node.js): ShareDB cannot be installed"
    note("installing ShareDB (npm ci in bench/peers/sharedb) ...")
    proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=SHAREDB, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        return f"npm ci failed in bench/peers/sharedb: {proc.stderr.strip()[-300:]}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs of each bench, default 3")
    parser.add_argument("--observers", type=int, default=1000, help="replicas, default 1000")
    parser.add_argument("--updates", type=int, default=1000, help="updates per measured phase, default 1000")
    parser.add_argument("--quick", action="store_true", help="1 run of 100 updates (a smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.updates = 1, min(args.updates, 100)
    if min(args.runs, args.observers, args.updates) < 1:
        parser.error("--runs, --observers and --updates must be at least 1")
    node = shutil.which("node")
    why = "Node.js not found on PATH" if node is None else ensure_sharedb(node)
    if node is None or why is not None:
        note(f"ShareDB peer bench skipped: {why}. Install Node.js 18 or newer to compare with ShareDB.")
        emit({"bench": "peers", "skipped": why})
        return 0
    common = ["--observers", str(args.observers), "--updates", str(args.updates), "--rounds", "1"]
    timeout = 600.0
    shapes = {"syncscope_10_runtimes": ["--runtimes", "10"],
              "syncscope_1_replica_per_runtime": ["--runtimes", str(args.observers)]}
    results: dict[str, list[dict[str, Any]]] = {"sharedb": [], **{k: [] for k in shapes}}
    for r in range(args.runs):
        note(f"run {r + 1}/{args.runs}")
        results["syncscope_10_runtimes"].append(
            run([sys.executable, "-m", "bench.fanout", *common, *shapes["syncscope_10_runtimes"]], ROOT, timeout))
        results["sharedb"].append(run([node, "inproc.js", *common], SHAREDB, timeout))
        results["syncscope_1_replica_per_runtime"].append(
            run([sys.executable, "-m", "bench.fanout", *common, *shapes["syncscope_1_replica_per_runtime"]], ROOT,
                timeout))

    def figures(key: str) -> dict[str, Any]:
        runs = results[key]
        cpu = [x["cpu_us_per_replica_update"] for x in runs]
        med = [x["median_ms"] for x in runs]
        return {"cpu_us_per_replica_update": round(median(cpu), 3), "median_ms": round(median(med), 3),
                "p99_ms": round(median(x["p99_ms"] for x in runs), 3),
                "replica_updates_per_s": round(median(x["replica_updates_per_s"] for x in runs)),
                "spread": {"cpu_us_per_replica_update": spread(cpu), "median_ms": spread(med)},
                "converged": all(x["converged"] for x in runs)}

    out: dict[str, Any] = {"bench": "peers", "replicas": args.observers, "sharedb": figures("sharedb")}
    ratios: dict[str, Any] = {}
    for key in shapes:
        out[key] = figures(key)
        ratios[key] = {
            "cpu_vs_sharedb": round(out[key]["cpu_us_per_replica_update"] / out["sharedb"]["cpu_us_per_replica_update"],
                                    2),
            "median_vs_sharedb": round(out[key]["median_ms"] / out["sharedb"]["median_ms"], 2)}
    out["ratios"] = ratios
    out["config"] = {"runs": args.runs, "observers": args.observers, "updates": args.updates,
                     "sharedb_version": results["sharedb"][0]["sharedb"], "node": results["sharedb"][0]["node"]}
    out["machine"] = machine()
    emit(out)
    return 0 if all(out[k]["converged"] for k in ("sharedb", *shapes)) else 1


if __name__ == "__main__":
    sys.exit(main())
