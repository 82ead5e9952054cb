"""Fan-out bench (issue 2, Performance): one reporter, N observers over R runtimes in 2 domains.

    python -m bench.fanout [--observers 1000] [--runtimes 10] [--updates 1000] [--window 16]
                           [--rounds 3] [--quick] [--profile cprofile|pyinstrument --profile-out F]
    python bench/fanout.py ...

Shape: the reporter has a runtime of its own in `a.example`; the observer runtimes are split evenly
over `a.example` and `b.example` (runtimes of `b.example` reach the object through a visiting
session at `a.example`'s Message Node), each holding N/R observer hyperties of one Communication
object. An update is one tracked edit `chat.data["k"] = value` on the reporter.

Measured in each round, engine and baseline interleaved so machine noise hits both alike:

* latency: one update in flight at a time; from just before the edit to the moment the N-th
  replica's `on_change` handler runs (each handler counts arrivals per update in a list and stamps
  `time.perf_counter()` when the count reaches N). Median and p99 over `--updates` updates.
* throughput: `--window` updates in flight (the next edit as soon as one completes);
  delivered replica-updates per second = N * updates / (last completion - first edit).
* the same two with a monitor subscriber (`lab.monitor.subscribe(lambda e: None)`), as the console
  has one.
* baseline: plain asyncio dispatch of the same number of callbacks, timed the same way: per update,
  N `loop.call_soon` callbacks that each assign into a dict and call the same arrival counter. It runs
  with the garbage collector paused: its N pending handles per update otherwise set off a full
  collection of the lab's heap every few dozen updates, and its p99 would be the collector's. The
  engine phases run with the collector on; the full collections they saw are counted (`gc`).
* CPU cost: process CPU time per delivered replica-update in the throughput phase. On a shared
  2-core machine the wall-clock figures move with whatever else runs; this one moves much less.

Per-round numbers go to stderr; the result, printed last as one JSON line, holds the median over
rounds of each figure and the spread (min/max) of the headline ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # `python bench/fanout.py`: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import gc
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench._common import GcPauses, emit, latency_summary, machine, median, note, spread
from core.lab import Lab
from core.runtime.hyperty import Hyperty
from core.runtime.runtime import Runtime
from core.schemas import COMM_SCHEMA
from core.sync.observer import DataObjectObserver
from core.sync.reporter import DataObjectReporter

DOMAINS = ("a.example", "b.example")
TARGET_MEDIAN_MS = 50.0
TARGET_RATE = 50_000.0
#: Concurrent subscribes while building (keeps request timers far from their limits).
SUBSCRIBE_CHUNK = 100
#: Updates sent before measuring (warm caches, first-time paths).
WARMUP = 20


class Arrivals:
    """Counts replica arrivals per update and stamps the time the N-th one lands.

    `values` sent are `base + i`; `arrived(value)` is what every replica's callback calls, engine and
    baseline alike, so the measurement costs the same on both sides (two list operations and a
    compare per replica-update).
    """

    def __init__(self, replicas: int) -> None:
        self.replicas = replicas
        self.base = 0
        self.counts: list[int] = []
        self.done: list[float] = []
        self.completed = 0
        self.waiter: asyncio.Future[None] | None = None

    def reset(self, base: int, updates: int) -> None:
        self.base = base
        self.counts = [0] * updates
        self.done = [0.0] * updates
        self.completed = 0
        self.waiter = None

    def arrived(self, value: int) -> None:
        i = value - self.base
        c = self.counts[i] + 1
        self.counts[i] = c
        if c == self.replicas:
            self.done[i] = time.perf_counter()
            self.completed += 1
            waiter = self.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)


@dataclass
class Phase:
    """One measured run: per-update latencies (s) and the time from first edit to last completion."""

    latencies: list[float]
    elapsed: float
    cpu: float  # process CPU time over the phase: what the work cost, whatever else the machine ran
    replicas: int

    @property
    def rate(self) -> float:
        return self.replicas * len(self.latencies) / self.elapsed

    @property
    def cpu_rate(self) -> float:
        return self.replicas * len(self.latencies) / self.cpu

    def summary(self) -> dict[str, float]:
        return {**latency_summary(self.latencies), "replica_updates_per_s": round(self.rate),
                "cpu_us_per_replica_update": round(1e6 * self.cpu / (self.replicas * len(self.latencies)), 3)}


async def drive(send: Callable[[int], None], arrivals: Arrivals, base: int, updates: int, window: int,
                timeout: float = 60.0) -> Phase:
    """Send `updates` values (`base`, `base + 1`, …) keeping at most `window` of them incomplete."""
    loop = asyncio.get_running_loop()
    arrivals.reset(base, updates)
    sent_at = [0.0] * updates
    sent = 0
    cpu_start = time.process_time()
    start = time.perf_counter()
    async with asyncio.timeout(timeout + updates * 0.5):
        while arrivals.completed < updates:
            while sent < updates and sent - arrivals.completed < window:
                sent_at[sent] = time.perf_counter()
                send(base + sent)
                sent += 1
            arrivals.waiter = loop.create_future()
            await arrivals.waiter
    cpu = time.process_time() - cpu_start
    end = max(arrivals.done)
    return Phase([d - s for d, s in zip(arrivals.done, sent_at, strict=True)], end - start, cpu, arrivals.replicas)


# the lab ------------------------------------------------------------------------------------------------


@dataclass
class Fanout:
    lab: Lab
    reporter_runtime: Runtime
    runtimes: list[Runtime]
    chat: DataObjectReporter
    observers: list[DataObjectObserver]


def spread_evenly(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def build(lab: Lab, observers: int, runtimes: int) -> Fanout:
    reporter_rt = await lab.runtime(DOMAINS[0])
    reporter = await reporter_rt.hyperty("reporter")
    chat = await reporter.syncher.create(COMM_SCHEMA, data={"k": 0}, name="fanout")
    chat.on_subscription(lambda event: event.accept())
    per_domain = spread_evenly(runtimes, len(DOMAINS))
    rts = [await lab.runtime(domain) for domain, n in zip(DOMAINS, per_domain, strict=True) for _ in range(n)]
    replicas: list[DataObjectObserver] = []
    for rt, n in zip(rts, spread_evenly(observers, runtimes), strict=True):
        if n == 0:
            continue
        hyperties: list[Hyperty] = list(await asyncio.gather(*(rt.hyperty(f"obs{j}") for j in range(n))))
        # the first subscribe of a runtime sets up its ObserverObject and node subscription
        replicas.append(await hyperties[0].syncher.subscribe(chat.url, COMM_SCHEMA))
        rest = hyperties[1:]
        for k in range(0, len(rest), SUBSCRIBE_CHUNK):
            replicas.extend(await asyncio.gather(*(h.syncher.subscribe(chat.url, COMM_SCHEMA)
                                                   for h in rest[k:k + SUBSCRIBE_CHUNK])))
    await lab.settle()
    return Fanout(lab, reporter_rt, rts, chat, replicas)


def converged(f: Fanout) -> bool:
    return all(o.version == f.chat.version and o.data == f.chat.data for o in f.observers)


# the run ------------------------------------------------------------------------------------------------


class Profiling:
    """`--profile`: cProfile or pyinstrument around the engine phases only (no baseline, no monitor)."""

    def __init__(self, kind: str | None, out: str) -> None:
        self.kind, self.out = kind, out
        self.profiler: Any = None
        if kind == "cprofile":
            import cProfile
            self.profiler = cProfile.Profile()
        elif kind == "pyinstrument":
            from pyinstrument import Profiler
            self.profiler = Profiler(interval=0.0002, async_mode="disabled")

    def start(self) -> None:
        if self.kind == "cprofile":
            self.profiler.enable()
        elif self.kind == "pyinstrument":
            self.profiler.start()

    def stop(self) -> None:
        if self.kind == "cprofile":
            self.profiler.disable()
        elif self.kind == "pyinstrument":
            self.profiler.stop()

    def save(self) -> None:
        if self.kind == "cprofile":
            self.profiler.dump_stats(self.out)
        elif self.kind == "pyinstrument":
            with open(self.out, "w", encoding="utf-8") as f:
                f.write(self.profiler.output_text(unicode=True, show_all=False))
        if self.kind:
            note(f"profile of the engine phases written to {self.out}")


async def run(observers: int, runtimes: int, updates: int, window: int, rounds: int,
              profiling: Profiling | None = None) -> dict[str, Any]:
    profiling = profiling or Profiling(None, "")
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    async with Lab() as lab:
        f = await build(lab, observers, runtimes)
        n = len(f.observers)
        note(f"built {n} observers on {len(f.runtimes)} runtimes in {time.perf_counter() - t0:.1f}s")
        arrivals = Arrivals(n)
        arrived = arrivals.arrived

        def on_change(event: Any) -> None:
            arrived(event.data)

        for o in f.observers:
            o.on_change(on_change)

        chat_data = f.chat.data

        def send_engine(value: int) -> None:
            chat_data["k"] = value

        replica_state: dict[int, int] = {}
        call_soon = loop.call_soon
        targets = range(n)

        def baseline_callback(j: int, value: int) -> None:
            replica_state[j] = value
            arrived(value)

        def send_baseline(value: int) -> None:
            for j in targets:
                call_soon(baseline_callback, j, value)

        base = 1  # every value sent is new, so every edit is a real change
        results: dict[str, list[Phase]] = {k: [] for k in
                                           ("base_lat", "base_tput", "lat", "tput", "mon_lat", "mon_tput")}
        gc_pauses = {k: GcPauses() for k in results}

        async def phase(key: str, send: Callable[[int], None], count: int, win: int) -> Phase:
            nonlocal base
            gc.collect()  # every phase starts from the same heap; this collection is not counted
            profiled = key in ("lat", "tput")
            baseline = key.startswith("base")
            if profiled:
                profiling.start()
            if baseline:
                # N pending handles per update survive young collections and set off a full collection of
                # the lab's heap every few dozen updates (~20 ms each): without this the baseline's p99
                # would be the collector's. The engine runs with the collector on, as in production.
                gc.disable()
            try:
                with gc_pauses[key]:
                    p = await drive(send, arrivals, base, count, win)
            finally:
                if baseline:
                    gc.enable()
                if profiled:
                    profiling.stop()
            base += count
            results[key].append(p)
            return p

        # warm-up (not recorded)
        await drive(send_engine, arrivals, base, WARMUP, 1)
        base += WARMUP
        for r in range(rounds):
            b = await phase("base_lat", send_baseline, updates, 1)
            e = await phase("lat", send_engine, updates, 1)
            bt = await phase("base_tput", send_baseline, updates, window)
            et = await phase("tput", send_engine, updates, window)
            stop = lab.monitor.subscribe(lambda event: None)
            try:
                ml = await phase("mon_lat", send_engine, updates, 1)
                mt = await phase("mon_tput", send_engine, updates, window)
            finally:
                stop()
            note(f"round {r + 1}/{rounds}: engine median {e.summary()['median_ms']} ms p99 "
                 f"{e.summary()['p99_ms']} ms, {et.rate:,.0f} ru/s, {1e6 / et.cpu_rate:.2f} cpu-us/ru | baseline "
                 f"median {b.summary()['median_ms']} ms, {bt.rate:,.0f} ru/s, {1e6 / bt.cpu_rate:.2f} cpu-us/ru | "
                 f"monitor median {ml.summary()['median_ms']} ms, {mt.rate:,.0f} ru/s, "
                 f"{1e6 / mt.cpu_rate:.2f} cpu-us/ru")
        await lab.settle()
        ok = converged(f) and lab.inflight.count == 0
    profiling.save()

    def med(key: str, stat: str) -> float:
        return round(median(p.summary()[stat] for p in results[key]), 3)

    def block(lat_key: str, tput_key: str) -> dict[str, float]:
        return {"median_ms": med(lat_key, "median_ms"), "p99_ms": med(lat_key, "p99_ms"),
                "replica_updates_per_s": round(med(tput_key, "replica_updates_per_s")),
                "loaded_median_ms": med(tput_key, "median_ms"), "loaded_p99_ms": med(tput_key, "p99_ms"),
                "cpu_us_per_replica_update": med(tput_key, "cpu_us_per_replica_update")}

    engine = block("lat", "tput")
    baseline = block("base_lat", "base_tput")
    monitored = block("mon_lat", "mon_tput")
    return {
        "bench": "fanout",
        "replicas": n,
        "median_ms": engine["median_ms"],
        "p99_ms": engine["p99_ms"],
        "replica_updates_per_s": engine["replica_updates_per_s"],
        "loaded_median_ms": engine["loaded_median_ms"],
        "loaded_p99_ms": engine["loaded_p99_ms"],
        "cpu_us_per_replica_update": engine["cpu_us_per_replica_update"],
        "baseline": baseline,
        "with_monitor": monitored,
        "ratios": {
            "median_vs_baseline": round(engine["median_ms"] / baseline["median_ms"], 1),
            "p99_vs_baseline": round(engine["p99_ms"] / baseline["p99_ms"], 1),
            "rate_baseline_over_engine": round(baseline["replica_updates_per_s"] / engine["replica_updates_per_s"], 1),
            "cpu_vs_baseline": round(engine["cpu_us_per_replica_update"] / baseline["cpu_us_per_replica_update"], 1),
            "monitor_median_cost": round(monitored["median_ms"] / engine["median_ms"], 2),
            "monitor_cpu_cost": round(monitored["cpu_us_per_replica_update"] / engine["cpu_us_per_replica_update"], 2),
            "monitor_rate_cost": round(engine["replica_updates_per_s"] / monitored["replica_updates_per_s"], 2),
            "median_vs_target": round(engine["median_ms"] / TARGET_MEDIAN_MS, 2),
            "rate_vs_target": round(engine["replica_updates_per_s"] / TARGET_RATE, 2),
        },
        # full collections during the engine phases (all rounds): what a p99 mostly shows when there are any
        "gc": {"latency": gc_pauses["lat"].summary(), "throughput": gc_pauses["tput"].summary(),
               "monitor": gc_pauses["mon_lat"].summary(), "baseline": "collector off"},
        "spread": {"median_ms": spread([p.summary()["median_ms"] for p in results["lat"]]),
                   "replica_updates_per_s": spread([p.rate for p in results["tput"]]),
                   "cpu_us_per_replica_update": spread([p.summary()["cpu_us_per_replica_update"]
                                                        for p in results["tput"]]),
                   "baseline_median_ms": spread([p.summary()["median_ms"] for p in results["base_lat"]])},
        "targets": {"median_ms": TARGET_MEDIAN_MS, "replica_updates_per_s": TARGET_RATE,
                    "met": engine["median_ms"] <= TARGET_MEDIAN_MS and engine["replica_updates_per_s"] >= TARGET_RATE},
        "config": {"observers": observers, "runtimes": runtimes, "domains": len(DOMAINS), "updates": updates,
                   "window": window, "rounds": rounds},
        "converged": ok,
        "profiled": profiling.kind,
        "machine": machine(),
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.split("\n")[0])
    parser.add_argument("--observers", type=int, default=1000, help="observer hyperties (replicas), default 1000")
    parser.add_argument("--runtimes", type=int, default=10, help="observer runtimes over 2 domains, default 10")
    parser.add_argument("--updates", type=int, default=1000, help="updates per measured phase, default 1000")
    parser.add_argument("--window", type=int, default=16, help="updates in flight in the throughput phase")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the result is the median over rounds")
    parser.add_argument("--quick", action="store_true", help="100 updates, 1 round (a smoke run)")
    parser.add_argument("--profile", choices=("cprofile", "pyinstrument"),
                        help="profile the engine phases (the timings are then not comparable)")
    parser.add_argument("--profile-out", default=str(Path(tempfile.gettempdir()) / "fanout.prof"),
                        help="where the profile goes (cProfile stats, or pyinstrument text); default in the temp dir")
    args = parser.parse_args(argv)
    if args.quick:
        args.updates, args.rounds = min(args.updates, 100), 1
    if args.observers < 1 or args.runtimes < 1 or args.updates < 1 or args.window < 1 or args.rounds < 1:
        parser.error("--observers, --runtimes, --updates, --window and --rounds must be at least 1")
    try:
        profiling = Profiling(args.profile, args.profile_out)
    except ImportError:
        parser.error("--profile pyinstrument needs pyinstrument (.venv/bin/pip install pyinstrument)")
    result = asyncio.run(run(args.observers, args.runtimes, args.updates, args.window, args.rounds, profiling))
    emit(result)
    return 0 if result["converged"] else 1


if __name__ == "__main__":
    sys.exit(main())
