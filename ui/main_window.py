"""The console's main window: docks fed by one monitor feed, actions, and the status line."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QWidget

from core.lab import Lab
from ui.actions import SPECS, build_actions
from ui.dialogs.base import ActionDialog, describe
from ui.dialogs.create_object import CreateObjectDialog
from ui.dialogs.faults import FaultsDialog
from ui.dialogs.object_actions import SubscribeDialog
from ui.dialogs.runtime_actions import AddHypertyDialog, AddRuntimeDialog, CrashRuntimeDialog, RestartRuntimeDialog
from ui.docks.messages import MessagesDock
from ui.docks.nodes import NodesDock
from ui.docks.objects import ObjectsDock
from ui.docks.routing import RoutingDock
from ui.docks.subscriptions import SubscriptionsDock
from ui.docks.topology import ACCEPTS_DELEGATION, TopologyDock
from ui.feed import MonitorFeed
from ui.help import ABOUT_HTML, HelpDialog, legend_html, shortcuts_html
from ui.history import HistoryStore
from ui.models.message_log import MessageLogModel
from ui.models.objects import ObjectsModel
from ui.models.routing import RoutingModel
from ui.models.subscriptions import SubscriptionsModel
from ui.models.topology import Item, TopologyModel
from ui.remember import remember_columns, remember_splitter, remember_text
from ui.remote import RemoteNodes
from ui.status import StatusTracker

#: The objects table's columns in the order shown at first: what tells an object's health comes first.
OBJECT_COLUMNS = [ObjectsModel.URL, ObjectsModel.NAME, ObjectsModel.REPORTER, ObjectsModel.VERSION,
                  ObjectsModel.OBSERVERS, ObjectsModel.STATE, ObjectsModel.BEHIND, ObjectsModel.AGE,
                  ObjectsModel.CHILDREN, ObjectsModel.SCHEMA]

#: Bumped when the dock layout changes, so an old saved layout is not restored onto new docks.
LAYOUT_VERSION = 2


class MainWindow(QMainWindow):
    #: The window is closing (File → Quit, the close button): the application shuts down.
    closing = Signal()

    def __init__(self, lab: Lab, title: str = "SyncScope", settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle(title)
        self.lab = lab
        self.settings = settings
        self.feed = MonitorFeed(lab, parent=self)
        self.index = self.feed.index
        self.selected_object = ""
        self.selected_hyperty = ""
        self.selected_runtime = ""
        self.dialogs: list[ActionDialog] = []
        self.action_dialogs: dict[str, ActionDialog] = {}   # the open dialog of each action
        self.help_pages: dict[str, HelpDialog] = {}

        self.history = HistoryStore(self.index)
        self.log = MessageLogModel(self.index.namer)
        self.objects = ObjectsModel(self.index)
        self.subscriptions = SubscriptionsModel(self.index)
        self.routing = RoutingModel(self.index)
        self.topology = TopologyModel(self.index)
        self.status = StatusTracker(self.index)

        self.topology_dock = TopologyDock(self.topology, self)
        self.objects_dock = ObjectsDock(self.objects, self.index, self.history, self)
        self.subscriptions_dock = SubscriptionsDock(self.subscriptions, self)
        self.routing_dock = RoutingDock(self.routing, self)
        self.messages_dock = MessagesDock(self.log, self.index, self)
        self.remote = RemoteNodes(self.feed, settings, self)  # live nodes watched (File → Connect to node)
        self.nodes_dock = NodesDock(self.remote, self.show_dialog, self)
        for sink in (self.history, self.log, self.objects, self.subscriptions, self.routing, self.topology,
                     self.objects_dock.history_model, self.status):
            self.feed.add_sink(sink)
        self.feed.add_sink(self.nodes_dock.model)
        self.feed.flushed.connect(self._flushed)
        self.remote.message.connect(self.say)

        self.objects_dock.objectSelected.connect(self.select_object)
        self.objects_dock.message.connect(self.say)
        self.messages_dock.message.connect(self.say)
        self.topology_dock.requested.connect(self.topology_request)
        self.topology_dock.hypertySelected.connect(self._hyperty_selected)
        self.subscriptions_dock.view.clicked.connect(self._subscription_clicked)

        self._lay_out()
        self.actions_by_name = build_actions(self)
        self._menus()
        self.status_label = QLabel("")
        self.statusBar().addPermanentWidget(self.status_label)
        self.resize(1500, 950)
        self._restore()
        self._remember()

    # layout ----------------------------------------------------------------------------------------

    def _lay_out(self) -> None:
        self.setDockNestingEnabled(True)
        placeholder = QWidget()
        placeholder.setMaximumSize(0, 0)
        self.setCentralWidget(placeholder)
        self.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, self.topology_dock)
        self.splitDockWidget(self.topology_dock, self.objects_dock, Qt.Orientation.Horizontal)
        self.splitDockWidget(self.objects_dock, self.subscriptions_dock, Qt.Orientation.Horizontal)
        self.splitDockWidget(self.subscriptions_dock, self.routing_dock, Qt.Orientation.Vertical)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.messages_dock)
        self.tabifyDockWidget(self.topology_dock, self.nodes_dock)
        self.topology_dock.raise_()
        self.resizeDocks([self.topology_dock, self.objects_dock, self.subscriptions_dock], [240, 760, 460],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.messages_dock], [300], Qt.Orientation.Vertical)
        self._default_state = self.saveState(LAYOUT_VERSION)

    @property
    def docks(self) -> list[QDockWidget]:
        return [self.topology_dock, self.objects_dock, self.subscriptions_dock, self.routing_dock,
                self.messages_dock, self.nodes_dock]

    def _menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction("Connect to node…", self.nodes_dock.open_connect_dialog).setShortcut("Ctrl+K")
        file_menu.addSeparator()
        file_menu.addAction("Import message log…", self.messages_dock._import_clicked)
        file_menu.addAction("Export message log…", self.messages_dock._export_clicked)
        file_menu.addSeparator()
        self.quit_action = file_menu.addAction("Quit", self.close)
        self.quit_action.setShortcut("Ctrl+Q")
        actions_menu = bar.addMenu("&Actions")
        toolbar = self.addToolBar("Actions")
        toolbar.setObjectName("actions-toolbar")
        for spec in SPECS:
            action = self.actions_by_name[spec.name]
            actions_menu.addAction(action)
            if spec.toolbar:
                toolbar.addAction(action)
        view_menu = bar.addMenu("&View")
        find = view_menu.addAction("Filter messages", self.messages_dock.focus_filter)
        find.setShortcut("Ctrl+F")
        locate = view_menu.addAction("Filter objects", self.focus_object_filter)
        locate.setShortcut("Ctrl+L")
        view_menu.addSeparator()
        for dock in self.docks:
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        restore = QAction("Restore default layout", self)
        restore.triggered.connect(self.restore_default_layout)
        view_menu.addAction(restore)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction("Keyboard shortcuts", lambda: self.show_help("shortcuts")).setShortcut("F1")
        help_menu.addAction("Legend: listeners and states", lambda: self.show_help("legend"))
        help_menu.addSeparator()
        help_menu.addAction("About SyncScope", lambda: self.show_help("about"))

    def show_help(self, page: str) -> HelpDialog:
        """Open one Help page (shortcuts, legend, about), or bring back the one already open."""
        dialog = self.help_pages.get(page)
        if dialog is None:
            title, html = {
                "shortcuts": ("Keyboard shortcuts", shortcuts_html(
                    (a.text(), a.shortcut().toString()) for a in self.actions_by_name.values())),
                "legend": ("Legend: listeners and states", legend_html()),
                "about": ("About SyncScope", ABOUT_HTML),
            }[page]
            dialog = self.help_pages[page] = HelpDialog(title, html, self)
        dialog.show()
        dialog.raise_()
        return dialog

    def focus_object_filter(self) -> None:
        self.objects_dock.show()
        self.objects_dock.raise_()
        self.objects_dock.filter.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.objects_dock.filter.selectAll()

    def _remember(self) -> None:
        """Column widths, splitters and filters come back from the settings and are kept there."""
        settings = self.settings
        objects = self.objects_dock
        self._savers = [
            remember_columns(self.topology_dock.view, settings, "topology", size_when_filled=False),
            remember_columns(objects.table, settings, "objects", caps={ObjectsModel.URL: 170},
                             order=OBJECT_COLUMNS),
            remember_columns(objects.versions, settings, "history", size_when_filled=False),
            remember_columns(self.subscriptions_dock.view, settings, "subscriptions", caps={0: 150},
                             order=[0, 1, 3, 5, 4, 2]),
            remember_columns(self.routing_dock.view, settings, "routing", caps={2: 260}),
            remember_columns(self.messages_dock.view, settings, "messages", size_when_filled=False),
            remember_splitter(objects.split, settings, "objects"),
            remember_splitter(objects.history_split, settings, "history"),
            remember_splitter(objects.history_lower, settings, "history-diff"),
            remember_splitter(self.messages_dock.split, settings, "messages"),
            remember_text(objects.filter, settings, "objects"),
            remember_text(self.routing_dock.filter, settings, "routing"),
            remember_text(self.messages_dock.expression, settings, "messages"),
        ]

    def restore_default_layout(self) -> None:
        self.restoreState(self._default_state, LAYOUT_VERSION)
        for dock in self.docks:
            dock.show()

    def _restore(self) -> None:
        if self.settings is None:
            return
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)  # type: ignore[arg-type]
        if state is not None:
            self.restoreState(state, LAYOUT_VERSION)  # type: ignore[arg-type]

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.settings is not None:
            self.settings.setValue("window/geometry", self.saveGeometry())
            self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
            for save in self._savers:
                save()
            self.settings.sync()
        for dialog in list(self.dialogs):
            dialog.reject()
        self.remote.close()
        self.feed.close()
        super().closeEvent(event)
        self.closing.emit()

    async def shutdown(self) -> None:
        """End what the window started, on the loop: dialogs' operations, the live nodes' monitor
        sessions (each closed with a `close`, so the node sees a normal close, 1000) and the feed."""
        for dialog in list(self.dialogs):
            dialog.reject()
        await asyncio.gather(*(d.task for d in self.dialogs if d.task is not None), return_exceptions=True)
        await self.remote.aclose()
        await self.nodes_dock.settle()
        self.feed.close()

    # feed ------------------------------------------------------------------------------------------

    def _flushed(self) -> None:
        self.objects_dock.on_flush()
        self.status_label.setText(self.status.text())

    def flush(self) -> None:
        """Bring every view up to date with the engine now."""
        self.feed.flush()
        self.log.catch_up()

    # selection (an object selected anywhere is selected everywhere) ---------------------------------

    def select_object(self, url: str) -> None:
        self.selected_object = url
        self.objects_dock.select_object(url)
        self.subscriptions_dock.select_object(url)
        self.routing.set_selected_object(url)
        self.log.set_selected_object(url)
        rep = self.index.reporter(url)
        if rep is not None:
            self.selected_hyperty = rep.hyperty.url
            self.selected_runtime = rep.hyperty.runtime.url

    def _hyperty_selected(self, url: str) -> None:
        self.selected_hyperty = url
        hyperty = self.index.hyperty(url)
        if hyperty is not None:
            self.selected_runtime = hyperty.runtime.url

    def _subscription_clicked(self, index: Any) -> None:
        key = self.subscriptions_dock.proxy.data(index, Qt.ItemDataRole.UserRole + 1)
        if key:
            self.select_object(key[0])

    # actions ---------------------------------------------------------------------------------------

    def show_dialog(self, dialog: ActionDialog) -> ActionDialog:
        self.dialogs.append(dialog)
        dialog.succeeded.connect(self.say)
        if isinstance(dialog, CreateObjectDialog):  # the new object is what the user looks at next
            dialog.succeeded.connect(lambda _text, d=dialog: self._created(d.created_url))
        dialog.finished.connect(lambda _=0, d=dialog: self._dialog_closed(d))
        dialog.show()
        return dialog

    def _created(self, url: str) -> None:
        if url:
            self.flush()
            self.select_object(url)

    def _dialog_closed(self, dialog: ActionDialog) -> None:
        if dialog in self.dialogs and (dialog.task is None or dialog.task.done()):
            self.dialogs.remove(dialog)

    def open_action(self, name: str) -> ActionDialog:
        """Open the dialog of the action called `name` (as its toolbar button, menu entry and shortcut
        do), or bring back the one already open: one dialog per action at a time."""
        spec = next(s for s in SPECS if s.name == name)
        open_ = self.action_dialogs.get(name)
        if open_ is not None and open_.isVisible():
            if open_ in self.dialogs:
                self.dialogs.remove(open_)
            self.dialogs.append(open_)
            open_.raise_()
            open_.activateWindow()
            return open_
        dialog = self.action_dialogs[name] = self.show_dialog(spec.make(self))
        return dialog

    def say(self, text: str) -> None:
        self.statusBar().showMessage(text, 10_000)

    def topology_request(self, name: str, item: Item) -> ActionDialog | None:
        payload = item.payload
        lab = self.lab
        if item.kind == "runtime":
            self.selected_runtime = item.key
        if name == "Add runtime…":
            domain = item.key if item.kind == "domain" else payload.domain
            return self.show_dialog(AddRuntimeDialog(self.index, domain, self))
        if name == "Add hyperty…":
            return self.show_dialog(AddHypertyDialog(self.index, item.key, self))
        if name == "Restart runtime (resume)…":
            return self.show_dialog(RestartRuntimeDialog(self.index, item.key, self))
        if name == "Crash runtime…":
            return self.show_dialog(CrashRuntimeDialog(self.index, item.key, self))
        if name == "Create object as this hyperty…":
            return self.show_dialog(CreateObjectDialog(self.index, item.key, self))
        if name == "Subscribe as this hyperty…":
            return self.show_dialog(SubscribeDialog(self.index, self.selected_object, item.key, self))
        if name == ACCEPTS_DELEGATION:
            accepts = not self.index.delegation.accepts(item.key)
            self.index.delegation.set(payload, accepts)
            self.topology.refresh()
            self.say(f"{payload.name} {'accepts' if accepts else 'refuses'} the reporter role when offered")
            return None
        if name in ("Set faults on its links…", "Set link faults…"):
            link = payload if item.kind == "link" else next(
                (x for x in lab.links if x.runtime_url == item.key and x.state != "down"), None)
            return self.show_dialog(FaultsDialog(self.index, link, self))
        runtime = payload if item.kind == "runtime" else self.index.runtime(payload.runtime_url)
        try:
            if name.startswith("Partition"):
                lab.partition(runtime)
                self.say(f"{runtime.url} partitioned: its links are lost and it cannot reconnect until healed")
            elif name.startswith("Heal"):
                lab.heal(runtime)
                self.say(f"{runtime.url} healed")
        except Exception as exc:  # shown in words
            self.say(describe(exc))
        return None
