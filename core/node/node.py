"""A domain's Message Node: sessions, routing (PROTOCOL §1.5), Subscription Manager, allocation and
ownership, the domain registry, and the node checks of PROTOCOL §6.

Transport-agnostic: a link calls `connect()` once, `receive()` per frame and `disconnect()` when it
ends; the node answers through the session's transport. The in-memory link and the WebSocket
server (TRANSPORT.md) both drive this class.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from core.monitor import Monitor
from core.node.address_allocation import MAX_DEALLOCATED, AddressAllocation
from core.node.allocation import Allocator
from core.node.cluster.catch_up import CatchUp
from core.node.cluster.hooks import ClusterSide
from core.node.frames import acceptance, header, peek, wire_size
from core.node.limits import Limits, address_error, frame_deeper_than, page_error, token_error
from core.node.monitor_feed import MAX_MONITOR_QUEUE, MONITOR_BYTES, REPLAY, MonitorFeed
from core.node.registry import Registry
from core.node.session import Session, SessionState, Transport
from core.node.session_control import SessionControl
from core.node.state import MemoryState
from core.node.subscription_manager import MAX_SUBSCRIPTION_BYTES, MAX_SUBSCRIPTIONS, SubscriptionManager
from core.node.subscription_requests import SubscriptionRequests
from core.policy import Policy
from core.protocol import address as addr
from core.protocol.address import CHILDREN, children_prefix
from core.protocol.dialect import is_rethink, to_rethink
from core.protocol.message import LINK_TYPES, UNANSWERED, Message, envelope_error, response

if TYPE_CHECKING:
    from core.node.cluster.cluster import Cluster

#: TRANSPORT §1: largest accepted message; 20 bad frames within 10 s close the session with 1008.
MAX_MESSAGE = 1 << 20
BAD_FRAMES = 20
BAD_FRAME_WINDOW = 10.0

#: How reTHINK's runtime URLs start (INTEROP §1): only those may be of its dialect.
_RETHINK_SCHEME = addr.RETHINK_RUNTIME + "://"

#: Link control addresses (`mn:/session`, `mn:/monitor`, TRANSPORT §2, §4): never routed.
_MN_SCHEME = "mn:/"

#: Called with (action, session, detail) for each session event: open, takeover, refused, close,
#: and the monitor's open/refused/close. The WebSocket server logs them.
SessionHook = Callable[[str, Session, dict[str, Any]], None]


class MessageNode(AddressAllocation, SubscriptionRequests, SessionControl, ClusterSide):
    """The Message Node of `domain` (`domain://msg-node.<domain>`)."""

    def __init__(self, domain: str, monitor: Monitor | None = None, *, max_message: int = MAX_MESSAGE,
                 max_subscriptions: int = MAX_SUBSCRIPTIONS, max_subscription_bytes: int = MAX_SUBSCRIPTION_BYTES,
                 state: MemoryState | None = None,
                 monitor_token: str | None = None, monitor_queue: int = MAX_MONITOR_QUEUE,
                 replay: int = REPLAY, monitor_bytes: int = MONITOR_BYTES, limits: Limits | None = None,
                 home_secret: str | None = None, cluster: Cluster | None = None) -> None:
        """`state` keeps tokens, ownerships and registrations across restarts (`core.node.state`);
        `monitor_token` opens the monitor feed `mn:/monitor` (TRANSPORT §4), which queues at most
        `monitor_queue` events per monitor and keeps the last `replay` for new monitors, each of
        these at most `monitor_bytes` of envelopes. Message and drop events carry the envelope's
        `size` in bytes as it crossed the wire. `limits` bounds what peers send (docs/LIMITS.md).
        `cluster` (connected, its state being `state`) makes this node one of several serving the
        domain on NATS (`core.node.cluster`)."""
        self.domain = domain
        #: With a secret, home sessions prove it at `open` (core.node.home_secret); without, first come.
        self.home_secret = home_secret
        self.url = f"{addr.MN_PREFIX}{domain}"
        self._components = self.url + "/"   # the node's components' addresses start so
        self.monitor = monitor or Monitor()
        self.max_message = max_message
        self.sm_url = addr.mn_sm(domain)
        self.oam_url = addr.object_allocation(domain)
        self.ham_url = addr.hyperty_allocation(domain)
        self.aa_url = f"{self.url}/address-allocation"   # older reTHINK: alias of oam_url (INTEROP §2)
        self.registry_url = addr.registry(domain)
        self.limits = limits or Limits()
        if page_error(self.limits, max_message) is not None:   # a registry page must fit a message
            self.limits = replace(self.limits, registry_page=max(1, max_message // 4))
        self.subscriptions = SubscriptionManager(max_subscriptions, max_subscription_bytes)
        self.allocator = Allocator(domain, self.limits.max_allocation, self.limits.max_owned, self.limits.acceptances)
        self.state = state or MemoryState()
        self.registry = Registry(domain, self.limits, self.state, self.allocator.owner.get)
        self.tokens: dict[str, str] = {}          # runtime URL → session token
        self.bound: dict[str, str] = {}           # foreign hyperty URL → runtime URL (bound at first use)
        #: ObjectURL → the runtime that deallocated it, the last `MAX_DEALLOCATED` (for reTHINK, DECISIONS.md)
        self.deallocated: OrderedDict[str, str] = OrderedDict()
        #: runtime URL → node subscriptions of its lost link, for reTHINK runtimes, which never re-send
        #: them: a `re-open` gets them back (INTEROP §1, DECISIONS.md); the last `MAX_DEALLOCATED`
        self.lost_subscriptions: OrderedDict[str, list[str]] = OrderedDict()
        self.sessions: dict[str, Session] = {}    # live session per runtime URL
        self._ids = itertools.count(1)
        self._session_ids = itertools.count(1)
        self.stats = {"in": 0, "out": 0, "dropped": 0}
        self.policy = Policy()   # the node's policy interceptor: action "route" (PROTOCOL §6)
        self.session_hooks: list[SessionHook] = []
        self._errors = 0   # error answers and drops so far: a request that adds to it stores nothing
        self.cluster = cluster
        # Answers held until the shared state they report is stored (clustered nodes only).
        self._held: list[tuple[Session, Message, int, str | None, dict[str, Any]]] | None = None
        self._catch_up: CatchUp | None = None
        if cluster is not None:
            self.subscriptions.on_interest = self._interest
            if cluster.state is not None:
                self._catch_up = CatchUp(self, cluster.state, cluster.tasks)
        self._restore()
        self.feed = (MonitorFeed(self.url, self.monitor, monitor_token, max_queue=monitor_queue, replay=replay,
                                 max_bytes=monitor_bytes) if monitor_token else None)

    def _restore(self) -> None:
        snap = self.state.load()
        self.tokens.update(snap.tokens)
        self.allocator.restore(snap.owners)
        self.allocator.fenced |= snap.fenced
        self.bound.update(snap.bound)
        for url in self.registry.restore(snap.registrations):
            self.state.unregister(url)

    def close(self) -> None:
        """Stop the monitor feed and release the state file (links are closed by their owner)."""
        if self.feed is not None:
            self.feed.close()
        self.state.close()

    # link side -----------------------------------------------------------------------------------

    def connect(self, transport: Transport) -> Session:
        return Session(f"s{next(self._session_ids)}", transport)

    def disconnect(self, session: Session, reason: str = "link closed") -> None:
        if session.state is SessionState.CLOSED:
            return
        was = session.state
        session.state = SessionState.CLOSED
        if was is SessionState.MONITOR:
            if self.feed is not None:
                self.feed.detach(session)
            self._session_event("close", session, reason=reason)
            return
        removed = self.subscriptions.drop_session(session)
        if was is SessionState.OPEN and removed and is_rethink(session.runtime):
            self.lost_subscriptions[session.runtime] = removed
            self.lost_subscriptions.move_to_end(session.runtime)
            if len(self.lost_subscriptions) > MAX_DEALLOCATED:
                self.lost_subscriptions.popitem(last=False)
        if self.sessions.get(session.runtime) is session:
            del self.sessions[session.runtime]
            for url, token in self.allocator.forget_acceptances(session.runtime):
                self.state.unaccept(url, token)
            if self.cluster is not None and self.cluster.router is not None:
                self.cluster.router.runtime_closed(session.runtime)
        if was is SessionState.OPEN:
            if self.monitor.active:
                for address in removed:
                    self.monitor.emit("subscription", self.url, action="removed", address=address,
                                      session=session.runtime)
            self._session_event("close", session, reason=reason)

    def _session_event(self, action: str, session: Session, **detail: Any) -> None:
        if self.cluster is not None:
            detail["node"] = self.cluster.node_id   # which member of the domain holds the session
        if self.monitor.active:
            self.monitor.emit("session", self.url, action=action, session=session.id,
                              runtime=session.runtime, **detail)
        for hook in self.session_hooks:
            hook(action, session, detail)

    def receive(self, session: Session, frame: bytes | str | Message) -> None:
        """One text frame from `session`'s link (TRANSPORT §1): parse, check, then route."""
        if session.state is SessionState.CLOSED:
            return
        if session.held is not None and self._catch_up is not None and self._catch_up.queued(session, frame):
            return
        size = 0
        if isinstance(frame, dict):
            msg: Any = frame
        else:
            size = wire_size(frame)
            if size > self.max_message:
                self._bad_frame(session, peek(frame), 413, f"message larger than {self.max_message} bytes")
                return
            try:
                msg = orjson.loads(frame)
            except orjson.JSONDecodeError as exc:
                deep = str(exc).startswith("depth limit")
                self._bad_frame(session, None, 400, "too deeply nested" if deep else "message is not JSON")
                return
            if frame_deeper_than(frame, msg, self.limits.max_depth):
                # TRANSPORT §5: it could be read but not forwarded, answered or traced whole.
                self._bad_frame(session, header(msg), 400, "too deeply nested", size)
                return
        problem = envelope_error(msg, link=True) or address_error(self.limits, msg["from"], msg["to"])
        if problem is not None:
            self._bad_frame(session, msg if isinstance(msg, dict) else None, 400, problem, size)
            return
        to = msg["to"]
        if session.state is SessionState.MONITOR or to == addr.MONITOR:
            self._monitor_control(session, msg)  # link control of a monitor: not traced, tokens inside
            return
        self.stats["in"] += 1
        if self.monitor.active:
            self._trace_message("in", msg, session.runtime, size, None if isinstance(frame, dict) else frame)
        if self.cluster is not None and not self.cluster.available and msg["type"] != "response" and (
                msg["type"] in ("open", "re-open") or to.startswith(self._components) or to == self.registry_url):
            self._answer(session, msg, 503, "the domain's cluster is unreachable; try again")
        elif msg["type"] in ("open", "re-open"):
            self._durably(self._open, session, msg)
        elif not session.live:
            self._bad_frame(session, msg, 400, "session not open")
        elif to == addr.SESSION:
            self._session_control(session, msg)
        elif msg["type"] in LINK_TYPES or to.startswith(_MN_SCHEME):
            self._answer(session, msg, 400, "open, close and event belong on mn:/session and mn:/monitor")
        else:
            self._route(session, msg)

    def receive_binary(self, session: Session, frame: bytes) -> None:
        """A binary frame (TRANSPORT §1): refused with 400 when its `id` and `from` can be read."""
        if session.state is not SessionState.CLOSED:
            self._bad_frame(session, peek(frame), 400, "binary frames are not accepted; send JSON text")

    # routing (PROTOCOL §1.5) ---------------------------------------------------------------------

    def _route(self, s: Session, msg: Message) -> None:
        """Route one request or publication; what it would store (a foreign hyperty bound at first
        use, an accepted transfer) is written only when it was not refused (TRANSPORT §5)."""
        errors = self._errors
        binds: list[str] = []
        self._route_checked(s, msg, binds)
        if self._errors != errors:
            return
        for hyperty in binds:
            self.bound[hyperty] = s.runtime
            self.state.bind(hyperty, s.runtime)
        accepted = acceptance(msg)
        if accepted is not None and accepted[0] == s.runtime:
            obj = addr.object_of(msg["to"])
            owner = self.allocator.owner.get(obj)
            if owner is not None and owner != s.runtime:
                self.allocator.accept(s.runtime, obj, accepted[1])
                self.state.accept(obj, accepted[1], s.runtime)

    def _after_deallocation(self, s: Session, msg: Message) -> bool:
        """reTHINK's reporter deallocates O before its delete to `O/changes` reaches the node, and
        reTHINK's observers unsubscribe from O after a delete: the delete still reaches O's observers,
        the unsubscribe gets 200, also while the reporter runtime is between its node unsubscribe and
        its deallocation (DECISIONS.md). True when `msg` was one of those and is handled."""
        mtype, to = msg["type"], msg["to"]
        if mtype not in ("delete", "unsubscribe") or not is_rethink(s.runtime):
            return False
        obj = addr.object_of(to)
        if mtype == "unsubscribe" and to == addr.subscription(obj) and obj in self.allocator.owner \
                and not self.subscriptions.subscribers(to):
            self._answer(s, msg, 200)   # its reporter is deleting it: nothing to undo
            return True
        if mtype == "delete" and to == addr.changes(obj) and msg["from"] == addr.subscription(obj) \
                and self.deallocated.get(obj) == s.runtime:
            peers = [p for p in self.subscriptions.subscribers(to) if p is not s]
            self._deliver(peers, msg)
            return True
        if mtype == "unsubscribe" and to == addr.subscription(obj) and obj in self.deallocated \
                and obj not in self.allocator.owner:
            self._answer(s, msg, 200)
            return True
        return False

    def _route_checked(self, s: Session, msg: Message, binds: list[str]) -> None:
        if self._after_deallocation(s, msg):
            return
        body = msg.get("body", {})
        source = body.get("source")
        problem = address_error(self.limits, source, body.get("resource"))
        if problem is None and acceptance(msg) is not None:
            problem = token_error(self.limits, body["delegationToken"])
        if problem is not None:
            self._answer(s, msg, 400, problem)
            return
        frm = msg["from"]
        if _child_edit_from_parent(s, msg) and isinstance(source, str) and self._owns(s, source, binds):
            frm = source   # a reTHINK observer edits its child `from: O`; its `source` must be its own
        if not self._owns(s, frm, binds) or (isinstance(source, str) and source
                                             and not self._owns(s, source, binds)):
            self._answer(s, msg, 403, "not owned by this session")
            return
        if not self.policy.allows("route", msg):
            self.stats["dropped"] += 1
            if self.monitor.active:
                self.monitor.emit("drop", self.url, reason="Blocked by policy", message=msg, session=s.runtime)
            self._answer(s, msg, 403, "Blocked by policy")
            return
        to = msg["to"]
        if to.startswith(self._components) or to == self.registry_url:
            self._durably(self._component, s, msg)
            return
        if msg["type"] in ("update", "delete") and to.endswith(addr.CHANGES):
            obj = addr.object_of(to)
            if addr.authority(obj) == self.domain and self.allocator.owner.get(obj) != s.runtime:
                self._answer(s, msg, 403, "only the reporter runtime may publish changes")
                return
        target = self._owner_of(to)
        if target is not None:
            peer = self.sessions.get(target)
            if peer is not None:
                self._deliver([peer], msg)
            elif self.cluster is not None and self.cluster.router is not None:
                self.cluster.router.to_runtime(target, orjson.dumps(msg), self._when_unrouted(
                    s, msg, lambda: self._no_route(s, msg, f"{target} has no live link")),
                    self._when_unrouted(s, msg, lambda: self._unknown_object(s, msg)))
            else:
                self._no_route(s, msg, f"{target} has no live link")
            return
        peers = [p for p in self.subscriptions.subscribers(to) if p is not s]
        if peers:
            self._deliver(peers, msg)
        if self.cluster is not None and self.cluster.router is not None:
            # PROTOCOL §1.5 rule 4 across the domain: one copy to each other node with subscribers.
            local = bool(self.subscriptions.subscribers(to))
            # judged later by the view as it routed: one that was behind catches up and routes it again
            self.cluster.router.to_address(to, orjson.dumps(msg), None if local else self._when_unrouted(
                s, msg, partial(self._unsubscribed, s, msg, to, addr.object_of(to) in self.allocator.owner)))
        elif not self.subscriptions.subscribers(to):
            self._unsubscribed(s, msg, to)

    def _unsubscribed(self, s: Session, msg: Message, to: str, known: bool | None = None) -> None:
        """Nobody in the domain subscribes `to`: 404, "unknown object" or "no route". `known`: whether the
        view knew `to`'s object when the message was routed (by default, now): an "unknown object" a view
        that was behind then gave is caught up and routed again (`core.node.cluster.catch_up`)."""
        obj = addr.object_of(to)
        if known is None:
            known = obj in self.allocator.owner
        if (msg["type"] not in UNANSWERED and addr.authority(to) == self.domain
                and addr.is_object_url(obj) and not known):
            # An object this node never allocated or has deallocated: gone, not unreachable, so a
            # resyncing observer can tell a deleted object (404 "unknown object", PROTOCOL §5 rule 4)
            # from a reporter runtime that is offline (404 "no route").
            self._unknown_object(s, msg)
            return
        self._no_route(s, msg, "nobody subscribed")

    def _unknown_object(self, s: Session, msg: Message) -> None:
        self.stats["dropped"] += 1
        self._answer(s, msg, 404, "unknown object")

    def _owner_of(self, to: str) -> str | None:
        runtime = addr.runtime_of(to)
        if runtime:
            return runtime
        owner = self.allocator.owner.get(to)
        if owner is not None:
            return owner
        return self.bound.get(to)

    def _owns(self, s: Session, address: str, binds: list[str]) -> bool:
        """PROTOCOL §6: allocated to it, under its runtime URL or an ObjectURL it owns, or a
        foreign-domain hyperty bound to it at first use (added to `binds`, written by the caller
        once the request is not refused); foreign ObjectURLs cannot be checked."""
        if addr.runtime_of(address) == s.runtime:
            return True
        if addr.is_runtime_address(address):
            return False
        if addr.authority(address) == self.domain:
            if self.allocator.owner.get(address) == s.runtime:
                return True
            obj = addr.object_of(address)
            return bool(obj) and addr.is_object_url(obj) and self.allocator.owner.get(obj) == s.runtime
        if addr.is_hyperty(address):
            bound = self.bound.get(address)
            if bound is None:
                if address not in binds:
                    binds.append(address)
                return True
            return bound == s.runtime
        return addr.is_object_url(addr.object_of(address))

    def _deliver(self, peers: Iterable[Session], msg: Message) -> None:
        data = orjson.dumps(msg)
        answer = msg["type"] == "response"
        unnamed = children_prefix(msg["to"]) if CHILDREN in msg["to"] else ""
        on_prefix: tuple[Message, bytes] | None = None
        for peer in peers:
            sent, out = msg, data
            if answer and is_rethink(peer.runtime):
                sent = to_rethink(msg)
                out = data if sent is msg else orjson.dumps(sent)
            elif unnamed and msg["to"] not in peer.subscriptions:
                # it hears the children of O only on `O/children/` (reTHINK's newest runtime, DECISIONS 80)
                if on_prefix is None:
                    rewritten = {**msg, "to": unnamed}
                    on_prefix = rewritten, orjson.dumps(rewritten)
                sent, out = on_prefix
            self.stats["out"] += 1
            if self.monitor.active:
                self._trace_message("out", sent, peer.runtime, len(out), out)
            peer.transport.send(out)

    def _trace_message(self, direction: str, msg: Message, runtime: str, size: int, wire: bytes | str | None
                       ) -> None:
        """A `message` trace event; `wire` is `msg` as it crossed the wire, when at hand."""
        feed = self.feed
        if feed is not None and wire is not None and feed.alone():
            feed.message(direction, msg, wire, runtime, size)   # the served node's usual case: no TraceEvent
        else:
            self.monitor.emit("message", self.url, direction=direction, message=msg, session=runtime, size=size,
                              wire=wire)

    def _no_route(self, s: Session, msg: Message, why: str) -> None:
        self.stats["dropped"] += 1
        self._errors += 1
        if self.monitor.active:
            self.monitor.emit("drop", self.url, reason=f"no route: {why}", message=msg, session=s.runtime)
        if msg["type"] not in UNANSWERED:
            self._answer(s, msg, 404, "no route")

    def _answer(self, s: Session, request: Message, code: int, description: str | None = None,
                **fields: Any) -> None:
        if code >= 300:
            self._errors += 1
        if request.get("type") == "response":
            return
        if code >= 400 and self._catch_up is not None and self._catch_up.holds(s, request, code, description, fields):
            return
        if self._held is not None:
            self._held.append((s, request, code, description, fields))
            return
        self._send_answer(s, request, code, description, fields)

    def _send_answer(self, s: Session, request: Message, code: int, description: str | None,
                     fields: dict[str, Any]) -> None:
        if s.state is SessionState.CLOSED:
            return
        reply = response(request, code, description, **fields)
        runtime = s.runtime or str(request.get("from", ""))
        if runtime.startswith(_RETHINK_SCHEME) and is_rethink(runtime):   # a SyncScope runtime: one check
            reply = to_rethink(reply)
        data = orjson.dumps(reply)
        self.stats["out"] += 1
        if self.monitor.active and s.state is not SessionState.MONITOR and request["to"] != addr.MONITOR:
            self._trace_message("out", reply, s.runtime, len(data), data)
        s.transport.send(data)

    def _bad_frame(self, s: Session, msg: dict[str, Any] | None, code: int, problem: str, size: int = 0) -> None:
        """TRANSPORT §1: answer what can be answered, drop the rest; 20 within 10 s close the link."""
        self.stats["dropped"] += 1
        self._errors += 1
        if self.monitor.active:
            self.monitor.emit("drop", self.url, reason=problem, message=msg, session=s.runtime, size=size)
        if (msg is not None and isinstance(msg.get("from"), str) and msg.get("from")
                and isinstance(msg.get("id"), (int, str)) and not isinstance(msg.get("id"), bool)
                and msg.get("type") != "response"):
            reply = {"id": msg["id"], "type": "response", "from": msg.get("to") if isinstance(msg.get("to"), str)
                     else self.url, "to": msg["from"], "body": {"code": code, "description": problem}}
            if is_rethink(s.runtime or msg["from"]):
                reply = to_rethink(reply)
            s.transport.send(orjson.dumps(reply))
        now = time.monotonic()
        s.bad_frames = [t for t in s.bad_frames if now - t < BAD_FRAME_WINDOW]
        s.bad_frames.append(now)
        if len(s.bad_frames) >= BAD_FRAMES:
            self.disconnect(s, "too many bad messages")
            s.transport.close(1008, "too many bad messages")

    # node components -----------------------------------------------------------------------------

    def _component(self, s: Session, msg: Message) -> None:
        to, mtype = msg["to"], msg["type"]
        if mtype == "response":
            return
        if to == self.sm_url and mtype in ("subscribe", "unsubscribe"):
            self._subscription_request(s, msg)
        elif to in (self.oam_url, self.aa_url) and mtype in ("create", "delete", "update", "read"):
            self._object_allocation(s, msg)
        elif to == self.ham_url and mtype in ("create", "delete"):
            self._hyperty_allocation(s, msg)
        elif to == self.registry_url and mtype in ("create", "update", "delete", "read"):
            self._registry_request(s, msg)
        elif to in (self.sm_url, self.oam_url, self.aa_url, self.ham_url, self.registry_url):
            self._answer(s, msg, 400, f"{mtype} is not supported by {to}")
        else:
            self._answer(s, msg, 404, "not found")

    def _registry_request(self, s: Session, msg: Message) -> None:
        code, description, fields = self.registry.request(s.runtime, msg["type"], msg.get("body", {}))
        self._answer(s, msg, code, description, **fields)


def _child_edit_from_parent(s: Session, msg: Message) -> bool:
    """reTHINK's observers send their children's messages `from: O` (interop findings, DECISIONS.md)."""
    to = msg["to"]
    return (msg["type"] in ("create", "update") and addr.CHILDREN in to and is_rethink(s.runtime)
            and msg["from"] == addr.object_of(to))
