"""The routing table: per runtime bus its listeners (L, FWD, PUB, SB), per Message Node its address
subscriptions (MNS) and ownerships. Each `listener`, `subscription` and `ownership` event changes
its one row; a runtime or node seen for the first time is read once from the engine instead."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from core.monitor import TraceEvent
from ui.index import EngineIndex
from ui.models.message_filter import address_pattern
from ui.models.table import GONE, KeyedTableModel
from ui.naming import object_of

SELECTED_BRUSH = QBrush(QColor(80, 140, 255, 60))

ListenerKey = tuple[str, str, str, str]   # (where, address, kind, owner)
NodeKey = tuple[str, str]                 # (node, address)


class RoutingModel(KeyedTableModel):
    columns = ("Where", "Kind", "Address", "Owner / sessions")
    WHERE, KIND, ADDRESS, OWNER = range(4)
    shadingChanged = Signal()

    def __init__(self, index: EngineIndex) -> None:
        super().__init__()
        self.engine = index
        self.listeners: dict[ListenerKey, int] = {}          # → how many such listeners
        self.node_subscriptions: dict[NodeKey, set[str]] = {}  # → runtimes
        self.owners: dict[NodeKey, str] = {}                   # → runtime
        self.known: set[str] = set()
        self.selected_object = ""
        self._changes: dict[Hashable, tuple[Any, ...] | None] = {}

    # feeding -------------------------------------------------------------------------------------

    def ingest(self, events: Iterable[TraceEvent]) -> None:
        fresh: set[str] = set()
        for event in events:
            kind = event.kind
            if kind not in ("listener", "subscription", "ownership"):
                continue
            if event.where not in self.known:
                fresh |= self._read_new_components()
                self.known.add(event.where)
            if event.where in fresh:
                continue  # already part of what was just read from the engine
            if kind == "listener":
                self._listener(event)
            elif kind == "ownership":
                self._ownership(event)
            elif "address" in event.detail:  # node side; the runtime side is the subscriptions view's
                self._node_subscription(event)
        if self._changes:
            changes, self._changes = self._changes, {}
            self.update_rows(changes)

    def _read_new_components(self) -> set[str]:
        fresh: set[str] = set()
        for runtime in self.engine.lab.runtimes:
            if runtime.url in self.known:
                continue
            self.known.add(runtime.url)
            fresh.add(runtime.url)
            found = list(runtime.bus.listeners())
            for hyperty in runtime.hyperties.values():
                found.extend(hyperty.sandbox.listeners())
            for address, kind, owner in found:
                self._count_listener((runtime.url, address, kind, owner), 1)
        for node in self.engine.lab.nodes.values():
            if node.url in self.known:
                continue
            self.known.add(node.url)
            fresh.add(node.url)
            for address, runtimes in node.subscriptions.table().items():
                self.node_subscriptions[(node.url, address)] = set(runtimes)
                self._node_row((node.url, address))
            for address, owner in node.allocator.owner.items():
                self.owners[(node.url, address)] = owner
                self._owner_row((node.url, address))
        return fresh

    def _listener(self, event: TraceEvent) -> None:
        d = event.detail
        key = (event.where, str(d.get("address", "")), str(d.get("listener", "")), str(d.get("owner", "")))
        self._count_listener(key, 1 if d.get("action") == "added" else -1)

    def _count_listener(self, key: ListenerKey, delta: int) -> None:
        count = self.listeners.get(key, 0) + delta
        where, address, kind, owner = key
        if count > 0:
            self.listeners[key] = count
            self._changes[("bus", *key)] = (where, kind, address, owner if count == 1 else f"{owner} ×{count}")
        else:
            self.listeners.pop(key, None)
            self._changes[("bus", *key)] = GONE

    def _node_subscription(self, event: TraceEvent) -> None:
        d = event.detail
        key = (event.where, str(d.get("address", "")))
        sessions = self.node_subscriptions.setdefault(key, set())
        if d.get("action") == "added":
            sessions.add(str(d.get("session", "")))
        else:
            sessions.discard(str(d.get("session", "")))
            if not sessions:
                del self.node_subscriptions[key]
        self._node_row(key)

    def _node_row(self, key: NodeKey) -> None:
        sessions = self.node_subscriptions.get(key)
        node, address = key
        self._changes[("mns", *key)] = (node, "MNS", address, ", ".join(sorted(sessions))) if sessions else GONE

    def _ownership(self, event: TraceEvent) -> None:
        d = event.detail
        key = (event.where, str(d.get("address", "")))
        action = d.get("action")
        if action == "deallocated":
            self.owners.pop(key, None)
            self._owner_row(key)
            return
        previous = self.owners.get(key)
        self.owners[key] = str(d.get("runtime", ""))
        self._owner_row(key)
        if action == "transferred" and previous:
            # The node moves O and O/subscription to the new owner's session at the commit (PROTOCOL §4 #8).
            for address in (key[1], key[1] + "/subscription"):
                sessions = self.node_subscriptions.get((event.where, address))
                if sessions and previous in sessions:
                    sessions.discard(previous)
                    sessions.add(self.owners[key])
                    self._node_row((event.where, address))

    def _owner_row(self, key: NodeKey) -> None:
        runtime = self.owners.get(key)
        node, address = key
        self._changes[("owner", *key)] = (node, "owner", address, runtime) if runtime is not None else GONE

    # views ---------------------------------------------------------------------------------------

    def bus_listeners(self, runtime_url: str) -> list[tuple[str, str, str]]:
        """(address, kind, owner) of one runtime as this model holds them (one per listener)."""
        out = []
        for (where, address, kind, owner), count in self.listeners.items():
            if where == runtime_url:
                out.extend([(address, kind, owner)] * count)
        return out

    def set_selected_object(self, url: str) -> None:
        """Shade the rows of `url`. Only the shading changes: `shadingChanged` asks the views to repaint,
        where a `dataChanged` over every row would make the filter proxy test every row again."""
        self.selected_object = url
        self.shadingChanged.emit()

    def text(self, row: int, column: int, value: Any) -> str:
        if column == self.WHERE:
            return self.engine.short(str(value))
        if column == self.OWNER:
            return ", ".join(self.engine.short(part.strip()) for part in str(value).split(","))
        return super().text(row, column, value)

    def extra(self, row: int, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(self.values[row][column])
        if (role == Qt.ItemDataRole.BackgroundRole and self.selected_object
                and object_of(str(self.values[row][self.ADDRESS])) == self.selected_object):
            return SELECTED_BRUSH
        return None


class AddressFilterProxy(QSortFilterProxyModel):
    """Rows whose address matches a pattern with `*` wildcards."""

    def __init__(self) -> None:
        super().__init__()
        self.setSortRole(Qt.ItemDataRole.UserRole)
        self._pattern = address_pattern("")

    def set_pattern(self, text: str) -> None:
        self._pattern = address_pattern(text)
        self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if self._pattern is None:
            return True
        model = self.sourceModel()
        assert isinstance(model, RoutingModel)
        return bool(self._pattern.match(str(model.values[source_row][RoutingModel.ADDRESS])))
