"""The data objects dock: the objects table, and for the selected object a live JSON tree of any
replica, two replicas side by side with differences marked, the version history with JSON Patch
operations and diffs, and the children."""

from __future__ import annotations

from typing import Any

import orjson
from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ui.docks.tables import table_view
from ui.history import HistoryStore
from ui.index import EngineIndex, Replica
from ui.models.change_watch import ChangeBuffer, watch
from ui.models.history import HistoryModel
from ui.models.json_tree import JsonTreeModel, Side
from ui.models.objects import ObjectsModel
from ui.models.table import KEY_ROLE, TextFilterProxy
from ui.widgets.flash import fade_flashes

#: Position of the Children tab.
CHILDREN_TAB = 3
#: How often the ages in the objects table are repainted, in ms.
AGE_TICK_MS = 1_000


def replica_side(rep: Replica, editable: bool = True) -> Side:
    obj = rep.obj
    edit = (lambda path, value: obj.set(path, value)) if rep.is_reporter and editable and not rep.passive else None
    return Side(rep.label, lambda: obj.data, edit)


def tree_view(model: JsonTreeModel) -> QTreeView:
    view = QTreeView()
    view.setModel(model)
    view.setUniformRowHeights(True)
    view.setAlternatingRowColors(True)
    view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
    view.header().resizeSection(0, 180)
    return view


def replica_box() -> QComboBox:
    """A replica chooser as wide as its longest entry ("carol (observer) · rt3")."""
    box = QComboBox()
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    box.setMinimumContentsLength(16)
    return box


class ObjectsDock(QDockWidget):
    objectSelected = Signal(str)
    message = Signal(str)

    def __init__(self, model: ObjectsModel, index: EngineIndex, history: HistoryStore,
                 parent: QWidget | None = None) -> None:
        super().__init__("Data objects", parent)
        self.setObjectName("objects")
        self.model = model
        self.index = index
        self.history = history
        self.current = ""
        self.replicas: list[Replica] = []
        self._watches: list[ChangeBuffer] = []
        self._compare_watches: list[ChangeBuffer] = []
        self._children_shown: list[tuple[str, int]] = []

        self.proxy = TextFilterProxy()
        self.proxy.setSourceModel(model)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter objects (URL, name, schema, reporter)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = table_view()
        self.table.setModel(self.proxy)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.fade = fade_flashes(self.table)  # a changed object's row flashes (ui.models.flash)
        self._ages = QTimer(self)  # "Last change" is an age worked out at paint time: repaint it
        self._ages.setInterval(AGE_TICK_MS)
        self._ages.timeout.connect(self.table.viewport().update)
        self._ages.start()

        # Tree: one replica
        self.tree_model = JsonTreeModel()
        self.tree_model.editFailed.connect(lambda text: self.message.emit(f"edit refused: {text}"))
        self.replica_box = replica_box()
        self.replica_box.currentIndexChanged.connect(self._show_tree)
        self.tree_label = QLabel("")
        self.tree = tree_view(self.tree_model)
        tree_tab = self._tab(self._row(QLabel("Replica:"), self.replica_box, self.tree_label), self.tree)

        # Side by side: two replicas, differences marked
        self.compare_model = JsonTreeModel()
        self.compare_model.editFailed.connect(lambda text: self.message.emit(f"edit refused: {text}"))
        self.left_box, self.right_box = replica_box(), replica_box()
        self.left_box.currentIndexChanged.connect(self._show_compare)
        self.right_box.currentIndexChanged.connect(self._show_compare)
        self.compare_label = QLabel("")
        self.compare = tree_view(self.compare_model)
        compare_tab = self._tab(self._row(self.left_box, QLabel("vs"), self.right_box, self.compare_label),
                                self.compare)

        # History: versions, JSON Patch of one or between two, the two versions side by side
        self.history_model = HistoryModel(history)
        self.versions = table_view(sortable=False)
        self.versions.setModel(self.history_model)
        self.versions.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.versions.setColumnWidth(0, 60)
        self.versions.setColumnWidth(1, 90)
        self.versions.selectionModel().selectionChanged.connect(self._versions_selected)
        self.history_follows = True      # the newest version is selected as versions come
        self._selecting_newest = False
        self.history_model.rowsInserted.connect(lambda *_: self._follow_history())
        self.patch_text = QPlainTextEdit()
        self.patch_text.setReadOnly(True)
        self.patch_text.setPlaceholderText("Select one version for its operations, two for the diff between them.")
        self.version_diff_model = JsonTreeModel()
        self.version_diff = tree_view(self.version_diff_model)
        self.history_lower = lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.patch_text)
        lower.addWidget(self.version_diff)
        lower.setSizes([2, 3])  # the two versions side by side need the room
        self.version_diff.header().resizeSection(0, 130)
        self.history_split = history_split = QSplitter(Qt.Orientation.Vertical)
        history_split.addWidget(self.versions)
        history_split.addWidget(lower)
        history_tab = self._tab(history_split)

        # Children of the chosen replica
        self.children_table = QTableWidget(0, 4)
        self.children_table.setHorizontalHeaderLabels(["Child", "Collection", "Version", "Data"])
        self.children_table.horizontalHeader().setStretchLastSection(True)
        self.children_table.verticalHeader().setVisible(False)
        children_tab = self._tab(self.children_table)

        self.tabs = QTabWidget()
        self.tabs.addTab(tree_tab, "Tree")
        self.tabs.addTab(compare_tab, "Side by side")
        self.tabs.addTab(history_tab, "History")
        self.tabs.addTab(children_tab, "Children")
        self.tabs.currentChanged.connect(lambda tab: self._children() if tab == CHILDREN_TAB else None)
        self.split = split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(2, 2, 2, 2)
        top_layout.addWidget(self.filter)
        top_layout.addWidget(self.table)
        split.addWidget(top)
        split.addWidget(self.tabs)
        split.setSizes([200, 320])
        self.setWidget(split)

    @staticmethod
    def _row(*widgets: QWidget) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in widgets:
            layout.addWidget(widget)
        layout.addStretch(1)
        return row

    @staticmethod
    def _tab(*widgets: QWidget) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(2, 2, 2, 2)
        for widget in widgets:
            layout.addWidget(widget)
        return tab

    # selection -----------------------------------------------------------------------------------

    def _row_changed(self, current: Any, _previous: Any) -> None:
        url = self.proxy.data(current, KEY_ROLE) if current.isValid() else ""
        if url and url != self.current:
            self.select_object(str(url))
            self.objectSelected.emit(str(url))

    def select_object(self, url: str) -> None:
        """Show `url` (selecting its row) with its replicas."""
        if url != self.current:
            self.current = url  # first: selecting the row below must not announce it again
            self.history.pin(url)
            self._load_replicas()
            self.history_model.set_object(url)
            self.patch_text.clear()
            self.version_diff_model.set_sides([])
            self.history_follows = True
            self._follow_history()
        row = self.model.row_of(url)
        if row >= 0:
            index = self.proxy.mapFromSource(self.model.index(row, 0))
            if index.isValid() and self.table.currentIndex().row() != index.row():
                self.table.selectionModel().setCurrentIndex(
                    index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)

    def _load_replicas(self) -> None:
        self.replicas = self.index.replicas(self.current)
        for box in (self.replica_box, self.left_box, self.right_box):
            box.blockSignals(True)
            box.clear()
            for rep in self.replicas:
                box.addItem(rep.label, rep.hyperty.url)
            box.blockSignals(False)
        self._two_sides()
        self._show_tree()
        self._show_compare()

    def _two_sides(self) -> None:
        """Side by side shows two different replicas: the reporter against the first observer, unless
        the user chose others (a chooser left on the same replica as the other side moves on)."""
        if len(self.replicas) > 1 and self.right_box.currentData() == self.left_box.currentData():
            other = next(i for i, rep in enumerate(self.replicas) if rep.hyperty.url != self.left_box.currentData())
            self.right_box.setCurrentIndex(other)

    def choose(self, box: QComboBox, hyperty_url: str) -> None:
        position = box.findData(hyperty_url)
        if position >= 0:
            box.setCurrentIndex(position)

    def _replica(self, box: QComboBox) -> Replica | None:
        url = box.currentData()
        return next((r for r in self.replicas if r.hyperty.url == url), None)

    def _show_tree(self) -> None:
        self._children_shown.clear()
        for w in self._watches:
            w.close()
        rep = self._replica(self.replica_box)
        self._watches = [self._watch(rep)] if rep is not None else []
        self.tree_model.set_sides([replica_side(rep)] if rep is not None else [])
        self.tree.expandToDepth(1)
        self._labels()
        if self.tabs.currentIndex() == CHILDREN_TAB:
            self._children()

    def _show_compare(self) -> None:
        for w in self._compare_watches:
            w.close()
        reps = [r for r in (self._replica(self.left_box), self._replica(self.right_box)) if r is not None]
        self._compare_watches = [self._watch(r) for r in reps]
        self.compare_model.set_sides([replica_side(r) for r in reps] if len(reps) == 2 else [])
        self.compare.expandToDepth(1)
        self._labels()

    @staticmethod
    def _watch(rep: Replica) -> ChangeBuffer:
        return watch(rep.obj)

    def _labels(self) -> None:
        rep = self._replica(self.replica_box)
        self.tree_label.setText(f"v{rep.obj.version} · {rep.obj.status}" if rep is not None else "")
        left, right = self._replica(self.left_box), self._replica(self.right_box)
        if left is not None and right is not None:
            diffs = self.compare_model.differences
            self.compare_label.setText(f"v{left.obj.version} vs v{right.obj.version} · "
                                       + (f"{diffs} difference{'s' * (diffs != 1)}" if diffs else "identical"))
        else:
            self.compare_label.setText("")

    # live refresh (after each feed flush) ----------------------------------------------------------

    def on_flush(self) -> None:
        """Bring the selected object's views up to date after a feed flush (costs what changed)."""
        index = self.index
        if self.current and self.current in index.replicas_changed:
            keep = (self.replica_box.currentData(), self.left_box.currentData(), self.right_box.currentData())
            self._load_replicas()
            for box, url in zip((self.replica_box, self.left_box, self.right_box), keep, strict=True):
                if url:
                    self.choose(box, url)
            self._two_sides()
        self._refresh(self.tree_model, self._watches)
        self._refresh(self.compare_model, self._compare_watches)
        if self.current in index.touched:
            self._labels()
            if self.tabs.currentIndex() == CHILDREN_TAB:
                self._children()

    @staticmethod
    def _refresh(model: JsonTreeModel, watches: list[ChangeBuffer]) -> None:
        full = False
        paths: list[list[str]] = []
        for w in watches:
            f, p = w.take()
            full = full or f
            paths.extend(p)
        if full:
            model.refresh(None)
        elif paths:
            model.refresh(paths)

    def _children(self) -> None:
        """Fill the Children tab; rows whose child and version did not change are left alone."""
        rep = self._replica(self.replica_box)
        children = list(rep.obj.children.values()) if rep is not None else []
        shown = self._children_shown
        if len(children) < len(shown) or any(shown[i][0] != c.child_id for i, c in enumerate(children[:len(shown)])):
            shown.clear()
        self.children_table.setRowCount(len(children))
        for row, child in enumerate(children):
            mark = (child.child_id, child.version)
            if row < len(shown) and shown[row] == mark:
                continue
            for column, text in enumerate((self.index.short(child.child_id), child.name, str(child.version),
                                           orjson.dumps(child.data).decode())):
                self.children_table.setItem(row, column, QTableWidgetItem(text))
            if row < len(shown):
                shown[row] = mark
            else:
                shown.append(mark)

    # history -------------------------------------------------------------------------------------

    def _follow_history(self) -> None:
        """Select (and show) the newest version while the history follows."""
        last = self.history_model.rowCount() - 1
        if not self.history_follows or last < 0:
            return
        self._selecting_newest = True
        try:
            index = self.history_model.index(last, 0)
            self.versions.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
            self.versions.scrollTo(index)
        finally:
            self._selecting_newest = False

    def _versions_selected(self) -> None:
        rows = sorted({i.row() for i in self.versions.selectionModel().selectedRows()})
        if not self._selecting_newest:  # the user's pick: follow again only when it is the newest alone
            self.history_follows = rows == [self.history_model.rowCount() - 1]
        log = self.history.log(self.current)
        if not rows or log is None:
            return
        versions = [self.history_model.version_at(r) for r in rows]
        if len(versions) == 1:
            self.show_version_diff(versions[0] - 1 if versions[0] - 1 >= log.base_version else versions[0],
                                   versions[0], single=self.history_model.ops_at(rows[0]))
        else:
            self.show_version_diff(versions[0], versions[-1])

    def show_version_diff(self, older: int, newer: int, single: Any = None) -> None:
        log = self.history.log(self.current)
        if log is None:
            return
        ops = single if single is not None else log.patch_between(older, newer)
        self.patch_text.setPlainText(f"JSON Patch v{older} → v{newer}\n"
                                     + orjson.dumps(ops, option=orjson.OPT_INDENT_2).decode())
        try:
            before, after = log.document_at(older), log.document_at(newer)
        except KeyError:
            self.version_diff_model.set_sides([])
            return
        self.version_diff_model.set_sides([Side(f"v{older}", lambda: before), Side(f"v{newer}", lambda: after)])
        self.version_diff.expandToDepth(1)
