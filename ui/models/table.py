"""A table of keyed rows changed in place: new rows are appended, gone rows removed in runs, and
one `dataChanged` goes out per contiguous run of rows whose values changed. A batch of changes
costs the rows it names, never a pass over the whole table (except renumbering the rows after a
removal, a dict update per row that moved)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt

from ui.models.header import column_header
from ui.models.ranges import emit_changed, runs

#: Role carrying a cell's sort key (numbers sort as numbers).
SORT_ROLE = Qt.ItemDataRole.UserRole
#: Role carrying a row's key (object URL, (object, hyperty)…).
KEY_ROLE = Qt.ItemDataRole.UserRole + 1

#: `update_rows` value meaning "remove this row".
GONE = None
#: The roles tables answer (`extra` may answer the last three).
ANSWERED = frozenset({Qt.ItemDataRole.DisplayRole, SORT_ROLE, KEY_ROLE, Qt.ItemDataRole.ToolTipRole,
                      Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole})


class KeyedTableModel(QAbstractTableModel):
    columns: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[Hashable] = []
        self.values: list[tuple[Any, ...]] = []
        self.positions: dict[Hashable, int] = {}
        #: dataChanged signals sent by the last `update_rows` (one per contiguous run).
        self.last_signals = 0

    def update_rows(self, changes: Mapping[Hashable, tuple[Any, ...] | None]) -> None:
        """Apply `changes` (key → the row's values, or GONE to remove it); rows not named stay as they are."""
        positions = self.positions
        gone = [positions[key] for key, values in changes.items() if values is GONE and key in positions]
        if gone:
            self._remove(gone)
        changed: list[int] = []
        fresh: list[Hashable] = []
        for key, values in changes.items():
            if values is GONE:
                continue
            row = positions.get(key)
            if row is None:
                fresh.append(key)
            elif self.values[row] != values:
                self.values[row] = values
                changed.append(row)
        self.last_signals = emit_changed(self, changed, len(self.columns) - 1)
        if fresh:
            first = len(self.keys)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            for key in fresh:
                positions[key] = len(self.keys)
                self.keys.append(key)
                self.values.append(changes[key])  # type: ignore[arg-type]
            self.endInsertRows()

    def _remove(self, rows: list[int]) -> None:
        spans = runs(rows)
        for first, last in reversed(spans):
            self.beginRemoveRows(QModelIndex(), first, last)
            for key in self.keys[first:last + 1]:
                del self.positions[key]
            del self.keys[first:last + 1]
            del self.values[first:last + 1]
            self.endRemoveRows()
        for row in range(spans[0][0], len(self.keys)):
            self.positions[self.keys[row]] = row

    def row_of(self, key: Hashable) -> int:
        return self.positions.get(key, -1)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.keys)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return column_header(self.columns, section, orientation, role)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # A painted cell asks for some eight roles; the ones no table answers return first.
        if role not in ANSWERED or not index.isValid():
            return None
        value = self.values[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(index.row(), index.column(), value)
        if role == SORT_ROLE:
            return value
        if role == KEY_ROLE:
            return self.keys[index.row()]
        return self.extra(index.row(), index.column(), role)

    def text(self, row: int, column: int, value: Any) -> str:
        return "" if value is None else str(value)

    def extra(self, row: int, column: int, role: int) -> Any:
        return None


class TextFilterProxy(QSortFilterProxyModel):
    """Case-insensitive text filter over every column, sorting by SORT_ROLE."""

    def __init__(self, columns: Sequence[int] | None = None) -> None:
        super().__init__()
        self.setSortRole(SORT_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)
        self.setDynamicSortFilter(True)
