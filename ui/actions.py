"""The console's actions: toolbar, Actions menu and shortcuts, each opening its dialog with the
current selection filled in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence

from ui.dialogs.base import ActionDialog
from ui.dialogs.create_object import CreateObjectDialog
from ui.dialogs.faults import FaultsDialog
from ui.dialogs.object_actions import (
    AddChildDialog,
    DelegateDialog,
    DeleteDialog,
    EditDialog,
    InviteDialog,
    ResyncDialog,
    RevokeDialog,
    SubscribeDialog,
    UnsubscribeDialog,
)
from ui.dialogs.runtime_actions import AddHypertyDialog, AddRuntimeDialog, CrashRuntimeDialog, RestartRuntimeDialog
from ui.dialogs.stress import StressDialog

if TYPE_CHECKING:
    from ui.main_window import MainWindow


@dataclass(frozen=True)
class ActionSpec:
    name: str
    shortcut: str
    toolbar: bool
    make: Callable[[MainWindow], ActionDialog]


SPECS = (
    ActionSpec("New object…", "Ctrl+N", True, lambda w: CreateObjectDialog(w.index, w.selected_hyperty, w)),
    ActionSpec("Invite…", "Ctrl+I", True, lambda w: InviteDialog(w.index, w.selected_object, w)),
    ActionSpec("Subscribe…", "Ctrl+B", True,
               lambda w: SubscribeDialog(w.index, w.selected_object, w.selected_hyperty, w)),
    ActionSpec("Edit…", "Ctrl+E", True, lambda w: EditDialog(w.index, w.selected_object, w)),
    ActionSpec("Add child…", "Ctrl+Shift+A", True, lambda w: AddChildDialog(w.index, w.selected_object, w)),
    ActionSpec("Unsubscribe…", "Ctrl+Shift+U", False, lambda w: UnsubscribeDialog(w.index, w.selected_object, w)),
    ActionSpec("Revoke…", "Ctrl+Shift+R", False, lambda w: RevokeDialog(w.index, w.selected_object, w)),
    ActionSpec("Delete object…", "Ctrl+Shift+D", False, lambda w: DeleteDialog(w.index, w.selected_object, w)),
    ActionSpec("Delegate…", "Ctrl+Shift+G", True, lambda w: DelegateDialog(w.index, w.selected_object, w)),
    ActionSpec("Resync replica…", "Ctrl+Shift+Y", False, lambda w: ResyncDialog(w.index, w.selected_object, w)),
    ActionSpec("Restart runtime…", "Ctrl+R", True, lambda w: RestartRuntimeDialog(w.index, w.selected_runtime, w)),
    ActionSpec("Crash runtime…", "", False, lambda w: CrashRuntimeDialog(w.index, w.selected_runtime, w)),
    ActionSpec("Add runtime…", "Ctrl+Shift+N", False, lambda w: AddRuntimeDialog(w.index, "", w)),
    ActionSpec("Add hyperty…", "Ctrl+Shift+H", False, lambda w: AddHypertyDialog(w.index, w.selected_runtime, w)),
    ActionSpec("Faults…", "Ctrl+Shift+F", True, lambda w: FaultsDialog(w.index, None, w)),
    ActionSpec("Stress run…", "Ctrl+Shift+S", True, lambda w: StressDialog(w.index, parent=w)),
)


def build_actions(window: MainWindow) -> dict[str, QAction]:
    actions: dict[str, QAction] = {}
    for spec in SPECS:
        action = QAction(spec.name, window)
        if spec.shortcut:
            action.setShortcut(QKeySequence(spec.shortcut))
        action.triggered.connect(lambda _=False, name=spec.name: window.open_action(name))
        actions[spec.name] = action
    return actions
