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
#: What a message event kept unencoded weighs beyond its envelope's bytes and its strings: its fields
#: (time, direction, size), the record holding them, and the encoding it becomes once read.
LAZY_WEIGHT = 512

#: Share of the event loop's time the feed may spend writing to monitors while it is busy, and the
#: longest it writes at once: monitors never slow routing by more than this (TRANSPORT §4).
PUMP_SHARE = 0.15
PUMP_SLICE = 0.004

Defer = Callable[[Callable[[], None]], object]
Later = Callable[[float, Callable[[], None]], object]

_REDACTED = "<redacted>"
_FRAME_HEAD = b'{"type":"event","from":' + orjson.dumps(addr.MONITOR) + b',"to":'


#: A message event kept unencoded: kind, time, where, direction, its other fields, the envelope's bytes.
_Parts = tuple[str, float, str, "str | None", dict[str, Any], bytes]


class _Event:
    """One trace event, encoded once: its `body` bytes and its weight.

    A message event whose envelope came with its wire bytes is kept as those bytes and its few other
    fields, and encoded only when a monitor first reads it: with no monitor keeping up, recording
    it costs no encoding at all (its weight is fixed when recorded and bounds both forms)."""

    __slots__ = ("_body", "_parts", "weight")

    def __init__(self, body: bytes | None, weight: int = 0,
                 parts: _Parts | None = None) -> None:
        self._body = body
        self._parts = parts
        self.weight = weight or len(body or b"") + EVENT_WEIGHT

    @property
    def body(self) -> bytes:
        if self._body is None:
            assert self._parts is not None
            self._body = _splice(*self._parts)
            self._parts = None
        return self._body


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
        self.history: deque[_Event] = deque()
        self.history_bytes = 0
        self.first = 0
        self.keep_history = replay > 0
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
        if self.keep_history:
            self._unsubscribe = monitor.subscribe(self._record)

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
            self._unsubscribe = self.monitor.subscribe(self._record)
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

    def _record(self, trace: TraceEvent) -> None:
        if trace.where != self.node_url:
            return
        wire, message = trace.wire, trace.message
        if wire is not None and message is not None and message.get("to") != addr.SESSION \
                and message.get("from") != addr.SESSION:
            raw = wire if isinstance(wire, bytes) else wire.encode()
            weight = len(raw) + LAZY_WEIGHT
            detail = trace.detail
            for value in detail.values():
                if isinstance(value, str):
                    weight += len(value)
            event = _Event(None, weight, (trace.kind, trace.ts, trace.where, trace.direction, detail, raw))
        else:
            event = _Event(self.encode_body(trace))
        history = self.history
        history.append(event)
        self.history_bytes += event.weight
        if self.history_bytes > self.max_bytes or len(history) > (
                max(self.replay, self.max_queue) if self.keep_history else self.max_queue):
            self._trim()
        if self._waiting:
            waiting, self._waiting = self._waiting, []
            for watcher in waiting:
                self._schedule(watcher)

    def _trim(self) -> None:
        history = self.history
        keep = max(self.replay, self.max_queue) if self.keep_history else self.max_queue
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

    def _write(self, watcher: _Watcher, transport: Any, paced: PacedTransport | None, history: deque[_Event]
               ) -> None:
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


def _splice(kind: str, ts: float, where: str, direction: str | None, detail: dict[str, Any], raw: bytes) -> bytes:
    """`encode_body` of a message event whose envelope is `raw` (its JSON as it crossed the wire):
    the same fields in the same order, the envelope's bytes put in as they are."""
    head = orjson.dumps({"kind": kind, "ts": ts, "where": where, "direction": direction})
    out = head[:-1] + b',"message":' + raw
    if detail:
        out += b"," + orjson.dumps(detail, default=repr, option=orjson.OPT_NON_STR_KEYS)[1:]
    else:
        out += b"}"
    return out


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
