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
given (404 "no route" or "unknown object"). A node whose interest ends keeps the subscription a
moment and then drains it, so a message on its way is still answered: "0", which gives the same 404
unless another node delivers it (DECISIONS 87). A node whose view of the domain lags behind a delete
done through another node may send a request for the deleted object to the runtime that held it;
that runtime's node knows, and answers "gone", for the sender's node to give the 404 "unknown
object" a single node would (the runtime's own answer, from an address it no longer owns, would be
refused: DECISIONS 88). Publications (update, delete) and responses are never answered (PROTOCOL
§1.5), so they go out without an inbox.

Outgoing messages keep their order: one pump publishes them in the order the node routed them.
"""

from __future__ import annotations

import asyncio
import enum
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
#: Seconds a sender waits, after one node answered that it cannot deliver, for another node's
#: acknowledgement (several nodes may have had subscribers of an address) before it answers 404.
REFUSAL_GRACE = 0.2
#: Seconds a node keeps a subscription after its interest ended. NATS routes to a subscription
#: until its server has read the unsubscription, and a message it matched just before may reach the
#: client after (the server matches and enqueues apart from the unsubscription): the client, which
#: forgot the subscription, drops it unanswered. Kept a moment, the subscription answers "0" to the
#: messages sent as interest ended, which are the likely ones (a read right after a delete).
LINGER = 2.0


class Delivery(enum.Enum):
    """What a node acknowledges to a message that came with a reply inbox (the payload)."""

    DELIVERED = b"1"
    #: no session or subscribers here (any more): another node may still deliver it
    REFUSED = b"0"
    #: the runtime's session is here, but it deallocated the address the message went to, through this node
    GONE = b"gone"


class LocalDelivery(Protocol):
    """What the router needs of its node: deliver what came from another node to local sessions."""

    def deliver_to_runtime(self, runtime: str, data: bytes) -> Delivery: ...

    def deliver_to_address(self, address: str, data: bytes, prefix_only: bool) -> bool: ...

    def taken_over(self, runtime: str) -> None: ...


async def _end(sub: Subscription) -> None:
    """End a subscription without losing what NATS already routed to it: a message in flight when
    interest ends is still acknowledged ("0": its sender gives the 404 a single node would), never
    dropped unacknowledged (`unsubscribe` discards it, and its sender's request times out)."""
    try:
        await sub.drain()  # type: ignore[no-untyped-call]  # unannotated in nats-py
    except Exception as exc:  # NATS away: the unsubscription waits in the client for the reconnection
        log.info("cluster: subscription ended without NATS: %s", type(exc).__name__)


#: What `dict.get` gives for a key that is not there (None means a subscription being made).
_ABSENT: Any = object()
#: Hands what came on a runtime's or an address's subject (the key) to the node: whether it was delivered.
_Deliver = Callable[[str, Msg, dict[str, str]], Delivery]
#: What runs when a message sent with a reply inbox was not delivered, and when its address is gone.
_Unrouted = Callable[[], None]


class ClusterRouter:
    def __init__(self, nc: NATS, names: Names, node_id: str, local: LocalDelivery, tasks: TaskSet) -> None:
        self.nc = nc
        self.names = names
        self.node_id = node_id
        self.local = local
        self.tasks = tasks
        # a runtime's or address's subscription; None while it is being made
        self._runtime_subs: dict[str, Subscription | None] = {}
        self._address_subs: dict[str, Subscription | None] = {}
        # subscriptions kept a moment after their interest ended, by subject (`LINGER`)
        self._lingering: dict[str, tuple[Subscription, asyncio.TimerHandle]] = {}
        self._out: deque[tuple[str, bytes, dict[str, str], _Unrouted | None, _Unrouted | None]] = deque()
        self._wake = asyncio.Event()
        self._pending: dict[str, tuple[_Unrouted, _Unrouted | None, asyncio.TimerHandle]] = {}
        self._ids = itertools.count(1)
        self._inbox = ""
        self.stats = {"published": 0, "received": 0, "unrouted": 0}
        self.refusal_grace = REFUSAL_GRACE

    async def start(self) -> None:
        self._inbox = self.nc.new_inbox()
        await self.nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)
        self.tasks.spawn(self._pump(), "cluster pump")

    # what the node tells the router ---------------------------------------------------------------

    def runtime_opened(self, runtime: str) -> None:
        """The runtime's live session is here now: take its subject, close any older session elsewhere."""
        subject = self.names.runtime(runtime)
        self._queue(subject, b"", {CONTROL: "takeover"}, None, None)
        if runtime not in self._runtime_subs:
            self._hold(self._runtime_subs, runtime, subject, self._to_session)

    def runtime_closed(self, runtime: str) -> None:
        self._let_go(self._runtime_subs, runtime, self.names.runtime)

    def interest(self, address: str, on: bool) -> None:
        """The first local node subscription to `address` appeared (`on`), or the last one went."""
        if on:
            if address not in self._address_subs:   # (its subject is a digest: made only when needed)
                self._hold(self._address_subs, address, self.names.address(address), self._to_subscribers)
        else:
            self._let_go(self._address_subs, address, self.names.address)

    # taking and ending interest ------------------------------------------------------------------------

    def _hold(self, subs: dict[str, Subscription | None], key: str, subject: str, deliver: _Deliver) -> None:
        """Subscribe `subject` for `subs[key]` (not held yet): its lingering subscription taken back, or a
        new one, reserved (None) until it is made."""
        subs[key] = self._reclaim(subject)
        if subs[key] is None:
            self.tasks.spawn(self._subscribe(subs, key, subject, deliver), "cluster subscribe")

    def _let_go(self, subs: dict[str, Subscription | None], key: str, subject_of: Callable[[str], str]) -> None:
        if key in subs:
            self._release(subject_of(key), subs.pop(key))

    def _release(self, subject: str, sub: Subscription | None) -> None:
        """Interest in `subject` ended: keep its subscription `LINGER` seconds, answering "0" to what
        still comes, then drain it (None: still being made; its maker releases it once made)."""
        if sub is None:
            return
        if subject in self._lingering:   # one lingers already (made twice as interest came and went)
            self.tasks.spawn(_end(sub), "cluster unsubscribe")
            return
        handle = asyncio.get_running_loop().call_later(LINGER, self._unsubscribe, subject)
        self._lingering[subject] = (sub, handle)

    def _reclaim(self, subject: str) -> Subscription | None:
        """The lingering subscription of `subject`, taken back by new interest (no NATS round trip)."""
        entry = self._lingering.pop(subject, None)
        if entry is None:
            return None
        entry[1].cancel()
        return entry[0]

    def _unsubscribe(self, subject: str) -> None:
        sub = self._reclaim(subject)
        if sub is not None:
            self.tasks.spawn(_end(sub), "cluster unsubscribe")

    def close(self) -> None:
        """Forget the lingering subscriptions (the connection's drain ends them)."""
        for _sub, handle in self._lingering.values():
            handle.cancel()
        self._lingering.clear()

    def to_runtime(self, runtime: str, data: bytes, unrouted: _Unrouted | None, gone: _Unrouted | None = None
                   ) -> None:
        """Send to the node holding `runtime`'s session; `unrouted()` runs when no node holds it, `gone()`
        (if given) when that node answers that the message's address is no longer allocated."""
        self._queue(self.names.runtime(runtime), data, {}, unrouted, gone)

    def to_address(self, address: str, data: bytes, unrouted: _Unrouted | None) -> None:
        """Send to every other node with subscribers of `address`; `unrouted()` runs when none has."""
        self._queue(self.names.address(address), data, {}, unrouted, None)
        channel = addr.children_prefix(address) if addr.CHILDREN in address else None
        if channel and channel != address:
            self._queue(self.names.address(channel), data, {PREFIX: address}, None, None)

    # the pump and acknowledgements --------------------------------------------------------------------

    def _queue(self, subject: str, data: bytes, headers: dict[str, str], unrouted: _Unrouted | None,
               gone: _Unrouted | None) -> None:
        headers[ORIGIN] = self.node_id
        self._out.append((subject, data, headers, unrouted, gone))
        self._wake.set()

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._out:
                subject, data, headers, unrouted, gone = self._out.popleft()
                reply = ""
                if unrouted is not None:
                    reply = f"{self._inbox}.{next(self._ids)}"
                    self._pending[reply] = (unrouted, gone,
                                            loop.call_later(ACK_WAIT, self._pending.pop, reply, None))
                try:
                    await self.nc.publish(subject, data, reply=reply, headers=headers)
                    self.stats["published"] += 1
                except Exception as exc:  # NATS away: as a message lost on a link
                    log.warning("cluster: cannot publish: %s", type(exc).__name__)
                    self._settle(reply, Delivery.REFUSED)

    async def _on_ack(self, msg: Msg) -> None:
        if (msg.headers or {}).get("Status") is not None:   # no responders: no node has interest
            self._settle(msg.subject, Delivery.REFUSED)
        elif msg.data == Delivery.DELIVERED.value:
            self._settle(msg.subject, Delivery.DELIVERED)
        elif msg.data == Delivery.GONE.value:   # from the one node holding the runtime: no other will deliver
            self._settle(msg.subject, Delivery.GONE)
        else:
            self._refused(msg.subject)

    def _refused(self, reply: str) -> None:
        """A node got the message but no longer has its session or subscribers (interest ending as it
        came); another node may still deliver it, so its "1" is awaited a moment before the 404."""
        entry = self._pending.get(reply)
        if entry is not None:
            unrouted, gone, timer = entry
            timer.cancel()
            loop = asyncio.get_running_loop()
            self._pending[reply] = (unrouted, gone, loop.call_later(self.refusal_grace, self._settle, reply,
                                                                    Delivery.REFUSED))

    def _settle(self, reply: str, ack: Delivery) -> None:
        entry = self._pending.pop(reply, None) if reply else None
        if entry is None:
            return
        unrouted, gone, timer = entry
        timer.cancel()
        if ack is not Delivery.DELIVERED:
            self.stats["unrouted"] += 1
            (gone if ack is Delivery.GONE and gone is not None else unrouted)()

    # what comes from other nodes ------------------------------------------------------------------------

    def _to_session(self, runtime: str, msg: Msg, headers: dict[str, str]) -> Delivery:
        """What came on `runtime`'s subject: for its session here, or the notice that it opened elsewhere."""
        if headers.get(CONTROL) == "takeover":
            self.local.taken_over(runtime)
            return Delivery.REFUSED
        self.stats["received"] += 1
        return self.local.deliver_to_runtime(runtime, msg.data)

    def _to_subscribers(self, address: str, msg: Msg, headers: dict[str, str]) -> Delivery:
        self.stats["received"] += 1
        prefix_of = headers.get(PREFIX)
        delivered = self.local.deliver_to_address(prefix_of or address, msg.data, prefix_only=bool(prefix_of))
        return Delivery.DELIVERED if delivered else Delivery.REFUSED

    async def _subscribe(self, subs: dict[str, Subscription | None], key: str, subject: str,
                         deliver: _Deliver) -> None:
        """Subscribe `subject` for `subs[key]`, reserved (None) by the caller; what comes is handed to
        `deliver` while this subscription is the one in `subs`, and acknowledged when it asks for it."""
        mine: list[Subscription] = []

        async def on_message(msg: Msg) -> None:
            headers = msg.headers or {}
            current = subs.get(key, _ABSENT)
            # not in `subs`: it lingers, or it was made twice as interest came and went; either way
            # another subscription (or none) has the deliveries. Its own: delivered here already.
            if (current is mine[0] if mine else current is None) and headers.get(ORIGIN) != self.node_id:
                ack = deliver(key, msg, headers)
            else:
                ack = Delivery.REFUSED
            if msg.reply:
                await self.nc.publish(msg.reply, ack.value)

        mine.append(await self.nc.subscribe(subject, cb=on_message))
        if key in subs and subs[key] is None:
            subs[key] = mine[0]
        else:  # interest ended while subscribing (and maybe came again: another one is being made)
            self._release(subject, mine[0])

    def runtimes(self) -> list[str]:
        return sorted(self._runtime_subs)

    def addresses(self) -> list[str]:
        return sorted(self._address_subs)

    def describe(self) -> dict[str, Any]:
        return {"node": self.node_id, "runtimes": len(self._runtime_subs), "addresses": len(self._address_subs),
                **self.stats}
