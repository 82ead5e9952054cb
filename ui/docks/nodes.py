"""The live nodes dock: the nodes the console watches, their link state and sessions, with a button
to connect to another and a context menu to reconnect, disconnect or remove one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QMenu, QPushButton, QTreeView, QVBoxLayout, QWidget

from ui.dialogs.base import ActionDialog
from ui.dialogs.connect import ConnectDialog
from ui.models.nodes import NodeRow, NodesModel
from ui.remote import ACTIVE, RemoteNodes

EMPTY = "No live node watched. File → Connect to node… (Ctrl+K)"


class NodesDock(QDockWidget):
    def __init__(self, remote: RemoteNodes, show_dialog: Callable[[ActionDialog], ActionDialog],
                 parent: QWidget | None = None) -> None:
        super().__init__("Live nodes", parent)
        self.setObjectName("nodes")
        self.remote = remote
        self.show_dialog = show_dialog
        self.model = NodesModel(remote)
        self.view = QTreeView()
        self.view.setModel(self.model)
        self.view.setUniformRowHeights(True)
        self.view.header().resizeSection(0, 170)
        self.view.header().resizeSection(1, 100)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        self.model.rowsInserted.connect(lambda parent, first, last: self.view.expand(parent) if parent.isValid()
                                        else None)
        self.hint = QLabel(EMPTY)
        self.connect_button = QPushButton("Connect to node…")
        self.connect_button.clicked.connect(self.open_connect_dialog)
        self.model.rowsInserted.connect(self._count_changed)
        self.model.rowsRemoved.connect(self._count_changed)
        remote.changed.connect(self._count_changed)
        top = QHBoxLayout()
        top.addWidget(self.hint, 1)
        top.addWidget(self.connect_button)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.view)
        self.setWidget(body)
        self.tasks: set[asyncio.Task[Any]] = set()

    def open_connect_dialog(self) -> ActionDialog:
        self.show()
        self.raise_()
        return self.show_dialog(ConnectDialog(self.remote, self))

    def _count_changed(self, *_: object) -> None:
        self.hint.setText(EMPTY if not self.model.nodes else f"{len(self.remote.active())} of "
                          f"{len(self.model.nodes)} connected or retrying")

    def menu_actions(self, node: NodeRow) -> list[str]:
        if node.watch.state in ACTIVE:
            return ["Reconnect now", "Disconnect", "Remove"]
        return ["Reconnect now", "Remove"]

    def _menu(self, point: QPoint) -> None:
        row = self.model.row_at(self.view.indexAt(point))
        if not isinstance(row, NodeRow):
            return
        menu = QMenu(self)
        for name in self.menu_actions(row):
            action = menu.addAction(name)
            action.triggered.connect(lambda _=False, n=name, w=row.watch.name: self.request(n, w))
        menu.popup(self.view.viewport().mapToGlobal(point))

    def request(self, action: str, name: str) -> None:
        if action == "Reconnect now":
            self.remote.reconnect(name)
            return
        work = self.remote.detach(name) if action == "Disconnect" else self.remote.remove(name)
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def settle(self) -> None:
        """Wait for the disconnects and removals under way (the console is quitting)."""
        await asyncio.gather(*self.tasks, return_exceptions=True)
