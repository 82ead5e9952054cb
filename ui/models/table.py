"""A table of keyed rows refreshed from a scan: rows added at the end, removed in runs, and one
`dataChanged` per contiguous run of rows whose values changed."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt

from ui.models.ranges import emit_changed, runs

#: Role carrying a cell's sort key (numbers sort as numbers).
SORT_ROLE = Qt.ItemDataRole.UserRole
#: Role carrying a row's key (object URL, (object, hyperty)…).
KEY_ROLE = Qt.ItemDataRole.UserRole + 1


class KeyedTableModel(QAbstractTableModel):
    columns: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[Hashable] = []
        self.values: list[tuple[Any, ...]] = []
        self.positions: dict[Hashable, int] = {}
        self.last_signals = 0

    def apply(self, wanted: dict[Hashable, tuple[Any, ...]]) -> None:
        """Make the rows equal `wanted` (key → values), keeping the order of rows that stay."""
        gone = [i for i, key in enumerate(self.keys) if key not in wanted]
        for first, last in reversed(runs(gone)):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self.keys[first:last + 1]
            del self.values[first:last + 1]
            self.endRemoveRows()
        if gone:
            self.positions = {key: i for i, key in enumerate(self.keys)}
        fresh = [key for key in wanted if key not in self.positions]
        changed = [i for i, key in enumerate(self.keys) if self.values[i] != wanted[key]]
        for i in changed:
            self.values[i] = wanted[self.keys[i]]
        self.last_signals = emit_changed(self, changed, len(self.columns) - 1)
        if fresh:
            first = len(self.keys)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            for key in fresh:
                self.positions[key] = len(self.keys)
                self.keys.append(key)
                self.values.append(wanted[key])
            self.endInsertRows()

    def row_of(self, key: Hashable) -> int:
        return self.positions.get(key, -1)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.keys)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
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
