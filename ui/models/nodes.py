"""The live nodes tree: each node the console watches (`ui.remote`) with its link state, and under it
the node's sessions (TRANSPORT §2: home, visiting, monitors), each with its node subscriptions and
owned addresses. Link states come from the watches; sessions, subscriptions and ownerships from the
node's trace events as the feed flushes them (`where` tells which node).

A node's sessions are those its events told of: the node replays what it kept (TRANSPORT §4), so a
session opened before that is not listed until it does something that names it. While a node's
link is down its sessions are shown as last known, greyed. When a reconnect's replay does not reach
back to the last event seen (the node restarted, or let events go), the sessions that were open are
marked unknown until an event names them again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from core.monitor import TraceEvent
from ui.models.header import column_header
from ui.naming import RETHINK_LABEL, RETHINK_PREFIX, is_rethink, runtime_label
from ui.remote import NodeWatch, RemoteNodes, WatchState

#: Sessions no longer known to be open (closed, refused, unknown) kept under a node; the oldest go first.
MAX_CLOSED = 50

NODE_MARKS = {WatchState.CONNECTING: "◌ connecting", WatchState.LIVE: "● live", WatchState.DOWN: "× down",
              WatchState.REFUSED: "⊘ refused", WatchState.STOPPED: "– stopped"}
NODE_COLOURS = {WatchState.CONNECTING: QColor(220, 150, 0), WatchState.DOWN: QColor(220, 60, 60),
                WatchState.REFUSED: QColor(220, 60, 60), WatchState.STOPPED: QColor(140, 140, 140)}
GREY = QBrush(QColor(140, 140, 140))
RUNTIME_PREFIX = "hyperty-runtime://"


class SessionRow:
    """One session of a node, as its `session` events told it."""

    __slots__ = ("closed", "ident", "kind", "member", "name", "node", "note", "unknown")

    def __init__(self, node: NodeRow, ident: str, member: str = "") -> None:
        self.node = node
        self.ident = ident
        self.member = member  # the node of a clustered domain that holds the session (issue 15)
        self.name = ""
        self.kind = ""        # home, visiting, monitor
        self.closed = False
        self.unknown = False  # open when last heard of, but events were missed since
        self.note = ""        # why it closed, or was refused

    def values(self) -> tuple[str, str, str]:
        parts = [self.ident, self.kind if self.kind != "refused" else ""]
        if self.member:
            parts[0] = f"{self.ident} on {self.member}"
        if is_rethink(self.name):
            parts.append(f"{RETHINK_LABEL} runtime")
        own = str((self.node.watch.cluster or {}).get("node", ""))
        if self.kind == "monitor" and self.ident == self.node.watch.session and self.member == own and self.live:
            parts[1] = "monitor (this console)"
        subs, owned = self.node.subs_of[self.name], self.node.owned_by[self.name]
        if self.live and subs:
            parts.append(_count(subs, "subscription"))
        if self.live and owned:
            parts.append(f"owns {owned}")
        if self.unknown:
            parts.append("not heard of since events were missed")
        if self.note:
            parts.append(self.note)
        state = ("⊘ refused" if self.kind == "refused" else "× closed") if self.closed else "● open"
        if self.unknown:
            state = "? unknown"
        label = self.name[len(RUNTIME_PREFIX):] if self.name.startswith(RUNTIME_PREFIX) else self.name
        if is_rethink(self.name):
            domain = self.name[len(RETHINK_PREFIX):].split("/", 1)[0]
            label = f"{domain}/{runtime_label(self.name)}"
        return (label, state, " · ".join(p for p in parts if p))

    @property
    def live(self) -> bool:
        return not self.closed and not self.unknown


class NodeRow:
    """One watched node: its watch, and what its events said of sessions, subscriptions and owners."""

    __slots__ = ("by_id", "gaps", "owned_by", "owners", "sessions", "subs_of", "subscriptions", "unknown", "watch")

    def __init__(self, watch: NodeWatch) -> None:
        self.watch = watch
        self.gaps = 0                                   # the watch's gaps already applied to the rows
        self.sessions: list[SessionRow] = []
        self.by_id: dict[str, SessionRow] = {}
        self.unknown: dict[str, SessionRow] = {}        # runtime → its session row marked unknown
        self.subscriptions: dict[str, set[str]] = {}   # address → runtimes
        self.subs_of: Counter[str] = Counter()          # runtime → node subscriptions
        self.owners: dict[str, str] = {}                # address → owner runtime
        self.owned_by: Counter[str] = Counter()         # runtime → addresses owned

    @property
    def open_sessions(self) -> int:
        return sum(1 for s in self.sessions if s.live and s.kind != "monitor")

    @property
    def live_subscriptions(self) -> int:
        """Node subscriptions of the sessions known to be open (they end with their session's link)."""
        return sum(self.subs_of[s.name] for s in self.sessions if s.live)

    def values(self) -> tuple[str, str, str]:
        w = self.watch
        state = w.state
        if state is WatchState.LIVE:
            details = [w.node_url, *_cluster_details(w.cluster), _count(self.open_sessions, "session"),
                       _count(self.live_subscriptions, "subscription"), f"{len(self.owners):,} owned",
                       _count(w.events, "event")]
            if w.opens > 1:
                details.append(f"reconnected {w.opens - 1}×")
            if w.lost:
                details.append(f"{w.lost:,} events lost")
            if w.gaps:
                details.append(f"events missed while down ({w.gaps}×)")
        elif state is WatchState.DOWN:
            details = [w.problem, f"retry in {w.retry_in:.1f} s (attempt {w.attempts})"]
        elif state is WatchState.CONNECTING:
            details = [f"connecting to {w.connection.url}", w.problem]
        else:
            details = [w.problem or "disconnected", w.connection.url]
        return (w.name, NODE_MARKS[state], " · ".join(d for d in details if d))


class NodesModel(QAbstractItemModel):
    columns = ("Node / session", "State", "Details")

    def __init__(self, remote: RemoteNodes) -> None:
        super().__init__()
        self.remote = remote
        self.nodes: list[NodeRow] = []
        self._by_name: dict[str, NodeRow] = {}
        self._by_where: dict[str, NodeRow] = {}
        remote.changed.connect(self._watch_changed)
        remote.removed.connect(self._removed)
        for name in remote.watches:
            self._watch_changed(name)

    # feeding -------------------------------------------------------------------------------------

    def ingest(self, events: Iterable[TraceEvent]) -> None:
        touched: dict[int, NodeRow] = {}
        by_where = self._by_where
        for event in events:
            node = by_where.get(event.where)
            if node is None:
                continue
            touched[id(node)] = node
            kind = event.kind
            if node.unknown and kind != "session":
                self._heard_of(node, event.detail.get("session"))
            if kind == "session":
                self._session(node, event.detail)
            elif kind == "subscription":
                self._subscription(node, event.detail)
            elif kind == "ownership":
                self._ownership(node, event.detail)
        for node in touched.values():
            self._trim(node)
            self._node_changed(node, children=True)

    @staticmethod
    def _heard_of(node: NodeRow, runtime: object) -> None:
        """A message, subscription or ownership of `runtime`'s session: it is open after all."""
        row = node.unknown.pop(runtime, None) if isinstance(runtime, str) else None
        if row is not None:
            row.unknown = False

    def _session(self, node: NodeRow, d: dict[str, Any]) -> None:
        action = d.get("action")
        if action == "members":   # a clustered domain's membership changed (issue 15)
            cluster = d.get("cluster")
            if isinstance(cluster, dict) and cluster.get("node") == (node.watch.cluster or {}).get("node"):
                node.watch.cluster = cluster
            return
        ident = str(d.get("session", ""))
        member = str(d.get("node", ""))
        row = node.by_id.get(_key(member, ident))
        if row is None:
            row = SessionRow(node, ident, member)
            self._insert(node, row)
        row.unknown = False
        if action in ("open", "takeover"):
            earlier = node.unknown.pop(str(d.get("runtime", "")), None)
            if earlier is not None:  # one live session per runtime URL (TRANSPORT §2)
                earlier.unknown, earlier.closed, earlier.note = False, True, "gone: a newer session opened"
            row.name = str(d.get("runtime", ""))
            row.kind = "visiting" if d.get("visiting") else "home"
            row.closed, row.note = False, ""
        elif action == "monitor":
            row.name, row.kind = str(d.get("monitor", "")), "monitor"
            row.closed, row.note = False, ""
        elif action == "refused":
            row.name, row.kind = str(d.get("claimed", "")), "refused"
            row.closed, row.note = True, f"refused {d.get('code', '')}".strip()
        elif action == "close":
            row.name = row.name or str(d.get("runtime", ""))
            row.closed, row.note = True, f"closed: {d.get('reason', '')}".rstrip(": ")

    @staticmethod
    def _subscription(node: NodeRow, d: dict[str, Any]) -> None:
        address, runtime = str(d.get("address", "")), str(d.get("session", ""))
        runtimes = node.subscriptions.setdefault(address, set())
        if d.get("action") == "added":
            if runtime not in runtimes:
                runtimes.add(runtime)
                node.subs_of[runtime] += 1
        elif runtime in runtimes:
            runtimes.discard(runtime)
            node.subs_of[runtime] -= 1
        if not runtimes:
            del node.subscriptions[address]

    @staticmethod
    def _ownership(node: NodeRow, d: dict[str, Any]) -> None:
        address, owner = str(d.get("address", "")), str(d.get("runtime", ""))
        previous = node.owners.pop(address, None)
        if previous is not None:
            node.owned_by[previous] -= 1
        if owner and d.get("action") != "deallocated":
            node.owners[address] = owner
            node.owned_by[owner] += 1

    def _insert(self, node: NodeRow, row: SessionRow) -> None:
        parent = self._node_index(node)
        position = len(node.sessions)
        self.beginInsertRows(parent, position, position)
        node.sessions.append(row)
        node.by_id[_key(row.member, row.ident)] = row
        self.endInsertRows()

    def _trim(self, node: NodeRow) -> None:
        ended = [i for i, s in enumerate(node.sessions) if not s.live]
        for position in reversed(ended[:max(0, len(ended) - MAX_CLOSED)]):
            self.beginRemoveRows(self._node_index(node), position, position)
            row = node.sessions.pop(position)
            if node.by_id.get(_key(row.member, row.ident)) is row:
                del node.by_id[_key(row.member, row.ident)]
            if node.unknown.get(row.name) is row:
                del node.unknown[row.name]
            self.endRemoveRows()

    @staticmethod
    def _missed_events(node: NodeRow) -> None:
        """The watch reopened and the node's replay did not reach back to the last event seen: the
        sessions open then may have ended. Session ids may come again (a restarted node counts from
        s1), so rows are no longer found by id; a later event naming the runtime revives its row."""
        node.by_id.clear()
        node.unknown.clear()
        for session in node.sessions:
            if not session.closed:
                session.unknown = True
                node.unknown[session.name] = session

    # watches -------------------------------------------------------------------------------------

    def _watch_changed(self, name: str) -> None:
        watch = self.remote.watches.get(name)
        if watch is None:
            return
        node = self._by_name.get(name)
        if node is None:
            node = NodeRow(watch)
            position = len(self.nodes)
            self.beginInsertRows(QModelIndex(), position, position)
            self.nodes.append(node)
            self._by_name[name] = node
            self.endInsertRows()
        elif node.watch is not watch:
            node.watch = watch  # connected again under the same name: its rows stay, now of this watch
            node.gaps = 0
        if watch.gaps > node.gaps:
            node.gaps = watch.gaps
            self._missed_events(node)
        if watch.state is WatchState.DOWN:
            ours = node.by_id.get(_key(str((watch.cluster or {}).get("node", "")), watch.session))
            if ours is not None and ours.kind == "monitor" and not ours.closed:
                ours.closed, ours.note = True, "this console's link was lost"
        if watch.node_url:
            self._by_where[watch.where] = node
        self._node_changed(node, children=True)

    def _removed(self, name: str) -> None:
        node = self._by_name.pop(name, None)
        if node is None:
            return
        position = self.nodes.index(node)
        self.beginRemoveRows(QModelIndex(), position, position)
        del self.nodes[position]
        self._by_where = {w: n for w, n in self._by_where.items() if n is not node}
        self.endRemoveRows()

    def _node_changed(self, node: NodeRow, children: bool = False) -> None:
        first = self._node_index(node)
        self.dataChanged.emit(first, first.siblingAtColumn(len(self.columns) - 1))
        if children and node.sessions:
            self.dataChanged.emit(self.index(0, 0, first), self.index(len(node.sessions) - 1, len(self.columns) - 1,
                                                                      first))

    # lookups -------------------------------------------------------------------------------------

    def node(self, name: str) -> NodeRow | None:
        return self._by_name.get(name)

    def rows(self, name: str) -> list[tuple[str, str, str]]:
        """The values of the node row `name` and then of each of its session rows."""
        node = self._by_name.get(name)
        if node is None:
            return []
        return [node.values(), *(s.values() for s in node.sessions)]

    def _node_index(self, node: NodeRow) -> QModelIndex:
        return self.createIndex(self.nodes.index(node), 0)

    def row_at(self, index: QModelIndex | QPersistentModelIndex) -> NodeRow | SessionRow | None:
        if not index.isValid():
            return None
        parent = index.internalPointer()
        if isinstance(parent, NodeRow):
            return parent.sessions[index.row()] if index.row() < len(parent.sessions) else None
        return self.nodes[index.row()] if index.row() < len(self.nodes) else None

    # Qt ------------------------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not 0 <= column < len(self.columns):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column) if 0 <= row < len(self.nodes) else QModelIndex()
        node = self.row_at(parent)
        if isinstance(node, NodeRow) and 0 <= row < len(node.sessions):
            return self.createIndex(row, column, node)
        return QModelIndex()

    def parent(self, index: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        node = index.internalPointer()
        return self._node_index(node) if isinstance(node, NodeRow) else QModelIndex()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self.nodes)
        if parent.column() != 0:
            return 0
        row = self.row_at(parent)
        return len(row.sessions) if isinstance(row, NodeRow) else 0

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return column_header(self.columns, section, orientation, role)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index)
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return row.values()[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            if isinstance(row, NodeRow):
                w = row.watch
                return f"{w.connection.url}\nnode {w.node_url or '?'}\nas {w.monitor_name}"
            return row.name
        if role == Qt.ItemDataRole.ForegroundRole:
            if isinstance(row, NodeRow):
                colour = NODE_COLOURS.get(row.watch.state)
                return QBrush(colour) if colour is not None and index.column() == 1 else None
            return GREY if row.closed or row.node.watch.state is not WatchState.LIVE else None
        return None


def _key(member: str, ident: str) -> str:
    """Session ids are per node: in a clustered domain's feed the member tells them apart."""
    return f"{member}/{ident}" if member else ident


def _cluster_details(cluster: dict[str, Any] | None) -> list[str]:
    """`member n1 of a 3-node cluster (n1, n2, n3)`, and whether its feed shows the whole domain."""
    if not cluster:
        return []
    names = [str(m.get("node")) for m in cluster.get("members", []) if isinstance(m, dict)]
    details = [f"member {cluster.get('node')} of a {len(names)}-node cluster ({', '.join(names)})"]
    if cluster.get("scope") == "domain":
        details.append("feed: whole domain")
    return details


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' * (n != 1)}"
