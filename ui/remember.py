"""What the console remembers between runs (QSettings): each table's column widths, order and hidden
columns, the splitters, and the filters. Tables also get a column chooser (right-click a header) and
are sized to their content the first time they fill, unless widths were saved."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QObject, QPoint, QSettings, Qt, QTimer
from PySide6.QtWidgets import QHeaderView, QLineEdit, QMenu, QSplitter, QTableView, QTreeView

#: Rows looked at when a table sizes its columns to their content.
SIZE_SAMPLE = 200
#: Widest a column sized to its content gets, in pixels (the text is elided in the middle past it).
MAX_WIDTH = 320


#: Writes what a widget shows to the settings now (the window calls them all when it closes).
Saver = Callable[[], None]


def _nothing() -> None:
    return None


def column_chooser(view: QTableView | QTreeView) -> QMenu:
    """The header's context menu: one checkable entry per column, and "Size columns to content"."""
    header = view.horizontalHeader() if isinstance(view, QTableView) else view.header()
    menu = QMenu(header)
    model = view.model()
    for column in range(model.columnCount()):
        title = str(model.headerData(column, Qt.Orientation.Horizontal) or column)
        action = menu.addAction(title)
        action.setCheckable(True)
        action.setChecked(not header.isSectionHidden(column))
        visible = header.count() - header.hiddenSectionCount()
        action.setEnabled(header.isSectionHidden(column) or visible > 1)  # never hide the last one
        action.toggled.connect(lambda on, c=column: header.setSectionHidden(c, not on))
    menu.addSeparator()
    menu.addAction("Size columns to content", lambda: size_to_content(view, getattr(view, "column_caps", None)))
    return menu


def size_to_content(view: QTableView | QTreeView, caps: dict[int, int] | None = None) -> None:
    """Each column as wide as its widest value among the first rows, at most its cap (MAX_WIDTH)."""
    header = view.horizontalHeader() if isinstance(view, QTableView) else view.header()
    header.setResizeContentsPrecision(SIZE_SAMPLE)
    last = header.logicalIndex(header.count() - 1)
    for column in range(header.count()):
        if header.isSectionHidden(column) or (column == last and header.stretchLastSection()):
            continue
        view.resizeColumnToContents(column)
        cap = (caps or {}).get(column, MAX_WIDTH)
        if header.sectionSize(column) > cap:
            header.resizeSection(column, cap)


def remember_columns(view: QTableView | QTreeView, settings: QSettings | None, key: str,
                     size_when_filled: bool = True, caps: dict[int, int] | None = None,
                     order: list[int] | None = None) -> Saver:
    """Column chooser on the header; widths, order and hidden columns kept under `columns/<key>`.
    Without saved columns, `order` is the order shown and the columns are sized to their content
    (at most `caps`, column → pixels) when the first rows come."""
    header: QHeaderView = view.horizontalHeader() if isinstance(view, QTableView) else view.header()
    header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    header.customContextMenuRequested.connect(
        lambda point: column_chooser(view).exec(header.mapToGlobal(QPoint(point))))
    setting = f"columns/{key}"
    state = settings.value(setting) if settings is not None else None
    restored = state is not None and header.restoreState(state)  # type: ignore[arg-type]
    if not restored and order:
        for position, column in enumerate(order):
            header.moveSection(header.visualIndex(column), position)
    if not restored and size_when_filled:
        _AutoSize(view, header, caps)
    if settings is None:
        return _nothing

    def saver() -> None:
        settings.setValue(setting, header.saveState())
    save = QTimer(header)  # one write per burst of resizes
    save.setSingleShot(True)
    save.setInterval(300)
    save.timeout.connect(saver)
    header.sectionResized.connect(lambda *_: save.start())  # hiding a column resizes it to 0
    header.sectionMoved.connect(lambda *_: save.start())
    return saver


def remember_splitter(splitter: QSplitter, settings: QSettings | None, key: str) -> Saver:
    if settings is None:
        return _nothing
    setting = f"splitters/{key}"
    state = settings.value(setting)
    if state is not None:
        splitter.restoreState(state)  # type: ignore[arg-type]

    def saver() -> None:
        settings.setValue(setting, splitter.saveState())
    splitter.splitterMoved.connect(lambda *_: saver())
    return saver


def remember_text(edit: QLineEdit, settings: QSettings | None, key: str) -> Saver:
    """A filter box keeps its text under `filters/<key>`."""
    if settings is None:
        return _nothing
    setting = f"filters/{key}"
    text = settings.value(setting)
    if isinstance(text, str) and text:
        edit.setText(text)

    def saver() -> None:
        settings.setValue(setting, edit.text())
    edit.textChanged.connect(lambda _text: saver())
    return saver


class _AutoSize(QObject):
    """Sizes a table's columns to their content as its first rows come (a burst at a time), until the
    user resizes a column or SIZE_SAMPLE rows are in."""

    def __init__(self, view: QTableView | QTreeView, header: QHeaderView, caps: dict[int, int] | None) -> None:
        super().__init__(header)  # lives as long as the header
        self.view, self.header, self.caps = view, header, caps
        self.sizing = False
        self.timer = QTimer(header)
        self.timer.setSingleShot(True)
        self.timer.setInterval(200)
        self.timer.timeout.connect(self.size)
        view.model().rowsInserted.connect(self.rows)
        header.sectionResized.connect(self.resized)
        if view.model().rowCount() > 0:
            self.size()

    def rows(self, _parent: QModelIndex, _first: int, _last: int) -> None:
        if self.view.model().rowCount() <= SIZE_SAMPLE:
            self.timer.start()
        else:
            self.stop()

    def size(self) -> None:
        self.sizing = True
        try:
            size_to_content(self.view, self.caps)
        finally:
            self.sizing = False

    def resized(self, *_: object) -> None:
        if not self.sizing:
            self.stop()  # the user's widths win

    def stop(self) -> None:
        self.timer.stop()
        for signal, slot in ((self.view.model().rowsInserted, self.rows), (self.header.sectionResized, self.resized)):
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(slot)
