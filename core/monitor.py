"""The trace: typed events every component emits (ARCHITECTURE `monitor.py`).

Emitting never blocks: subscribers are called synchronously and must only record the event (the
console queues it and flushes on a timer). A subscriber that raises is removed and reported once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Event kinds of ARCHITECTURE (`error` is ours: an exception caught at a component boundary).
KINDS = ("message", "listener", "subscription", "object", "session", "ownership", "drop", "error")


@dataclass(slots=True)
class TraceEvent:
    kind: str
    where: str
    ts: float
    direction: str | None = None
    message: dict[str, Any] | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    #: `message` as it is encoded on the wire, when the emitter has it (a node's monitor feed keeps
    #: these bytes instead of encoding the message again); not part of the event's value.
    wire: bytes | str | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "ts": self.ts, "where": self.where}
        if self.direction is not None:
            d["direction"] = self.direction
        if self.message is not None:
            d["message"] = self.message
        d.update(self.detail)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TraceEvent:
        rest = {k: v for k, v in d.items() if k not in ("kind", "ts", "where", "direction", "message")}
        return cls(str(d.get("kind", "")), str(d.get("where", "")), float(d.get("ts", 0.0)),
                   d.get("direction"), d.get("message"), rest)


Subscriber = Callable[[TraceEvent], None]


class Monitor:
    """Fan-out of trace events to subscribers; `active` is False while nobody listens."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self.active = False
        #: subscribers it has had: unchanged and inactive since a moment means nothing was traced since
        self.subscribed = 0
        self.clock: Callable[[], float] = time.time

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Deliver every later event to `callback`; returns the function that stops it."""
        self._subscribers.append(callback)
        self.active = True
        self.subscribed += 1

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)
            self.active = bool(self._subscribers)

        return unsubscribe

    def mark(self) -> int | None:
        """A mark for `untraced_since` (None while somebody listens)."""
        return None if self.active else self.subscribed

    def untraced_since(self, mark: int | None) -> bool:
        """Nothing was traced since `mark` (nobody listened then, nor at any time after)."""
        return mark is not None and not self.active and self.subscribed == mark

    def sole(self, callback: Subscriber) -> bool:
        """`callback` (the very object subscribed) is the only subscriber."""
        subscribers = self._subscribers
        return len(subscribers) == 1 and subscribers[0] is callback

    def publish(self, event: TraceEvent) -> None:
        """Deliver an event made elsewhere (another node of a clustered domain, issue 15)."""
        for callback in tuple(self._subscribers):
            try:
                callback(event)
            except Exception as exc:  # as in emit
                self._subscribers.remove(callback)
                self.active = bool(self._subscribers)
                self.emit("error", event.where, error=f"monitor subscriber removed: {exc!r}")

    def emit(self, kind: str, where: str, *, direction: str | None = None,
             message: dict[str, Any] | None = None, wire: bytes | str | None = None, **detail: Any) -> None:
        """`wire`: `message` as encoded on the wire (JSON of exactly that object), when at hand."""
        if not self.active:
            return
        event = TraceEvent(kind, where, self.clock(), direction, message, detail, wire)
        for callback in tuple(self._subscribers):
            try:
                callback(event)
            except Exception as exc:  # a broken observer of the trace must not break the engine
                self._subscribers.remove(callback)
                self.active = bool(self._subscribers)
                self.emit("error", where, error=f"monitor subscriber removed: {exc!r}")
