"""Console tests run on the application's loop (`ui.app.SharedLoop`): the engine's coroutines and
the Qt widgets share one thread, exactly as in the application. Views are brought up to date with
`window.flush()` after `await lab.settle()`; a condition the engine reaches on its own timers is
awaited with `lab.until` (looked at again after each monitor event), never by sleeping."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtWidgets import QApplication

from console.demo import Demo, build_demo
from core.lab import Lab
from tests.conftest import FAST
from ui.app import SharedLoop
from ui.main_window import MainWindow


def _qasync_loop() -> asyncio.AbstractEventLoop:
    app = QApplication.instance() or QApplication([])
    return SharedLoop(app)  # the application's loop


def pytest_asyncio_loop_factories(config: pytest.Config,
                                   item: pytest.Item) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"qasync": _qasync_loop}


@pytest.fixture
async def window(lab: Lab, qapp: QApplication) -> AsyncIterator[MainWindow]:
    win = MainWindow(lab)
    win.show()
    yield win
    await win.shutdown()   # as the application ends it: what the window started ends on the loop
    win.close()


@pytest.fixture
async def demo(lab: Lab, window: MainWindow) -> Demo:
    built = await build_demo(lab)
    await lab.settle()
    window.flush()
    return built


__all__ = ["FAST", "Path"]
