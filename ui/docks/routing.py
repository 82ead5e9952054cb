"""The routing dock: bus listeners per runtime, node subscriptions and ownerships, filterable by address."""

from __future__ import annotations

from PySide6.QtWidgets import QDockWidget, QLineEdit, QVBoxLayout, QWidget

from ui.docks.tables import table_view
from ui.models.routing import AddressFilterProxy, RoutingModel


class RoutingDock(QDockWidget):
    def __init__(self, model: RoutingModel, parent: QWidget | None = None) -> None:
        super().__init__("Routing", parent)
        self.setObjectName("routing")
        self.model = model
        self.proxy = AddressFilterProxy()
        self.proxy.setSourceModel(model)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("address, * wildcards (e.g. comm://a.example/*/changes)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.set_pattern)
        self.view = table_view()
        self.view.setModel(self.proxy)
        model.shadingChanged.connect(self.view.viewport().update)
        self.view.setColumnWidth(0, 90)
        self.view.setColumnWidth(1, 50)
        self.view.setColumnWidth(2, 260)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.filter)
        layout.addWidget(self.view)
        self.setWidget(body)
