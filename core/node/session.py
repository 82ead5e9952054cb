"""A link's session at a Message Node (TRANSPORT §2, §4): the node-side agent of one link."""

from __future__ import annotations

from enum import Enum
from typing import Any, Protocol, runtime_checkable

#: Close code and reason of the older link when a runtime URL opens a second one (TRANSPORT §2).
#: A runtime whose link closes this way does not reconnect: another instance holds its URL now.
TAKEOVER = (1000, "session taken over")


class Transport(Protocol):
    """What a node needs of a link: send one encoded envelope, close with a code."""

    def send(self, data: bytes) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


@runtime_checkable
class PacedTransport(Protocol):
    """A transport that says when it would rather not take more (the WebSocket one does).

    The monitor feed (TRANSPORT §4) only writes while `ready()`, which turns False once a turn's
    worth is written; it then asks `notify_ready()` and resumes from `on_ready`, so a slow monitor
    loses events instead of buffering without bound; `flush_now()` writes what it was given at once
    (the feed counts the time writing takes against its share of the loop). Routing ignores it.
    """

    on_ready: object

    def ready(self) -> bool: ...

    def notify_ready(self) -> None: ...

    def flush_now(self) -> None: ...


class SessionState(Enum):
    NEW = "new"          # link up, waiting for `open` (anything else: 400)
    OPEN = "open"        # bound to `runtime`
    MONITOR = "monitor"  # a console watching the node (TRANSPORT §4): sends nothing but `close`
    CLOSED = "closed"    # link gone; its node subscriptions ended with it


class Session:
    """One link's session.

    Invariants: `runtime` is set exactly when `state` is OPEN or was OPEN; `monitor_name` exactly
    when it is or was MONITOR. The state only moves NEW → OPEN | MONITOR → CLOSED, or NEW → CLOSED.
    """

    __slots__ = ("bad_frames", "held", "id", "monitor_name", "runtime", "state", "subscription_bytes",
                 "subscriptions", "transport", "visiting")

    def __init__(self, ident: str, transport: Transport) -> None:
        self.id = ident
        self.transport = transport
        self.state = SessionState.NEW
        self.runtime = ""
        self.visiting = False
        self.subscriptions: set[str] = set()
        self.subscription_bytes = 0   # what `subscriptions` weigh (core.node.subscription_manager.weight)
        self.monitor_name = ""
        self.bad_frames: list[float] = []
        #: frames waiting behind a refusal held for the cluster view (`core.node.cluster.catch_up`)
        self.held: list[bytes | str | dict[str, Any]] | None = None

    @property
    def live(self) -> bool:
        return self.state is SessionState.OPEN

    @property
    def name(self) -> str:
        """What logs call this session: its runtime URL, monitor name, or '-' before `open`."""
        return self.runtime or self.monitor_name or "-"

    def __repr__(self) -> str:
        return f"Session({self.id}, {self.name}, {self.state.value})"
