"""Every action succeeds on the demo as a user clicks it, or says why not (issue 14 item 1):
Delegate offers the object's observers only and succeeds, a hyperty's "accepts delegation" setting
is changed from its Topology menu, Restart says beforehand what resumes and what is lost and the
views match the engine afterwards, and a subscription still waiting counts as a replica behind.

Everything is done through the widgets: actions, context menus, pickers and the Run button."""

from __future__ import annotations

import orjson
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication, QMenu, QTreeView
from pytestqt.qtbot import QtBot

from console.demo import Demo
from core.lab import Lab
from core.runtime.observer_object import SubscriptionState
from tests.ui.test_flow import click_log_row
from ui.dialogs.base import ActionDialog
from ui.dialogs.faults import FaultsDialog
from ui.dialogs.object_actions import DelegateDialog, SubscribeDialog
from ui.dialogs.runtime_actions import AddHypertyDialog, RestartRuntimeDialog
from ui.main_window import MainWindow
from ui.models.log_row import DIRECTION, TYPE, WHERE, message_of


def trigger(window: MainWindow, name: str) -> ActionDialog:
    """The action `name` of the Actions menu, as a click on it; returns the dialog it opened."""
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Actions")
    next(a for a in menu.actions() if a.text() == name).trigger()
    return window.dialogs[-1]


def context_menu(view: QTreeView, index: QModelIndex) -> QMenu:
    """Right-click `index` in `view`: the menu that pops up."""
    view.scrollTo(index)
    view.customContextMenuRequested.emit(view.visualRect(index).center())
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu)
    return menu


def choose(menu: QMenu, text: str) -> None:
    action = next(a for a in menu.actions() if a.text() == text)
    menu.close()
    action.trigger()


async def run(qtbot: QtBot, dialog: ActionDialog, lab: Lab, window: MainWindow) -> str:
    assert dialog.run_button.isEnabled(), dialog.run_button.toolTip()
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert dialog.task is not None, dialog.answer_text
    await dialog.task
    await lab.settle()
    window.flush()
    return dialog.answer_text


def details(window: MainWindow, kind: str, key: object) -> tuple[str, str]:
    index = window.topology.find(kind, key)
    return str(window.topology.data(index.siblingAtColumn(1))), str(window.topology.data(index.siblingAtColumn(2)))


async def test_delegate_offers_the_observers_only_and_hands_the_role_over(qtbot: QtBot, lab: Lab, window: MainWindow,
                                                                          demo: Demo) -> None:
    alice, (dave, bob, carol) = demo.reporter, demo.observers
    window.select_object(demo.context.url)
    dialog = trigger(window, "Delegate…")
    assert isinstance(dialog, DelegateDialog)
    assert dialog.object.url() == demo.context.url
    assert dialog.candidates() == [dave.url, bob.url, carol.url]  # never alice, the reporter
    dialog.select(carol.url)
    answer = await run(qtbot, dialog, lab, window)
    assert dialog.ok, answer
    assert answer == f"200 ok: carol now reports {window.index.short(demo.context.url)}"
    assert demo.context.url in carol.syncher.reporters
    assert window.index.reporter(demo.context.url).hyperty is carol
    assert details(window, "hyperty", carol.url) == ("", "reports 1 · observes 1 · accepts delegation")
    assert details(window, "hyperty", alice.url)[1].startswith("reports 1 · observes ")


async def test_a_hyperty_that_refuses_delegation_is_marked_and_not_run(qtbot: QtBot, lab: Lab, window: MainWindow,
                                                                       demo: Demo) -> None:
    bob = demo.observers[1]
    view = window.topology_dock.view
    menu = context_menu(view, window.topology.find("hyperty", bob.url))
    accepts = next(a for a in menu.actions() if a.text() == "Accepts delegation")
    assert accepts.isCheckable() and accepts.isChecked()
    choose(menu, "Accepts delegation")
    assert details(window, "hyperty", bob.url) == ("", "reports 0 · observes 2")
    assert not context_menu(view, window.topology.find("hyperty", bob.url)).actions()[-1].isChecked()
    QApplication.activePopupWidget().close()

    window.select_object(demo.chat.url)
    dialog = trigger(window, "Delegate…")
    assert isinstance(dialog, DelegateDialog)
    assert dialog.candidates()[-1] == bob.url  # listed last, and says why
    assert dialog.candidate.itemText(2).endswith("(does not accept delegation)")
    dialog.select(bob.url)
    assert not dialog.run_button.isEnabled()
    assert dialog.run_button.toolTip() == ("bob does not accept delegation: turn it on in Topology "
                                           "(right-click the hyperty → Accepts delegation)")
    dialog.candidate.setCurrentIndex(0)
    assert dialog.run_button.isEnabled() and dialog.run_button.toolTip() == ""


async def test_restart_says_what_resumes_and_the_views_match_the_engine_after(qtbot: QtBot, lab: Lab,
                                                                              window: MainWindow, demo: Demo) -> None:
    carol = demo.observers[2]
    runtime = carol.runtime
    for _ in range(5):
        demo.edit_chat()
    await lab.settle()
    window.flush()
    choose(context_menu(window.topology_dock.view, window.topology.find("runtime", runtime.url)),
           "Restart runtime (resume)…")
    dialog = window.dialogs[-1]
    assert isinstance(dialog, RestartRuntimeDialog)
    assert [(f.url, f.hyperty, f.role, f.resumes, f.note) for f in dialog.plan] == [
        (url, "carol", "observer", True, "resumes from its stored data, then reads the reporter again")
        for url in (demo.chat.url, demo.context.url)]
    chat, context = window.index.short(demo.chat.url), window.index.short(demo.context.url)
    assert dialog.outlook.text() == (
        f"✓ {chat} (carol, observer): resumes from its stored data, then reads the reporter again\n"
        f"✓ {context} (carol, observer): resumes from its stored data, then reads the reporter again")
    answer = await run(qtbot, dialog, lab, window)
    assert answer == f"200 ok: {runtime.url} restarted; 2 objects resumed, 0 lost"

    # The picture matches the engine: its live links only (home node and a.example's, not the two
    # the crash took down), each with its own frame count; carol observes both
    # objects again, her subscriptions are live at the reporter's version, and nothing is behind.
    runtime_item = window.topology.find("runtime", runtime.url)
    links = [window.topology.item(window.topology.index(row, 0, runtime_item))
             for row in range(window.topology.rowCount(runtime_item))]
    links = [item for item in links if item is not None and item.kind == "link"]
    live = lab.links_of(runtime)
    assert [item.payload for item in links] == live and len(live) == 2
    assert [item.values[1:] for item in links] == [("● up", f"{link.sent} frames") for link in live]
    assert details(window, "runtime", runtime.url)[0] == "● up"
    assert details(window, "hyperty", carol.url) == ("", "reports 0 · observes 2 · accepts delegation")
    subs = window.subscriptions
    for obj in (demo.chat, demo.context):
        row = subs.values[subs.row_of((obj.url, carol.url))]
        assert row[subs.STATE:] == ("live", obj.version, 0)
    assert " · 0 replicas behind · " in window.status.text()
    window.select_object(demo.chat.url)
    box = window.objects_dock.replica_box
    assert "carol (observer)" in [box.itemText(i) for i in range(box.count())]


async def test_restart_names_what_is_not_stored(qtbot: QtBot, lab: Lab, window: MainWindow, demo: Demo) -> None:
    alice = demo.reporter
    window.selected_hyperty = alice.url
    create = trigger(window, "New object…")
    assert not create.store.isChecked()
    await run(qtbot, create, lab, window)
    assert create.ok, create.answer_text
    unstored = next(url for url in alice.syncher.reporters if url not in (demo.chat.url, demo.context.url))
    window.selected_runtime = alice.runtime.url
    dialog = trigger(window, "Restart runtime…")
    assert isinstance(dialog, RestartRuntimeDialog)
    fates = {(f.url, f.hyperty): (f.resumes, f.note) for f in dialog.plan}
    assert fates[(demo.chat.url, "alice")] == (True, f"resumes at v{demo.chat.version} with its data")
    assert fates[(unstored, "alice")] == (False, "its data is not stored (created without store): it comes back "
                                                 "empty, at v0")
    assert fates[(demo.chat.url, "dave")][0] is True
    assert f"✗ {window.index.short(unstored)} (alice, reporter): its data is not stored" in dialog.outlook.text()
    answer = await run(qtbot, dialog, lab, window)
    assert answer == f"200 ok: {alice.runtime.url} restarted; 4 objects resumed, 1 lost"


async def test_a_subscription_waiting_for_its_reporter_counts_as_behind(qtbot: QtBot, lab: Lab, window: MainWindow,
                                                                        demo: Demo) -> None:
    alice, bob = demo.reporter, demo.observers[1]
    add = trigger(window, "Add hyperty…")
    assert isinstance(add, AddHypertyDialog)
    add.runtime.setCurrentIndex(add.runtime.findData(bob.runtime.url))
    qtbot.keyClicks(add.name, "erin")
    await run(qtbot, add, lab, window)
    erin = bob.runtime.hyperties["erin"]
    choose(context_menu(window.topology_dock.view, window.topology.find("runtime", alice.runtime.url)),
           "Set faults on its links…")
    faults = window.dialogs[-1]
    assert isinstance(faults, FaultsDialog)
    faults.delay_min.setValue(600)
    faults.delay_max.setValue(600)
    await run(qtbot, faults, lab, window)
    window.select_object(demo.chat.url)
    window.selected_hyperty = erin.url
    subscribe = trigger(window, "Subscribe…")
    assert isinstance(subscribe, SubscribeDialog)
    assert subscribe.hyperty.url() == erin.url and subscribe.object.url() == demo.chat.url
    qtbot.mouseClick(subscribe.run_button, Qt.MouseButton.LeftButton)
    observed = bob.runtime.sm

    def waiting() -> bool:
        oo = observed.observers.get(demo.chat.url)
        sub = oo.subscriptions.get(erin.url) if oo is not None else None
        return sub is not None and sub.state is SubscriptionState.PENDING

    await lab.until(waiting)
    window.flush()
    objects = window.objects
    assert objects.values[objects.row_of(demo.chat.url)][objects.BEHIND] == 1
    assert " · 1 replica behind · " in window.status.text()
    subs = window.subscriptions
    assert subs.values[subs.row_of((demo.chat.url, erin.url))][subs.STATE] == "pending"
    assert subscribe.task is not None
    await subscribe.task  # the reporter's answer, 600 ms late
    assert subscribe.ok, subscribe.answer_text
    await lab.settle()
    window.flush()
    assert subs.values[subs.row_of((demo.chat.url, erin.url))][subs.STATE:] == ("live", demo.chat.version, 0)
    assert objects.values[objects.row_of(demo.chat.url)][objects.BEHIND] == 0
    assert " · 0 replicas behind · " in window.status.text()


async def test_a_restart_s_resume_answer_shows_the_documents_it_carried(qtbot: QtBot, lab: Lab, window: MainWindow,
                                                                         demo: Demo) -> None:
    # Right after the demo starts nothing is logged against carol's stored records: her resume hands
    # their documents over as stored text, which the message log must show as the JSON it is.
    carol = demo.observers[2]
    choose(context_menu(window.topology_dock.view, window.topology.find("runtime", carol.runtime.url)),
           "Restart runtime (resume)…")
    answer = await run(qtbot, window.dialogs[-1], lab, window)
    assert answer == f"200 ok: {carol.runtime.url} restarted; 2 objects resumed, 0 lost"
    rows = window.log.rows
    resumed = next(i for i, r in enumerate(rows) if r[TYPE] == "response" and r[WHERE] == carol.runtime.url
                   and r[DIRECTION] == "out" and message_of(r)["to"] == carol.url
                   and isinstance(message_of(r)["body"].get("value"), list))
    click_log_row(qtbot, window, resumed)
    detail = window.messages_dock.detail.toPlainText()
    values = orjson.loads(detail.split("\n\n")[0])["body"]["value"]
    assert {v["url"]: v["data"] for v in values} == {demo.chat.url: demo.chat.data, demo.context.url: demo.context.data}
