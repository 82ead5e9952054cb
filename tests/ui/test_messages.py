"""Message log filters, pause, export and re-import; the sequence chart of one subscribe."""

from __future__ import annotations

from pathlib import Path

import orjson
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from console.demo import Demo
from core.lab import Lab
from ui.main_window import MainWindow
from ui.models.log_row import message_of
from ui.models.message_log import MessageLogModel


def shown(window: MainWindow) -> list[tuple[str, ...]]:
    proxy = window.messages_dock.proxy
    return [tuple(proxy.data(proxy.index(r, c)) for c in range(proxy.columnCount())) for r in range(proxy.rowCount())]


async def test_filters_by_type_address_wildcards_and_text(qtbot: QtBot, lab: Lab, window: MainWindow,
                                                          demo: Demo) -> None:
    demo.chat.data["participants"]["bob"]["status"] = "away"
    await lab.settle()
    window.flush()
    dock = window.messages_dock
    rows = window.log.rows
    assert len(rows) > 100

    def typed(text: str) -> None:
        qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)   # Ctrl+F: the log's filter
        assert dock.expression.hasFocus()
        qtbot.keyClicks(dock.expression, text)  # replaces the selected text

    typed("type = subscribe")
    subscribes = [r for r in rows if message_of(r).get("type") == "subscribe"]
    assert dock.proxy.rowCount() == len(subscribes) > 0
    assert {row[3] for row in shown(window)} == {"subscribe"}
    guid = demo.chat.url.rsplit("/", 1)[-1]
    typed(f"address = comm://a.example/{guid[:4]}*/subscription")
    address = f"{demo.chat.url}/subscription"
    expected = [r for r in rows if address in (message_of(r).get("from"), message_of(r).get("to"))]
    assert dock.proxy.rowCount() == len(expected) > 0
    typed("AWAY")  # free text, case-insensitive
    expected = [r for r in rows if b'"value":"away"' in orjson.dumps(message_of(r))]
    assert dock.proxy.rowCount() == len(expected) > 0
    dock.expression.clear()
    assert dock.proxy.rowCount() == len(rows)


async def test_rows_that_arrive_under_a_filter_are_filtered_and_all_come_back_when_it_is_cleared(
        qtbot: QtBot, lab: Lab, window: MainWindow, demo: Demo) -> None:
    dock = window.messages_dock
    qtbot.keyClicks(dock.expression, "type = update")
    before = dock.proxy.rowCount()
    for _ in range(5):
        demo.edit_chat()
    await lab.settle()
    window.flush()
    updates = [r for r in window.log.rows if message_of(r).get("type") == "update"]
    assert dock.proxy.rowCount() == len(updates) > before
    assert {row[3] for row in shown(window)} == {"update"}
    dock.expression.clear()
    assert dock.proxy.rowCount() == len(window.log.rows)


async def test_pause_holds_rows_back_without_losing_them(lab: Lab, window: MainWindow, demo: Demo) -> None:
    dock = window.messages_dock
    before = len(window.log.rows)
    dock.set_paused(True)
    for _ in range(10):
        demo.edit_chat()
    await lab.settle()
    window.flush()
    assert len(window.log.rows) == before
    held = len(window.log.held)
    assert held >= 10 * 5  # each update: reporter out, node in, 2 node outs, 2 runtime ins at least
    dock.set_paused(False)
    assert len(window.log.rows) == before + held
    assert window.log.held == []
    assert dock.pause_button.text() == "❚❚ Pause"
    assert not dock.pause_button.isChecked()


async def test_export_and_reimport_give_the_same_rows(lab: Lab, window: MainWindow, demo: Demo, tmp_path: Path) -> None:
    dock = window.messages_dock
    everything = shown(window)
    path = tmp_path / "all.jsonl"
    assert dock.export_to(path) == len(everything)
    imported = dock.import_from(path)
    assert isinstance(imported, MessageLogModel)
    assert shown(window) == everything
    assert dock.source_label.text() == f"imported: all.jsonl ({len(everything)} messages)"
    dock.expression.setText("type = response")
    filtered = shown(window)
    dock.back_to_live()
    assert dock.proxy.sourceModel() is window.log
    assert shown(window) == filtered != []
    subset = tmp_path / "responses.jsonl"
    assert dock.export_to(subset) == len(shown(window))
    dock.expression.clear()
    dock.import_from(subset)
    assert shown(window) == shown_after_filter(window, "response")


def shown_after_filter(window: MainWindow, kind: str) -> list[tuple[str, ...]]:
    return [row for row in shown(window) if row[3] == kind]


async def test_import_rejects_a_file_that_is_not_a_log(window: MainWindow, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "message", "ts": 1, "where": "x", "message": {}}\nnot json\n')
    try:
        window.messages_dock.import_from(bad)
    except ValueError as exc:
        assert str(exc).startswith("line 2: not JSON")
    else:
        raise AssertionError("imported a broken file")
