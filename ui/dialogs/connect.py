"""File → Connect to node: a live Message Node's URL and monitor token (TRANSPORT §4), and optionally
the domain's home secret (the node checks it), checked before anything is sent; the node's refusal
is shown in words (403 forbidden: wrong monitor token, wrong home secret)."""

from __future__ import annotations

import re

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QWidget

from core import SyncError
from ui.dialogs.base import ActionDialog
from ui.node_connections import NodeConnection, default_name, url_problem
from ui.remote import ACTIVE, RemoteNodes, WatchState

#: A connection's name: shown in every dock beside the node's rows, and after `@` in their `where`.
NAME = re.compile(r"^[^\s/@][^/@]{0,39}$")
NEW = "— new connection —"


class ConnectDialog(ActionDialog):
    title = "Connect to a live node"
    run_label = "Connect"

    def __init__(self, remote: RemoteNodes, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.remote = remote
        self.saved = QComboBox()
        self.saved.addItem(NEW)
        self.saved.addItems([c.name for c in remote.saved()])
        self.saved.currentTextChanged.connect(self._choose)
        self.url = QLineEdit()
        self.url.setPlaceholderText("ws://127.0.0.1:9000/")
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("the node's --monitor-token")
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setPlaceholderText("optional: the domain's secret (--home-secret-file)")
        self.secret.setToolTip("Checked by the node when the console connects (403 if wrong); kept with the token")
        self.name = QLineEdit()
        self.name.setPlaceholderText("host:port")
        self.remember = QCheckBox("Save this connection")
        self.remember.setChecked(True)
        self.remember_token = QCheckBox("with its token and secret (kept in plain text in the settings)")
        self.remember_token.setChecked(True)
        self.autoconnect = QCheckBox("Connect when the console starts")
        self.form.addRow("Saved", self.saved)
        self.form.addRow("URL", self.url)
        self.form.addRow("Monitor token", self.token)
        self.form.addRow("Home secret", self.secret)
        self.form.addRow("Name", self.name)
        self.form.addRow("", self.remember)
        self.form.addRow("", self.remember_token)
        self.form.addRow("", self.autoconnect)
        self.created: NodeConnection | None = None

    def _choose(self, name: str) -> None:
        chosen = next((c for c in self.remote.saved() if c.name == name), None)
        if chosen is not None:
            self.url.setText(chosen.url)
            self.token.setText(chosen.token)
            self.secret.setText(chosen.secret)
            self.name.setText(chosen.name)
            self.autoconnect.setChecked(chosen.autoconnect)

    def connection(self) -> NodeConnection:
        url = self.url.text().strip()
        name = self.name.text().strip() or (default_name(url) if url_problem(url) is None else "")
        return NodeConnection(name, url, self.token.text(), self.autoconnect.isChecked(), self.secret.text().strip())

    def validate(self) -> str | None:
        url = self.url.text().strip()
        if not url:
            return "URL: give the node's address, e.g. ws://127.0.0.1:9000/"
        problem = url_problem(url)
        if problem is not None:
            return f"URL: {problem}"
        if not self.token.text():
            return "Monitor token: the node prints it when it starts (--monitor-token)"
        connection = self.connection()
        if not NAME.match(connection.name):
            return "Name: up to 40 characters, no '/' or '@', not starting with a space"
        for watch in self.remote.active():
            if watch.name == connection.name:
                return f"Name: a node is already watched as {connection.name!r} (disconnect it first)"
            if watch.connection.url == connection.url:
                return f"URL: already watched as {watch.name!r}"
        return None

    async def perform(self) -> str:
        connection = self.connection()
        watch = self.remote.attach(connection)
        state = await watch.outcome()
        if state is WatchState.REFUSED:
            code, description = watch.refusal or (400, watch.problem)
            raise SyncError(code, description)
        if self.remember.isChecked() and state in ACTIVE:
            self.remote.save(connection, remember_token=self.remember_token.isChecked())
        self.created = connection
        if state is WatchState.LIVE:
            note = ""
            if watch.home == "secret":
                note = "; home sessions need its secret"
            elif connection.secret and watch.home == "first come":
                note = "; it has no home secret: home sessions are first come"
            return f"200 ok: watching {watch.node_url} as {connection.name}{note}"
        return f"not reachable yet ({watch.problem}); retrying — the Nodes dock shows when it is up"

