"""The subscriptions dock: object, observer, runtime, state, version seen, lag."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ui.docks.tables import table_view
from ui.models.subscriptions import SubscriptionsModel
from ui.models.table import TextFilterProxy


class SubscriptionsDock(QDockWidget):
    def __init__(self, model: SubscriptionsModel, parent: QWidget | None = None) -> None:
        super().__init__("Subscriptions", parent)
        self.setObjectName("subscriptions")
        self.model = model
        self.proxy = TextFilterProxy()
        self.proxy.setSourceModel(model)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        clear = QPushButton("Clear ended")
        clear.clicked.connect(model.clear_ended)
        self.view = table_view()
        self.view.setModel(self.proxy)
        top = QHBoxLayout()
        top.addWidget(self.filter)
        top.addWidget(clear)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.view)
        self.setWidget(body)

    def select_object(self, url: str) -> None:
        selection = self.view.selectionModel()
        selection.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for row, key in enumerate(self.model.keys):
            if key[0] == url:  # type: ignore[index]
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                if index.isValid():
                    selection.select(index, flags)
