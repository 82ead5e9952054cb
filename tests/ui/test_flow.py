"""Following one message: a log row's Sequence draws every hop of that message (found by its identity,
wherever the row was seen), and "Only this flow" shows just its rows."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMenu, QTableView
from pytestqt.qtbot import QtBot

from console.demo import Demo
from core.lab import Lab
from ui.dialogs.base import ActionDialog
from ui.main_window import MainWindow
from ui.models.log_row import DIRECTION, SENDER, TYPE, WHERE, identity, message_of


async def run_dialog(qtbot: QtBot, dialog: ActionDialog, lab: Lab, window: MainWindow) -> str:
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert dialog.task is not None, dialog.answer_text
    await dialog.task
    await lab.settle()
    window.flush()
    assert dialog.ok, dialog.answer_text
    return dialog.answer_text


def click_row(qtbot: QtBot, view: QTableView, row: int) -> None:
    index = view.model().index(row, 0)
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())


def click_log_row(qtbot: QtBot, window: MainWindow, source_row: int) -> None:
    dock = window.messages_dock
    dock.tabs.setCurrentIndex(0)
    click_row(qtbot, dock.view, dock.view_index(source_row).row())
    assert dock.source_row(dock.view.currentIndex()) == source_row


def arrows(window: MainWindow) -> list[tuple[str, str, str]]:
    chart = window.messages_dock.chart.chart
    names = dict(chart.lifelines)
    return [(a.label, names[a.source], names[a.target]) for a in chart.arrows]


def shown_hops(window: MainWindow) -> list[tuple[str, str, str]]:
    model = window.messages_dock.view.model()
    return [tuple(model.data(model.index(r, c)) for c in (1, 2, 3)) for r in range(model.rowCount())]


async def edit_chat(qtbot: QtBot, window: MainWindow, lab: Lab, demo: Demo, status: str) -> None:
    window.select_object(demo.chat.url)
    window.actions_by_name["Edit…"].trigger()
    edit = window.dialogs[-1]
    edit.path.setText("participants.bob.status")
    edit.value.setPlainText(f'"{status}"')
    await run_dialog(qtbot, edit, lab, window)


async def test_a_delivery_row_draws_the_whole_journey_of_its_update(qtbot: QtBot, lab: Lab, window: MainWindow,
                                                                    demo: Demo) -> None:
    await edit_chat(qtbot, window, lab, demo, "away")
    await edit_chat(qtbot, window, lab, demo, "busy")   # a later update on the same object: not in the flow
    rows = window.log.rows
    first_update = next(i for i, r in enumerate(rows) if r[TYPE] == "update" and r[SENDER] == demo.chat.url
                        and '"away"' in r[-1])
    rt3 = demo.observers[2].runtime.url
    delivery = next(i for i, r in enumerate(rows) if identity(r) == identity(rows[first_update])
                    and r[WHERE] == rt3 and r[DIRECTION] == "in")
    click_log_row(qtbot, window, delivery)
    window.messages_dock.tabs.setCurrentIndex(1)

    version = message_of(rows[delivery])["body"]["version"]
    assert arrows(window) == [
        ("update", "alice", "rt1 bus"),            # the reporter publishes on its runtime's bus
        ("update", "rt1 bus", "rt1 SM"),
        ("update", "rt1 bus", "dave"),             # dave observes in the reporter's runtime
        ("update", "rt1 bus", "MN a.example"),     # the node takes it once…
        ("update", "MN a.example", "rt2 bus"),     # …and fans it out to each observing runtime
        ("update", "MN a.example", "rt3 bus"),
        ("update", "rt2 bus", "rt2 SM"),
        ("update", "rt2 bus", "bob"),
        ("update", "rt3 bus", "rt3 SM"),
        ("update", "rt3 bus", "carol"),
    ]
    chart = window.messages_dock.chart.chart
    assert {message_of(rows[a.row])["body"]["version"] for a in chart.arrows} == {version}
    delays = [a.delay for a in chart.arrows]
    assert delays[0] == 0.0 and delays == sorted(delays) and delays[-1] > 0
    assert window.messages_dock.chart.selected_row == delivery

    # Only this flow: its six sightings, and nothing of the later update
    dock = window.messages_dock
    qtbot.mouseClick(dock.flow_button, Qt.MouseButton.LeftButton)
    assert dock.flow_button.isChecked()
    assert shown_hops(window) == [("rt1", "out", "update"), ("node a.example", "in", "update"),
                                  ("node a.example", "out", "update"), ("node a.example", "out", "update"),
                                  ("rt2", "in", "update"), ("rt3", "in", "update")]
    qtbot.mouseClick(dock.flow_button, Qt.MouseButton.LeftButton)
    assert dock.proxy.rowCount() == len(window.log.rows)


async def test_a_subscribe_is_followed_through_both_nodes_from_any_of_its_rows(qtbot: QtBot, lab: Lab,
                                                                                window: MainWindow,
                                                                                demo: Demo) -> None:
    carol = demo.observers[2]
    window.actions_by_name["Add hyperty…"].trigger()
    add = window.dialogs[-1]
    add.runtime.setCurrentIndex(add.runtime.findData(carol.runtime.url))
    add.name.setText("erin")
    await run_dialog(qtbot, add, lab, window)
    erin = carol.runtime.hyperties["erin"]
    window.select_object(demo.chat.url)
    window.actions_by_name["Subscribe…"].trigger()
    subscribe = window.dialogs[-1]
    subscribe.hyperty.select(erin.url)
    await run_dialog(qtbot, subscribe, lab, window)

    rows = window.log.rows
    seed = next(i for i, r in enumerate(rows) if r[TYPE] == "subscribe" and r[SENDER] == erin.url)
    click_log_row(qtbot, window, seed)
    # rt3 already holds the node subscription of the chat (carol observes it): no MN subscribe.
    expected = [
        ("subscribe", "erin", "rt3 bus"), ("subscribe", "rt3 bus", "rt3 SM"),                 # PROTOCOL §3.2 #1
        ("response 100", "rt3 SM", "rt3 bus"), ("response 100", "rt3 bus", "erin"),           # #4
        ("subscribe", "rt3 SM", "rt3 bus"), ("subscribe", "rt3 bus", "MN a.example"),         # #5, via the node
        ("subscribe", "MN a.example", "rt1 bus"), ("subscribe", "rt1 bus", "rt1 SM"),
        ("response 100", "rt1 SM", "rt1 bus"),                                                # #6
        ("forward", "rt1 SM", "rt1 bus"), ("forward", "rt1 bus", "alice"),                    # #7
        ("response 200", "alice", "rt1 bus"), ("response 200", "rt1 bus", "rt1 SM"),          # #8
        ("response 200", "rt1 SM", "rt1 bus"),                                                # #9
        ("response 100", "rt1 bus", "MN b.example"), ("response 100", "MN b.example", "rt3 bus"),
        ("response 200", "rt1 bus", "MN b.example"), ("response 200", "MN b.example", "rt3 bus"),
        ("response 100", "rt3 bus", "rt3 SM"),
        ("response 100", "rt3 SM", "rt3 bus"), ("response 100", "rt3 bus", "erin"),
        ("response 200", "rt3 bus", "rt3 SM"),
        ("response 200", "rt3 SM", "rt3 bus"), ("response 200", "rt3 bus", "erin"),           # #10
    ]
    assert arrows(window) == expected
    # the forward to the reporter, seen in the middle of the flow, leads back to the same flow
    forward = next(i for i, r in enumerate(rows) if r[TYPE] == "forward" and r[WHERE] == demo.reporter.runtime.url
                   and message_of(r)["body"].get("from") == erin.url)
    click_log_row(qtbot, window, forward)
    assert [a for a in arrows(window) if a[0] == "forward"] == [("forward", "rt1 SM", "rt1 bus"),
                                                                 ("forward", "rt1 bus", "alice")]
    # and so does the final answer to erin, at the node between the runtimes
    answer = next(i for i, r in enumerate(rows) if i > seed and r[TYPE] == "response"
                  and r[WHERE].startswith("domain://msg-node.b")
                  and message_of(r)["body"].get("code") == 200 and r[DIRECTION] == "in")
    click_log_row(qtbot, window, answer)
    assert arrows(window) == expected
    chart = window.messages_dock.chart
    assert chart.selected_row == answer
    # clicking an arrow selects the row of that sighting
    target = chart.chart.arrows[10]
    chart.messageClicked.emit(target.row)
    dock = window.messages_dock
    assert dock.source_row(dock.view.currentIndex()) == target.row
    assert '"type": "forward"' in dock.detail.toPlainText()


async def test_right_click_on_a_row_filters_the_log_to_its_flow(qtbot: QtBot, lab: Lab, window: MainWindow,
                                                                demo: Demo) -> None:
    await edit_chat(qtbot, window, lab, demo, "away")
    rows = window.log.rows
    update = max(i for i, r in enumerate(rows) if r[TYPE] == "update" and r[SENDER] == demo.chat.url)
    dock = window.messages_dock
    index = dock.view_index(update)
    dock.view.scrollTo(index)

    def choose() -> None:
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu)
        next(a for a in menu.actions() if a.text() == "Filter the log to this flow").trigger()
        menu.close()
    QTimer.singleShot(0, choose)
    dock.view.customContextMenuRequested.emit(dock.view.visualRect(index).center())   # a right-click
    assert dock.flow_button.isChecked()
    assert [h[2] for h in shown_hops(window)] == ["update"] * 6
    assert {identity(rows[dock.proxy.mapToSource(dock.proxy.index(r, 0)).row()])
            for r in range(dock.proxy.rowCount())} == {identity(rows[update])}
