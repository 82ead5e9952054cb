"""Version history of every object, from the reporter's `update` messages in the trace.

Each object keeps its last `MAX_VERSIONS` update bodies and the document just before the oldest
one. JSON Patch operations and documents at a version are worked out only when someone looks
(`materialize`), replaying the kept bodies from that base; every `SNAPSHOT_EVERY`-th document is
kept so a diff between two versions replays a few updates at most.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.monitor import TraceEvent
from core.protocol.changes import ChangeError, apply_ops, copy_json, update_ops
from ui.index import EngineIndex

#: Versions kept per object (the issue: the last 1,000).
MAX_VERSIONS = 1_000
#: Versions kept over all objects; the globally oldest go first (bounds memory under stress).
MAX_TOTAL = 200_000
#: One materialized document kept per this many versions.
SNAPSHOT_EVERY = 25
RUNTIME_PREFIX = "hyperty-runtime://"
CHANGES = "/changes"


@dataclass(slots=True)
class Entry:
    version: int
    ts: float
    body: dict[str, Any]
    seq: int
    ops: list[dict[str, Any]] | None = None
    doc: Any = None          # the document after this version (only every SNAPSHOT_EVERY-th)
    error: str = ""


@dataclass
class HistoryLog:
    url: str
    base_version: int
    base_doc: Any
    entries: deque[Entry] = field(default_factory=deque)
    materialized: int = 0    # entries from the front whose ops are known
    head_doc: Any = None     # document after the last materialized entry
    deleted: bool = False

    @property
    def last_version(self) -> int:
        return self.entries[-1].version if self.entries else self.base_version

    def versions(self) -> list[int]:
        return [e.version for e in self.entries]

    def materialize(self) -> None:
        """Work out the operations (and some documents) of every entry not done yet."""
        if self.materialized >= len(self.entries):
            return
        doc = self.head_doc if self.head_doc is not None else copy_json(self.base_doc)
        for i in range(self.materialized, len(self.entries)):
            entry = self.entries[i]
            entry.ops = self._apply(doc, entry)
            if (i + 1) % SNAPSHOT_EVERY == 0:
                entry.doc = copy_json(doc)
        self.head_doc = doc
        self.materialized = len(self.entries)

    @staticmethod
    def _apply(doc: Any, entry: Entry) -> list[dict[str, Any]]:
        body = entry.body
        if "attribute" not in body and "patch" not in body:
            return []  # a reporter-change update (PROTOCOL §4 #11) carries no data change
        try:
            ops = update_ops(doc, body)
            apply_ops(doc, ops)
        except ChangeError as exc:
            entry.error = str(exc)
            return []
        return ops

    def drop_oldest(self) -> Entry:
        """Remove the oldest entry, moving the base forward past it."""
        entry = self.entries.popleft()
        if entry.doc is not None:
            self.base_doc = entry.doc
        else:
            self._apply(self.base_doc, entry) if entry.ops is None else apply_ops(self.base_doc, entry.ops)
        self.base_version = entry.version
        if self.materialized:
            self.materialized -= 1
        else:
            self.head_doc = None
        return entry

    def document_at(self, version: int) -> Any:
        """The object's data at `version` (a copy), or raise KeyError when it is no longer kept."""
        if version == self.base_version:
            return copy_json(self.base_doc)
        self.materialize()
        position = next((i for i, e in enumerate(self.entries) if e.version == version), None)
        if position is None:
            raise KeyError(version)
        start, doc = -1, self.base_doc
        for i in range(position, -1, -1):
            if self.entries[i].doc is not None:
                start, doc = i, self.entries[i].doc
                break
        doc = copy_json(doc)
        for i in range(start + 1, position + 1):
            apply_ops(doc, self.entries[i].ops or [])
        return doc

    def patch_between(self, older: int, newer: int) -> list[dict[str, Any]]:
        """The JSON Patch that turns the data at `older` into the data at `newer` (the kept ops, in order)."""
        self.materialize()
        if older > newer:
            older, newer = newer, older
        return [op for e in self.entries if older < e.version <= newer for op in (e.ops or [])]


class HistoryStore:
    """A HistoryLog per object, fed by the monitor."""

    def __init__(self, index: EngineIndex, max_versions: int = MAX_VERSIONS, max_total: int = MAX_TOTAL) -> None:
        self.index = index
        self.max_versions = max_versions
        self.max_total = max_total
        self.logs: dict[str, HistoryLog] = {}
        self._creates: dict[tuple[str, str, Any], Any] = {}
        self._order: deque[tuple[int, str]] = deque()
        self._seq = 0
        self.total = 0
        self.touched: set[str] = set()

    def ingest(self, events: Iterable[TraceEvent]) -> None:
        self.touched = set()
        for event in events:
            if event.kind == "message" and event.message is not None and event.where.startswith(RUNTIME_PREFIX):
                self._message(event)
            elif event.kind == "object" and event.detail.get("action") == "deleted" \
                    and event.detail.get("role") == "reporter":
                log = self.logs.get(str(event.detail.get("object")))
                if log is not None:
                    log.deleted = True

    def _message(self, event: TraceEvent) -> None:
        msg = event.message or {}
        mtype = msg.get("type")
        body = msg.get("body")
        if not isinstance(body, dict):
            return
        if mtype == "update" and event.direction == "out":
            to = str(msg.get("to", ""))
            if to.endswith(CHANGES) and msg.get("from") == to[: -len(CHANGES)]:
                self._update(str(msg["from"]), event.ts, body)
        elif mtype == "create" and event.direction == "out" and "resource" not in body \
                and str(msg.get("to", "")).endswith("/sm"):
            value = body.get("value")
            if isinstance(value, dict):
                self._creates[(event.where, str(msg.get("from")), msg.get("id"))] = copy_json(value.get("data", {}))
        elif mtype == "response":
            data = self._creates.pop((event.where, str(msg.get("to")), msg.get("id")), None)
            url = body.get("resource")
            if data is not None and body.get("code") == 200 and isinstance(url, str) and url not in self.logs:
                self.logs[url] = HistoryLog(url, 0, data)

    def _update(self, url: str, ts: float, body: dict[str, Any]) -> None:
        version = body.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            return
        log = self.logs.get(url)
        if log is None:
            reporter = self.index.reporter(url)
            if reporter is None:
                return
            # Seen first mid-life: start from the reporter's data now; what came before is not kept.
            log = self.logs[url] = HistoryLog(url, reporter.obj.version, copy_json(reporter.obj.data))
        if version <= log.last_version:
            return
        self._seq += 1
        log.entries.append(Entry(version, ts, body, self._seq))
        self._order.append((self._seq, url))
        self.total += 1
        self.touched.add(url)
        if len(log.entries) > self.max_versions:
            log.drop_oldest()
            self.total -= 1
        while self.total > self.max_total and self._order:
            seq, oldest = self._order.popleft()
            other = self.logs.get(oldest)
            if other is not None and other.entries and other.entries[0].seq == seq:
                other.drop_oldest()
                self.total -= 1
        if len(self._order) > 2 * self.max_total:
            self._order = deque(item for item in self._order if self._alive(item))

    def _alive(self, item: tuple[int, str]) -> bool:
        log = self.logs.get(item[1])
        return log is not None and bool(log.entries) and log.entries[0].seq <= item[0]

    def log(self, url: str) -> HistoryLog | None:
        return self.logs.get(url)
