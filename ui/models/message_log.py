"""The message log: every `message` (and `drop`) trace event, newest last, bounded, pausable,
exportable to and importable from JSON Lines.

A row (`ui.models.log_row`) keeps the fields the table shows and filters on, and the event as its
JSON Lines text (what export writes): no engine dict is kept alive, and rows are plain tuples the
garbage collector does not walk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from core.monitor import TraceEvent
from ui.models.flash import FLASH_BRUSH, FLASH_SECONDS
from ui.models.header import column_header
from ui.models.log_row import (
    CODE,
    DIRECTION,
    ID,
    KIND,
    RAW,
    SENDER,
    TO,
    TS,
    TYPE,
    WHERE,
    LogRow,
    concerns,
    log_row,
    size_of,
)
from ui.models.message_filter import MessageFilter
from ui.naming import Namer

#: Rows kept; the oldest go first. Bounds memory under a stress run (about 0.6 KB a row).
MAX_ROWS = 50_000
#: Rows trimmed at once when the bound is passed (amortises the removal).
TRIM_CHUNK = 2_000
#: Under heavy traffic (BUSY_ROWS or more waiting) new rows join the table at most this often, in
#: seconds: every change of the table repaints the whole followed log (about 10 ms offscreen), and
#: nobody reads ten screens a second. Lighter traffic shows at every flush.
APPEND_EVERY = 0.5
BUSY_ROWS = 50
#: A batch of this many rows or more does not flash: under heavy traffic every row is new, and a
#: log all flashing says nothing and costs each repaint.
FLASH_MAX_ROWS = 200

COLUMNS = ("Time", "Where", "Dir", "Type", "From", "To", "Id", "Code", "Size")
COLUMN_COUNT = len(COLUMNS)
LOGGED_KINDS = ("message", "drop")
SELECTED_BRUSH = QBrush(QColor(80, 140, 255, 60))
DROP_BRUSH = QBrush(QColor(220, 60, 60))
# Roles as plain numbers: data() is asked some 1,000 times a repaint, and each enum lookup costs.
DISPLAY, BACKGROUND, FOREGROUND, TOOLTIP, SORT = (int(r) for r in (
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.UserRole))
#: "1" when the row passes the filter (`MessageFilterProxy`), "" when not.
PASSES = SORT + 1
ANSWERED = frozenset({DISPLAY, BACKGROUND, FOREGROUND, TOOLTIP, SORT, PASSES})
TOOLTIP_FIELDS = {1: WHERE, 4: SENDER, 5: TO}


class LogImportError(ValueError):
    """A JSON Lines file that is not a SyncScope log; the message names the line."""


def clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"


class MessageLogModel(QAbstractTableModel):
    """Rows of trace events; `paused` holds new rows back without losing them, `catch_up` shows
    at once the rows that heavy traffic keeps waiting for their turn."""

    pausedChanged = Signal()
    #: Rows were held back (paused): `held` grew.
    heldChanged = Signal()
    shadingChanged = Signal()

    def __init__(self, namer: Namer | None = None, max_rows: int = MAX_ROWS, source: str = "live") -> None:
        super().__init__()
        self.namer = namer or Namer()
        self.max_rows = max_rows
        self.source = source
        self.rows: list[LogRow] = []
        self.clock: Callable[[], float] = time.time   # what "new" is measured against (rows flash)
        self.flash_new = True
        self.held: list[LogRow] = []
        self.paused = False
        self.selected_object = ""
        self.dropped = 0
        self._last_row: LogRow | None = None
        self._last_concerns = False
        self._waiting: list[LogRow] = []     # rows not shown yet (heavy traffic: see APPEND_EVERY)
        self._appended_at = 0.0
        self.row_filter = MessageFilter()    # what `PASSES` answers to (set by `MessageFilterProxy`)

    # feeding ---------------------------------------------------------------------------------------

    def ingest(self, events: Iterable[TraceEvent]) -> Callable[[], None] | None:
        """Make the rows of `events`. Light traffic joins the table now; when heavy traffic's turn
        has come, `catch_up` is returned (the feed runs it as a step of its own: making a batch's
        rows and inserting half a second of them are each a few milliseconds)."""
        fresh = [log_row(e) for e in events if e.kind in LOGGED_KINDS and e.message is not None]
        if self.paused:
            self.held.extend(fresh)
            if len(self.held) > self.max_rows:
                self.dropped += len(self.held) - self.max_rows
                del self.held[: len(self.held) - self.max_rows]
            if fresh:
                self.heldChanged.emit()
            return None
        self._waiting.extend(fresh)
        self.flash_new = len(fresh) < FLASH_MAX_ROWS
        if len(self._waiting) < BUSY_ROWS:
            self.catch_up()
        elif time.monotonic() - self._appended_at >= APPEND_EVERY:
            return self.catch_up
        return None

    def catch_up(self) -> None:
        """Show the rows that wait for their turn now (see APPEND_EVERY)."""
        if self._waiting:
            waiting, self._waiting = self._waiting, []
            self._append(waiting)
        self._appended_at = time.monotonic()

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
        self.catch_up()
        self.paused = paused
        if not paused and self.held:
            held, self.held = self.held, []
            self._append(held)
        self.pausedChanged.emit()

    def clear(self) -> None:
        self.beginResetModel()
        self.rows.clear()
        self.held.clear()
        self._waiting.clear()
        self.dropped = 0
        self.endResetModel()

    def set_selected_object(self, url: str) -> None:
        """Shade the messages of `url`. Only the shading changes: `shadingChanged` asks the views to
        repaint, where a `dataChanged` over 50,000 rows made the filter proxy test every row again
        (some 100 ms a click)."""
        self.selected_object = url
        self._last_row = None
        self.shadingChanged.emit()

    # export / import (JSON Lines, one TraceEvent.to_dict() per line) --------------------------------

    @staticmethod
    def export_rows(rows: Iterable[LogRow], path: str | Path) -> int:
        count = 0
        with open(path, "wb") as out:
            for row in rows:
                out.write(row[RAW].encode() + b"\n")
                count += 1
        return count

    @classmethod
    def import_file(cls, path: str | Path, namer: Namer | None = None) -> MessageLogModel:
        """A log model holding the rows of a JSON Lines export (browsable like the live one)."""
        rows: list[LogRow] = []
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
                event = TraceEvent.from_dict(raw)
                if event.message is not None:
                    rows.append(log_row(event))
        model = cls(namer, max_rows=max(MAX_ROWS, len(rows)), source=str(path))
        if rows:
            model._append(rows)
        return model

    # Qt ------------------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def index(self, row: int, column: int,
              parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        # Qt's own asks rowCount and columnCount (two calls into Python) for each of the eight
        # roles of each painted cell, through the filter proxy: one call does here.
        if 0 <= row < len(self.rows) and 0 <= column < COLUMN_COUNT and not parent.isValid():
            return self.createIndex(row, column)
        return QModelIndex()

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return column_header(COLUMNS, section, orientation, role)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY) -> Any:
        # A painted cell asks for some eight roles; the ones this model never answers return first.
        if role not in ANSWERED:
            return None
        number = index.row()
        if number < 0:  # not a valid index
            return None
        row = self.rows[number]
        if role == DISPLAY:
            return self.display(row, index.column())
        if role == BACKGROUND:
            if self.flash_new and self.clock() - row[TS] < FLASH_SECONDS:
                return FLASH_BRUSH  # a new row flashes
            return SELECTED_BRUSH if self.selected_object and self._concerns_selected(row) else None
        if role == FOREGROUND:
            return DROP_BRUSH if row[KIND] == "drop" else None
        column = index.column()
        if role == TOOLTIP:
            return row[TOOLTIP_FIELDS[column]] if column in TOOLTIP_FIELDS else None
        if role == PASSES:
            return "1" if self.row_filter.accepts(row) else ""
        return self.sort_key(row, column)

    def _concerns_selected(self, row: LogRow) -> bool:
        """Whether `row` is about the selected object (asked once per cell: the last row's answer is kept)."""
        if row is not self._last_row:
            self._last_row, self._last_concerns = row, concerns(row, self.selected_object)
        return self._last_concerns

    def display(self, row: LogRow, column: int) -> str:
        if column == 0:
            return clock(row[TS])
        if column == 1:
            return self.namer.short(row[WHERE])
        if column == 2:
            return row[DIRECTION]
        if column == 3:
            return row[TYPE]
        if column == 4:
            return self.namer.short(row[SENDER])
        if column == 5:
            return self.namer.short(row[TO])
        if column == 6:
            return row[ID]
        if column == 7:
            return "" if row[CODE] is None else str(row[CODE])
        if column == 8:
            return f"{size_of(row)} B"
        return ""

    def sort_key(self, row: LogRow, column: int) -> Any:
        if column == 0:
            return row[TS]
        if column == 7:
            return row[CODE] or 0
        if column == 8:
            return size_of(row)
        return self.display(row, column)

    def row_at(self, row: int) -> LogRow:
        return self.rows[row]


class MessageFilterProxy(QSortFilterProxyModel):
    """Applies a MessageFilter to a MessageLogModel; sorts by the model's sort keys.

    Qt's own filter does the work: it keeps the rows whose `PASSES` contains "1", and the model asks
    the filter. With no filter its pattern is empty and Qt lets every row through without asking:
    a `filterAcceptsRow` of ours would be a call into Python for each new row (6 ms of the log's
    half-second insertion of 4,000 rows under a stress run, where the whole insertion takes 0.4 ms)."""

    def __init__(self) -> None:
        super().__init__()
        self.filter = MessageFilter()
        self.setSortRole(SORT)
        self.setFilterRole(PASSES)
        self.setFilterKeyColumn(0)

    def setSourceModel(self, model: QAbstractItemModel) -> None:
        if isinstance(model, MessageLogModel):
            model.row_filter = self.filter
        super().setSourceModel(model)

    def set_filter(self, message_filter: MessageFilter) -> None:
        pattern = "" if message_filter.empty else "1"
        if pattern != self.filterRegularExpression().pattern():
            self._use(message_filter)
            self.setFilterFixedString(pattern)   # refilters (asking the model only for a pattern)
        elif hasattr(self, "beginFilterChange"):  # Qt >= 6.9; invalidateRowsFilter before
            self.beginFilterChange()
            self._use(message_filter)
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._use(message_filter)
            self.invalidateRowsFilter()

    def _use(self, message_filter: MessageFilter) -> None:
        self.filter = message_filter
        model = self.sourceModel()
        if isinstance(model, MessageLogModel):
            model.row_filter = message_filter

    def log_rows(self) -> list[LogRow]:
        """The rows the view shows, in view order."""
        model = self.sourceModel()
        assert isinstance(model, MessageLogModel)
        return [model.rows[self.mapToSource(self.index(i, 0)).row()] for i in range(self.rowCount())]
