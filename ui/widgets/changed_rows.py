"""A table view that repaints, for a change of its model's data, only the changed rows it shows.

Qt (6.11) repaints the whole viewport for a `dataChanged` of a run of more than about twenty rows,
shown or not. Under a stress run every flush changed runs of a few hundred rows of the objects and
subscriptions tables (none of them, or a few, on screen), and each table was repainted in full ten
times a second (measured with `bench.console`, docs/BENCHMARKS.md "console"). Here such a change
repaints the band of rows it covers on screen, or nothing when none is. A change of one cell, and
every change while an accessibility client listens, go to Qt as before. (The tables are not
editable: no editor data to refresh.)
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QTableView, QWidget

Index = QModelIndex | QPersistentModelIndex


def _repaint_band(viewport: QWidget, top: int, bottom: int) -> None:
    """Repaint the viewport between `top` and `bottom` (viewport y), clipped to it; nothing when outside."""
    top, bottom = max(top, 0), min(bottom, viewport.height())
    if top < bottom:
        viewport.update(QRect(0, top, viewport.width(), bottom - top))


class TableView(QTableView):
    def dataChanged(self, topLeft: Index, bottomRight: Index, roles: Sequence[int] = ()) -> None:
        if topLeft == bottomRight or QAccessible.isActive():
            super().dataChanged(topLeft, bottomRight, list(roles))
        elif self.isVisible():  # hidden, it paints in full when shown again
            last = bottomRight.row()
            _repaint_band(self.viewport(), self.rowViewportPosition(topLeft.row()),
                          self.rowViewportPosition(last) + self.rowHeight(last) + self.showGrid())
