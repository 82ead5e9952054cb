"""Resume benchmark (issue 4): a runtime holding N stored reporter objects (1 KB of data each) and N
observer objects restarts as a crash would; how long until all are resumed (observers resynced), and
what one stored update costs, beside a raw SQLite baseline measured in the same run: the insert rate
and the time to read the same rows back and parse them (`raw_load`, what any resume must do at least).
The restart's CPU time (process time) is reported beside its wall time: on a shared machine CPU time
is the figure to compare runs by. Its user and system parts are reported apart, with its page faults:
on a virtual machine whose host backs guest memory only when first touched, a fault on a page the guest
has not used lately costs several times one on a recycled page, and the system part moves with it.

    python -m bench.resume [--objects 10000] [--quick] [--profile] [--no-updates] [--callgrind]

`--profile` runs the restart under cProfile and prints the top functions (stderr); its times are the
profiler's, not the bench's. `--callgrind`, for a run under
`valgrind --tool=callgrind --instr-atstart=no`, counts the instructions of the restart alone (switched
on and off around it with `callgrind_control`): a count that does not move with the machine's load, for
comparing two versions of the code (not memory costs such as page faults); valgrind prints it at exit
(`Collected`). Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import os
import pstats
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench._common import GcPauses
from bench.resume_storage import count_fsyncs, data_of, raw_baseline
from core.lab import Lab
from core.schemas import COMM_SCHEMA
from core.timers import Timers

CHUNK = 250


async def create_many(syncher: Any, count: int, data_bytes: int, store: bool) -> list[Any]:
    made: list[Any] = []
    for start in range(0, count, CHUNK):
        batch = [syncher.create(COMM_SCHEMA, data=data_of(i, data_bytes), store=store)
                 for i in range(start, min(count, start + CHUNK))]
        made.extend(await asyncio.gather(*batch))
    return made


async def subscribe_many(syncher: Any, urls: list[str]) -> None:
    for start in range(0, len(urls), CHUNK):
        await asyncio.gather(*(syncher.subscribe(u, COMM_SCHEMA, store=True) for u in urls[start:start + CHUNK]))


async def update_cost(lab: Lab, updates: int, store: bool, label: str) -> float:
    rt = await lab.runtime("c.example") if store else await lab.runtime("d.example")
    h = await rt.hyperty(label)
    obj = await h.syncher.create(COMM_SCHEMA, data={"n": 0}, store=store)
    gc.collect()  # the bench's own heap of 20,000 objects: its full collection is not an update's cost
    start = time.perf_counter()
    for n in range(updates):
        obj.data["n"] = n
    await lab.settle()
    return (time.perf_counter() - start) / updates * 1e6


def raw_load(path: Path) -> tuple[float, float]:
    """Plain sqlite3 + orjson: read every row of `path` back and parse it (wall s, CPU s)."""
    conn = sqlite3.connect(path, isolation_level=None)
    start, cpu = time.perf_counter(), time.process_time()
    loaded = {url: orjson.loads(blob) for url, blob in conn.execute("SELECT url, record FROM objects")}
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    conn.close()
    assert loaded
    return wall_s, cpu_s


def print_profile(profile: cProfile.Profile, top: int = 40) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    print(out.getvalue(), file=sys.stderr)


def callgrind(on: bool) -> None:
    """Switch callgrind's instrumentation of this process on or off (waits until it is done)."""
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], check=True,
                   stdout=subprocess.DEVNULL)


async def scenario(objects: int, data_bytes: int, updates: int, workdir: Path, profile: bool,
                   count: bool = False) -> dict[str, Any]:
    timers = Timers(request=60.0, long=120.0)
    async with Lab(storage_dir=workdir, timers=timers) as lab:
        for domain in ("a.example", "b.example"):
            # 10 node subscriptions of about 40 bytes per object: lift the per-session byte budget too
            lab.node(domain, max_subscriptions=10 * objects + 100, max_subscription_bytes=1000 * objects + 10_000)
        rt = await lab.runtime("a.example")
        other = await lab.runtime("b.example", )
        alice = await rt.hyperty("alice")
        bob = await other.hyperty("bob")
        t0 = time.perf_counter()
        await create_many(alice.syncher, objects, data_bytes, store=True)
        theirs = await create_many(bob.syncher, objects, data_bytes, store=False)
        for obj in theirs:
            obj.on_subscription(lambda e: e.accept())
        await subscribe_many(alice.syncher, [o.url for o in theirs])
        await lab.settle(timeout=600)
        setup_s = time.perf_counter() - t0
        print(f"set up {objects} stored reporters and {objects} stored observers in {setup_s:.1f} s", file=sys.stderr)

        # A real restart is a new process with an empty heap; here the node, the other runtime and
        # the old runtime share one. A full collection first puts them all in the oldest generation
        # with its count up to date, so no collection in the restart walks them (the one that starts
        # a full collection needs that generation to grow by a quarter): the figure is the runtime's
        # own work. (Until 2026-12-06 the bench froze them, `gc.freeze()`, to the same effect.)
        gc.collect()
        start = time.perf_counter()
        await rt.crash()                    # the crash itself is not resume work: timed apart
        crash_s = time.perf_counter() - start
        profiler = cProfile.Profile() if profile else None
        usage = resource.getrusage(resource.RUSAGE_SELF)
        if count:
            callgrind(True)
        start, cpu = time.perf_counter(), time.process_time()
        with GcPauses() as pauses:
            if profiler is not None:
                profiler.enable()
            await rt.restart()
            if profiler is not None:
                profiler.disable()
            if count:
                callgrind(False)
            resumed_s, resumed_cpu_s = time.perf_counter() - start, time.process_time() - cpu
            in_window = len(pauses.pauses)
            after = resource.getrusage(resource.RUSAGE_SELF)
            # What the restart leaves to the collector: its next young collection, which starts at
            # the first allocation that is not served from a free list (usually just after `restart()`
            # returns, so no figure above includes it), and whatever cascades from it; forced here.
            gc.collect(0)
            young_s = sum(d for _g, d in pauses.pauses[in_window:])
        gc_s = sum(d for _g, d in pauses.pauses[:in_window])
        await lab.settle(timeout=600)
        resynced_s = time.perf_counter() - start
        reporters, observers = alice.syncher.reporters, alice.syncher.observers
        assert len(reporters) == objects and len(observers) == objects, (len(reporters), len(observers))
        assert all(o.status == "live" for o in observers.values())
        print(f"restart: {resumed_s:.3f} s to resume (CPU {resumed_cpu_s:.3f} s), {resynced_s:.3f} s until every "
              "observer resynced", file=sys.stderr)
        if profiler is not None:
            print_profile(profiler)

        figures: dict[str, Any] = {"crash_s": round(crash_s, 3), "resume_s": round(resumed_s, 3),
                                   "resume_cpu_s": round(resumed_cpu_s, 3), "resume_gc_s": round(gc_s, 3),
                                   "resume_gc_collections": in_window,
                                   "resume_user_s": round(after.ru_utime - usage.ru_utime, 3),
                                   "resume_sys_s": round(after.ru_stime - usage.ru_stime, 3),
                                   "resume_page_faults": after.ru_minflt - usage.ru_minflt,
                                   "young_gc_after_s": round(young_s, 3),
                                   "resume_and_resync_s": round(resynced_s, 3)}
        if updates:
            stored_us = await update_cost(lab, updates, store=True, label="writer")
            plain_us = await update_cost(lab, updates, store=False, label="plain")
            figures.update(stored_update_us=round(stored_us, 1), unstored_update_us=round(plain_us, 1),
                           storage_cost_per_update_us=round(stored_us - plain_us, 1))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000, help="stored reporters, and as many observers")
    parser.add_argument("--data-bytes", type=int, default=1024)
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="1,000 objects, 1,000 updates")
    parser.add_argument("--profile", action="store_true", help="profile the restart (cProfile, top functions)")
    parser.add_argument("--no-updates", action="store_true", help="the restart alone: skip the update costs")
    parser.add_argument("--callgrind", action="store_true",
                        help="under valgrind --tool=callgrind --instr-atstart=no: count the restart's instructions")
    args = parser.parse_args(argv)
    objects, updates = (1000, 1000) if args.quick else (args.objects, args.updates)
    if args.no_updates:
        updates = 0
    with tempfile.TemporaryDirectory(prefix="syncscope-resume-") as tmp:
        workdir = Path(tmp)
        figures = asyncio.run(scenario(objects, args.data_bytes, updates, workdir / "lab", args.profile,
                                            args.callgrind))
        rows = [(f"comm://a.example/raw-{i}", 1, None, orjson.dumps(data_of(i, args.data_bytes)))
                for i in range(2 * objects)]
        insert_rate, update_commit_us = raw_baseline(workdir / "raw.sqlite3", rows, max(1, min(updates, 2000)),
                                                     "NORMAL")
        load_s, load_cpu_s = raw_load(workdir / "raw.sqlite3")
        fsyncs = count_fsyncs(workdir, 500, "NORMAL") if updates else None
    baseline = {"raw_insert_rows_per_s": insert_rate, "raw_update_commit_us": update_commit_us if updates else None,
                "raw_load_s": round(load_s, 3), "raw_load_cpu_s": round(load_cpu_s, 3)}
    ratios = {"resume_s_per_raw_insert_s": round(figures["resume_s"] / (2 * objects / insert_rate), 1),
              "resume_cpu_per_raw_load_cpu": round(figures["resume_cpu_s"] / load_cpu_s, 1)}
    if updates:
        ratios["storage_cost_per_raw_update_commit"] = round(figures["storage_cost_per_update_us"] / update_commit_us,
                                                             2)
    result = {"bench": "resume", "cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2),
              "objects": 2 * objects, "data_bytes": args.data_bytes, **figures,
              "resume_cpu_us_per_object": round(figures["resume_cpu_s"] / (2 * objects) * 1e6, 1),
              "fsyncs_per_stored_update": fsyncs, "baseline": baseline, "ratios": ratios,
              "target_resume_s": 1.0}
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
