"""Routing between the Message Nodes of one domain over NATS subjects (issue 15).

Two kinds of subject carry envelopes between nodes (`core.node.cluster.names`):

* a runtime's subject, subscribed by the node that holds the runtime's live session: messages to
  the addresses that runtime owns (PROTOCOL §1.5 rules 1–3), and the takeover notice when the
  runtime opens a session on another node (TRANSPORT §2: the older link is closed);
* an address's subject, subscribed by every node that has at least one local node subscription to
  that address (rule 4): a publication reaches each such node once, however many of its sessions
  subscribed, and each node fans it out to its own sessions.

A message the sender's node cannot deliver itself goes out with a reply inbox. The node that
delivers it acknowledges; when no node has interest, the NATS server answers the inbox with its
"no responders" status at once, and the sender's node gives the answer a single node would have
given (404 "no route" or "unknown object"). Publications (update, delete) and responses are never
answered (PROTOCOL §1.5), so they go out without an inbox.

Outgoing messages keep their order: one pump publishes them in the order the node routed them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from core.node.cluster.names import Names
from core.protocol import address as addr
from core.tasks import TaskSet

log = logging.getLogger("syncscope.cluster")

#: Header naming the node a message comes from; the takeover notice carries `Ss-Control`.
ORIGIN = "Ss-Origin"
CONTROL = "Ss-Control"
#: Header of the copy of an `O/children/<name>` message sent to `O/children/` subscribers (INTEROP §2).
PREFIX = "Ss-Prefix"
#: Seconds a sender waits for a delivering node's acknowledgement before it stops waiting (the
#: runtime's own request timer then decides, as for a message lost on a link).
ACK_WAIT = 10.0


class LocalDelivery(Protocol):
    """What the router needs of its node: deliver what came from another node to local sessions."""

    def deliver_to_runtime(self, runtime: str, data: bytes) -> bool: ...

    def deliver_to_address(self, address: str, data: bytes, prefix_only: bool) -> bool: ...

    def taken_over(self, runtime: str) -> None: ...


class ClusterRouter:
    def __init__(self, nc: NATS, names: Names, node_id: str, local: LocalDelivery, tasks: TaskSet) -> None:
        self.nc = nc
        self.names = names
        self.node_id = node_id
        self.local = local
        self.tasks = tasks
        self._runtime_subs: dict[str, Subscription] = {}
        self._address_subs: dict[str, Subscription] = {}
        self._out: deque[tuple[str, bytes, dict[str, str], Callable[[], None] | None]] = deque()
        self._wake = asyncio.Event()
        self._pending: dict[str, tuple[Callable[[], None], asyncio.TimerHandle]] = {}
        self._ids = itertools.count(1)
        self._inbox = ""
        self.stats = {"published": 0, "received": 0, "unrouted": 0}

    async def start(self) -> None:
        self._inbox = self.nc.new_inbox()
        await self.nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)
        self.tasks.spawn(self._pump(), "cluster pump")

    # what the node tells the router ---------------------------------------------------------------

    def runtime_opened(self, runtime: str) -> None:
        """The runtime's live session is here now: take its subject, close any older session elsewhere."""
        subject = self.names.runtime(runtime)
        self._queue(subject, b"", {CONTROL: "takeover"}, None)
        if runtime not in self._runtime_subs:
            self.tasks.spawn(self._subscribe_runtime(runtime, subject), "cluster subscribe runtime")

    def runtime_closed(self, runtime: str) -> None:
        sub = self._runtime_subs.pop(runtime, None)
        if sub is not None:
            self.tasks.spawn(sub.unsubscribe(), "cluster unsubscribe runtime")

    def interest(self, address: str, on: bool) -> None:
        """The first local node subscription to `address` appeared (`on`), or the last one went."""
        if on and address not in self._address_subs:
            self._address_subs[address] = None  # type: ignore[assignment]  # reserved until subscribed
            self.tasks.spawn(self._subscribe_address(address), "cluster subscribe address")
        elif not on:
            sub = self._address_subs.pop(address, None)
            if sub is not None:
                self.tasks.spawn(sub.unsubscribe(), "cluster unsubscribe address")

    def to_runtime(self, runtime: str, data: bytes, unrouted: Callable[[], None] | None) -> None:
        """Send to the node holding `runtime`'s session; `unrouted()` runs when no node holds it."""
        self._queue(self.names.runtime(runtime), data, {}, unrouted)

    def to_address(self, address: str, data: bytes, unrouted: Callable[[], None] | None) -> None:
        """Send to every other node with subscribers of `address`; `unrouted()` runs when none has."""
        self._queue(self.names.address(address), data, {}, unrouted)
        channel = addr.children_prefix(address) if addr.CHILDREN in address else None
        if channel and channel != address:
            self._queue(self.names.address(channel), data, {PREFIX: address}, None)

    # the pump and acknowledgements --------------------------------------------------------------------

    def _queue(self, subject: str, data: bytes, headers: dict[str, str],
               unrouted: Callable[[], None] | None) -> None:
        headers[ORIGIN] = self.node_id
        self._out.append((subject, data, headers, unrouted))
        self._wake.set()

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._out:
                subject, data, headers, unrouted = self._out.popleft()
                reply = ""
                if unrouted is not None:
                    reply = f"{self._inbox}.{next(self._ids)}"
                    self._pending[reply] = (unrouted, loop.call_later(ACK_WAIT, self._pending.pop, reply, None))
                try:
                    await self.nc.publish(subject, data, reply=reply, headers=headers)
                    self.stats["published"] += 1
                except Exception as exc:  # NATS away: as a message lost on a link
                    log.warning("cluster: cannot publish: %s", type(exc).__name__)
                    self._settle(reply, delivered=False)

    async def _on_ack(self, msg: Msg) -> None:
        status = (msg.headers or {}).get("Status")
        self._settle(msg.subject, delivered=status is None and msg.data == b"1")

    def _settle(self, reply: str, delivered: bool) -> None:
        entry = self._pending.pop(reply, None) if reply else None
        if entry is None:
            return
        unrouted, timer = entry
        timer.cancel()
        if not delivered:
            self.stats["unrouted"] += 1
            unrouted()

    # what comes from other nodes ------------------------------------------------------------------------

    async def _subscribe_runtime(self, runtime: str, subject: str) -> None:
        async def on_message(msg: Msg) -> None:
            headers = msg.headers or {}
            if headers.get(ORIGIN) == self.node_id:
                return
            if headers.get(CONTROL) == "takeover":
                self.local.taken_over(runtime)
                return
            self.stats["received"] += 1
            delivered = self.local.deliver_to_runtime(runtime, msg.data)
            if msg.reply:
                await self.nc.publish(msg.reply, b"1" if delivered else b"0")

        self._runtime_subs[runtime] = await self.nc.subscribe(subject, cb=on_message)

    async def _subscribe_address(self, address: str) -> None:
        async def on_message(msg: Msg) -> None:
            headers = msg.headers or {}
            if headers.get(ORIGIN) == self.node_id:
                return
            self.stats["received"] += 1
            prefix_of = headers.get(PREFIX)
            delivered = self.local.deliver_to_address(prefix_of or address, msg.data, prefix_only=bool(prefix_of))
            if msg.reply:
                await self.nc.publish(msg.reply, b"1" if delivered else b"0")

        sub = await self.nc.subscribe(self.names.address(address), cb=on_message)
        if address in self._address_subs:
            self._address_subs[address] = sub
        else:  # interest ended while subscribing
            await sub.unsubscribe()

    def runtimes(self) -> list[str]:
        return sorted(self._runtime_subs)

    def addresses(self) -> list[str]:
        return sorted(self._address_subs)

    def describe(self) -> dict[str, Any]:
        return {"node": self.node_id, "runtimes": len(self._runtime_subs), "addresses": len(self._address_subs),
                **self.stats}
