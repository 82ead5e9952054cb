"""Children and faults workloads on a fan-out (issue 3, Performance): how long after the last update
until every replica has converged, with 1% of messages dropped on every link, beside the same run
without faults (the baseline measured in the same run).

    python -m bench.healing [--observers 200] [--runtimes 10] [--seconds 5] [--quick]

Workloads: `updates` (the reporter edits at `--rate` per second) and `children` (observers create
and update children of the one parent, 100 per second). Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from core.lab import Lab
from core.schemas import COMM_SCHEMA


async def world(observers: int, runtimes: int) -> tuple[Lab, Any, list[Any]]:
    lab = Lab()
    rts = [await lab.runtime("a.example" if i % 2 == 0 else "b.example") for i in range(runtimes)]
    alice = await (await lab.runtime("a.example")).hyperty("alice")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0, "d": {}})
    chat.on_subscription(lambda e: e.accept())
    replicas = []
    for i in range(observers):
        h = await rts[i % runtimes].hyperty(f"o{i}")
        replicas.append(await h.syncher.subscribe(chat.url, COMM_SCHEMA))
    await lab.settle()
    return lab, chat, replicas


def converged(chat: Any, replicas: list[Any]) -> bool:
    kids = {cid: (c.version, c.data) for cid, c in chat.children.items()}
    return all(r.version == chat.version and r.data == chat.data
               and {cid: (c.version, c.data) for cid, c in r.children.items()} == kids for r in replicas)


async def run(workload: str, drop: float, observers: int, runtimes: int, seconds: float, rate: float,
              seed: int) -> dict[str, Any]:
    lab, chat, replicas = await world(observers, runtimes)
    rng = random.Random(seed)
    handle = lab.faults(drop=drop, seed=seed) if drop else None
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    sent = 0
    children: list[Any] = []
    while loop.time() < end:
        if workload == "updates":
            chat.data["n"] = sent
            chat.data["d"][f"k{sent % 50}"] = sent
        elif children and rng.random() < 0.5:
            child = rng.choice(children)
            child.data["n"] = child.data.get("n", 0) + 1
        else:
            owner = rng.choice(replicas)
            children.append(await owner.add_child("messages", {"n": 0, "by": owner.syncher.url}))
        sent += 1
        await asyncio.sleep(1.0 / rate)
    last = time.perf_counter()
    await lab.settle(timeout=120)
    settled_s = time.perf_counter() - last
    ok = converged(chat, replicas)
    if not ok:  # child gaps heal by reads that settle() does not wait for
        await lab.until(lambda: converged(chat, replicas), 60)
    converge_s = time.perf_counter() - last
    resyncs = sum(r.resyncs for r in replicas)
    if handle is not None:
        handle.close()
    await lab.close()
    return {"converge_after_last_s": round(converge_s, 3), "settle_s": round(settled_s, 3),
            "operations": sent, "resyncs": resyncs, "converged": converged(chat, replicas) or ok}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observers", type=int, default=200)
    parser.add_argument("--runtimes", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--drop", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="50 observers on 5 runtimes for 2 s")
    args = parser.parse_args(argv)
    observers, runtimes, seconds = (50, 5, 2.0) if args.quick else (args.observers, args.runtimes, args.seconds)
    result: dict[str, Any] = {"bench": "healing", "observers": observers, "runtimes": runtimes,
                              "seconds": seconds, "drop": args.drop,
                              "machine": {"nproc": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2)}}
    for workload, rate in (("updates", 200.0), ("children", 100.0)):
        clean = asyncio.run(run(workload, 0.0, observers, runtimes, seconds, rate, args.seed))
        faulty = asyncio.run(run(workload, args.drop, observers, runtimes, seconds, rate, args.seed))
        result[workload] = {"rate_per_s": rate, "no_faults": clean, "faults": faulty,
                            "ratio": round(faulty["converge_after_last_s"] / max(clean["converge_after_last_s"], 1e-3),
                                           1)}
        print(f"{workload}: converged {clean['converge_after_last_s']} s after the last operation without faults, "
              f"{faulty['converge_after_last_s']} s with {args.drop:.0%} dropped ({faulty['resyncs']} resyncs)",
              file=sys.stderr)
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
