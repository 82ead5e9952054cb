"""The data objects table: every object with a reporter in the lab, refreshed from the engine each flush."""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor

from core.monitor import TraceEvent
from ui.index import EngineIndex
from ui.models.table import KeyedTableModel


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
        self._changed_at: dict[str, tuple[int, float]] = {}

    def ingest(self, events: Iterable[TraceEvent]) -> None:
        self.refresh()

    def refresh(self) -> None:
        snap = self.engine.snapshot
        now = time.time()
        wanted: dict[Hashable, tuple[Any, ...]] = {}
        for url, rep in snap.reporters.items():
            obj = rep.obj
            version = obj.version
            seen = self._changed_at.get(url)
            if seen is None or seen[0] != version:
                seen = self._changed_at[url] = (version, now)
            replicas = snap.observers.get(url, [])
            behind = sum(1 for r in replicas if r.obj.version < version or r.obj.status != "live")
            wanted[url] = (url, obj.metadata.get("name", ""), schema_name(obj.schema), rep.hyperty.name, version,
                           len(obj.subscriptions), len(obj.children), age_text(now - seen[1]), obj.status, behind)
        for url in [u for u in self._changed_at if u not in snap.reporters]:
            del self._changed_at[url]
        self.apply(wanted)

    def text(self, row: int, column: int, value: Any) -> str:
        if column == self.URL:
            return self.engine.short(str(value))
        return super().text(row, column, value)

    def extra(self, row: int, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole and column == self.URL:
            return self.keys[row]
        if role == Qt.ItemDataRole.ForegroundRole and column == self.BEHIND and self.values[row][self.BEHIND]:
            return QBrush(QColor(220, 120, 0))
        return None
