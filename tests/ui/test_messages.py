"""Message log filters, pause, export and re-import; the sequence chart of one subscribe."""

from __future__ import annotations

from pathlib import Path

import orjson
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from console.demo import Demo
from core.lab import Lab
from ui.main_window import MainWindow
from ui.models.log_row import TYPE, message_of
from ui.models.message_log import MessageLogModel


def shown(window: MainWindow) -> list[tuple[str, ...]]:
    """The rows the log's view shows (through the filter proxy, or the log's model when nothing is
    filtered or sorted)."""
    model = window.messages_dock.view.model()
    return [tuple(model.data(model.index(r, c)) for c in range(model.columnCount())) for r in range(model.rowCount())]


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


async def test_the_selected_message_column_widths_and_sort_survive_filtering(
        qtbot: QtBot, lab: Lab, window: MainWindow, demo: Demo) -> None:
    dock, view = window.messages_dock, window.messages_dock.view
    dock.set_following(False)
    rows = window.log.rows
    target = next(i for i, r in enumerate(rows) if r[TYPE] == "subscribe")
    cell = view.model().index(target, 0)          # nothing filtered or sorted: a row is the log's row
    view.scrollTo(cell)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(cell).center())
    picked = shown(window)[target]
    assert picked[3] == "subscribe" and '"type": "subscribe"' in dock.detail.toPlainText()
    header = view.horizontalHeader()
    header.resizeSection(4, 333)                  # as a drag of the From column's edge leaves it
    dock.expression.setText("type = subscribe")   # pasted
    assert {row[3] for row in shown(window)} == {"subscribe"}
    assert view.currentIndex().isValid() and shown(window)[view.currentIndex().row()] == picked
    dock.expression.clear()
    assert view.currentIndex().isValid() and shown(window)[view.currentIndex().row()] == picked
    assert len(shown(window)) == len(rows) and header.sectionSize(4) == 333
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(1) + 10, header.height() // 2))  # sort by Where
    qtbot.keyClicks(dock.expression, "type = update")
    dock.expression.clear()
    where = [row[1] for row in shown(window)]
    assert len(where) == len(rows) and len(set(where)) > 1
    assert where in (sorted(where), sorted(where, reverse=True))   # still sorted, filter gone
    assert header.sectionSize(4) == 333


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
