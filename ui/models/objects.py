"""The data objects table: every object with a reporter in the lab. Each flush reads again only the
objects the batch's trace events concerned (`EngineIndex.touched`). The row keeps the time of the
last change; its age is worked out when the cell is painted (the dock repaints once a second)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor

from core.monitor import TraceEvent
from ui.index import EngineIndex
from ui.models.flash import FLASH_BRUSH, FLASH_SECONDS
from ui.models.table import GONE, KeyedTableModel


def schema_name(schema: str) -> str:
    return schema.rstrip("/").rsplit("/", 1)[-1]


def age_text(seconds: float) -> str:
    if seconds < 1:
        return "now"
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds // 3600)} h"


class ObjectsModel(KeyedTableModel):
    columns = ("URL", "Name", "Schema", "Reporter", "Version", "Observers", "Children", "Last change",
               "State", "Behind")
    URL, NAME, SCHEMA, REPORTER, VERSION, OBSERVERS, CHILDREN, AGE, STATE, BEHIND = range(10)

    def __init__(self, index: EngineIndex) -> None:
        super().__init__()
        self.engine = index
        self.clock: Callable[[], float] = time.time   # what "just changed" is measured against (rows flash)
        self.refresh(index.object_urls())

    def ingest(self, events: Iterable[TraceEvent]) -> None:
        if self.engine.touched:
            self.refresh(self.engine.touched)

    def refresh(self, urls: Iterable[str]) -> None:
        """Read the rows of `urls` again from the engine (through the index)."""
        now = time.time()
        changes: dict[Hashable, tuple[Any, ...] | None] = {}
        for url in urls:
            changes[url] = self._row(url, now)
        self.update_rows(changes)

    def _row(self, url: str, now: float) -> tuple[Any, ...] | None:
        rep = self.engine.reporter(url)
        if rep is None:
            return GONE
        obj = rep.obj
        version = obj.version
        row = self.row_of(url)
        changed_at = now
        if row >= 0 and self.values[row][self.VERSION] == version:
            changed_at = self.values[row][self.AGE]
        behind = self.engine.behind(url)
        return (url, obj.metadata.get("name", ""), schema_name(obj.schema), rep.holder, version,
                len(obj.subscriptions), len(obj.children), changed_at, obj.status, behind)

    def text(self, row: int, column: int, value: Any) -> str:
        if column == self.URL:
            return self.engine.short(str(value))
        if column == self.AGE:
            return age_text(time.time() - value)
        return super().text(row, column, value)

    def extra(self, row: int, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.BackgroundRole and self.clock() - self.values[row][self.AGE] < FLASH_SECONDS:
            return FLASH_BRUSH  # its version just changed
        if role == Qt.ItemDataRole.ToolTipRole and column == self.URL:
            return self.keys[row]
        if role == Qt.ItemDataRole.ForegroundRole and column == self.BEHIND and self.values[row][self.BEHIND]:
            return QBrush(QColor(220, 120, 0))
        return None
