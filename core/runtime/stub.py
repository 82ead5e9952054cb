"""The protocol stub of one domain: the runtime's link to that domain's Message Node.

Opened on demand (PROTOCOL §1.4 step 5), session `open` first (TRANSPORT §2), token kept for
reopens, messages queued (bounded) until the session is open.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING

import orjson

from core.net.link import LinkEnd
from core.protocol import address as addr
from core.protocol.message import Message, code_of, description_of, response

if TYPE_CHECKING:
    from core.runtime.runtime import Runtime

#: TRANSPORT §2: messages a runtime queues while its link is down (oldest dropped).
MAX_QUEUE = 1_000


class StubState(Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    DOWN = "down"          # closed or refused; reopened on the next message
    NO_NODE = "no node"    # the domain has no reachable node: requests get 404 "no route"


class Stub:
    def __init__(self, runtime: Runtime, domain: str) -> None:
        self.runtime = runtime
        self.domain = domain
        self.state = StubState.IDLE
        self.link: LinkEnd | None = None
        self.token: str | None = None
        self.visiting = addr.authority(runtime.url) != domain
        self.queue: deque[Message] = deque()
        self._opened: asyncio.Future[None] | None = None
        self._open_id = 0
        self.on_open: list[Callable[[Stub], None]] = []

    def send(self, msg: Message) -> None:
        if self.state is StubState.OPEN and self.link is not None:
            self.link.send(msg)
            return
        if self.state is StubState.NO_NODE:
            self._no_route(msg)
            return
        if len(self.queue) >= MAX_QUEUE:
            dropped = self.queue.popleft()
            self.runtime.monitor.emit("drop", self.runtime.url, reason="stub queue full", message=dropped)
        self.queue.append(msg)
        if self.state in (StubState.IDLE, StubState.DOWN):
            self.runtime.tasks.spawn(self.open(), f"open {self.domain}")

    async def open(self) -> None:
        """Connect and open the session; resolves when open (or the node is unreachable)."""
        if self._opened is not None and not self._opened.done():
            await asyncio.shield(self._opened)
            return
        self._opened = asyncio.get_running_loop().create_future()
        self.state = StubState.CONNECTING
        try:
            link = await self.runtime.connector(self.runtime.url, self.domain, self._frame, self._closed)
            if link is None:
                self.state = StubState.NO_NODE
                while self.queue:
                    self._no_route(self.queue.popleft())
                return
            self.link = link
            self._open_id = self.runtime.bus.next_id()
            body = {"token": self.token} if self.token else {}
            link.send({"id": self._open_id, "type": "open", "from": self.runtime.url, "to": addr.SESSION,
                       "body": body})
            await asyncio.shield(self._opened)
        finally:
            if not self._opened.done():
                self._opened.set_result(None)

    def _frame(self, data: bytes) -> None:
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.runtime.monitor.emit("drop", self.runtime.url, reason="frame is not JSON")
            return
        if (self.state is StubState.CONNECTING and isinstance(msg, dict) and msg.get("from") == addr.SESSION
                and msg.get("id") == self._open_id):
            self._session_answer(msg)
            return
        self.runtime.bus.ingress(msg)

    def _session_answer(self, msg: Message) -> None:
        if code_of(msg) == 200:
            value = msg.get("body", {}).get("value", {})
            self.token = value.get("token", self.token)
            self.state = StubState.OPEN
            self.runtime.monitor.emit("session", self.runtime.url, action="open", domain=self.domain,
                                      visiting=self.visiting)
            for callback in list(self.on_open):
                callback(self)
            while self.queue and self.state is StubState.OPEN and self.link is not None:
                self.link.send(self.queue.popleft())
        else:
            self.state = StubState.DOWN
            self.runtime.monitor.emit("session", self.runtime.url, action="refused", domain=self.domain,
                                      code=code_of(msg), description=description_of(msg))
            while self.queue:
                self._no_route(self.queue.popleft())
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)

    def _closed(self, code: int, reason: str) -> None:
        self.state = StubState.DOWN
        self.link = None
        self.runtime.monitor.emit("session", self.runtime.url, action="close", domain=self.domain, code=code,
                                  reason=reason)
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)

    def _no_route(self, msg: Message) -> None:
        self.runtime.monitor.emit("drop", self.runtime.url, reason=f"no node for {self.domain}", message=msg)
        if msg.get("type") not in ("response", "update", "delete"):
            self.runtime.bus.ingress(response(msg, 404, "no route"))

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
        self.link = None
        self.state = StubState.DOWN
