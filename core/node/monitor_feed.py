"""The monitor feed `mn:/monitor` of a Message Node (TRANSPORT §4).

A console that did not start the node opens a monitor session with the node's monitor token and
then receives the node's trace events, one `event` frame each. Routing never waits for a monitor:
each event is encoded once, when it happens, for the replay history and every monitor alike, and
weighs the bytes of its encoding (addresses, envelopes, everything it carries). Each monitor has a
queue bounded in events, and all queues together hold at most `max_bytes` of distinct events;
what does not fit is dropped and counted, and the count rides in the `lost` field of the next
event that does fit. The feed only writes to a monitor's link while the link says it is `ready()`
(at most a turn's worth, `core.node.session.PacedTransport`), then waits for its `on_ready`.
"""

from __future__ import annotations

import hmac
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from core.monitor import Monitor, TraceEvent
from core.node.session import PacedTransport, Session
from core.protocol import address as addr

#: TRANSPORT §5: events queued per monitor before it loses events, and events kept for `replay`.
MAX_MONITOR_QUEUE = 10_000
REPLAY = 10_000
#: TRANSPORT §5: bytes the replay history may hold, and, apart, all monitor queues together (an
#: event queued for many monitors counts once: it is one encoding).
MONITOR_BYTES = 64 << 20
#: What an event weighs beyond its encoding: the frame around it and its bookkeeping.
EVENT_WEIGHT = 128

Defer = Callable[[Callable[[], None]], object]

_REDACTED = "<redacted>"
_FRAME_HEAD = b'{"type":"event","from":' + orjson.dumps(addr.MONITOR) + b',"to":'


class _Event:
    """One trace event, encoded once: its `body` bytes, weight, and the monitor queues holding it."""

    __slots__ = ("body", "queued", "seq", "weight")

    def __init__(self, seq: int, body: bytes) -> None:
        self.seq = seq
        self.body = body
        self.weight = len(body) + EVENT_WEIGHT
        self.queued = 0


class _Watcher:
    """One monitor session: its queue of (event, events lost just before it)."""

    __slots__ = ("head", "lost", "paced", "queue", "scheduled", "session", "to")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.to = session.monitor_name
        self.head = _FRAME_HEAD + orjson.dumps(self.to) + b',"body":'
        self.queue: deque[tuple[_Event, int]] = deque()
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
        self.history: deque[_Event] = deque()
        self.history_bytes = 0
        self.queued_bytes = 0   # distinct events held by monitor queues
        self.keep_history = replay > 0
        #: How the feed schedules a write after an event; a server sets the loop's `call_soon`, so
        #: writing happens after the routing step that emitted the event.
        self.defer: Defer = _now
        self._watchers: dict[str, _Watcher] = {}
        self._seq = itertools.count()
        self._unsubscribe: Callable[[], None] | None = None
        if self.keep_history:
            self._unsubscribe = monitor.subscribe(self._record)

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
        watcher = self._watchers[session.id] = _Watcher(session)
        if self._unsubscribe is None:
            self._unsubscribe = self.monitor.subscribe(self._record)
        replayed = 0
        if replay and self.keep_history:
            room = self.max_bytes - self.queued_bytes
            for event in reversed(self.history):  # the newest first, as many as the queues' bytes allow
                if replayed >= min(replay, self.max_queue):
                    break
                if not event.queued:
                    if event.weight > room:
                        break
                    room -= event.weight
                self._hold(event)
                watcher.queue.appendleft((event, 0))
                replayed += 1
        if watcher.paced is not None:
            watcher.paced.on_ready = lambda: self._schedule(watcher)
        self._schedule(watcher)
        return replayed

    def detach(self, session: Session) -> None:
        watcher = self._watchers.pop(session.id, None)
        if watcher is not None:
            for event, _lost in watcher.queue:
                self._release(event)
            watcher.queue.clear()
        if not self._watchers and not self.keep_history and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def close(self) -> None:
        for watcher in self._watchers.values():
            for event, _lost in watcher.queue:
                self._release(event)
        self._watchers.clear()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def queued(self, session: Session) -> int:
        watcher = self._watchers.get(session.id)
        return len(watcher.queue) if watcher else 0

    # events -------------------------------------------------------------------------------------

    def _record(self, trace: TraceEvent) -> None:
        if trace.where != self.node_url:
            return
        event = _Event(next(self._seq), self.encode_body(trace))
        weight = event.weight
        if self.keep_history:
            history = self.history
            history.append(event)
            self.history_bytes += weight
            while len(history) > self.replay or self.history_bytes > self.max_bytes:
                self.history_bytes -= history.popleft().weight
        fits = weight <= self.max_bytes
        while fits and self.queued_bytes + weight > self.max_bytes and self._evict_oldest():
            pass   # the slowest monitors lose their oldest events, and the others nothing
        for watcher in self._watchers.values():
            if not fits or len(watcher.queue) >= self.max_queue:
                watcher.lost += 1
                continue
            self._hold(event)
            watcher.queue.append((event, watcher.lost))
            watcher.lost = 0
            self._schedule(watcher)

    def _hold(self, event: _Event) -> None:
        if not event.queued:
            self.queued_bytes += event.weight
        event.queued += 1

    def _release(self, event: _Event) -> None:
        event.queued -= 1
        if not event.queued:
            self.queued_bytes -= event.weight

    def _evict_oldest(self) -> bool:
        """Drop the oldest event any queue holds from every queue holding it (queues are in event
        order, so it is at the front of each); those monitors are told with their next event."""
        fronts = [w for w in self._watchers.values() if w.queue]
        if not fronts:
            return False
        oldest = min(w.queue[0][0].seq for w in fronts)
        for watcher in fronts:
            queue = watcher.queue
            if queue[0][0].seq == oldest:
                event, lost = queue.popleft()
                self._release(event)
                if queue:
                    queue[0] = (queue[0][0], queue[0][1] + lost + 1)
                else:
                    watcher.lost += lost + 1
        return True

    def _schedule(self, watcher: _Watcher) -> None:
        if not watcher.scheduled:
            watcher.scheduled = True
            self.defer(lambda: self._pump(watcher))

    def _pump(self, watcher: _Watcher) -> None:
        """Write what the link takes this turn; the rest waits for its `on_ready`."""
        watcher.scheduled = False
        if self._watchers.get(watcher.session.id) is not watcher:
            return
        transport, paced = watcher.session.transport, watcher.paced
        queue = watcher.queue
        while queue and (paced is None or paced.ready()):
            event, lost = queue.popleft()
            self._release(event)
            transport.send(self.frame(watcher, event.body, lost))
        if queue and paced is not None:
            paced.notify_ready()

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
        # A copy of exactly its length: orjson's own result keeps the capacity it grew to (often many
        # times the length), and an event is held for long (history, queues) by what it weighs.
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
