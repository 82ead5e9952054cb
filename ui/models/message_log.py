"""The message log: every `message` (and `drop`) trace event, newest last, bounded, pausable,
exportable to and importable from JSON Lines."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from core.monitor import TraceEvent
from ui.models.message_filter import MessageFilter
from ui.naming import Namer, object_of

#: Rows kept; the oldest go first. Bounds memory under a stress run (about 1 KB a row).
MAX_ROWS = 50_000
#: Rows trimmed at once when the bound is passed (amortises the removal).
TRIM_CHUNK = 2_000

COLUMNS = ("Time", "Where", "Dir", "Type", "From", "To", "Id", "Code", "Size")
LOGGED_KINDS = ("message", "drop")
SELECTED_BRUSH = QBrush(QColor(80, 140, 255, 60))


class LogImportError(ValueError):
    """A JSON Lines file that is not a SyncScope log; the message names the line."""


class LogRow:
    __slots__ = ("event", "size")

    def __init__(self, event: TraceEvent) -> None:
        self.event = event
        self.size = -1

    @property
    def message(self) -> dict[str, Any]:
        return self.event.message or {}

    @property
    def code(self) -> int | None:
        body = self.message.get("body")
        code = body.get("code") if isinstance(body, dict) else None
        return code if isinstance(code, int) and not isinstance(code, bool) else None

    def byte_size(self) -> int:
        if self.size < 0:
            self.size = len(orjson.dumps(self.message))
        return self.size


def clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"


class MessageLogModel(QAbstractTableModel):
    """Rows of trace events; `paused` holds new rows back without losing them."""

    pausedChanged = Signal()

    def __init__(self, namer: Namer | None = None, max_rows: int = MAX_ROWS, source: str = "live") -> None:
        super().__init__()
        self.namer = namer or Namer()
        self.max_rows = max_rows
        self.source = source
        self.rows: list[LogRow] = []
        self.held: list[LogRow] = []
        self.paused = False
        self.selected_object = ""
        self.dropped = 0

    # feeding ---------------------------------------------------------------------------------------

    def ingest(self, events: Iterable[TraceEvent]) -> None:
        fresh = [LogRow(e) for e in events if e.kind in LOGGED_KINDS and e.message is not None]
        if not fresh:
            return
        if self.paused:
            self.held.extend(fresh)
            if len(self.held) > self.max_rows:
                self.dropped += len(self.held) - self.max_rows
                del self.held[: len(self.held) - self.max_rows]
            return
        self._append(fresh)

    def _append(self, fresh: list[LogRow]) -> None:
        first = len(self.rows)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        self.rows.extend(fresh)
        self.endInsertRows()
        excess = len(self.rows) - self.max_rows
        if excess > 0:
            excess = min(len(self.rows), max(excess, TRIM_CHUNK))
            self.beginRemoveRows(QModelIndex(), 0, excess - 1)
            del self.rows[:excess]
            self.endRemoveRows()
            self.dropped += excess

    def set_paused(self, paused: bool) -> None:
        if paused == self.paused:
            return
        self.paused = paused
        if not paused and self.held:
            held, self.held = self.held, []
            self._append(held)
        self.pausedChanged.emit()

    def clear(self) -> None:
        self.beginResetModel()
        self.rows.clear()
        self.held.clear()
        self.dropped = 0
        self.endResetModel()

    def set_selected_object(self, url: str) -> None:
        self.selected_object = url
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(COLUMNS) - 1),
                                  [Qt.ItemDataRole.BackgroundRole])

    # export / import (JSON Lines, one TraceEvent.to_dict() per line) --------------------------------

    @staticmethod
    def export_rows(rows: Iterable[LogRow], path: str | Path) -> int:
        count = 0
        with open(path, "wb") as out:
            for row in rows:
                out.write(orjson.dumps(row.event.to_dict()) + b"\n")
                count += 1
        return count

    @classmethod
    def import_file(cls, path: str | Path, namer: Namer | None = None) -> MessageLogModel:
        """A log model holding the rows of a JSON Lines export (browsable like the live one)."""
        events = []
        with open(path, "rb") as source:
            for number, line in enumerate(source, 1):
                if not line.strip():
                    continue
                try:
                    raw = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise LogImportError(f"line {number}: not JSON ({exc})") from exc
                if not isinstance(raw, dict) or raw.get("kind") not in LOGGED_KINDS:
                    raise LogImportError(f"line {number}: not a message trace event")
                events.append(TraceEvent.from_dict(raw))
        model = cls(namer, max_rows=max(MAX_ROWS, len(events)), source=str(path))
        model.ingest(events)
        return model

    # Qt ------------------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display(row, column)
        if role == Qt.ItemDataRole.ToolTipRole and column in (1, 4, 5):
            msg = row.message
            return {1: row.event.where, 4: msg.get("from"), 5: msg.get("to")}[column]
        if role == Qt.ItemDataRole.UserRole:
            return self.sort_key(row, column)
        if role == Qt.ItemDataRole.BackgroundRole and self.selected_object:
            msg = row.message
            if self.selected_object in (object_of(str(msg.get("to", ""))), object_of(str(msg.get("from", "")))):
                return SELECTED_BRUSH
        if role == Qt.ItemDataRole.ForegroundRole and row.event.kind == "drop":
            return QBrush(QColor(220, 60, 60))
        return None

    def display(self, row: LogRow, column: int) -> str:
        msg = row.message
        event = row.event
        if column == 0:
            return clock(event.ts)
        if column == 1:
            return self.namer.short(event.where)
        if column == 2:
            return "drop" if event.kind == "drop" else str(event.direction or "")
        if column == 3:
            return str(msg.get("type", ""))
        if column == 4:
            return self.namer.short(str(msg.get("from", "")))
        if column == 5:
            return self.namer.short(str(msg.get("to", "")))
        if column == 6:
            return str(msg.get("id", ""))
        if column == 7:
            code = row.code
            return "" if code is None else str(code)
        if column == 8:
            return f"{row.byte_size()} B"
        return ""

    def sort_key(self, row: LogRow, column: int) -> Any:
        if column == 0:
            return row.event.ts
        if column == 7:
            return row.code or 0
        if column == 8:
            return row.byte_size()
        return self.display(row, column)

    def row_at(self, row: int) -> LogRow:
        return self.rows[row]


class MessageFilterProxy(QSortFilterProxyModel):
    """Applies a MessageFilter to a MessageLogModel; sorts by the model's sort keys."""

    def __init__(self) -> None:
        super().__init__()
        self.filter = MessageFilter()
        self.setSortRole(Qt.ItemDataRole.UserRole)

    def set_filter(self, message_filter: MessageFilter) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9; invalidateRowsFilter before
            self.beginFilterChange()
            self.filter = message_filter
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.filter = message_filter
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if self.filter.empty:
            return True
        model = self.sourceModel()
        assert isinstance(model, MessageLogModel)
        return self.filter.accepts(model.rows[source_row].event)

    def log_rows(self) -> list[LogRow]:
        """The rows the view shows, in view order."""
        model = self.sourceModel()
        assert isinstance(model, MessageLogModel)
        return [model.rows[self.mapToSource(self.index(i, 0)).row()] for i in range(self.rowCount())]
