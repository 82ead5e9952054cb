"""A live JSON tree of one replica, or of two side by side with every difference marked.

Key, one value column per side, and the type. Refreshes are partial: only the subtrees under the
paths that changed are compared with the replica, so a busy object costs what changed, not its
size. Changed values flash briefly. Values of an editable side (the reporter) can be edited in
place; the edit is a protocol update.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor

from ui.models.ranges import emit_changed

MISSING: Any = object()
#: How long a changed value stays highlighted.
FLASH_SECONDS = 0.8
FLASH_BRUSH = QBrush(QColor(255, 200, 0, 90))
DIFF_BRUSH = QBrush(QColor(230, 70, 70, 70))
#: Longest value text shown in a cell (the full value is in the tooltip).
MAX_TEXT = 200


def kind_of(value: Any) -> str:
    if value is MISSING:
        return ""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return "string"


def text_of(value: Any) -> str:
    if value is MISSING:
        return ""
    if isinstance(value, dict):
        return f"{{{len(value)}}}"
    if isinstance(value, list):
        return f"[{len(value)}]"
    text = orjson.dumps(value).decode()
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def child_of(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return value.get(key, MISSING)
    if isinstance(value, list) and key.isdigit() and int(key) < len(value):
        return value[int(key)]
    return MISSING


def keys_of(values: Iterable[Any]) -> list[str]:
    keys: dict[str, None] = {}
    for value in values:
        if isinstance(value, dict):
            keys.update(dict.fromkeys(value))
        elif isinstance(value, list):
            keys.update(dict.fromkeys(str(i) for i in range(len(value))))
    return list(keys)


def parse_value(text: str) -> Any:
    """A typed cell becomes JSON when it parses as JSON, else a string."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


@dataclass
class Side:
    """One column of values: a label, how to read the document, and (for a reporter) how to edit it."""

    label: str
    document: Callable[[], Any]
    edit: Callable[[list[str], Any], None] | None = None


class Node:
    __slots__ = ("by_key", "children", "diffs", "flash_until", "key", "kinds", "parent", "row", "texts")

    def __init__(self, key: str, parent: Node | None, row: int, sides: int) -> None:
        self.key, self.parent, self.row = key, parent, row
        self.children: list[Node] = []
        self.by_key: dict[str, Node] = {}
        self.kinds: list[str] = [""] * sides
        self.texts: list[str] = [""] * sides
        self.diffs = 0          # differing values in this subtree (itself included)
        self.flash_until = 0.0

    def path(self) -> list[str]:
        out: list[str] = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            out.append(node.key)
            node = node.parent
        return out[::-1]

    @property
    def differs(self) -> bool:
        return self.diffs > 0


class JsonTreeModel(QAbstractItemModel):
    editFailed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.sides: list[Side] = []
        self.root = Node("", None, 0, 0)
        self._changed: dict[int, tuple[Node, set[int]]] = {}
        self._flashing: set[Node] = set()
        self._flash_timer = QTimer(self)
        self._flash_timer.setInterval(200)
        self._flash_timer.timeout.connect(self._fade)

    # sources -------------------------------------------------------------------------------------

    def set_sides(self, sides: list[Side]) -> None:
        self.beginResetModel()
        self.sides = sides
        self.root = Node("", None, 0, len(sides))
        self._flashing.clear()
        self._build(self.root, [self._document(s) for s in sides])
        self.endResetModel()

    def _document(self, side: Side) -> Any:
        try:
            return side.document()
        except Exception:  # a replica that went away shows as missing
            return MISSING

    def _build(self, node: Node, values: list[Any]) -> None:
        node.kinds = [kind_of(v) for v in values]
        node.texts = [text_of(v) for v in values]
        node.children = []
        node.by_key = {}
        diffs = 0
        for row, key in enumerate(keys_of(values)):
            child = Node(key, node, row, len(values))
            node.children.append(child)
            node.by_key[key] = child
            self._build(child, [child_of(v, key) for v in values])
            diffs += child.diffs
        node.diffs = self._count(node, diffs)

    def _own_difference(self, node: Node) -> int:
        if len(self.sides) < 2 or node.parent is None:
            return 0
        kinds, texts = node.kinds, node.texts
        if len(set(kinds)) > 1:
            return 1
        if kinds[0] in ("object", "array"):
            return 0
        return 1 if len(set(texts)) > 1 else 0

    def _count(self, node: Node, below: int) -> int:
        """Differences of a subtree: a value present on one side only is one difference, whatever it holds."""
        own = self._own_difference(node)
        if own and "" in node.kinds:
            return 1
        return below + own

    @property
    def differences(self) -> int:
        """How many values differ between the sides (0 with one side)."""
        return self.root.diffs

    # refresh -------------------------------------------------------------------------------------

    def refresh(self, paths: Iterable[list[str]] | None = None, flash: bool = True) -> None:
        """Compare the subtrees under `paths` (all when None) with the documents and update the rows."""
        documents = [self._document(s) for s in self.sides]
        targets = self._targets(paths)
        now = time.monotonic()
        for node in targets:
            values = documents
            for key in node.path():
                values = [child_of(v, key) for v in values]
            self._sync(node, values, now + FLASH_SECONDS if flash else 0.0)
            self._propagate(node)
        for parent, rows in self._changed.values():
            emit_changed(self, rows, self.columnCount() - 1, self._index_of(parent))
        self._changed.clear()
        if self._flashing and not self._flash_timer.isActive():
            self._flash_timer.start()

    def _targets(self, paths: Iterable[list[str]] | None) -> list[Node]:
        if paths is None:
            return [self.root]
        found: dict[int, Node] = {}
        for path in paths:
            node = self.root
            for key in path[:-1]:  # the parent of what changed: covers adds, removes and shifts
                nxt = node.by_key.get(key)
                if nxt is None:
                    break
                node = nxt
            found[id(node)] = node
        nodes = list(found.values())
        chosen = set(found)
        out = []
        for node in nodes:
            ancestor = node.parent
            while ancestor is not None and id(ancestor) not in chosen:
                ancestor = ancestor.parent
            if ancestor is None:
                out.append(node)
        return out

    def _sync(self, node: Node, values: list[Any], flash_until: float) -> None:
        kinds = [kind_of(v) for v in values]
        texts = [text_of(v) for v in values]
        if (kinds != node.kinds or texts != node.texts) and node.parent is not None:
            node.kinds, node.texts = kinds, texts
            self._mark(node)
            if flash_until:
                node.flash_until = flash_until
                self._flashing.add(node)
        self._sync_children(node, keys_of(values))
        diffs = 0
        for child in node.children:
            self._sync(child, [child_of(v, child.key) for v in values], flash_until)
            diffs += child.diffs
        counted = self._count(node, diffs)
        if counted != node.diffs:
            node.diffs = counted
            if node.parent is not None:
                self._mark(node)

    def _sync_children(self, node: Node, keys: list[str]) -> None:
        current = [c.key for c in node.children]
        if current == keys:
            return
        wanted = set(keys)
        parent_index = self._index_of(node)
        gone = [c.row for c in node.children if c.key not in wanted]
        for row in reversed(gone):
            self.beginRemoveRows(parent_index, row, row)
            child = node.children.pop(row)
            del node.by_key[child.key]
            self._forget(child)
            self.endRemoveRows()
        self._renumber(node)
        staying = [c.key for c in node.children]
        order = [k for k in keys if k in node.by_key]
        if staying != order:  # a key moved (removed and added again): rebuild this level
            self.beginRemoveRows(parent_index, 0, len(node.children) - 1)
            for child in node.children:
                self._forget(child)
            node.children, node.by_key = [], {}
            self.endRemoveRows()
        for position, key in enumerate(keys):
            if position < len(node.children) and node.children[position].key == key:
                continue
            self.beginInsertRows(parent_index, position, position)
            child = Node(key, node, position, len(self.sides))
            node.children.insert(position, child)
            node.by_key[key] = child
            self._renumber(node, position + 1)
            self.endInsertRows()

    def _forget(self, node: Node) -> None:
        self._flashing.discard(node)
        self._changed.pop(id(node), None)
        for child in node.children:
            self._forget(child)

    @staticmethod
    def _renumber(node: Node, start: int = 0) -> None:
        for row in range(start, len(node.children)):
            node.children[row].row = row

    def _propagate(self, node: Node) -> None:
        """Recount the differences of the ancestors of a refreshed subtree."""
        parent = node.parent
        while parent is not None:
            diffs = self._count(parent, sum(c.diffs for c in parent.children))
            if diffs == parent.diffs:
                break
            parent.diffs = diffs
            if parent.parent is not None:
                self._mark(parent)
            parent = parent.parent

    def _mark(self, node: Node) -> None:
        parent = node.parent
        assert parent is not None
        self._changed.setdefault(id(parent), (parent, set()))[1].add(node.row)

    def _fade(self) -> None:
        now = time.monotonic()
        done = [n for n in self._flashing if n.flash_until <= now]
        for node in done:
            self._flashing.discard(node)
            self._mark(node)
        for parent, rows in self._changed.values():
            emit_changed(self, rows, self.columnCount() - 1, self._index_of(parent))
        self._changed.clear()
        if not self._flashing:
            self._flash_timer.stop()

    # lookups -------------------------------------------------------------------------------------

    def node(self, index: QModelIndex | QPersistentModelIndex) -> Node:
        return index.internalPointer() if index.isValid() else self.root  # type: ignore[no-any-return]

    def _index_of(self, node: Node) -> QModelIndex:
        if node.parent is None:
            return QModelIndex()
        return self.createIndex(node.row, 0, node)

    def find(self, path: list[str]) -> QModelIndex:
        node = self.root
        for key in path:
            nxt = node.by_key.get(key)
            if nxt is None:
                return QModelIndex()
            node = nxt
        return self._index_of(node)

    def text_at(self, path: list[str], side: int = 0) -> str | None:
        index = self.find(path)
        return self.node(index).texts[side] if index.isValid() else None

    def differing_paths(self) -> list[list[str]]:
        out: list[list[str]] = []

        def walk(node: Node) -> None:
            if self._own_difference(node):
                out.append(node.path())
                if "" in node.kinds:
                    return
            for child in node.children:
                if child.diffs:
                    walk(child)
        walk(self.root)
        return out

    # Qt ------------------------------------------------------------------------------------------

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(self.sides) + 2

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self.node(parent).children)

    def index(self, row: int, column: int, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        node = self.node(parent)
        if 0 <= row < len(node.children) and 0 <= column < self.columnCount():
            return self.createIndex(row, column, node.children[row])
        return QModelIndex()

    def parent(self, index: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        node = self.node(index)
        return self._index_of(node.parent) if node.parent is not None else QModelIndex()

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal:
            return None
        if section == 0:
            return "Key"
        if section <= len(self.sides):
            return self.sides[section - 1].label
        return "Type"

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self.node(index)
        column = index.column()
        n = len(self.sides)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == 0:
                return f"≠ {node.key}" if node.diffs and n > 1 and role == Qt.ItemDataRole.DisplayRole else node.key
            if column <= n:
                return node.texts[column - 1]
            return next((k for k in node.kinds if k), "")
        if role == Qt.ItemDataRole.BackgroundRole:
            if node in self._flashing and 0 < column <= n:
                return FLASH_BRUSH
            if n > 1 and self._own_difference(node):
                return DIFF_BRUSH
        if role == Qt.ItemDataRole.ForegroundRole and column == 0 and node.diffs and n > 1:
            return QBrush(QColor(210, 50, 50))
        if role == Qt.ItemDataRole.ToolTipRole and 0 < column <= n:
            return ".".join(node.path()) + " = " + node.texts[column - 1]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        column = index.column()
        if index.isValid() and 0 < column <= len(self.sides) and self.sides[column - 1].edit is not None:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        side = self.sides[index.column() - 1] if 0 < index.column() <= len(self.sides) else None
        if side is None or side.edit is None:
            return False
        node = self.node(index)
        path = node.path()
        try:
            side.edit(path, parse_value(str(value)))
        except Exception as exc:  # shown in words; the replica is unchanged
            self.editFailed.emit(describe_error(exc))
            return False
        self.refresh([[*path, "*"]])
        return True


def describe_error(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    description = getattr(exc, "description", None)
    if code is not None:
        return f"{code} {description}"
    return f"{type(exc).__name__}: {exc}"
