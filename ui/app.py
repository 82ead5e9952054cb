"""The Qt application and the qasync loop the engine and the console share."""

from __future__ import annotations

import asyncio
import sys

import qasync
from PySide6.QtWidgets import QApplication


def application() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
        app.setOrganizationName("SyncScope")
        app.setApplicationName("SyncScope")
    return app


def shared_loop(app: QApplication) -> asyncio.AbstractEventLoop:
    """A Qt event loop that is also the asyncio loop: engine coroutines and widgets run on one thread."""
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    return loop
