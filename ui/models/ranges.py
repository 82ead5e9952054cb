"""Contiguous row ranges: one `dataChanged` per run of changed rows, not one per row."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex


def runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    """(first, last) of each run of consecutive row numbers, ascending."""
    out: list[tuple[int, int]] = []
    for row in sorted(set(rows)):
        if out and row == out[-1][1] + 1:
            out[-1] = (out[-1][0], row)
        else:
            out.append((row, row))
    return out


def emit_changed(model: QAbstractItemModel, rows: Iterable[int], last_column: int,
                 parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
    """Emit `dataChanged` once per contiguous run of `rows`; returns how many signals went out."""
    parent = parent if parent is not None else QModelIndex()
    count = 0
    for first, last in runs(rows):
        model.dataChanged.emit(model.index(first, 0, parent), model.index(last, last_column, parent))
        count += 1
    return count
