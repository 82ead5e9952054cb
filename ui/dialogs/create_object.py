"""Create a data object (PROTOCOL §3.1): reporter, schema, initial data, invitees, store."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QWidget

from ui.dialogs.base import ActionDialog, JsonEdit
from ui.dialogs.pickers import HypertyChecklist, HypertyPicker
from ui.index import EngineIndex
from ui.naming import counted

TEMPLATES = {
    "Communication": '{\n  "topic": "new chat",\n  "participants": {}\n}',
    "Context": '{\n  "type": "temperature",\n  "values": []\n}',
    "Connection": '{\n  "status": "created"\n}',
}


class CreateObjectDialog(ActionDialog):
    title = "Create data object"
    run_label = "Create"

    def __init__(self, index: EngineIndex, reporter: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.reporter = HypertyPicker(index, reporter)
        self.schema = QComboBox()
        self.schema.addItems(index.lab.catalogue.names())
        self.name = QLineEdit()
        self.name.setPlaceholderText("optional")
        self.data = JsonEdit(TEMPLATES.get(self.schema.currentText(), "{}"))
        self.invitees = HypertyChecklist(index)
        self.store = QCheckBox("store the data in the reporter runtime")
        self.accept_all = QCheckBox("accept every subscription (else only invited hyperties)")
        self.accept_all.setChecked(True)
        self.schema.currentTextChanged.connect(lambda name: self.data.setPlainText(TEMPLATES.get(name, "{}")))
        self.form.addRow("Reporter", self.reporter)
        self.form.addRow("Schema", self.schema)
        self.form.addRow("Name", self.name)
        self.form.addRow("Initial data", self.data)
        self.form.addRow("Invite", self.invitees)
        self.form.addRow("", self.store)
        self.form.addRow("", self.accept_all)
        self.created_url = ""

    def validate(self) -> str | None:
        if not self.reporter.url():
            return "choose the reporter hyperty"
        if not self.schema.currentText():
            return "choose a schema"
        _, problem = self.data.value()
        return f"initial data: {problem}" if problem else None

    async def perform(self) -> str:
        hyperty = self.index.hyperty(self.reporter.url())
        if hyperty is None:
            return "the reporter hyperty is gone"
        data, _ = self.data.value()
        invitees = [url for url in self.invitees.checked() if url != hyperty.url]
        obj = await hyperty.syncher.create(self.schema.currentText(), data=data, observers=invitees,
                                           store=self.store.isChecked(), name=self.name.text().strip())
        if self.accept_all.isChecked():
            obj.on_subscription(lambda event: event.accept())
        self.created_url = obj.url
        invited = f"; invitations sent to {counted(len(invitees), 'hyperty', 'hyperties')}" if invitees else ""
        return f"200 ok: created {obj.url} at v{obj.version}{invited}"
