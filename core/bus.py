"""One runtime's MessageBus (PROTOCOL §1.4, §2.3–2.5).

Exact-address listeners called in registration order, request/response correlation by `from|id`,
1xx restarting the long timer, 408 on timeout, the ingress rule (a message that came in from a
link reaches local listeners only), 404 for missing local components, and interceptors (policy).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from core.monitor import Monitor
from core.protocol.address import (
    CHILDREN,
    children_prefix,
    is_hyperty,
    is_node_address,
    is_object_url,
    object_of,
    route_domain,
)
from core.protocol.frozen import FrozenDict
from core.protocol.message import MAX_ID, UNANSWERED, Message, code_of, correlation, envelope_error, response
from core.timers import Timers

Handler = Callable[[Message], None]
Callback = Callable[[Message], None]
#: Where a listener is filed: one address, or several that share it (an object's children channels)
Addresses = str | tuple[str, ...]
#: An interceptor sees every message before dispatch; returning (code, description) refuses it.
Interceptor = Callable[[Message, bool], "tuple[int, str] | None"]

#: Listener kinds of PROTOCOL §0: plain, forward into a sandbox, publish to the MN, sandbox.
KINDS = ("L", "FWD", "PUB", "SB")


class Listener:
    """Handle of one listener, filed under each of its `addresses` (the same handler on several
    addresses of one object is one listener: a resume files 100,000); `remove()` ends it on all of
    them and is idempotent."""

    __slots__ = ("active", "addresses", "bus", "handler", "kind", "owner")

    def __init__(self, bus: MessageBus, addresses: tuple[str, ...], handler: Handler, kind: str, owner: str) -> None:
        # one statement each: a tuple assignment of five builds and unpacks a tuple (a resume makes
        # 100,000 listeners; this way each costs about half)
        self.bus = bus
        self.addresses = addresses
        self.handler = handler
        self.kind = kind
        self.owner = owner
        self.active = True

    def remove(self) -> None:
        if self.active:
            self.active = False
            self.bus._remove(self)


class ListenerTable:
    """Listeners by exact address, in registration order, each addition and removal traced."""

    def __init__(self, monitor: Monitor, where: str) -> None:
        self.monitor, self.where = monitor, where
        # tuples, replaced on change: a dispatch iterates them without a copy, and most addresses
        # have one listener (a tuple of one is the smallest container)
        self.by_address: dict[str, tuple[Any, ...]] = {}

    def file(self, listener: Any, addresses: Sequence[str]) -> None:
        """File `listener` (with its `kind` and `owner`) last under each of `addresses` (once under an address
        named twice), traced."""
        table = self.by_address
        put = table.setdefault
        alone = (listener,)   # shared by every address it is the only listener of (a tuple cannot change)
        for address in addresses:
            entries = put(address, alone)
            if entries is not alone and entries[-1] is not listener:   # (last: named twice)
                table[address] = (*entries, listener)
        if self.monitor.active:
            self._traced(listener, addresses)

    def file_all(self, listeners: Sequence[Any]) -> None:
        """`file` of each of `listeners` under its own `addresses`, in one call (a resume files thousands)."""
        table = self.by_address
        put = table.setdefault
        for listener in listeners:
            alone = (listener,)
            for address in listener.addresses:
                entries = put(address, alone)
                if entries is not alone and entries[-1] is not listener:
                    table[address] = (*entries, listener)
        if self.monitor.active:
            for listener in listeners:
                self._traced(listener, listener.addresses)

    def _traced(self, listener: Any, addresses: Sequence[str]) -> None:
        for address in addresses:
            self.monitor.emit("listener", self.where, action="added", address=address, listener=listener.kind,
                              owner=listener.owner)

    def remove(self, listener: Any, address: str | None = None) -> None:
        """Remove `listener` from its addresses (from `address` alone: the bus's one PUB)."""
        for at in listener.addresses if address is None else (address,):
            entries = self.by_address.get(at)
            if entries and listener in entries:
                rest = tuple(x for x in entries if x is not listener)
                if rest:
                    self.by_address[at] = rest
                else:
                    del self.by_address[at]
            if self.monitor.active:
                self.monitor.emit("listener", self.where, action="removed", address=at,
                                  listener=listener.kind, owner=listener.owner)


class _Pending:
    __slots__ = ("callback", "deadline", "request", "timer")

    def __init__(self, callback: Callback, request: Message, timer: asyncio.TimerHandle, deadline: float) -> None:
        self.callback, self.request, self.timer, self.deadline = callback, request, timer, deadline


class MessageBus:
    """The core bus of runtime `url`; `egress` hands a message to the stub of its domain (step 5)."""

    def __init__(self, url: str, monitor: Monitor, timers: Timers,
                 egress: Callable[[Message], None] | None = None) -> None:
        self.url = url
        self.monitor = monitor
        self.timers = timers
        self.egress = egress
        self._ids = itertools.count(1)
        self._table = ListenerTable(monitor, url)
        self._listeners: dict[str, tuple[Listener, ...]] = self._table.by_address
        self._pending: dict[str, _Pending] = {}
        self.interceptors: list[Interceptor] = []
        self._prefix = url + "/"
        #: `PUB` (PROTOCOL §0): one listener, filed under each address this runtime publishes (a resume
        #: publishes tens of thousands: a listener object each would be made for nothing)
        self._pub = Listener(self, (), self._publish, "PUB", url)

    # listeners -----------------------------------------------------------------------------------

    def add_listener(self, address: Addresses, handler: Handler, kind: str = "L", owner: str = "") -> Listener:
        """A listener on `address` (on each of several: one listener, filed under each)."""
        addresses = (address,) if isinstance(address, str) else address
        listener = Listener(self, addresses, handler, kind, owner or self.url)
        self._table.file(listener, addresses)
        return listener

    def add_listeners(self, entries: Iterable[tuple[Addresses, Handler, str, str]]) -> list[Listener]:
        """`add_listener` for many (address or addresses, handler, kind, owner) at once (a resume adds
        thousands)."""
        url = self.url
        made = [Listener(self, (addresses,) if isinstance(addresses, str) else addresses, handler, kind, owner or url)
                for addresses, handler, kind, owner in entries]
        self._table.file_all(made)
        return made

    def _remove(self, listener: Listener) -> None:
        self._table.remove(listener)

    def listeners(self, address: str | None = None) -> list[tuple[str, str, str]]:
        """(address, kind, owner) of every listener, or of those on `address`."""
        if address is not None:
            return [(address, x.kind, x.owner) for x in self._listeners.get(address, ())]
        return [(a, x.kind, x.owner) for a, xs in self._listeners.items() for x in xs]

    # sending -------------------------------------------------------------------------------------

    def next_id(self) -> int:
        return next(self._ids)

    def post(self, msg: Message, callback: Callback | None = None, timeout: float | None = None) -> Message:
        """Post a locally originated message (step 1: an id is assigned when missing)."""
        if "id" not in msg:
            msg["id"] = next(self._ids)
        if callback is not None:
            self._expect(msg, callback, self.timers.request if timeout is None else timeout)
        self._dispatch(msg, ingress=False)
        return msg

    async def request(self, msg: Message, timeout: float | None = None,
                      on_provisional: Callback | None = None) -> Message:
        """Post `msg` and wait for its final answer (a 408 made here on timeout, never raised)."""
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

        def answered(reply: Message) -> None:
            if code_of(reply) < 200:
                if on_provisional is not None:
                    on_provisional(reply)
            elif not future.done():
                future.set_result(reply)

        self.post(msg, answered, timeout)
        try:
            return await future
        except asyncio.CancelledError:
            self.forget(msg)
            raise

    def forget(self, msg: Message) -> None:
        """Stop waiting for the answer to `msg` (its callback is dropped, its timer cancelled)."""
        pending = self._pending.pop(correlation(msg.get("from"), msg.get("id")), None)
        if pending is not None:
            pending.timer.cancel()

    def reply(self, request: Message, code: int, description: str | None = None, **fields: Any) -> None:
        """Answer `request` (only requests are answered; responses never are)."""
        if request.get("type") != "response":
            self.post(response(request, code, description, **fields))

    def ingress(self, msg: Any, via: str | None = None) -> None:
        """A message that came in from a link (the link to `via`'s node): local listeners only
        (PROTOCOL §1.4 ingress rule)."""
        problem = envelope_error(msg)
        if problem is not None:
            self.malformed(msg, problem, ingress=True)
            return
        if msg["type"] in ("forward", "delete") and is_hyperty(msg["to"]):
            # PROTOCOL §1.4: a forward or delete to a HypertyURL is only ever local.
            if self.monitor.active:
                self.monitor.emit("drop", self.url, reason="forward/delete to a hyperty from a link", message=msg)
            return
        if type(msg) is FrozenDict:
            # a publication shared by the runtimes of a fan-out (DECISIONS 78): this runtime's listeners
            # get an envelope of their own, a plain dict (read per replica, several times: a dict
            # subclass is slower to read); what it holds, the body and below, stays shared, read-only
            msg = dict(msg)
        self._dispatch(msg, True, via)

    def malformed(self, msg: Any, problem: str, ingress: bool) -> None:
        """Answer a malformed request 400 when its `from` and `id` can be read, else drop it (PROTOCOL §6)."""
        if self.monitor.active:
            self.monitor.emit("drop", self.url, reason=problem, message=msg if isinstance(msg, dict) else None)
        if not isinstance(msg, dict) or msg.get("type") == "response":
            return
        sender, ident = msg.get("from"), msg.get("id")
        if isinstance(sender, str) and sender and isinstance(ident, int) and not isinstance(ident, bool) \
                and 0 < ident <= MAX_ID:
            to = msg.get("to")
            reply = {"id": ident, "type": "response", "from": to if isinstance(to, str) and to else self.url,
                     "to": sender, "body": {"code": 400, "description": problem}}
            self._dispatch(reply, ingress=False)

    # correlation ---------------------------------------------------------------------------------

    def _expect(self, msg: Message, callback: Callback, timeout: float) -> None:
        key = correlation(msg["from"], msg["id"])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._pending[key] = _Pending(callback, msg, loop.call_at(deadline, self._timeout, key), deadline)

    def _timeout(self, key: str) -> None:
        pending = self._pending.get(key)
        if pending is None:
            return
        loop = asyncio.get_running_loop()
        if pending.deadline > loop.time() + 0.001:  # a 1xx moved the deadline: wait the rest
            pending.timer = loop.call_at(pending.deadline, self._timeout, key)
            return
        del self._pending[key]
        timeout = response(pending.request, 408, "Response timeout!", value=pending.request)
        if self.monitor.active:
            self.monitor.emit("message", self.url, direction="local", message=timeout, route="timeout")
        pending.callback(timeout)

    def _answer(self, msg: Message, key: str, pending: _Pending) -> None:
        if code_of(msg) >= 200:
            del self._pending[key]
            pending.timer.cancel()
        else:  # PROTOCOL §2.5: each 1xx restarts the long timer (the timer, when it fires, waits the rest)
            pending.deadline = asyncio.get_running_loop().time() + self.timers.long
        pending.callback(msg)

    # dispatch (PROTOCOL §1.4 steps 2–5) ----------------------------------------------------------

    def answered_by(self, request: Message, reply: Message, via: str | None) -> bool:
        """PROTOCOL §2.3: `reply` answers `request` only when it comes from the request's `to`. An
        answer from a link (the link to `via`'s node) must also come in on a link that can carry it:
        that of the node the request went to, `route(to)`, or that of the node of the requester's
        own address, `route(from)`, where the answer's `to` leads (§1.4 step 5, §1.5). The node of
        `route(to)` also answers for any address it routes (its refusals: §1.5 step 4, TRANSPORT
        §1, §5) from its own addresses `mn:/…`, `domain://msg-node.<d>…`, `domain://registry.<d>`,
        which no session may send from (§6). Our own components never answer from a link."""
        to, sender = request["to"], reply["from"]
        if via is None:
            return bool(sender == to)
        if sender != to and CHILDREN in to and sender == children_prefix(to):
            sender = to   # reTHINK's newest runtime hears `O/children/<name>` on `O/children/` and answers from it
        if to == self.url or to.startswith(self._prefix):
            return False
        carried = route_domain(to)
        if sender == to:
            return via == carried or via == route_domain(request["from"])
        return via == carried and is_node_address(sender, via)

    def _dispatch(self, msg: Message, ingress: bool, via: str | None = None) -> None:
        for interceptor in self.interceptors:
            refusal = interceptor(msg, ingress)
            if refusal is not None:
                self._refuse(msg, ingress, *refusal)
                return
        to = msg["to"]
        key = correlation(to, msg["id"]) if msg["type"] == "response" else None
        if key is not None and (pending := self._pending.get(key)) is not None:
            request = pending.request
            # a local answer needs only its sender checked (`answered_by`, without the call: a resume
            # answers thousands of its requests with a 100 each)
            if not (self.answered_by(request, msg, via) if ingress else msg["from"] == request["to"]):
                self._trace(msg, ingress, "dropped: not from the request's destination")
                if self.monitor.active:
                    self.monitor.emit("drop", self.url, reason="response not from the request's destination",
                                      message=msg, expected=request["to"], via=via)
                return
            if self.monitor.active:
                self._trace(msg, ingress, "callback")
            self._answer(msg, key, pending)
            return
        listeners = self._listeners.get(to)
        if CHILDREN in to and (channel := children_prefix(to)) in self._listeners:
            # INTEROP §2: a listener on `O/children/` hears every `O/children/<name>`
            listeners = (*(listeners or ()), *self._listeners[channel])
        if listeners:
            if self.monitor.active:
                self._trace(msg, ingress, "listeners", [f"{x.kind}:{x.owner}" for x in listeners
                                                        if not (ingress and x.kind == "PUB")])
            for listener in listeners:
                if listener.active and not (ingress and listener.kind == "PUB"):
                    listener.handler(msg)
            return
        if to == self.url or to.startswith(self._prefix):
            self._trace(msg, ingress, "not found")
            if msg["type"] != "response":
                self.post(response(msg, 404, "not found"))
            return
        if ingress or self.egress is None:
            # PROTOCOL §1.4 ingress rule: never sent out again. A request is answered 404 rather than
            # left to time out; publications (update/delete) have no answer (DECISIONS.md).
            self._trace(msg, ingress, "dropped: no local listener")
            if msg["type"] not in UNANSWERED:
                # The node routed an object's request here, so the object exists but is not live in
                # this runtime (e.g. not yet resumed after a restart): unreachable, not deleted.
                held = is_object_url(object_of(to))
                self.post(response(msg, 404, "no route" if held else "not found"))
            return
        self._trace(msg, ingress, "egress")
        self.egress(msg)

    def _refuse(self, msg: Message, ingress: bool, code: int, description: str) -> None:
        self._trace(msg, ingress, f"refused {code}")
        if msg.get("type") != "response":
            self.post(response(msg, code, description))

    def _trace(self, msg: Message, ingress: bool, route: str, hits: list[str] | None = None) -> None:
        if self.monitor.active:
            if hits is None:
                self.monitor.emit("message", self.url, direction="in" if ingress else "out", message=msg,
                                  route=route)
            else:
                self.monitor.emit("message", self.url, direction="in" if ingress else "out", message=msg,
                                  route=route, hits=hits)

    def publish(self, addresses: Sequence[str]) -> None:
        """`PUB(address)` for each address: a locally originated message for it also goes to the MN.
        Once per address (its users are counted by the caller, `core.runtime.routing`)."""
        self._table.file(self._pub, addresses)

    def unpublish(self, address: str) -> None:
        """End `PUB(address)`."""
        self._table.remove(self._pub, address)

    def _publish(self, msg: Message) -> None:
        # a PUB ended while this message was being dispatched sends it no more (as a removed listener)
        if self.egress is not None and self._publishes(msg["to"]):
            self.egress(msg)

    def _publishes(self, to: str) -> bool:
        pub, table = self._pub, self._listeners
        return pub in table.get(to, ()) or (CHILDREN in to and pub in table.get(children_prefix(to), ()))

    def close(self) -> None:
        for pending in self._pending.values():
            pending.timer.cancel()
        self._pending.clear()
