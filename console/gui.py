"""`syncscope` (the default command): the console on the demo lab.

`--offscreen --screenshot PATH` renders the window after the demo has run a few seconds and saves
a PNG; `--screenshots DIR` saves one PNG per main view. Without a display it says how to run.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from pathlib import Path
from typing import Any

NO_DISPLAY = """syncscope: no display to open the console on (DISPLAY, WAYLAND_DISPLAY and QT_QPA_PLATFORM are unset).
  Render it to a file:     syncscope --offscreen --screenshot out.png
  Or run it under Xvfb:    xvfb-run syncscope
  Or the engine alone:     syncscope demo --headless"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offscreen", action="store_true", help="render without a display (Qt offscreen platform)")
    parser.add_argument("--screenshot", metavar="PATH", help="save the window as a PNG after --seconds, then exit")
    parser.add_argument("--screenshots", metavar="DIR", help="save a PNG of each main view after --seconds, then exit")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="how long the demo runs before a screenshot (default 3)")
    parser.add_argument("--rate", type=float, default=20.0, help="chat edits per second in the demo (default 20)")
    parser.add_argument("--stress", nargs=2, type=int, metavar=("N", "M"),
                        help="also create N objects and update them M times a second")


def has_display() -> bool:
    if not sys.platform.startswith("linux"):
        return True
    return any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def run(args: argparse.Namespace) -> int:
    headless_output = bool(args.screenshot or args.screenshots)
    if args.offscreen or (headless_output and not has_display()):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return 2
    if args.seconds <= 0:
        print("syncscope: --seconds must be positive", file=sys.stderr)
        return 2
    from ui.app import application, shared_loop

    app = application()
    loop = shared_loop(app)
    try:
        return loop.run_until_complete(_console(args, app))
    finally:
        loop.close()


async def _console(args: argparse.Namespace, app: Any) -> int:
    from PySide6.QtCore import QSettings

    from console.demo import build_demo, drive
    from core.lab import Lab
    from ui import workload
    from ui.main_window import MainWindow

    headless_output = bool(args.screenshot or args.screenshots)
    lab = Lab()
    settings = None if headless_output else QSettings()
    window = MainWindow(lab, "SyncScope — demo lab", settings)
    window.show()
    closed = asyncio.get_running_loop().create_future()
    app.lastWindowClosed.connect(lambda: closed.done() or closed.set_result(None))
    tasks: list[asyncio.Task[Any]] = []
    try:
        demo = await build_demo(lab)
        tasks.append(asyncio.ensure_future(drive(demo, math.inf, args.rate)))
        if args.stress:
            count, rate = args.stress
            objects = await workload.create_objects(demo.reporter, count, [demo.observers[-1]])
            tasks.append(asyncio.ensure_future(workload.update_objects(objects, rate)))
        window.flush()  # the demo's objects have rows before one of them is selected
        window.select_object(demo.chat.url)
        if not headless_output:
            await closed
            return 0
        await asyncio.sleep(args.seconds)
        from ui.screenshots import save_views, save_window
        window.flush()
        if args.screenshot:
            save_window(window, Path(args.screenshot))
            print(f"saved {args.screenshot}")
        if args.screenshots:
            for path in await save_views(window, demo, Path(args.screenshots)):
                print(f"saved {path}")
        return 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        window.close()
        await lab.close()
