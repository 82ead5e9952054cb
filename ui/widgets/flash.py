"""Rows that just changed flash: a table cell is painted on a warm background while the time its
row names (an object's last change, a message's time) is under FLASH_SECONDS old.

Nothing is stored per row: the delegate reads that time when it paints, so a flash costs nothing
until the row is painted, and it ends at the view's next repaint after FLASH_SECONDS (one is
scheduled when rows change)."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QStyledItemDelegate, QStyleOptionViewItem

#: How long a changed row stays highlighted.
FLASH_SECONDS = 0.8
#: The JSON tree's flash colour, a little lighter.
FLASH_BRUSH = QBrush(QColor(250, 215, 90, 150))

#: The time (seconds since the epoch) a row last changed, read from one of its cells.
ChangedAt = Callable[[QModelIndex | QPersistentModelIndex], "float | None"]


class FlashDelegate(QStyledItemDelegate):
    def __init__(self, view: QAbstractItemView, changed_at: ChangedAt) -> None:
        super().__init__(view)
        self.changed_at = changed_at
        self.clock: Callable[[], float] = time.time
        self._fade = QTimer(self)  # one repaint after the last change ends its flash
        self._fade.setSingleShot(True)
        self._fade.setInterval(int(FLASH_SECONDS * 1000) + 50)
        self._fade.timeout.connect(view.viewport().update)
        model = view.model()
        model.rowsInserted.connect(lambda *_: self._fade.start())
        model.dataChanged.connect(lambda *_: self._fade.start())
        view.setItemDelegate(self)

    def flashing(self, index: QModelIndex | QPersistentModelIndex) -> bool:
        changed = self.changed_at(index)
        return changed is not None and self.clock() - changed < FLASH_SECONDS

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        if self.flashing(index):
            option.backgroundBrush = FLASH_BRUSH  # type: ignore[attr-defined]


def sort_key_time(column: int) -> ChangedAt:
    """Reads the change time as the sort key (UserRole) of `column` of the row."""

    def changed_at(index: QModelIndex | QPersistentModelIndex) -> float | None:
        value = index.siblingAtColumn(column).data(Qt.ItemDataRole.UserRole)
        return value if isinstance(value, float) else None
    return changed_at
