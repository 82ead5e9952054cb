"""Console under load (offscreen): N objects and M updates a second for S seconds, beside an idle run.

    QT_QPA_PLATFORM=offscreen python -m bench.console [--objects 2000] [--rate 2000] [--seconds 30]

The window, the demo lab and N stress objects (each observed by one more hyperty) run on the
application's loop (`ui.app.shared_loop`: the scheduling and the collector pacing the console
ships with). Then two phases are measured: idle (the lab quiet) and load (M edits a second, round
robin over the N objects). For each: the event loop's longest stall (how late a 10 ms sleep
wakes, worst and p99), the feed's flush time per batch (p50/p99/max, and the events per batch),
the process CPU share, full garbage collections, and resident memory every 5 s.

With `--node-objects K` the console also watches a live node (`bench.remote_load`, its own
process: a node over WebSocket, a reporter and an observer runtime, K objects) and keeps the passive
replicas of its objects (`ui.passive`); during the load that node takes `--node-rate` edits a
second too, so the console's feed carries both. `--rate 0` leaves the lab quiet: the node's load only.

Prints progress on stderr, then one JSON line last. `ok` holds when the load's longest stall is
within 100 ms and memory grew less than 5 % from 10 s into the load to its end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import sys
import time
from typing import Any

import orjson

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: The targets of the console issue (Performance).
STALL_TARGET_MS = 100.0
#: Memory growth from 10 s into the load to its end that still counts as flat.
FLAT_GROWTH = 0.05
RSS_EVERY = 5.0


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


class StallMeter:
    """How late a 10 ms asyncio sleep wakes up: the loop's stalls while it runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(0.01)
            self.samples.append(max(0.0, loop.time() - start - 0.01))


class FullCollections:
    """Full (generation 2) garbage collections and their pauses while installed."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._start)


async def phase(window: Any, seconds: float, work: Any = None) -> dict[str, Any]:
    feed = window.feed
    feed.flush_times.clear()
    feed.flush_cpu.clear()
    feed.batch_sizes.clear()
    meter = StallMeter()
    collections = FullCollections()
    gc.callbacks.append(collections)
    tasks = [asyncio.ensure_future(meter.run())]
    if work is not None:
        tasks.append(asyncio.ensure_future(work))
    rss: list[float] = []
    loop = asyncio.get_running_loop()
    start, cpu = loop.time(), time.process_time()
    next_sample = start
    try:
        while loop.time() - start < seconds:
            if loop.time() >= next_sample:
                rss.append(round(rss_mb(), 1))
                next_sample += RSS_EVERY
            await asyncio.sleep(0.25)
    finally:
        elapsed = loop.time() - start
        cpu = time.process_time() - cpu
        gc.callbacks.remove(collections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    rss.append(round(rss_mb(), 1))
    flushes = list(feed.flush_times)
    flush_cpu = list(feed.flush_cpu)
    at_10s = rss[min(len(rss) - 1, int(10 / RSS_EVERY))]
    return {
        "seconds": seconds,
        "longest_stall_ms": ms(max(meter.samples, default=0.0)),
        "stall_p99_ms": ms(percentile(meter.samples, 0.99)),
        "flush": {"batches": len(flushes),
                  "events_per_batch_p50": int(statistics.median(feed.batch_sizes)) if feed.batch_sizes else 0,
                  "p50_ms": ms(statistics.median(flushes)) if flushes else 0.0,
                  "p99_ms": ms(percentile(flushes, 0.99)), "max_ms": ms(max(flushes, default=0.0)),
                  "cpu_p50_ms": ms(statistics.median(flush_cpu)) if flush_cpu else 0.0,
                  "cpu_p99_ms": ms(percentile(flush_cpu, 0.99))},
        "cpu_share": round(cpu / elapsed, 2),
        "full_gc": {"count": len(collections.pauses), "max_ms": ms(max(collections.pauses, default=0.0))},
        "rss_mb_every_5s": rss,
        "rss_mb_10s": at_10s,
        "rss_mb_end": rss[-1],
    }


class RemoteLoad:
    """The live node of `bench.remote_load`, in its own process, watched by the console."""

    def __init__(self, process: asyncio.subprocess.Process, objects: int) -> None:
        self.process = process
        self.objects = objects

    @classmethod
    async def start(cls, window: Any, objects: int) -> RemoteLoad:
        from ui.node_connections import NodeConnection

        print(f"starting a live node with {objects} objects…", file=sys.stderr)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.remote_load", "--objects", str(objects), cwd=root,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        load = cls(process, objects)
        ready = orjson.loads(await load.line())
        window.remote.attach(NodeConnection("bench", ready["url"], ready["token"]))
        await load.until(window, lambda: load.replicas(window) >= objects)
        return load

    async def line(self) -> bytes:
        assert self.process.stdout is not None
        return await asyncio.wait_for(self.process.stdout.readline(), 300)

    async def command(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")
        await self.process.stdin.drain()

    @staticmethod
    def replicas(window: Any) -> int:
        """Remote objects whose reporter and observer replicas the console keeps."""
        index = window.index
        return sum(1 for url, rep in index.reporters.items() if rep.seen_at and index.observer_replicas(url))

    @staticmethod
    async def until(window: Any, predicate: Any, timeout: float = 120.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise TimeoutError("the console did not catch up with the live node")
            await asyncio.sleep(0.1)

    async def finish(self, window: Any) -> dict[str, Any]:
        """Stop the node's edits, let the console catch up, and compare what it shows."""
        await self.command("rate 0")
        await self.command("stats")
        updates = int(orjson.loads(await self.line())["updates"])
        index = window.index
        remote = [url for url, rep in index.reporters.items() if rep.seen_at]

        def caught_up() -> bool:
            return sum(index.reporters[u].obj.version for u in remote) >= updates

        with contextlib.suppress(TimeoutError):  # what it shows then is the result
            await self.until(window, caught_up, timeout=60.0)
        versions = sum(index.reporters[u].obj.version for u in remote)
        agree = versions == updates and all(
            r.obj.version == index.reporters[u].obj.version and r.obj.data == index.reporters[u].obj.data
            for u in remote for r in index.observer_replicas(u))
        watch = window.remote.watches["bench"]
        await self.command("quit")
        await asyncio.wait_for(self.process.wait(), 60)
        return {"objects": self.objects, "updates": updates, "passive_versions": versions,
                "passive_agree": agree, "events": watch.events, "lost": watch.lost}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from console.demo import build_demo
    from core.lab import Lab
    from ui import workload
    from ui.main_window import MainWindow

    lab = Lab()
    window = MainWindow(lab)
    window.show()
    remote = await RemoteLoad.start(window, args.node_objects) if args.node_objects else None
    demo = await build_demo(lab)
    print(f"creating {args.objects} objects…", file=sys.stderr)
    started = time.monotonic()
    objects = await workload.create_objects(demo.reporter, args.objects, [demo.observers[-1]])
    await lab.settle()
    window.flush()
    created_in = time.monotonic() - started
    window.select_object(demo.chat.url)
    print(f"idle run: {args.idle_seconds} s…", file=sys.stderr)
    idle = await phase(window, args.idle_seconds)
    print(f"load run: {args.rate:g} updates/s for {args.seconds:g} s…", file=sys.stderr)
    sent: list[int] = [0]
    if remote is not None:
        await remote.command(f"rate {args.node_rate}")
    load = await phase(window, args.seconds,
                       workload.update_objects(objects, args.rate, on_tick=lambda n: sent.__setitem__(0, n))
                       if args.rate > 0 else None)
    node: dict[str, Any] = {}
    if remote is not None:
        node = await remote.finish(window)
    await lab.settle()
    window.flush()
    index = window.index
    views_agree = (len([url for url in window.objects.keys if index.local_reporter(str(url))]) == len(objects) + 2
                   and all(window.objects.values[window.objects.row_of(o.url)][window.objects.VERSION] == o.version
                           for o in objects))
    await window.shutdown()
    window.close()
    await lab.close()
    growth = (load["rss_mb_end"] - load["rss_mb_10s"]) / load["rss_mb_10s"] if load["rss_mb_10s"] else 0.0
    return {"bench": "console", "objects": len(objects), "rate": args.rate, "node_rate": args.node_rate if remote
            else 0, "created_in_s": round(created_in, 1),
            "updates_sent": sent[0], "views_agree": views_agree, "node": node, "idle": idle, "load": load,
            "rss_growth_after_10s": round(growth, 3), "loadavg_1m": round(os.getloadavg()[0], 2),
            "target": {"longest_stall_ms": STALL_TARGET_MS, "rss_growth_after_10s": FLAT_GROWTH},
            "ok": (load["longest_stall_ms"] <= STALL_TARGET_MS and growth < FLAT_GROWTH and views_agree
                   and node.get("passive_agree", True))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=2_000.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--node-objects", type=int, default=0,
                        help="also watch a live node with this many objects (0: none)")
    parser.add_argument("--node-rate", type=float, default=2_000.0, help="the node's edits a second during the load")
    args = parser.parse_args(argv)
    from ui.app import application, shared_loop

    app = application()
    loop = shared_loop(app)
    try:
        result = loop.run_until_complete(bench(args))
    finally:
        loop.close()
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
