"""The topology dock: domains, Message Nodes, runtimes, hyperties and links, with a context menu
for the lab's shape (add runtime or hyperty, restart, crash, partition, heal, faults)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import QDockWidget, QMenu, QTreeView, QWidget

from ui.models.topology import TopologyModel

#: The hyperty's "accepts delegation" setting (`ui.delegation`), a check mark in its menu.
ACCEPTS_DELEGATION = "Accepts delegation"


class TopologyDock(QDockWidget):
    #: (action name, payload) — the window's actions do the work
    requested = Signal(str, object)
    hypertySelected = Signal(str)

    def __init__(self, model: TopologyModel, parent: QWidget | None = None) -> None:
        super().__init__("Topology", parent)
        self.setObjectName("topology")
        self.model = model
        self.view = QTreeView()
        self.view.setModel(model)
        self.view.setUniformRowHeights(True)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        metrics = self.view.fontMetrics()  # a link's "↔ node b.example", three levels in, must read whole
        link = metrics.horizontalAdvance("↔ node b.example")
        self.view.header().resizeSection(0, 3 * self.view.indentation() + link + 24)
        self.view.header().resizeSection(1, metrics.horizontalAdvance("◐ faulty") + 16)
        self.view.clicked.connect(self._clicked)
        model.rowsInserted.connect(lambda parent, first, last: self.view.expand(parent) if parent.isValid() else None)
        self.setWidget(self.view)

    def _clicked(self, index: object) -> None:
        item = self.model.item(index)  # type: ignore[arg-type]
        if item is not None and item.kind == "hyperty":
            self.hypertySelected.emit(item.key)

    def menu_actions(self, kind: str) -> list[str]:
        return {
            "domain": ["Add runtime…"],
            "node": ["Add runtime…"],
            "runtime": ["Add hyperty…", "Restart runtime (resume)…", "Crash runtime…", "Partition links",
                        "Heal links", "Set faults on its links…"],
            "link": ["Partition link's runtime", "Heal link's runtime", "Set link faults…"],
            "hyperty": ["Create object as this hyperty…", "Subscribe as this hyperty…", ACCEPTS_DELEGATION],
        }.get(kind, [])

    def _menu(self, point: QPoint) -> None:
        item = self.model.item(self.view.indexAt(point))
        if item is None:
            return
        menu = QMenu(self)
        for name in self.menu_actions(item.kind):
            action = menu.addAction(name)
            if name == ACCEPTS_DELEGATION:
                action.setCheckable(True)
                action.setChecked(self.model.engine.delegation.accepts(item.key))
                action.setToolTip("Offered the reporter role of an object it observes (Delegate…), this "
                                  "hyperty takes it; off, it refuses with 403")
            action.triggered.connect(lambda _=False, n=name, i=item: self.requested.emit(n, i))
        menu.popup(self.view.viewport().mapToGlobal(point))
