"""`syncscope` (the default command): the console on the demo lab.

`--offscreen --screenshot PATH` renders the window after the demo has run a few seconds and saves
a PNG; `--screenshots DIR` saves one PNG per main view. Without a display it says how to run.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

NO_DISPLAY = """syncscope: no display to open the console on (DISPLAY, WAYLAND_DISPLAY and QT_QPA_PLATFORM are unset).
  Render it to a file:     syncscope --offscreen --screenshot out.png
  Or run it under Xvfb:    xvfb-run syncscope
  Or the engine alone:     syncscope demo --headless"""
#: Exit status when Qt's platform plugin lacks system libraries (`console.qt_platform`).
MISSING_LIBRARIES = 3


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
    from console.qt_platform import problem
    missing = problem()
    if missing is not None:  # Qt would abort in its xcb plugin: say what to install instead
        print(missing, file=sys.stderr)
        return MISSING_LIBRARIES
    early = _hold_signals()  # a SIGTERM while Qt loads quits as soon as the window can close
    from ui.app import application, shared_loop

    app = application()
    loop = shared_loop(app)
    try:
        return loop.run_until_complete(_console(args, app, early))
    finally:
        loop.close()


async def _console(args: argparse.Namespace, app: Any, early: list[int]) -> int:
    from PySide6.QtCore import QSettings

    from core.lab import Lab
    from ui.main_window import MainWindow

    headless_output = bool(args.screenshot or args.screenshots)
    # Qt does not stop the shared loop when the window closes (`ui.app.application`): the engine,
    # the attached nodes' monitor sessions and every task are shut down first, then `run` returns.
    storage = tempfile.TemporaryDirectory(prefix="syncscope-lab-")  # restart resumes from these files
    lab = Lab(storage_dir=storage.name)
    settings = None if headless_output else QSettings()
    window = MainWindow(lab, "SyncScope — demo lab", settings)
    window.show()
    closed = asyncio.get_running_loop().create_future()
    window.closing.connect(lambda: closed.done() or closed.set_result(None))
    restore = _quit_on_signals(window, early)
    tasks: list[asyncio.Task[Any]] = []
    work = asyncio.ensure_future(_demo(args, lab, window, tasks))
    try:
        if headless_output:
            return await work
        await asyncio.wait([work, closed], return_when=asyncio.FIRST_COMPLETED)
        if work.done() and not work.cancelled() and work.exception() is not None:
            raise work.exception()  # type: ignore[misc]
        await closed
        return 0
    finally:
        # Quitting at any time (during the stress run's creates too): stop what drives the lab,
        # close the monitor sessions with a `close` (TRANSPORT §4: the node sees 1000), then the lab.
        for task in (work, *tasks):
            task.cancel()
        await asyncio.gather(work, *tasks, return_exceptions=True)
        await window.shutdown()
        await lab.close()
        window.close()
        restore()
        storage.cleanup()


async def _demo(args: argparse.Namespace, lab: Any, window: Any, tasks: list[asyncio.Task[Any]]) -> int:
    """Build the demo and drive it (with the stress run); with a screenshot asked, take it and return."""
    from console.demo import build_demo, drive
    from ui import workload

    demo = await build_demo(lab)
    tasks.append(asyncio.ensure_future(drive(demo, math.inf, args.rate)))
    if args.stress:
        count, rate = args.stress
        objects = await workload.create_objects(demo.reporter, count, [demo.observers[-1]])
        tasks.append(asyncio.ensure_future(workload.update_objects(objects, rate)))
    window.flush()  # the demo's objects have rows before one of them is selected
    window.select_object(demo.chat.url)
    if not (args.screenshot or args.screenshots):
        await asyncio.Event().wait()  # runs until the window closes
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


def _hold_signals() -> list[int]:
    """Note SIGINT and SIGTERM until the window exists (the list of those received)."""
    received: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: received.append(number))
    return received


def _quit_on_signals(window: Any, early: list[int]) -> Callable[[], None]:
    """SIGINT and SIGTERM quit as File → Quit does (instead of a KeyboardInterrupt mid-callback or
    a kill without closing anything); returns the function that puts the old handlers back. The
    handler runs between two Python callbacks, and the feed's timer runs Python ten times a second."""
    loop = asyncio.get_running_loop()
    old = {signum: signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
           for signum in (signal.SIGINT, signal.SIGTERM)}

    def handler(_signum: int, _frame: Any) -> None:
        loop.call_soon_threadsafe(window.quit_action.trigger)

    for signum in old:
        signal.signal(signum, handler)
    if early:
        loop.call_soon(window.quit_action.trigger)

    def restore() -> None:
        for signum, previous in old.items():
            signal.signal(signum, previous)

    return restore
