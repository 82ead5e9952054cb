"""What a runtime needs of a link to a Message Node (the in-memory link and WebSocket both)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from core.protocol.message import Message


class LinkEnd(Protocol):
    """The runtime's end of a link: send an envelope (serialised on the way), close it."""

    def send(self, msg: Message) -> None: ...

    def close(self) -> None: ...


#: Called with each frame received; the embedded lab may hand over a publication it decoded once for
#: all its receivers instead, read-only (`core.net.memory.InFlight.received`).
FrameHandler = Callable[[bytes | Message], None]
CloseHandler = Callable[[int, str], None]
#: Opens a link to the node of a domain; returns None when the domain has no node (404 "no route"),
#: raises ConnectionError when its node cannot be reached now (the stub retries with backoff).
Connector = Callable[[str, str, FrameHandler, CloseHandler], Awaitable["LinkEnd | None"]]
