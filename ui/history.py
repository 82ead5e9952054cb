"""Version history of every object, from the reporter's `update` messages in the trace.

Each object keeps its last `MAX_VERSIONS` update bodies and the document just before the oldest
one. JSON Patch operations and documents at a version are worked out only when someone looks
(`materialize`), replaying the kept bodies from that base; every `SNAPSHOT_EVERY`-th document is
kept so a diff between two versions replays a few updates at most.

A kept version is a plain tuple of a number, a time, the body as JSON text and a sequence number:
the garbage collector stops tracking it at its first collection (a class instance a version
would stay tracked, and bring the next full collection closer at every update).

All objects together keep at most `MAX_TOTAL` versions, the oldest going first, so a stress run
over thousands of objects levels off within seconds instead of growing for minutes. The object
on show (`pin`) is left out of that budget: it always keeps its last `MAX_VERSIONS`.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from core.monitor import TraceEvent
from core.protocol.changes import ChangeError, apply_ops, copy_json, update_ops
from ui.index import EngineIndex
from ui.passive import fast_set

#: Versions kept per object (the issue: the last 1,000).
MAX_VERSIONS = 1_000
#: Versions kept over all objects but the pinned one; the globally oldest go first. At 2,000
#: updates a second the budget is full after 10 s, and about 5 MB.
MAX_TOTAL = 20_000
#: Creates waiting for their answer (the initial document of an object comes with its create).
MAX_PENDING_CREATES = 10_000
#: One materialized document kept per this many versions.
SNAPSHOT_EVERY = 25
RUNTIME_PREFIX = ("hyperty-runtime://", "runtime://")   # ours and reTHINK's (INTEROP.md)
CHANGES = "/changes"
SUBSCRIPTION = "/subscription"

#: A kept version: (version, ts, the update's body as JSON text, seq). Text, not bytes: orjson's
#: bytes keep their 4 KB output buffer.
Kept = tuple[int, float, str, int]
VERSION: Final = 0
TS: Final = 1
BODY: Final = 2
SEQ: Final = 3


@dataclass(slots=True)
class Applied:
    """What a kept version did to the document, worked out when someone looks."""

    ops: list[dict[str, Any]]
    error: str = ""
    doc: Any = None          # the document after this version (only every SNAPSHOT_EVERY-th)


@dataclass
class HistoryLog:
    url: str
    base_version: int
    base_doc: Any
    entries: deque[Kept] = field(default_factory=deque)
    applied: deque[Applied] = field(default_factory=deque)   # of the first len(applied) entries
    head_doc: Any = None     # document after the last applied entry
    deleted: bool = False

    @property
    def last_version(self) -> int:
        return self.entries[-1][VERSION] if self.entries else self.base_version

    def versions(self) -> list[int]:
        return [e[VERSION] for e in self.entries]

    def materialize(self) -> None:
        """Work out the operations (and some documents) of every entry not done yet."""
        done = len(self.applied)
        if done >= len(self.entries):
            return
        doc = self.head_doc if self.head_doc is not None else copy_json(self.base_doc)
        for i in range(done, len(self.entries)):
            applied = self._apply(doc, self.entries[i])
            if (i + 1) % SNAPSHOT_EVERY == 0:
                applied.doc = copy_json(doc)
            self.applied.append(applied)
        self.head_doc = doc

    @staticmethod
    def _apply(doc: Any, entry: Kept) -> Applied:
        body = orjson.loads(entry[BODY])
        if "attribute" not in body and "patch" not in body:
            return Applied([])  # a reporter-change update (PROTOCOL §4 #11) carries no data change
        try:
            ops = update_ops(doc, body)
            apply_ops(doc, ops)
        except ChangeError as exc:
            return Applied([], str(exc))
        return Applied(ops)

    def drop_oldest(self) -> Kept:
        """Remove the oldest entry, moving the base forward past it."""
        entry = self.entries.popleft()
        if self.applied:
            applied = self.applied.popleft()
            if applied.doc is not None:
                self.base_doc = applied.doc
            else:
                apply_ops(self.base_doc, applied.ops)
        else:  # nobody looked: only the document moves on (the commonest update without its ops)
            body = orjson.loads(entry[BODY])
            if ("attribute" in body or "patch" in body) and not fast_set(self.base_doc, body):
                with suppress(ChangeError):
                    apply_ops(self.base_doc, update_ops(self.base_doc, body))
            self.head_doc = None
        self.base_version = entry[VERSION]
        return entry

    def document_at(self, version: int) -> Any:
        """The object's data at `version` (a copy), or raise KeyError when it is no longer kept."""
        if version == self.base_version:
            return copy_json(self.base_doc)
        self.materialize()
        position = next((i for i, e in enumerate(self.entries) if e[VERSION] == version), None)
        if position is None:
            raise KeyError(version)
        start, doc = -1, self.base_doc
        for i in range(position, -1, -1):
            if self.applied[i].doc is not None:
                start, doc = i, self.applied[i].doc
                break
        doc = copy_json(doc)
        for i in range(start + 1, position + 1):
            apply_ops(doc, self.applied[i].ops)
        return doc

    def patch_between(self, older: int, newer: int) -> list[dict[str, Any]]:
        """The JSON Patch that turns the data at `older` into the data at `newer` (the kept ops, in order)."""
        self.materialize()
        if older > newer:
            older, newer = newer, older
        return [op for e, a in zip(self.entries, self.applied, strict=True) if older < e[VERSION] <= newer
                for op in a.ops]


class HistoryStore:
    """A HistoryLog per object, fed by the monitor."""

    def __init__(self, index: EngineIndex, max_versions: int = MAX_VERSIONS, max_total: int = MAX_TOTAL) -> None:
        self.index = index
        self.max_versions = max_versions
        self.max_total = max_total
        self.logs: dict[str, HistoryLog] = {}
        self.pinned = ""
        self._creates: OrderedDict[tuple[str, str, Any], Any] = OrderedDict()
        # (seq, url) of kept entries, oldest first; those of the pinned object, once passed, wait aside.
        self._order: deque[tuple[int, str]] = deque()
        self._passed: list[tuple[int, str]] = []
        self._seq = 0
        self.total = 0           # entries counted against max_total (every object's but the pinned one)
        self.touched: set[str] = set()

    def pin(self, url: str) -> None:
        """Keep the last `max_versions` of `url` whatever the others need (the object on show)."""
        if url == self.pinned:
            return
        old, self.pinned = self.pinned, url
        if old:
            self._order.extendleft(reversed(self._passed))  # older than anything still in line
            self._passed = []
            self.total += len(self.logs[old].entries) if old in self.logs else 0
        if url in self.logs:
            self.total -= len(self.logs[url].entries)
        self._trim()

    def ingest(self, events: Iterable[TraceEvent]) -> None:
        self.touched = set()
        for event in events:
            if event.kind == "message" and event.message is not None:
                if event.where.startswith(RUNTIME_PREFIX):
                    self._message(event)
                elif event.direction == "in" and "@" in event.where:
                    self._seen_at_node(event)
            elif event.kind == "object" and event.detail.get("action") == "deleted" \
                    and event.detail.get("role") == "reporter":
                log = self.logs.get(str(event.detail.get("object")))
                if log is not None:
                    log.deleted = True

    def _seen_at_node(self, event: TraceEvent) -> None:
        """A live node's update, as it came in from the reporter's runtime (`ui.passive`)."""
        msg = event.message or {}
        body = msg.get("body")
        to = str(msg.get("to", ""))
        if not isinstance(body, dict):
            return
        sender = str(msg.get("from", ""))
        if msg.get("type") == "update" and to.endswith(CHANGES) and sender == to[: -len(CHANGES)]:
            self._update(sender, event.ts, body)
        elif msg.get("type") == "response" and sender.endswith(SUBSCRIPTION) and body.get("code") == 200:
            # A subscribe answer (PROTOCOL §3.2 #9): the object's data at a version, the history's base.
            url, value = sender[: -len(SUBSCRIPTION)], body.get("value")
            version = value.get("version") if isinstance(value, dict) else None
            if url not in self.logs and isinstance(version, int) and isinstance(value, dict):
                self.logs[url] = HistoryLog(url, version, copy_json(value.get("data", {})))

    def _message(self, event: TraceEvent) -> None:
        msg = event.message or {}
        mtype = msg.get("type")
        body = msg.get("body")
        if not isinstance(body, dict) or event.direction not in ("out", "in"):
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
                if len(self._creates) > MAX_PENDING_CREATES:
                    self._creates.popitem(last=False)
        elif mtype == "response" and self._creates:
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
            if reporter is None or not getattr(reporter.obj, "known", True):
                return  # a live node's object whose data was not seen yet: no base to replay from
            # Seen first mid-life: start from the reporter's data now; what came before is not kept.
            log = self.logs[url] = HistoryLog(url, reporter.obj.version, copy_json(reporter.obj.data))
        if version <= log.last_version:
            return
        self._seq += 1
        log.entries.append((version, ts, orjson.dumps(body).decode(), self._seq))
        self._order.append((self._seq, url))
        self.touched.add(url)
        counted = url != self.pinned
        self.total += counted
        if len(log.entries) > self.max_versions:
            log.drop_oldest()
            self.total -= counted
        self._trim()

    def _trim(self) -> None:
        """Drop the globally oldest versions until the budget holds (the pinned object's are passed by)."""
        while self.total > self.max_total and self._order:
            seq, oldest = self._order.popleft()
            if oldest == self.pinned:
                self._passed.append((seq, oldest))
                if len(self._passed) > 2 * self.max_versions:
                    self._passed = [item for item in self._passed if self._alive(item)]
                continue
            log = self.logs.get(oldest)
            if log is None or not log.entries or log.entries[0][SEQ] != seq:
                continue  # already gone (its object's own bound dropped it)
            log.drop_oldest()
            self.total -= 1
            if log.deleted and not log.entries:
                del self.logs[oldest]
        if len(self._order) > 2 * self.max_total + self.max_versions:
            self._order = deque(item for item in self._order if self._alive(item))

    def _alive(self, item: tuple[int, str]) -> bool:
        log = self.logs.get(item[1])
        return log is not None and bool(log.entries) and log.entries[0][SEQ] <= item[0]

    def log(self, url: str) -> HistoryLog | None:
        return self.logs.get(url)
