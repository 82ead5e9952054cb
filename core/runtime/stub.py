"""The protocol stub of one domain: the runtime's link to that domain's Message Node.

Opened on demand (PROTOCOL §1.4 step 5), session `open` first (TRANSPORT §2). The stub keeps the
session token for every reopen. While the link is down it queues at most `MAX_QUEUE` messages
(oldest dropped); a queued request whose answer the bus has stopped waiting for (it answered 408,
PROTOCOL §2.5) is not sent late. A link lost after a session was open is reopened by itself with
exponential backoff; after each open the `on_open` callbacks run (the runtime re-sends its node
subscriptions), then, on a reopen, the objects observed through this node are resynced, and only
then is the queue flushed, so nothing queued reaches the node ahead of them.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any

import orjson

from core.net.link import LinkEnd
from core.node.session import TAKEOVER
from core.protocol import address as addr
from core.protocol.message import Message, code_of, description_of, response

if TYPE_CHECKING:
    from core.runtime.runtime import Runtime

#: TRANSPORT §2: messages a runtime queues while its link is down (oldest dropped).
MAX_QUEUE = 1_000
#: Reconnect backoff (`Timers.reconnect_first`, `Timers.reconnect_max`): the first retry after about
#: the first, doubling per failed attempt up to the max; each delay is jittered down by up to half so
#: that runtimes cut off together do not all come back in the same instant.


class StubState(Enum):
    IDLE = "idle"              # never opened
    CONNECTING = "connecting"  # link being made or `open` sent, answer pending
    OPEN = "open"              # session open: messages go straight to the link
    DOWN = "down"              # link lost or refused: queueing; reopened by backoff or the next message
    NO_NODE = "no node"        # the domain has no node: requests get 404 "no route"
    CLOSED = "closed"          # closed by the runtime: never reopened


class Stub:
    def __init__(self, runtime: Runtime, domain: str) -> None:
        self.runtime = runtime
        self.domain = domain
        self.state = StubState.IDLE
        self.link: LinkEnd | None = None
        self.token: str | None = None
        self.runtime_token: str | None = None   # told by the node to a reTHINK runtime (INTEROP §1)
        self.visiting = addr.authority(runtime.url) != domain
        #: (message, loop time after which the bus no longer waits for its answer; inf if none is due)
        self.queue: deque[tuple[Message, float]] = deque()
        self.on_open: list[Callable[[Stub], None]] = []
        self.attempts = 0       # failed opens since the last successful one
        self.opens = 0          # successful opens (1 + reconnections)
        #: (code, description) of the node's answer to the last `open`, when it refused it.
        self.refusal: tuple[int, str] | None = None
        self._opened: asyncio.Future[None] | None = None
        self._open_id = 0
        self._retry: asyncio.TimerHandle | None = None

    @property
    def reconnecting(self) -> bool:
        """A reopen is scheduled or under way."""
        return self._retry is not None or self.state is StubState.CONNECTING

    # sending ----------------------------------------------------------------------------------------

    def send(self, msg: Message) -> None:
        if self.state is StubState.OPEN and self.link is not None:
            try:
                self.link.send(msg)
                return
            except ConnectionError as exc:
                self._lost(1006, f"send failed: {exc}")
        if self.state is StubState.NO_NODE:
            self._no_route(msg)
            return
        if self.state is StubState.CLOSED:
            self._drop(msg, "runtime closed")
            return
        self._enqueue(msg)
        if self.state in (StubState.IDLE, StubState.DOWN) and self._retry is None:
            self.runtime.tasks.spawn(self.open(), f"open {self.domain}")

    def _enqueue(self, msg: Message) -> None:
        now = asyncio.get_running_loop().time()
        if len(self.queue) >= MAX_QUEUE:
            self._expire(now)
        if len(self.queue) >= MAX_QUEUE:
            self._drop(self.queue.popleft()[0], "stub queue full")
        due = now + self.runtime.timers.request if _expects_answer(msg) else math.inf
        self.queue.append((msg, due))

    def _expire(self, now: float) -> None:
        """Requests whose answer the bus already gave up on (408) are not worth sending."""
        kept = deque(entry for entry in self.queue if entry[1] > now)
        if len(kept) != len(self.queue):
            for msg, due in self.queue:
                if due <= now:
                    self._drop(msg, "request expired while the link was down")
            self.queue = kept

    def _flush(self) -> None:
        self._expire(asyncio.get_running_loop().time())
        while self.queue and self.state is StubState.OPEN and self.link is not None:
            msg, _ = self.queue.popleft()
            try:
                self.link.send(msg)
            except ConnectionError as exc:
                self.queue.appendleft((msg, _))
                self._lost(1006, f"send failed: {exc}")

    # opening ----------------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and open the session; resolves when open, refused, or the node is unreachable."""
        if self._opened is not None and not self._opened.done():
            await asyncio.shield(self._opened)
            return
        if self.state in (StubState.OPEN, StubState.CLOSED):
            return
        self._cancel_retry()
        self._opened = asyncio.get_running_loop().create_future()
        self.state = StubState.CONNECTING
        try:
            try:
                link = await self.runtime.connector(self.runtime.url, self.domain, self._frame, self._closed)
            except (ConnectionError, OSError) as exc:
                self._failed(f"connect failed: {exc}")
                return
            if self.state is StubState.CLOSED:
                if link is not None:
                    link.close()
                return
            if link is None:
                self.state = StubState.NO_NODE
                while self.queue:
                    self._no_route(self.queue.popleft()[0])
                return
            self.link = link
            self._open_id = self.runtime.bus.next_id()
            link.send(self._open_message())
            try:
                await asyncio.wait_for(asyncio.shield(self._opened), self.runtime.timers.request)
            except TimeoutError:
                self._failed("no answer to open")
        finally:
            if not self._opened.done():
                self._opened.set_result(None)

    def _open_message(self) -> Message:
        """`open` with the session token; once a node has told it a `runtimeToken` (it does so for a
        reTHINK runtime), `re-open` from `<runtimeURL>/<runtimeToken>`, as reTHINK's stub (INTEROP §1)."""
        if self.runtime_token and self.opens:
            return {"id": self._open_id, "type": "re-open", "from": f"{self.runtime.url}/{self.runtime_token}",
                    "to": addr.SESSION}
        body = {"token": self.token} if self.token else {}
        if not self.visiting and self.runtime.home_secret:
            body["secret"] = self.runtime.home_secret   # the node's home secret, if it has one (TRANSPORT §2)
        return {"id": self._open_id, "type": "open", "from": self.runtime.url, "to": addr.SESSION, "body": body}

    def _frame(self, data: bytes | Message) -> None:
        if isinstance(data, dict):   # decoded by the embedded lab's link (read-only when shared)
            msg: Any = data
        else:
            try:
                msg = orjson.loads(data)
            except orjson.JSONDecodeError:
                self.runtime.monitor.emit("drop", self.runtime.url, reason="frame is not JSON")
                return
        if (self.state is StubState.CONNECTING and isinstance(msg, dict) and msg.get("from") == addr.SESSION
                and msg.get("id") == self._open_id):
            self._session_answer(msg)
            return
        self.runtime.ingress(msg, self.domain)

    def _session_answer(self, msg: Message) -> None:
        if code_of(msg) == 200:
            value = msg.get("body", {}).get("value", {})
            self.token = value.get("token", self.token)
            self.refusal = None
            self.runtime_token = msg.get("body", {}).get("runtimeToken", self.runtime_token)
            self.state = StubState.OPEN
            self.attempts = 0
            self.opens += 1
            self.runtime.monitor.emit("session", self.runtime.url, action="open", domain=self.domain,
                                      visiting=self.visiting, reopen=self.opens > 1)
            for callback in list(self.on_open):
                callback(self)
            if self.opens > 1:
                self._resync_observed()
            self._flush()
        else:
            code, description = code_of(msg), description_of(msg)
            self.refusal = (code, description)
            self.state = StubState.DOWN
            self.runtime.monitor.emit("session", self.runtime.url, action="refused", domain=self.domain,
                                      code=code, description=description)
            self._drop_link()
            while self.queue:
                queued = self.queue.popleft()[0]
                self._drop(queued, f"session refused: {code} {description}")
                if _expects_answer(queued):
                    self.runtime.bus.ingress(response(queued, code, description), via=self.domain)
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)

    def _resync_observed(self) -> None:
        """TRANSPORT §2: after a reopen, once the node subscriptions are re-sent (by `on_open`), each
        object observed through this node is resynced (PROTOCOL §5.4): what was published while the
        link was down never reaches this runtime, and no later update may come to reveal the gap.
        The read leaves after the subscriptions on the same link, so nothing falls between them."""
        for hyperty in list(self.runtime.hyperties.values()):
            for observer in list(hyperty.syncher.observers.values()):
                if not observer.closed and addr.authority(observer.url) == self.domain:
                    observer.resync_soon()

    # losing the link --------------------------------------------------------------------------------

    def _closed(self, code: int, reason: str) -> None:
        """The link ended without the runtime asking (TRANSPORT §2: a lost link)."""
        if self.state is StubState.CLOSED:
            return
        self.link = None
        self._lost(code, reason)

    def _lost(self, code: int, reason: str) -> None:
        was_open = self.state is StubState.OPEN
        if not was_open:
            self.attempts += 1  # lost while opening: back off as from a failed connect
        self._drop_link()
        self.state = StubState.DOWN
        self.runtime.monitor.emit("session", self.runtime.url, action="close", domain=self.domain, code=code,
                                  reason=reason)
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)
        if (code, reason) == TAKEOVER:
            return  # another instance of this runtime URL holds the session now; do not fight it
        if was_open or self.opens:
            self._schedule_retry()

    def _failed(self, why: str) -> None:
        self._drop_link()
        self.state = StubState.DOWN
        self.attempts += 1
        self.runtime.monitor.emit("session", self.runtime.url, action="unreachable", domain=self.domain,
                                  reason=why, attempt=self.attempts)
        if self.opens or self.queue:
            self._schedule_retry()

    def _schedule_retry(self) -> None:
        if self._retry is not None or self.state is StubState.CLOSED:
            return
        timers = self.runtime.timers
        delay = min(timers.reconnect_max, timers.reconnect_first * 2 ** min(self.attempts, 30))
        delay *= random.uniform(0.5, 1.0)
        loop = asyncio.get_running_loop()
        self._retry = loop.call_later(delay, self._reconnect, loop)
        self.runtime.monitor.emit("session", self.runtime.url, action="reconnecting", domain=self.domain,
                                  delay=round(delay, 3), attempt=self.attempts + 1)

    def _reconnect(self, loop: asyncio.AbstractEventLoop) -> None:
        self._retry = None
        if self.state is not StubState.DOWN:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a qasync timer fired in a Qt event turn outside the loop: try again shortly
            self._retry = loop.call_later(self.runtime.timers.reconnect_first, self._reconnect, loop)
            return
        self.runtime.tasks.spawn(self.open(), f"reopen {self.domain}")

    def _cancel_retry(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    def _drop_link(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            link.close()

    # answers and drops ------------------------------------------------------------------------------

    def _no_route(self, msg: Message) -> None:
        self._drop(msg, f"no node for {self.domain}")
        if _expects_answer(msg):
            self.runtime.bus.ingress(response(msg, 404, "no route"), via=self.domain)

    def _drop(self, msg: Message, reason: str) -> None:
        if self.runtime.monitor.active:
            self.runtime.monitor.emit("drop", self.runtime.url, reason=reason, message=msg)

    def close(self) -> None:
        """Closed by the runtime: the link goes, queued messages are dropped, no reconnection."""
        self._cancel_retry()
        self._drop_link()
        self.state = StubState.CLOSED
        self.queue.clear()
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)


def _expects_answer(msg: Message) -> bool:
    """Requests get answers; responses and change publications on `O/changes` and `O/children/n`
    (PROTOCOL §3.3, §3.7: updates and deletes there are never answered) do not."""
    mtype = msg.get("type")
    if mtype == "response":
        return False
    if mtype in ("update", "delete"):
        to = str(msg.get("to", ""))
        return not (to.endswith(addr.CHANGES) or addr.child_name(to))
    return True
