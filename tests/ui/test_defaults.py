"""Defaults that work: each dialog opens on a choice that succeeds, one dialog per action, History
follows the newest version until the user picks another, changed rows flash in the objects table
and the log, and a created object is selected."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from console.demo import Demo
from core.lab import Lab
from tests.ui.test_flow import click_row, edit_chat, run_dialog
from ui.dialogs.base import ActionDialog
from ui.dialogs.create_object import CreateObjectDialog
from ui.main_window import MainWindow
from ui.models.flash import FLASH_BRUSH, FLASH_SECONDS
from ui.models.message_log import SELECTED_BRUSH
from ui.models.objects import ObjectsModel


def shortcut(qtbot: QtBot, window: MainWindow, key: Qt.Key, shift: bool = False) -> ActionDialog:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    modifiers = Qt.KeyboardModifier.ControlModifier | (Qt.KeyboardModifier.ShiftModifier if shift
                                                       else Qt.KeyboardModifier.NoModifier)
    qtbot.keyClick(window, key, modifiers)
    return window.dialogs[-1]


def close(qtbot: QtBot, dialog: ActionDialog) -> None:
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Close), Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


def click_object(qtbot: QtBot, window: MainWindow, url: str) -> None:
    dock = window.objects_dock
    click_row(qtbot, dock.table, dock.proxy.mapFromSource(window.objects.index(window.objects.row_of(url), 0)).row())
    assert window.selected_object == url


async def test_five_ctrl_n_open_one_dialog_and_a_created_object_is_selected(qtbot: QtBot, lab: Lab,
                                                                          window: MainWindow, demo: Demo) -> None:
    first = shortcut(qtbot, window, Qt.Key.Key_N)
    for _ in range(4):
        qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    shown = [d for d in window.findChildren(CreateObjectDialog) if d.isVisible()]
    assert shown == [first] and window.dialogs.count(first) == 1
    first.name.setText("fresh")
    answer = await run_dialog(qtbot, first, lab, window)
    url = first.created_url
    assert answer == f"200 ok: created {url} at v0"
    assert window.selected_object == url
    assert window.objects_dock.proxy.data(window.objects_dock.table.currentIndex().siblingAtColumn(0),
                                          Qt.ItemDataRole.UserRole + 1) == url
    close(qtbot, first)
    again = shortcut(qtbot, window, Qt.Key.Key_N)   # closed: the next Ctrl+N opens a fresh one
    assert again is not first and again.name.text() == ""


async def test_stress_opens_with_an_observer_other_than_the_reporter(qtbot: QtBot, window: MainWindow,
                                                                     demo: Demo) -> None:
    stress = shortcut(qtbot, window, Qt.Key.Key_S, shift=True)
    assert stress.observer.url() not in ("", stress.reporter.url())
    assert stress.validate() is None and stress.run_button.isEnabled()
    stress.reporter.select(stress.observer.url())                       # the user picks the observer as reporter
    assert stress.observer.url() != stress.reporter.url()


async def test_subscribe_offers_only_hyperties_that_can_subscribe(qtbot: QtBot, lab: Lab, window: MainWindow,
                                                                  demo: Demo) -> None:
    click_object(qtbot, window, demo.chat.url)
    subscribe = shortcut(qtbot, window, Qt.Key.Key_B)
    # alice reports both demo objects and everyone else observes them: nobody is left to offer
    assert subscribe.hyperty.count() == 0
    assert not subscribe.run_button.isEnabled()
    assert subscribe.run_button.toolTip() == "every hyperty of the lab already reports or observes this object"
    close(qtbot, subscribe)

    add = shortcut(qtbot, window, Qt.Key.Key_H, shift=True)
    add.runtime.setCurrentIndex(add.runtime.findData(demo.observers[2].runtime.url))
    add.name.setText("erin")
    await run_dialog(qtbot, add, lab, window)
    close(qtbot, add)
    erin = demo.observers[2].runtime.hyperties["erin"]

    subscribe = shortcut(qtbot, window, Qt.Key.Key_B)
    assert [subscribe.hyperty.itemData(i) for i in range(subscribe.hyperty.count())] == [erin.url]
    assert subscribe.object.url() == demo.chat.url
    assert await run_dialog(qtbot, subscribe, lab, window) == (
        f"200 ok: erin observes {window.index.short(demo.chat.url)} at v{demo.chat.version}")
    close(qtbot, subscribe)

    subscribe = shortcut(qtbot, window, Qt.Key.Key_B)   # the chat has everyone now: it opens on the context
    assert subscribe.object.url() == demo.context.url
    assert subscribe.hyperty.url() == erin.url
    await run_dialog(qtbot, subscribe, lab, window)


async def test_side_by_side_is_reporter_against_an_observer_even_as_observers_join(qtbot: QtBot, lab: Lab,
                                                                                    window: MainWindow,
                                                                                    demo: Demo) -> None:
    click_object(qtbot, window, demo.chat.url)
    dock = window.objects_dock
    assert (dock.left_box.currentText(), dock.right_box.currentText()) == ("alice (reporter)", "dave (observer)")

    create = shortcut(qtbot, window, Qt.Key.Key_N)       # an object nobody observes yet: alice alone
    await run_dialog(qtbot, create, lab, window)
    close(qtbot, create)
    url = create.created_url
    assert window.selected_object == url
    assert dock.left_box.count() == 1
    subscribe = shortcut(qtbot, window, Qt.Key.Key_B)
    subscribe.hyperty.select(demo.observers[1].url)
    await run_dialog(qtbot, subscribe, lab, window)
    assert (dock.left_box.currentText(), dock.right_box.currentText()) == ("alice (reporter)", "bob (observer)")


async def test_history_follows_the_newest_version_until_the_user_picks_one(qtbot: QtBot, lab: Lab,
                                                                           window: MainWindow, demo: Demo) -> None:
    await edit_chat(qtbot, window, lab, demo, "offline")
    await edit_chat(qtbot, window, lab, demo, "busy")
    click_object(qtbot, window, demo.context.url)
    click_object(qtbot, window, demo.chat.url)
    dock = window.objects_dock
    dock.tabs.setCurrentIndex(2)

    def selected() -> list[int]:
        return [dock.history_model.version_at(i.row()) for i in dock.versions.selectionModel().selectedRows()]

    assert selected() == [demo.chat.version] != [0]                # opens at the newest, not at v1
    await edit_chat(qtbot, window, lab, demo, "away")
    assert selected() == [demo.chat.version]                      # followed
    assert dock.patch_text.toPlainText().startswith(f"JSON Patch v{demo.chat.version - 1} → v{demo.chat.version}")
    older = demo.chat.version - 1
    click_row(qtbot, dock.versions, dock.history_model.rowCount() - 2)
    assert selected() == [older]
    await edit_chat(qtbot, window, lab, demo, "busy")
    assert selected() == [older]                                  # the user's pick stays
    click_row(qtbot, dock.versions, dock.history_model.rowCount() - 1)
    await edit_chat(qtbot, window, lab, demo, "online")
    assert selected() == [demo.chat.version]                      # picking the newest follows again


async def test_a_changed_object_and_new_log_rows_flash(qtbot: QtBot, lab: Lab, window: MainWindow,
                                                       demo: Demo) -> None:
    await edit_chat(qtbot, window, lab, demo, "away")
    objects = window.objects_dock.proxy
    background = Qt.ItemDataRole.BackgroundRole
    chat = objects.mapFromSource(window.objects.index(window.objects.row_of(demo.chat.url), 3))
    context = objects.mapFromSource(window.objects.index(window.objects.row_of(demo.context.url), 3))
    log = window.messages_dock.view.model()
    newest = log.index(log.rowCount() - 1, 3)
    assert objects.data(chat, background) == FLASH_BRUSH
    assert log.data(newest, background) == FLASH_BRUSH
    changed = window.objects.values[window.objects.row_of(demo.chat.url)][ObjectsModel.AGE]
    window.objects.clock = window.log.clock = lambda: changed + FLASH_SECONDS + 0.5   # a moment later
    assert objects.data(chat, background) is None and objects.data(context, background) is None
    assert log.data(newest, background) == SELECTED_BRUSH   # back to its shade: a message of the chat
