"""The versions of one object (newest last) with the JSON Patch operations of each."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from core.monitor import TraceEvent
from ui.history import SEQ, TS, VERSION, Applied, HistoryStore, Kept
from ui.models.header import column_header
from ui.models.message_log import clock

#: Longest operations summary shown in a cell.
MAX_SUMMARY = 160


def summary(ops: list[dict[str, Any]] | None, error: str = "") -> str:
    if error:
        return f"does not apply: {error}"
    if ops is None:
        return ""
    if not ops:
        return "(no data change)"
    text = "; ".join(f"{op.get('op')} {op.get('path') or '/'}"
                     + (f" = {orjson.dumps(op['value']).decode()}" if "value" in op else "") for op in ops)
    return text if len(text) <= MAX_SUMMARY else text[:MAX_SUMMARY] + "…"


class HistoryModel(QAbstractTableModel):
    columns = ("Version", "Time", "JSON Patch")

    def __init__(self, store: HistoryStore) -> None:
        super().__init__()
        self.store = store
        self.url = ""
        self.entries: list[tuple[Kept, Applied]] = []

    def set_object(self, url: str) -> None:
        self.beginResetModel()
        self.url = url
        log = self.store.log(url)
        if log is not None:
            log.materialize()
        self.entries = list(zip(log.entries, log.applied, strict=True)) if log is not None else []
        self.endResetModel()

    def ingest(self, events: Iterable[TraceEvent]) -> None:
        if not self.url or self.url not in self.store.touched:
            return
        log = self.store.log(self.url)
        if log is None:
            return
        log.materialize()
        first_kept = log.entries[0][SEQ] if log.entries else None
        gone = 0
        while gone < len(self.entries) and (first_kept is None or self.entries[gone][0][SEQ] < first_kept):
            gone += 1
        if gone:
            self.beginRemoveRows(QModelIndex(), 0, gone - 1)
            del self.entries[:gone]
            self.endRemoveRows()
        last = self.entries[-1][0][SEQ] if self.entries else -1
        fresh: list[tuple[Kept, Applied]] = []
        for position in range(len(log.entries) - 1, -1, -1):
            entry = log.entries[position]
            if entry[SEQ] <= last:
                break
            fresh.append((entry, log.applied[position]))
        if fresh:
            fresh.reverse()
            self.beginInsertRows(QModelIndex(), len(self.entries), len(self.entries) + len(fresh) - 1)
            self.entries.extend(fresh)
            self.endInsertRows()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return column_header(self.columns, section, orientation, role)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry, applied = self.entries[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (f"v{entry[VERSION]}", clock(entry[TS]), summary(applied.ops, applied.error))[column]
        if role == Qt.ItemDataRole.ToolTipRole and column == 2:
            return orjson.dumps(applied.ops, option=orjson.OPT_INDENT_2).decode()
        return None

    def version_at(self, row: int) -> int:
        return self.entries[row][0][VERSION]

    def ops_at(self, row: int) -> list[dict[str, Any]]:
        return self.entries[row][1].ops
