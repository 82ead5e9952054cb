"""Events handed to application callbacks (reTHINK Syncher: onNotification, onSubscription, onRead,
onExecute). Each decision is taken once; later calls are ignored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Answer = Callable[[int, str | None, Any], None]


@dataclass
class Decision:
    """Base of events an application answers: `accept()` or `reject(reason)`."""

    _answer: Answer = field(repr=False, compare=False)
    decided: bool = field(default=False, init=False)

    def _decide(self, code: int, reason: str | None, value: Any = None) -> None:
        if not self.decided:
            self.decided = True
            self._answer(code, reason, value)


@dataclass
class NotificationEvent(Decision):
    """`create` (invitation), `delegate`, `delete`, `unsubscribe` (revocation) for a hyperty."""

    type: str = ""
    url: str = ""
    from_: str = ""
    schema: str = ""
    value: dict[str, Any] = field(default_factory=dict)
    identity: Any = None

    def ack(self, code: int = 200) -> None:
        self._decide(code, None if code < 300 else "rejected")

    def accept(self) -> None:
        self._decide(200, None)

    def reject(self, reason: str = "rejected") -> None:
        self._decide(403, reason)


@dataclass
class SubscriptionEvent(Decision):
    """A subscribe (to accept or reject) or an unsubscribe (information only) at the reporter."""

    type: str = "subscribe"
    url: str = ""
    identity: Any = None
    preauthorised: bool = False

    def accept(self) -> None:
        self._decide(200, None)

    def reject(self, reason: str = "subscription rejected") -> None:
        self._decide(403, reason)


@dataclass
class ReadEvent(Decision):
    url: str = ""

    def accept(self) -> None:
        self._decide(200, None)

    def reject(self, reason: str = "unauthorized") -> None:
        self._decide(401, reason)


@dataclass
class ExecuteEvent(Decision):
    url: str = ""
    method: str = ""
    params: list[Any] = field(default_factory=list)

    def accept(self, value: Any = None) -> None:
        self._decide(200, None, value)

    def reject(self, reason: str = "unauthorized") -> None:
        self._decide(401, reason)
