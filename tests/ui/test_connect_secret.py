"""The Connect dialog's home secret (issue 12 item 8) against a real `syncscope node` process started
with `--home-secret-file`: typed into the dialog, checked by the node at the monitor's open (a wrong
one is refused in words), saved with the token, and a node without a secret says home sessions are
first come when one is given to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.lab import Lab
from tests.net.node_process import NodeProcess, nodes
from ui.dialogs.connect import ConnectDialog
from ui.main_window import MainWindow
from ui.node_connections import NodeConnection
from ui.remote import WatchState

__all__ = ["nodes"]

A = "a.example"
TOKEN = "watch-a"
SECRET = "s3cret of a.example"


@pytest.fixture
async def console(lab: Lab, qapp: QApplication, tmp_path: Path) -> AsyncIterator[MainWindow]:
    window = MainWindow(lab, settings=QSettings(str(tmp_path / "console.ini"), QSettings.Format.IniFormat))
    window.remote.first_retry, window.remote.max_retry = 0.05, 0.2
    window.show()
    yield window
    await window.remote.aclose()
    window.close()


async def connect(window: MainWindow, qtbot: QtBot, url: str, secret: str, name: str) -> ConnectDialog:
    """Ctrl+K, the fields typed in, Connect clicked; returns the dialog once the node answered."""
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    dialog = window.dialogs[-1]
    assert isinstance(dialog, ConnectDialog)
    for field, text in ((dialog.url, url), (dialog.token, TOKEN), (dialog.secret, secret), (dialog.name, name)):
        field.selectAll()            # whatever the dialog offers is typed over
        qtbot.keyClick(field, Qt.Key.Key_Delete)
        qtbot.keyClicks(field, text)
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert dialog.task is not None, dialog.answer_text
    await dialog.task
    return dialog


async def test_the_home_secret_is_checked_by_the_node_and_saved(console: MainWindow, qtbot: QtBot,
                                                                 nodes: list[NodeProcess], tmp_path: Path) -> None:
    secret_file = tmp_path / "a.secret"
    secret_file.write_text(SECRET)
    node = await NodeProcess.start(A, "--monitor-token", TOKEN, "--home-secret-file", str(secret_file), "--quiet")
    nodes.append(node)
    window = console
    refused = await connect(window, qtbot, node.url, "a guess", "A")
    assert refused.ok is False and refused.answer_text == "403 forbidden: wrong home secret"
    assert window.remote.watches["A"].state is WatchState.REFUSED and window.remote.saved() == []
    accepted = await connect(window, qtbot, node.url, SECRET, "A")
    assert accepted.ok is True, accepted.answer_text
    assert accepted.answer_text == (f"200 ok: watching domain://msg-node.{A} as A; home sessions need its secret")
    assert window.remote.watches["A"].state is WatchState.LIVE
    assert window.remote.saved() == [NodeConnection("A", node.url, TOKEN, False, SECRET)]


async def test_a_node_without_a_secret_says_home_sessions_are_first_come(console: MainWindow, qtbot: QtBot,
                                                                         nodes: list[NodeProcess]) -> None:
    node = await NodeProcess.start(A, "--monitor-token", TOKEN, "--quiet")
    nodes.append(node)
    accepted = await connect(console, qtbot, node.url, SECRET, "A")
    assert accepted.answer_text == (f"200 ok: watching domain://msg-node.{A} as A; it has no home secret: "
                                    f"home sessions are first come")
