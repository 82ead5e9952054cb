"""The monitor feed `mn:/monitor` of a Message Node (TRANSPORT §4).

A console that did not start the node opens a monitor session with the node's monitor token and
then receives the node's trace events, one `event` frame each. Routing never waits for a monitor:
each event is encoded once, when it happens, into one log shared by the replay history and every
monitor; an event weighs the bytes of its encoding (addresses, envelopes, all it carries). The log
holds at most `max_bytes` and max(`replay`, `max_queue`) events; each monitor is a cursor into it,
at most `max_queue` events behind. Events a monitor falls behind by are lost to it (the oldest
first), and their count rides in the `lost` field of the next event it gets. Recording an event
costs nothing per monitor that is not keeping up: only monitors waiting for the next event are
woken. The feed writes to a monitor's link only while the link says it is `ready()` (at most a
turn's worth, `core.node.session.PacedTransport`), then waits for its `on_ready`.
"""

from __future__ import annotations

import hmac
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from core.monitor import Monitor, TraceEvent
from core.node.session import PacedTransport, Session
from core.protocol import address as addr

#: TRANSPORT §5: events a monitor may be behind before it loses events, and events kept for `replay`.
MAX_MONITOR_QUEUE = 10_000
REPLAY = 10_000
#: TRANSPORT §5: bytes of encoded events the feed keeps, for replays and for every monitor at once
#: (an event is encoded once and shared, so however many monitors watch, this is what they cost).
MONITOR_BYTES = 64 << 20
#: What an event weighs beyond its encoding: the frame around it and its bookkeeping.
EVENT_WEIGHT = 128
#: What an event kept unencoded weighs beyond its envelope's bytes and its strings: the record and
#: the dict holding its fields, its numbers, and the encoding it becomes once read.
LAZY_WEIGHT = 512

#: Share of the event loop's time the feed may spend writing to monitors while it is busy, and the
#: longest it writes at once: monitors never slow routing by more than this (TRANSPORT §4).
PUMP_SHARE = 0.15
PUMP_SLICE = 0.004

Defer = Callable[[Callable[[], None]], object]
Later = Callable[[float, Callable[[], None]], object]

_REDACTED = "<redacted>"
_FRAME_HEAD = b'{"type":"event","from":' + orjson.dumps(addr.MONITOR) + b',"to":'


class _Event:
    """One trace event, encoded once: its `body` bytes and its weight."""

    __slots__ = ("body", "weight")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.weight = len(body) + EVENT_WEIGHT


class _Lazy:
    """A trace event kept as its fields, encoded (once) only when a monitor first reads it: while no
    monitor keeps up, recording it costs no encoding. Only events whose other fields are strings and
    numbers are kept so, a message event only with its envelope's wire bytes (`raw`): its `weight`,
    fixed when it is recorded, then bounds both forms (issue 16)."""

    __slots__ = ("_body", "detail", "direction", "kind", "raw", "ts", "weight", "where")

    def __init__(self, kind: str, ts: float, where: str, direction: str | None, detail: dict[str, Any],
                 raw: bytes | None, weight: int) -> None:
        # one statement each: a tuple assignment builds and unpacks a tuple (two of these per relayed
        # message)
        self._body: bytes | None = None
        self.kind = kind
        self.ts = ts
        self.where = where
        self.direction = direction
        self.detail: dict[str, Any] | None = detail
        self.raw = raw
        self.weight = weight

    @property
    def body(self) -> bytes:
        """What `MonitorFeed.encode_body` gives for the same event, the envelope's bytes as they came."""
        if self._body is None:
            head: dict[str, Any] = {"kind": self.kind, "ts": self.ts, "where": self.where}
            if self.direction is not None:
                head["direction"] = self.direction
            detail = self.detail or {}
            if self.raw is None:
                head.update(detail)
                self._body = orjson.dumps(head, option=orjson.OPT_NON_STR_KEYS)
            else:
                tail = orjson.dumps(detail, option=orjson.OPT_NON_STR_KEYS)[1:] if detail else b"}"
                self._body = orjson.dumps(head)[:-1] + b',"message":' + self.raw + (b"," + tail if detail else tail)
            self.detail = self.raw = None
        return self._body


class _LazyMessage:
    """A message event the node hands the feed directly (`MonitorFeed.message`), kept as `_Lazy` keeps
    it but its fields in one tuple: a relayed message records two, and each attribute set costs."""

    __slots__ = ("_body", "_fields", "weight")

    def __init__(self, fields: tuple[float, str, str, str, int, bytes], weight: int) -> None:
        self._body: bytes | None = None
        self._fields: tuple[float, str, str, str, int, bytes] | None = fields   # ts, where, direction, session,
        self.weight = weight                                                    # size, the envelope's bytes

    @property
    def body(self) -> bytes:
        """`_Lazy.body` of the same event."""
        if self._body is None:
            assert self._fields is not None
            ts, where, direction, session, size, raw = self._fields
            head = orjson.dumps({"kind": "message", "ts": ts, "where": where, "direction": direction})
            self._body = head[:-1] + b',"message":' + raw + b"," + orjson.dumps({"session": session, "size": size})[1:]
            self._fields = None
        return self._body


_Kept = _Event | _Lazy | _LazyMessage


def _with_session(message: dict[str, Any]) -> bool:
    """To or from `mn:/session`: encoded at once, its tokens redacted (never kept as wire bytes)."""
    return message.get("to") == addr.SESSION or message.get("from") == addr.SESSION


def _flat_weight(detail: dict[str, Any]) -> int:
    """What an event's fields weigh kept as they are, or -1 when one is not a string or a number."""
    weight = LAZY_WEIGHT
    for value in detail.values():
        if isinstance(value, str):
            weight += len(value)
        elif value is not None and not isinstance(value, (int, float)):
            return -1
    return weight


class _Watcher:
    """One monitor session: `cursor` is the sequence number of the next event it gets."""

    __slots__ = ("cursor", "head", "lost", "paced", "scheduled", "session", "to")

    def __init__(self, session: Session, cursor: int) -> None:
        self.session = session
        self.to = session.monitor_name
        self.head = _FRAME_HEAD + orjson.dumps(self.to) + b',"body":'
        self.cursor = cursor
        self.lost = 0
        self.scheduled = False
        self.paced = session.transport if isinstance(session.transport, PacedTransport) else None


class MonitorFeed:
    """Trace events of the node at `node_url`, for monitor sessions holding `token`."""

    def __init__(self, node_url: str, monitor: Monitor, token: str, *, max_queue: int = MAX_MONITOR_QUEUE,
                 replay: int = REPLAY, max_bytes: int = MONITOR_BYTES) -> None:
        self.node_url = node_url
        self.monitor = monitor
        self.token = token
        self.max_queue = max_queue
        self.replay = replay
        self.max_bytes = max_bytes
        #: The log: `history[i]` has sequence number `first + i`.
        self.history: deque[_Kept] = deque()
        self.history_bytes = 0
        self.first = 0
        self.keep_history = replay > 0
        #: the most events kept (what `_keep` compares with each time)
        self._most = max(replay, max_queue) if self.keep_history else max_queue
        #: How the feed schedules a write after an event; a server sets the loop's `call_soon`, so
        #: writing happens after the routing step that emitted the event.
        self.defer: Defer = _now
        #: The loop's `call_later` (a server sets it): rounds of writing are spaced so that the feed
        #: takes at most `PUMP_SHARE` of the time. Without it every round runs at once.
        self.later: Later | None = None
        self.clock: Callable[[], float] = time.perf_counter
        self._watchers: dict[str, _Watcher] = {}
        self._waiting: list[_Watcher] = []   # caught up and ready: woken by the next event
        self._due: dict[str, _Watcher] = {}  # to write to at the next round, in order
        self._round_pending = False
        self._next_round = 0.0               # clock time before which no round starts
        self._unsubscribe: Callable[[], None] | None = None
        self._recorder = self._record   # one bound method: `alone()` compares it by identity
        if self.keep_history:
            self._unsubscribe = monitor.subscribe(self._recorder)

    @property
    def end(self) -> int:
        """Sequence number of the next event recorded."""
        return self.first + len(self.history)

    # sessions -----------------------------------------------------------------------------------

    def refusal(self, body: dict[str, Any]) -> tuple[int, str] | None:
        """Why a monitor `open` with this body is refused (TRANSPORT §4: a wrong token gets 403)."""
        token = body.get("token")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), self.token.encode()):
            return 403, "wrong monitor token"
        replay = body.get("replay", 0)
        if isinstance(replay, bool) or not isinstance(replay, int) or replay < 0:
            return 400, "replay must be a non-negative number of events"
        return None

    def attach(self, session: Session, replay: int) -> int:
        """Start streaming to `session` (already answered 200), first its last `replay` events.
        Returns how many were replayed."""
        replayed = min(replay, self.replay, self.max_queue, len(self.history)) if self.keep_history else 0
        watcher = self._watchers[session.id] = _Watcher(session, self.end - replayed)
        if self._unsubscribe is None:
            self._unsubscribe = self.monitor.subscribe(self._recorder)
        if watcher.paced is not None:
            watcher.paced.on_ready = lambda: self._schedule(watcher)
        self._schedule(watcher)
        return replayed

    def detach(self, session: Session) -> None:
        watcher = self._watchers.pop(session.id, None)
        if watcher is not None and watcher in self._waiting:
            self._waiting.remove(watcher)
        if not self._watchers and not self.keep_history:
            self.history.clear()
            self.history_bytes = 0
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None

    def close(self) -> None:
        self._watchers.clear()
        self._waiting.clear()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def queued(self, session: Session) -> int:
        """Events waiting for this monitor (those it is behind by that are still kept)."""
        watcher = self._watchers.get(session.id)
        return 0 if watcher is None else min(self.end - max(watcher.cursor, self.first), self.max_queue)

    # events -------------------------------------------------------------------------------------

    def alone(self) -> bool:
        """The feed records the node's trace and nothing else listens to it: the node may hand it
        message events directly (`message`)."""
        return self.monitor.sole(self._recorder)

    def message(self, direction: str, message: dict[str, Any], wire: bytes | str, session: str, size: int) -> None:
        """What `monitor.emit("message", …, wire=wire)` records while the feed is `alone()`, without
        making the `TraceEvent` nobody else reads."""
        if message.get("to") == addr.SESSION or message.get("from") == addr.SESSION:   # (`_with_session`)
            self.monitor.emit("message", self.node_url, direction=direction, message=message, session=session,
                              size=size)
            return
        raw = wire if isinstance(wire, bytes) else wire.encode()
        self._keep(_LazyMessage((self.monitor.clock(), self.node_url, direction, session, size, raw),
                                len(raw) + len(session) + LAZY_WEIGHT))

    def flat(self, kind: str, detail: dict[str, Any], strings: bool = False) -> None:
        """An event of the node whose fields are strings and numbers (`strings`: all strings), while
        the feed is `alone()`."""
        weight = sum(map(len, detail.values())) + LAZY_WEIGHT if strings else _flat_weight(detail)
        if weight < 0:
            self.monitor.emit(kind, self.node_url, **detail)
            return
        self._keep(_Lazy(kind, self.monitor.clock(), self.node_url, None, detail, None, weight))

    def _record(self, trace: TraceEvent) -> None:
        if trace.where != self.node_url:
            return
        message, wire = trace.message, trace.wire
        weight = -1
        if message is None or (wire is not None and not _with_session(message)):
            weight = _flat_weight(trace.detail)
        if weight < 0:
            self._keep(_Event(self.encode_body(trace)))
            return
        raw = None if message is None else wire if isinstance(wire, bytes) else str(wire).encode()
        self._keep(_Lazy(trace.kind, trace.ts, trace.where, trace.direction, trace.detail, raw,
                         weight + (0 if raw is None else len(raw))))

    def _keep(self, event: _Kept) -> None:
        history = self.history
        history.append(event)
        kept = self.history_bytes = self.history_bytes + event.weight
        if len(history) > self._most:
            if kept - history[0].weight <= self.max_bytes:   # a full log's usual step: the oldest goes
                self.history_bytes = kept - history.popleft().weight
                self.first += 1
            else:
                self._trim()
        elif kept > self.max_bytes:
            self._trim()
        if self._waiting:
            waiting, self._waiting = self._waiting, []
            for watcher in waiting:
                self._schedule(watcher)

    def _trim(self) -> None:
        history = self.history
        keep = self._most
        while len(history) > keep or self.history_bytes > self.max_bytes:
            self.history_bytes -= history.popleft().weight
            self.first += 1

    def _schedule(self, watcher: _Watcher) -> None:
        if watcher.scheduled:
            return
        watcher.scheduled = True
        self._due[watcher.session.id] = watcher
        if self._round_pending:
            return
        self._round_pending = True
        wait = self._next_round - self.clock()
        if wait > 0 and self.later is not None:
            self.later(wait, self._round)
        else:
            self.defer(self._round)

    def _round(self) -> None:
        """Write to the monitors due, for at most `PUMP_SLICE`; then rest long enough that writing
        takes at most `PUMP_SHARE` of the time (those not reached wait for the next round)."""
        self._round_pending = False
        start = self.clock()
        due = self._due
        while due:
            key = next(iter(due))
            watcher = due.pop(key)
            self._pump(watcher)
            if self.later is not None and self.clock() - start > PUMP_SLICE:
                break
        spent = self.clock() - start
        self._next_round = start + spent / PUMP_SHARE
        if due and not self._round_pending:
            self._round_pending = True
            if self.later is not None:
                self.later(max(0.0, self._next_round - self.clock()), self._round)
            else:
                self.defer(self._round)

    def _pump(self, watcher: _Watcher) -> None:
        """Write what the link takes this turn; the rest waits for its `on_ready`."""
        watcher.scheduled = False
        if self._watchers.get(watcher.session.id) is not watcher:
            return
        transport, paced = watcher.session.transport, watcher.paced
        history = self.history
        try:
            self._write(watcher, transport, paced, history)
        finally:
            if paced is not None:
                paced.flush_now()   # framed and written now: the round's time counts the writing

    def _write(self, watcher: _Watcher, transport: Any, paced: PacedTransport | None,
               history: deque[_Kept]) -> None:
        while True:   # `first` is read again each time: a send may record events (a link closing)
            first = self.first
            end = first + len(history)
            start = max(first, end - self.max_queue)
            if watcher.cursor < start:   # fell behind: the oldest are lost to it
                watcher.lost += start - watcher.cursor
                watcher.cursor = start
            if watcher.cursor >= end:
                if watcher not in self._waiting:
                    self._waiting.append(watcher)
                return
            if paced is not None and not paced.ready():
                paced.notify_ready()
                return
            event = history[watcher.cursor - first]
            lost, watcher.lost = watcher.lost, 0
            watcher.cursor += 1
            transport.send(self.frame(watcher, event.body, lost))
            if self._watchers.get(watcher.session.id) is not watcher:
                return

    @staticmethod
    def frame(watcher: _Watcher, body: bytes, lost: int) -> bytes:
        if lost:  # the body is a JSON object: `lost` goes in before its closing brace
            body = body[:-1] + b',"lost":' + str(lost).encode() + b"}"
        return watcher.head + body + b"}"

    def encode_body(self, event: TraceEvent) -> bytes:
        body = event.to_dict()
        message = body.get("message")
        if isinstance(message, dict) and addr.SESSION in (message.get("to"), message.get("from")):
            body["message"] = _redact(message)
        # A copy of exactly its length: orjson's own result may keep spare capacity, and an event is
        # held for long (history, queues) by what it weighs.
        return bytes(memoryview(orjson.dumps(body, default=repr, option=orjson.OPT_NON_STR_KEYS)))


def _redact(message: dict[str, Any]) -> dict[str, Any]:
    """Session tokens (in an `open` and in its 200) and home secrets never leave the node through
    the feed: a monitor holding one could take over the runtime URL or the domain (TRANSPORT §2)."""
    body = message.get("body")
    if not isinstance(body, dict):
        return message
    body = dict(body)
    for secret in ("token", "secret"):
        if secret in body:
            body[secret] = _REDACTED
    value = body.get("value")
    if isinstance(value, dict) and "token" in value:
        body["value"] = {**value, "token": _REDACTED}
    return {**message, "body": body}


def _now(callback: Callable[[], None]) -> None:
    callback()
