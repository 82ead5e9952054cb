"""The routing table: per runtime bus its listeners (L, FWD, PUB, SB), per Message Node its address
subscriptions (MNS) and ownerships. Kept in step by `listener`, `subscription` and `ownership`
events; a runtime or node seen for the first time is read once from the engine instead."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor

from core.monitor import TraceEvent
from ui.index import EngineIndex
from ui.models.message_filter import address_pattern
from ui.models.table import KeyedTableModel
from ui.naming import object_of

SELECTED_BRUSH = QBrush(QColor(80, 140, 255, 60))


class RoutingModel(KeyedTableModel):
    columns = ("Where", "Kind", "Address", "Owner / sessions")
    WHERE, KIND, ADDRESS, OWNER = range(4)

    def __init__(self, index: EngineIndex) -> None:
        super().__init__()
        self.engine = index
        self.listeners: dict[tuple[str, str, str, str], int] = {}   # (where, address, kind, owner) → count
        self.node_subscriptions: dict[tuple[str, str], set[str]] = {}  # (node, address) → runtimes
        self.owners: dict[tuple[str, str], str] = {}                  # (node, address) → runtime
        self.known: set[str] = set()
        self.selected_object = ""

    # feeding -------------------------------------------------------------------------------------

    def ingest(self, events: Iterable[TraceEvent]) -> None:
        fresh = self._read_new_components()
        touched = bool(fresh)
        for event in events:
            if event.where in fresh:
                continue  # already part of what was just read from the engine
            if event.kind == "listener":
                self._listener(event)
                touched = True
            elif event.kind == "subscription" and "address" in event.detail:
                self._node_subscription(event)
                touched = True
            elif event.kind == "ownership":
                self._ownership(event)
                touched = True
        if touched:
            self.refresh()

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
                key = (runtime.url, address, kind, owner)
                self.listeners[key] = self.listeners.get(key, 0) + 1
        for node in self.engine.lab.nodes.values():
            if node.url in self.known:
                continue
            self.known.add(node.url)
            fresh.add(node.url)
            for address, runtimes in node.subscriptions.table().items():
                self.node_subscriptions[(node.url, address)] = set(runtimes)
            for address, runtime in node.allocator.owner.items():
                self.owners[(node.url, address)] = runtime
        return fresh

    def _listener(self, event: TraceEvent) -> None:
        d = event.detail
        key = (event.where, str(d.get("address", "")), str(d.get("listener", "")), str(d.get("owner", "")))
        count = self.listeners.get(key, 0) + (1 if d.get("action") == "added" else -1)
        if count > 0:
            self.listeners[key] = count
        else:
            self.listeners.pop(key, None)

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

    def _ownership(self, event: TraceEvent) -> None:
        d = event.detail
        key = (event.where, str(d.get("address", "")))
        action = d.get("action")
        if action == "deallocated":
            self.owners.pop(key, None)
            return
        previous = self.owners.get(key)
        self.owners[key] = str(d.get("runtime", ""))
        if action == "transferred" and previous:
            # The node moves O and O/subscription to the new owner's session at the commit (PROTOCOL §4 #8).
            for address in (key[1], key[1] + "/subscription"):
                sessions = self.node_subscriptions.get((event.where, address))
                if sessions and previous in sessions:
                    sessions.discard(previous)
                    sessions.add(self.owners[key])

    def refresh(self) -> None:
        wanted: dict[Hashable, tuple[Any, ...]] = {}
        for (where, address, kind, owner), count in self.listeners.items():
            wanted[("bus", where, address, kind, owner)] = (where, kind, address, owner if count == 1
                                                            else f"{owner} ×{count}")
        for (node, address), sessions in self.node_subscriptions.items():
            wanted[("mns", node, address)] = (node, "MNS", address, ", ".join(sorted(sessions)))
        for (node, address), runtime in self.owners.items():
            wanted[("owner", node, address)] = (node, "owner", address, runtime)
        self.apply(wanted)

    # views ---------------------------------------------------------------------------------------

    def bus_listeners(self, runtime_url: str) -> list[tuple[str, str, str]]:
        """(address, kind, owner) of one runtime as this model holds them (one per listener)."""
        out = []
        for (where, address, kind, owner), count in self.listeners.items():
            if where == runtime_url:
                out.extend([(address, kind, owner)] * count)
        return out

    def set_selected_object(self, url: str) -> None:
        self.selected_object = url
        if self.keys:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.keys) - 1, len(self.columns) - 1),
                                  [Qt.ItemDataRole.BackgroundRole])

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
