"""A runtime's session at a Message Node (TRANSPORT §2): the node-side agent of one link."""

from __future__ import annotations

from enum import Enum
from typing import Protocol


class Transport(Protocol):
    """What a node needs of a link: send one encoded envelope, close with a code."""

    def send(self, data: bytes) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class SessionState(Enum):
    NEW = "new"          # link up, waiting for `open` (anything else: 400)
    OPEN = "open"        # bound to `runtime`
    CLOSED = "closed"    # link gone; its node subscriptions ended with it


class Session:
    """One link's session. Invariant: `runtime` is set exactly when `state` is OPEN or was OPEN."""

    def __init__(self, ident: str, transport: Transport) -> None:
        self.id = ident
        self.transport = transport
        self.state = SessionState.NEW
        self.runtime = ""
        self.visiting = False
        self.subscriptions: set[str] = set()
        self.monitor_name = ""  # set for monitor sessions (TRANSPORT §4)
        self.bad_frames: list[float] = []

    @property
    def live(self) -> bool:
        return self.state is SessionState.OPEN

    def __repr__(self) -> str:
        return f"Session({self.id}, {self.runtime or self.monitor_name or '-'}, {self.state.value})"
