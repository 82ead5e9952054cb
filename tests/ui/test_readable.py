"""Readable and searchable: the log's filter expression (Ctrl+F), Follow with jump-to-newest and the
counts of rows held back, one object filter (Ctrl+L), a column chooser, columns sized to what they
hold, and widths, splitters and filters kept in QSettings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QSettings, Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLineEdit, QMenu
from pytestqt.qtbot import QtBot

from console.demo import Demo
from core.lab import Lab
from tests.ui.test_flow import click_log_row, edit_chat, run_dialog
from ui.main_window import MainWindow
from ui.models.filter_expression import FilterError, parse_filter
from ui.models.log_row import CODE, DIRECTION, TYPE, WHERE
from ui.remember import column_chooser


def visible_rows(window: MainWindow) -> list[tuple[str, ...]]:
    model = window.messages_dock.view.model()
    return [tuple(model.data(model.index(r, c)) for c in range(model.columnCount())) for r in range(model.rowCount())]


def type_filter(qtbot: QtBot, window: MainWindow, text: str) -> None:
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.messages_dock.expression.hasFocus()
    qtbot.keyClicks(window.messages_dock.expression, text)


async def test_the_filter_expression_excludes_types_and_compares_codes(qtbot: QtBot, lab: Lab, window: MainWindow,
                                                                      demo: Demo) -> None:
    window.actions_by_name["Subscribe…"].trigger()   # a subscribe to an object nobody reports: 404
    subscribe = window.dialogs[-1]
    subscribe.object.setEditText("comm://a.example/nobody-reports-this")
    qtbot.mouseClick(subscribe.run_button, Qt.MouseButton.LeftButton)
    assert subscribe.task is not None
    await subscribe.task
    await lab.settle()
    window.flush()
    assert subscribe.answer_text.startswith("404 not found")
    qtbot.mouseClick(subscribe.buttons.button(QDialogButtonBox.StandardButton.Close), Qt.MouseButton.LeftButton)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    rows = window.log.rows

    type_filter(qtbot, window, "type != update and code >= 400")
    errors = [r for r in rows if r[TYPE] != "update" and r[CODE] is not None and r[CODE] >= 400]
    assert len(visible_rows(window)) == len(errors) > 0
    assert all(int(row[7]) >= 400 and row[3] == "response" for row in visible_rows(window))

    type_filter(qtbot, window, "type not in (update, response)")
    assert {row[3] for row in visible_rows(window)} == {r[TYPE] for r in rows} - {"update", "response"}
    type_filter(qtbot, window, "type in (subscribe, forward) and dir = in and node = rt1")
    expected = [r for r in rows if r[TYPE] in ("subscribe", "forward") and r[DIRECTION] == "in"
                and r[WHERE] == demo.reporter.runtime.url]
    assert len(visible_rows(window)) == len(expected) > 0
    type_filter(qtbot, window, "node = a.example and not type = update")
    assert {row[1] for row in visible_rows(window)} == {"node a.example"}
    assert "update" not in {row[3] for row in visible_rows(window)}

    shown = len(visible_rows(window))
    window.messages_dock.expression.setText("code >= four hundred")   # pasted, unreadable: said, the rows stay
    assert window.messages_dock.filter_problem.text() == "code compares with a number, not 'four'"
    assert len(visible_rows(window)) == shown
    window.messages_dock.expression.clear()
    assert len(visible_rows(window)) == len(window.log.rows)


def test_filter_expressions_that_cannot_be_read_say_why() -> None:
    for text, problem in [("type in update", "`in` takes a list: type in (update, delete)"),
                          ("(type = update", "the expression ends too soon"),
                          ("type = update)", "unexpected ')'"),
                          ("type <", "the expression ends too soon"),
                          ("type < update", "type is not a number: use = != ~ or in")]:
        with pytest.raises(FilterError) as caught:
            parse_filter(text)
        assert str(caught.value) == problem
    assert parse_filter("   ") is None


async def test_follow_stops_at_a_click_and_counts_what_arrives_then_jumps_to_the_newest(
        qtbot: QtBot, lab: Lab, window: MainWindow, demo: Demo) -> None:
    dock = window.messages_dock
    assert dock.follow_button.isChecked()
    click_log_row(qtbot, window, 3)
    assert not dock.follow_button.isChecked()   # one click: following stops, and the button says so
    before = len(window.log.rows)
    await edit_chat(qtbot, window, lab, demo, "away")
    arrived = len(window.log.rows) - before
    assert arrived >= 6
    assert dock.newest_button.text() == f"⤓ Newest ({arrived} new)"
    bar = dock.view.verticalScrollBar()
    assert bar.value() < bar.maximum()

    qtbot.mouseClick(dock.pause_button, Qt.MouseButton.LeftButton)
    await edit_chat(qtbot, window, lab, demo, "busy")
    held = len(window.log.held)
    assert held >= 6
    assert dock.pause_button.text() == f"▶ Resume ({held} held)"

    qtbot.mouseClick(dock.newest_button, Qt.MouseButton.LeftButton)   # resumes, shows and follows the newest
    assert dock.follow_button.isChecked() and not window.log.paused
    assert dock.newest_button.text() == "⤓ Newest"
    assert dock.pause_button.text() == "❚❚ Pause"
    QApplication.processEvents()
    assert bar.value() == bar.maximum()
    last = dock.view.model().index(dock.view.model().rowCount() - 1, 0)
    assert dock.view.viewport().rect().intersects(dock.view.visualRect(last))


async def test_one_object_filter_reached_with_ctrl_l(qtbot: QtBot, window: MainWindow, demo: Demo) -> None:
    toolbar_edits = [w for w in window.findChildren(QLineEdit) if "objects" in (w.placeholderText() or "")]
    assert toolbar_edits == [window.objects_dock.filter]
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.objects_dock.filter.hasFocus()
    qtbot.keyClicks(window.objects_dock.filter, "room")
    assert window.objects_dock.proxy.rowCount() == 1


async def test_columns_read_whole_and_replica_chooser_is_not_cut(window: MainWindow, demo: Demo) -> None:
    log = window.messages_dock.view
    metrics = log.fontMetrics()
    assert log.columnWidth(1) > metrics.horizontalAdvance("node a.example")     # both nodes tell apart
    assert not log.horizontalHeader().stretchLastSection()                      # no 350 px Size column
    assert log.columnWidth(8) < 100
    objects = window.objects_dock
    box = objects.replica_box
    window.select_object(demo.chat.url)
    assert box.currentText() == "alice (reporter)"
    assert box.width() >= box.fontMetrics().horizontalAdvance("alice (reporter)") + 20
    topology = window.topology_dock.view
    assert topology.columnWidth(0) > 3 * topology.indentation() + metrics.horizontalAdvance("↔ node b.example")
    details = []
    model = window.topology
    parents = [QModelIndex()]
    while parents:
        parent = parents.pop()
        for row in range(model.rowCount(parent)):
            details.append(model.data(model.index(row, 2, parent)))
            parents.append(model.index(row, 0, parent))
    assert "1 hyperty · 1 link" in details                      # rt2: bob, one link
    assert "2 hyperties · 2 links" in details
    assert not [d for d in details if d and ("1 hyperties" in d or "1 links" in d or "1 runtimes" in d)]


@pytest.fixture
def settings_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "console.ini"


async def test_column_chooser_widths_splitters_and_filters_are_kept(qtbot: QtBot, lab: Lab, demo: Demo,
                                                                    settings_path: Path) -> None:
    settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
    first = MainWindow(lab, settings=settings)
    first.show()
    first.activateWindow()
    qtbot.waitUntil(first.isActiveWindow)
    first.flush()
    view = first.messages_dock.view
    menu = column_chooser(view)
    assert isinstance(menu, QMenu)
    code = next(a for a in menu.actions() if a.text() == "Code")
    code.trigger()                                       # the user unticks "Code"
    assert view.horizontalHeader().isSectionHidden(7)
    view.horizontalHeader().resizeSection(4, 333)
    first.objects_dock.split.setSizes([120, 400])
    sizes = first.objects_dock.split.sizes()
    type_filter(qtbot, first, "type = subscribe")
    first.objects_dock.filter.setText("chat")
    first.close()

    again = MainWindow(lab, settings=QSettings(str(settings_path), QSettings.Format.IniFormat))
    again.show()
    again.flush()
    header = again.messages_dock.view.horizontalHeader()
    assert header.isSectionHidden(7) and header.sectionSize(4) == 333
    assert again.messages_dock.expression.text() == "type = subscribe"
    assert again.messages_dock.proxy.filter.expression == "type = subscribe"   # applied, not only shown
    assert again.objects_dock.filter.text() == "chat"
    assert again.objects_dock.proxy.rowCount() == 1
    assert again.objects_dock.split.sizes()[0] == sizes[0] != 200   # the table's height the user chose
    again.close()


__all__ = ["run_dialog"]
