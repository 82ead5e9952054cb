"""The monitor feed `mn:/monitor` of a Message Node (TRANSPORT §4).

A console that did not start the node opens a monitor session with the node's monitor token and
then receives the node's trace events, one `event` frame each. Routing never waits for a monitor:
each monitor has a bounded queue; events that do not fit are dropped and counted, and the count
rides in the `lost` field of the next event that does fit. The feed only writes to a monitor's
link while the link says it is `ready()` (`core.node.session.PacedTransport`).
"""

from __future__ import annotations

import hmac
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
#: Ours, beside those counts: bytes of envelopes the replay history, and each monitor's queue, may
#: hold. Events keep their envelopes, which may be up to a message limit each: ten thousand of them
#: must not become gigabytes.
MONITOR_BYTES = 64 << 20
#: What an event weighs beyond its envelope's `size`.
EVENT_WEIGHT = 256

Defer = Callable[[Callable[[], None]], object]

_REDACTED = "<redacted>"


def _weight(event: TraceEvent) -> int:
    size = event.detail.get("size", 0)
    return EVENT_WEIGHT + (size if isinstance(size, int) else 0)


class _Watcher:
    """One monitor session: its queue of (event, events lost just before it)."""

    __slots__ = ("bytes", "lost", "paced", "queue", "scheduled", "session", "to")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.to = session.monitor_name
        self.queue: deque[tuple[TraceEvent, int]] = deque()
        self.bytes = 0
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
        self.history: deque[TraceEvent] = deque()
        self.history_bytes = 0
        self.keep_history = replay > 0
        #: How the feed schedules a write after an event; a server sets the loop's `call_soon`, so
        #: encoding and writing happen after the routing step that emitted the event.
        self.defer: Defer = _now
        self._watchers: dict[str, _Watcher] = {}
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
        past = list(self.history)[-min(replay, self.max_queue):] if replay and self.keep_history else []
        for event in reversed(past):  # the newest first, as many as the queue's bytes allow
            weight = _weight(event)
            if watcher.bytes + weight > self.max_bytes:
                break
            watcher.queue.appendleft((event, 0))
            watcher.bytes += weight
        if watcher.paced is not None:
            watcher.paced.on_ready = lambda: self._schedule(watcher)
        self._schedule(watcher)
        return len(past)

    def detach(self, session: Session) -> None:
        watcher = self._watchers.pop(session.id, None)
        if watcher is not None:
            watcher.queue.clear()
            watcher.bytes = 0
        if not self._watchers and not self.keep_history and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def close(self) -> None:
        self._watchers.clear()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def queued(self, session: Session) -> int:
        watcher = self._watchers.get(session.id)
        return len(watcher.queue) if watcher else 0

    # events -------------------------------------------------------------------------------------

    def _record(self, event: TraceEvent) -> None:
        if event.where != self.node_url:
            return
        weight = _weight(event)
        if self.keep_history:
            history = self.history
            history.append(event)
            self.history_bytes += weight
            while len(history) > self.replay or self.history_bytes > self.max_bytes:
                self.history_bytes -= _weight(history.popleft())
        for watcher in self._watchers.values():
            if len(watcher.queue) >= self.max_queue or watcher.bytes + weight > self.max_bytes:
                watcher.lost += 1
                continue
            watcher.queue.append((event, watcher.lost))
            watcher.bytes += weight
            watcher.lost = 0
            self._schedule(watcher)

    def _schedule(self, watcher: _Watcher) -> None:
        if not watcher.scheduled:
            watcher.scheduled = True
            self.defer(lambda: self._pump(watcher))

    def _pump(self, watcher: _Watcher) -> None:
        watcher.scheduled = False
        if self._watchers.get(watcher.session.id) is not watcher:
            return
        transport, paced = watcher.session.transport, watcher.paced
        queue = watcher.queue
        while queue and (paced is None or paced.ready()):
            event, lost = queue.popleft()
            watcher.bytes -= _weight(event)
            transport.send(self.encode(watcher.to, event, lost))

    def encode(self, to: str, event: TraceEvent, lost: int = 0) -> bytes:
        body = event.to_dict()
        message = body.get("message")
        if isinstance(message, dict) and addr.SESSION in (message.get("to"), message.get("from")):
            body["message"] = _redact(message)
        if lost:
            body["lost"] = lost
        frame = {"type": "event", "from": addr.MONITOR, "to": to, "body": body}
        return orjson.dumps(frame, default=repr, option=orjson.OPT_NON_STR_KEYS)


def _redact(message: dict[str, Any]) -> dict[str, Any]:
    """Session tokens (in an `open` and in its 200) never leave the node through the feed: a monitor
    holding one could take over the runtime URL (TRANSPORT §2)."""
    body = message.get("body")
    if not isinstance(body, dict):
        return message
    body = dict(body)
    if "token" in body:
        body["token"] = _REDACTED
    value = body.get("value")
    if isinstance(value, dict) and "token" in value:
        body["value"] = {**value, "token": _REDACTED}
    return {**message, "body": body}


def _now(callback: Callable[[], None]) -> None:
    callback()
