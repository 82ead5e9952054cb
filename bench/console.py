"""Console under load (offscreen): N objects and M updates a second for S seconds, beside an idle run.

    QT_QPA_PLATFORM=offscreen python -m bench.console [--objects 2000] [--rate 2000] [--seconds 30]

Prints progress lines, then one JSON line last: the longest event-loop stall and the flush time per
batch, idle and under load, and resident memory at 10 s and at the end of the load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from typing import Any

import orjson

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


class StallMeter:
    """How late a 10 ms asyncio sleep wakes up: the loop's longest stall while it runs."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.samples: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(0.01)
            late = loop.time() - start - 0.01
            self.samples.append(late)
            self.worst = max(self.worst, late)


def flush_stats(times: list[float]) -> dict[str, float]:
    if not times:
        return {"batches": 0}
    ordered = sorted(times)
    return {"batches": len(times), "p50_ms": round(statistics.median(times) * 1000, 2),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2), "max_ms": round(ordered[-1] * 1000, 2)}


async def phase(window: Any, seconds: float, work: Any = None) -> dict[str, Any]:
    meter = StallMeter()
    window.feed.flush_times.clear()
    tasks = [asyncio.ensure_future(meter.run())]
    if work is not None:
        tasks.append(asyncio.ensure_future(work))
    memory_10s = None
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        await asyncio.sleep(0.5)
        if memory_10s is None and time.monotonic() - start >= 10:
            memory_10s = rss_mb()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"seconds": seconds, "longest_stall_ms": round(meter.worst * 1000, 1),
            "flush": flush_stats(list(window.feed.flush_times)), "rss_mb_10s": round(memory_10s or 0, 1),
            "rss_mb_end": round(rss_mb(), 1)}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from console.demo import build_demo
    from core.lab import Lab
    from ui import workload
    from ui.main_window import MainWindow

    lab = Lab()
    window = MainWindow(lab)
    window.show()
    demo = await build_demo(lab)
    print(f"creating {args.objects} objects…", file=sys.stderr)
    started = time.monotonic()
    objects = await workload.create_objects(demo.reporter, args.objects, [demo.observers[-1]])
    await lab.settle()
    created_in = time.monotonic() - started
    window.select_object(demo.chat.url)
    print("idle run…", file=sys.stderr)
    idle = await phase(window, args.idle_seconds)
    print(f"load run: {args.rate} updates/s for {args.seconds} s…", file=sys.stderr)
    counter: list[int] = [0]
    load = await phase(window, args.seconds,
                       workload.update_objects(objects, args.rate, on_tick=lambda n: counter.__setitem__(0, n)))
    await lab.settle()
    window.close()
    await lab.close()
    return {"bench": "console", "objects": len(objects), "rate": args.rate, "created_in_s": round(created_in, 1),
            "updates_sent": counter[0], "idle": idle, "load": load,
            "target": {"longest_stall_ms": 100}, "ok": load["longest_stall_ms"] <= 100}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=2_000.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
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
