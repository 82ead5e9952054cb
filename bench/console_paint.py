"""What the flash of changed rows costs a repaint (offscreen): the message log and the objects table
repainted with every visible row flashing (the worst case, as under a stress run) and with none
flashing (the raw baseline), interleaved in one run.

    QT_QPA_PLATFORM=offscreen python -m bench.console_paint [--objects 2000] [--rounds 300]

The window runs on the demo lab plus N stress objects (each observed by one more hyperty), edited
for a few seconds so the log is full of real rows. Prints one JSON line: per view the median and
p99 of one full repaint, each way, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

import orjson

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def repaints(view: Any, model: Any, rounds: int) -> dict[str, Any]:
    """Repaint `view` `rounds` times each way, alternating, and compare."""
    times: dict[str, list[float]] = {"flash": [], "plain": []}
    for number in range(2 * rounds):
        kind = ("flash", "plain")[number % 2]
        # every row just changed (the flash answer) or long ago (the model's ordinary answer)
        model.clock = (lambda: 0.0) if kind == "flash" else (lambda: float("inf"))
        started = time.perf_counter()
        view.viewport().repaint()
        times[kind].append(time.perf_counter() - started)
    model.clock = time.time
    out: dict[str, Any] = {}
    for kind, values in times.items():
        ordered = sorted(values)
        out[kind] = {"median_ms": ms(statistics.median(values)), "p99_ms": ms(ordered[int(len(ordered) * 0.99)])}
    out["ratio_median"] = round(statistics.median(times["flash"]) / statistics.median(times["plain"]), 3)
    return out


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from console.demo import build_demo, drive
    from core.lab import Lab
    from ui import workload
    from ui.main_window import MainWindow

    async with Lab() as lab:
        window = MainWindow(lab)
        window.resize(1500, 950)
        window.show()
        demo = await build_demo(lab)
        await workload.create_objects(demo.reporter, args.objects, [demo.observers[-1]])
        await drive(demo, 2.0)
        await lab.settle()
        window.flush()
        result: dict[str, Any] = {"bench": "console_paint", "objects": args.objects, "rounds": args.rounds,
                                  "log_rows": len(window.log.rows), "loadavg_1m": round(os.getloadavg()[0], 2)}
        for name, view, model in (("log_view", window.messages_dock.view, window.log),
                                  ("objects_view", window.objects_dock.table, window.objects)):
            result[name] = repaints(view, model, args.rounds)
        window.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=300)
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
