"""The topology tree: domain → Message Node and runtimes → hyperties and links, with link state and
counts. A crashed runtime stays, marked down; a link that went down leaves the tree."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from core.monitor import TraceEvent
from ui.index import EngineIndex
from ui.models.header import column_header
from ui.models.ranges import emit_changed
from ui.naming import RETHINK_LABEL, counted, is_rethink, runtime_label

STATE_MARKS = {"up": "● up", "faulty": "◐ faulty", "partitioned": "○ partitioned", "down": "× down", "": ""}
STATE_COLOURS = {"faulty": QColor(220, 150, 0), "partitioned": QColor(220, 60, 60), "down": QColor(140, 140, 140)}


class Item:
    __slots__ = ("by_key", "children", "key", "kind", "parent", "payload", "values")

    def __init__(self, kind: str, key: Any, parent: Item | None, payload: Any = None) -> None:
        self.kind, self.key, self.parent, self.payload = kind, key, parent, payload
        self.children: list[Item] = []
        self.by_key: dict[Any, Item] = {}
        self.values: tuple[str, str, str] = ("", "", "")

    def row(self) -> int:
        return self.parent.children.index(self) if self.parent is not None else 0


def link_state(link: Any) -> str:
    if link.state != "up":
        return str(link.state)
    return "faulty" if link.fault_sets else "up"


class TopologyModel(QAbstractItemModel):
    columns = ("Name", "State", "Details")

    def __init__(self, index: EngineIndex) -> None:
        super().__init__()
        self.engine = index
        self.root = Item("root", None, None)

    # feeding -------------------------------------------------------------------------------------

    def ingest(self, events: Iterable[TraceEvent]) -> None:
        self.refresh()

    def refresh(self) -> None:
        lab = self.engine.lab
        changed: dict[int, tuple[Item, list[int]]] = {}
        domains = list(dict.fromkeys([*lab.nodes, *(rt.domain for rt in lab.runtimes)]))
        for domain in domains:
            runtimes = [rt for rt in lab.runtimes if rt.domain == domain]
            d_item = self._child(self.root, "domain", domain)
            self._set(d_item, (domain, "", counted(len(runtimes), "runtime")), changed)
            node = lab.nodes.get(domain)
            if node is not None:
                n_item = self._child(d_item, "node", node.url, node)
                owned = len(node.allocator.owner)
                subs = sum(len(session.subscriptions) for session in node.sessions.values())
                self._set(n_item, ("Message Node", "● up", f"{counted(len(node.sessions), 'session')} · "
                                   f"{counted(subs, 'subscription')} · {counted(owned, 'address', 'addresses')} owned"),
                          changed)
            for runtime in runtimes:
                self._runtime(d_item, runtime, changed)
        for parent, rows in changed.values():
            emit_changed(self, rows, len(self.columns) - 1, self._index_of(parent))

    def _runtime(self, d_item: Item, runtime: Any, changed: dict[int, tuple[Item, list[int]]]) -> None:
        lab = self.engine.lab
        links = [link for link in lab.links if link.runtime_url == runtime.url]
        live = [link for link in links if link.state != "down"]
        states = {link_state(link) for link in live}
        if not runtime.running:
            state = "down"
        elif runtime.url in lab.partitioned:
            state = "partitioned"
        else:
            state = next((s for s in ("partitioned", "faulty", "down", "up") if s in states), "down")
        r_item = self._child(d_item, "runtime", runtime.url, runtime)
        kind = f"{RETHINK_LABEL} runtime · " if is_rethink(runtime.url) else ""
        details = f"{counted(len(runtime.hyperties), 'hyperty', 'hyperties')} · {counted(len(live), 'link')}"
        self._set(r_item, (runtime_label(runtime.url), STATE_MARKS[state], f"{kind}{details}"), changed)
        # A link that went down (a crash, a restart's old link) leaves the tree: only live ones are
        # listed. Dropped before any row of this runtime is marked changed, so the rows marked hold.
        self._drop_children(r_item, "link", {id(link) for link in live})
        delegation = self.engine.delegation
        for hyperty in list(runtime.hyperties.values()):
            h_item = self._child(r_item, "hyperty", hyperty.url, hyperty)
            syncher = hyperty.syncher
            accepts = " · accepts delegation" if delegation.accepts(hyperty.url) else ""
            self._set(h_item, (hyperty.name, "", f"reports {len(syncher.reporters)} · observes "
                                                 f"{len(syncher.observers)}{accepts}"), changed)
        for link in live:
            l_item = self._child(r_item, "link", id(link), link)
            sets = len(link.fault_sets)
            faults = f" · {sets} fault set{'s' * (sets != 1)}" if sets else ""
            self._set(l_item, (f"↔ node {link.node.domain}", STATE_MARKS[link_state(link)],
                               f"{link.sent} frames{faults}"), changed)

    def _child(self, parent: Item, kind: str, key: Any, payload: Any = None) -> Item:
        item = parent.by_key.get((kind, key))
        if item is None:
            item = Item(kind, key, parent, payload)
            row = len(parent.children)
            self.beginInsertRows(self._index_of(parent), row, row)
            parent.children.append(item)
            parent.by_key[(kind, key)] = item
            self.endInsertRows()
        item.payload = payload
        return item

    def _drop_children(self, parent: Item, kind: str, keep: set[Any]) -> None:
        for item in [c for c in parent.children if c.kind == kind and c.key not in keep]:
            row = item.row()
            self.beginRemoveRows(self._index_of(parent), row, row)
            parent.children.pop(row)
            del parent.by_key[(kind, item.key)]
            self.endRemoveRows()

    @staticmethod
    def _set(item: Item, values: tuple[str, str, str], changed: dict[int, tuple[Item, list[int]]]) -> None:
        if item.values != values:
            item.values = values
            parent = item.parent
            assert parent is not None
            changed.setdefault(id(parent), (parent, []))[1].append(item.row())

    def _index_of(self, item: Item) -> QModelIndex:
        if item.parent is None:
            return QModelIndex()
        return self.createIndex(item.row(), 0, item)

    def item(self, index: QModelIndex | QPersistentModelIndex) -> Item | None:
        return index.internalPointer() if index.isValid() else None  # type: ignore[no-any-return]

    def find(self, kind: str, key: Any) -> QModelIndex:
        def walk(item: Item) -> Item | None:
            for child in item.children:
                if child.kind == kind and child.key == key:
                    return child
                found = walk(child)
                if found is not None:
                    return found
            return None
        hit = walk(self.root)
        return self._index_of(hit) if hit is not None else QModelIndex()

    # Qt ------------------------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        item = self.item(parent) or self.root
        if 0 <= row < len(item.children) and 0 <= column < len(self.columns):
            return self.createIndex(row, column, item.children[row])
        return QModelIndex()

    def parent(self, index: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        item = self.item(index)
        if item is None or item.parent is None or item.parent is self.root:
            return QModelIndex()
        return self._index_of(item.parent)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return 0
        return len((self.item(parent) or self.root).children)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return column_header(self.columns, section, orientation, role)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        item = self.item(index)
        if item is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return item.values[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(item.key) if item.kind != "link" else item.payload.name
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 1:
            state = item.values[1].split(" ")[-1]
            colour = STATE_COLOURS.get(state)
            return QBrush(colour) if colour is not None else None
        return None
