"""Help: a Help menu with the shortcuts and a legend of listener kinds and states; header tooltips
that say what a column holds."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from console.demo import Demo
from ui.actions import SPECS
from ui.help import LISTENERS, HelpDialog
from ui.main_window import MainWindow


def help_menu(window: MainWindow) -> QMenu:
    entry = next(a for a in window.menuBar().actions() if a.text() == "&Help")
    menu = entry.menu()
    assert isinstance(menu, QMenu)
    return menu


async def test_the_help_menu_lists_every_shortcut_and_f1_brings_it_back(qtbot: QtBot, window: MainWindow,
                                                                        demo: Demo) -> None:
    menu = help_menu(window)
    assert [a.text() for a in menu.actions() if a.text()] == ["Keyboard shortcuts", "Legend: listeners and states",
                                                              "About SyncScope"]
    next(a for a in menu.actions() if a.text() == "Keyboard shortcuts").trigger()
    shortcuts = window.help_pages["shortcuts"]
    assert shortcuts.isVisible()
    text = shortcuts.text.toPlainText()
    for spec in SPECS:
        if spec.shortcut:
            assert f"{spec.shortcut}\n{spec.name.rstrip('…')}\n" in text
    for key in ("Ctrl+F", "Ctrl+L", "Ctrl+K", "Ctrl+Q"):
        assert key in text
    shortcuts.close()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert window.help_pages["shortcuts"] is shortcuts and shortcuts.isVisible()
    assert len([d for d in window.findChildren(HelpDialog) if d.isVisible()]) == 1


async def test_the_legend_explains_every_listener_kind_the_routing_view_shows(window: MainWindow,
                                                                               demo: Demo) -> None:
    next(a for a in help_menu(window).actions() if a.text().startswith("Legend")).trigger()
    legend = window.help_pages["legend"].text.toPlainText()
    for kind in ("L", "FWD", "PUB", "SB", "MNS"):
        assert f"\n{kind}\n" in legend
    shown = {window.routing.values[row][1] for row in range(len(window.routing.values))}
    assert shown >= {"L", "FWD", "PUB", "MNS"}
    assert shown <= {kind for kind, _ in LISTENERS}
    for state in ("● up", "◐ faulty", "○ partitioned", "× down", "pending", "live", "stale", "resyncing",
                  "revoked", "unsubscribed", "delegating", "standby"):
        assert f"\n{state}\n" in legend


async def test_every_header_has_a_tooltip_that_is_not_its_title(window: MainWindow, demo: Demo) -> None:
    models = [window.objects, window.subscriptions, window.routing, window.log, window.topology,
              window.objects_dock.history_model, window.nodes_dock.model]
    for model in models:
        for column in range(model.columnCount()):
            title = model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
            tip = model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
            assert isinstance(tip, str) and len(tip) > len(title) and title.lower() != tip.lower(), (model, title)
