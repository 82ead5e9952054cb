"""Ends the flash of changed rows (`ui.models.flash`): one repaint of the view FLASH_SECONDS after
its model last changed, so a row that stops changing stops flashing."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QAbstractItemView

from ui.models.flash import FLASH_SECONDS


def fade_flashes(view: QAbstractItemView) -> QTimer:
    fade = QTimer(view)
    fade.setSingleShot(True)
    fade.setInterval(int(FLASH_SECONDS * 1000) + 50)
    fade.timeout.connect(view.viewport().update)
    model = view.model()
    model.rowsInserted.connect(lambda *_: fade.start())
    model.dataChanged.connect(lambda *_: fade.start())
    return fade
