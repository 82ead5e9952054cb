"""Column headers for models whose columns are a list of titles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt


def column_header(columns: Sequence[str], section: int, orientation: Qt.Orientation, role: int) -> Any:
    """`headerData` of a model with `columns` as horizontal titles and no vertical header."""
    if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal \
            and 0 <= section < len(columns):
        return columns[section]
    return None
