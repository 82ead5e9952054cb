"""Item views that repaint, for a change of their model's data, only the changed rows they show.

Qt repaints the whole viewport for any `dataChanged` of more than one cell, shown or not. Under a
stress run every flush changed some rows of the objects, subscriptions and topology views (a few of
them, or none, on screen), and each was repainted in full ten times a second (measured with
`bench.console`, docs/BENCHMARKS.md "console"). Here such a change repaints the band of rows it
covers on screen, or nothing when none is. A change of one cell, and every change while an
accessibility client listens, go to Qt as before. (The models are not editable: no editor data to
refresh.)
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QTableView, QTreeView, QWidget

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
                          self.rowViewportPosition(last) + self.rowHeight(last))


class TreeView(QTreeView):
    def dataChanged(self, topLeft: Index, bottomRight: Index, roles: Sequence[int] = ()) -> None:
        if topLeft == bottomRight or QAccessible.isActive():
            super().dataChanged(topLeft, bottomRight, list(roles))
        elif self.isVisible():
            # rows of one parent: the band from the first to the last also covers the children
            # shown between them; a null rect is a row under a collapsed item (not shown)
            start, end = self.visualRect(topLeft.siblingAtColumn(0)), self.visualRect(bottomRight.siblingAtColumn(0))
            if start.isNull() != end.isNull():
                super().dataChanged(topLeft, bottomRight, list(roles))
            elif not start.isNull():
                _repaint_band(self.viewport(), start.top(), end.bottom() + 1)
