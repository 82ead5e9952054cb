"""A domain's Message Node: sessions, routing (PROTOCOL §1.5), Subscription Manager, allocation and
ownership, the domain registry, and the node checks of PROTOCOL §6.

Transport-agnostic: a link calls `connect()` once, `receive()` per frame and `disconnect()` when it
ends; the node answers through the session's transport. The in-memory link and the WebSocket
server (TRANSPORT.md) both drive this class.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Iterable
from typing import Any

import orjson

from core.monitor import Monitor
from core.node.allocation import AllocationError, Allocator
from core.node.registry import Registry
from core.node.session import Session, SessionState, Transport
from core.node.subscription_manager import SubscriptionManager
from core.protocol import address as addr
from core.protocol.message import Message, envelope_error, response

#: TRANSPORT §1: largest accepted message; 20 bad frames within 10 s close the session with 1008.
MAX_MESSAGE = 1 << 20
BAD_FRAMES = 20
BAD_FRAME_WINDOW = 10.0


class MessageNode:
    """The Message Node of `domain` (`domain://msg-node.<domain>`)."""

    def __init__(self, domain: str, monitor: Monitor | None = None, *, max_message: int = MAX_MESSAGE,
                 max_subscriptions: int = 10_000) -> None:
        self.domain = domain
        self.url = f"{addr.MN_PREFIX}{domain}"
        self.monitor = monitor or Monitor()
        self.max_message = max_message
        self.sm_url = addr.mn_sm(domain)
        self.oam_url = addr.object_allocation(domain)
        self.ham_url = addr.hyperty_allocation(domain)
        self.registry_url = addr.registry(domain)
        self.subscriptions = SubscriptionManager(max_subscriptions)
        self.allocator = Allocator(domain)
        self.registry = Registry()
        self.tokens: dict[str, str] = {}          # runtime URL → session token
        self.bound: dict[str, str] = {}           # foreign hyperty URL → runtime URL (bound at first use)
        self.sessions: dict[str, Session] = {}    # live session per runtime URL
        self._ids = itertools.count(1)
        self._session_ids = itertools.count(1)
        self.stats = {"in": 0, "out": 0, "dropped": 0}

    # link side -----------------------------------------------------------------------------------

    def connect(self, transport: Transport) -> Session:
        return Session(f"s{next(self._session_ids)}", transport)

    def disconnect(self, session: Session, reason: str = "link closed") -> None:
        if session.state is SessionState.CLOSED:
            return
        was_open = session.live
        session.state = SessionState.CLOSED
        removed = self.subscriptions.drop_session(session)
        if self.sessions.get(session.runtime) is session:
            del self.sessions[session.runtime]
        if was_open and self.monitor.active:
            for address in removed:
                self.monitor.emit("subscription", self.url, action="removed", address=address,
                                  session=session.runtime)
            self.monitor.emit("session", self.url, action="close", session=session.id,
                              runtime=session.runtime, reason=reason)

    def receive(self, session: Session, frame: bytes | str | Message) -> None:
        """One frame from `session`'s link (TRANSPORT §1): parse, check, then route."""
        if session.state is SessionState.CLOSED:
            return
        if isinstance(frame, dict):
            msg: Any = frame
        else:
            if len(frame) > self.max_message:
                self._bad_frame(session, _peek(frame), 413, f"message larger than {self.max_message} bytes")
                return
            try:
                msg = orjson.loads(frame)
            except orjson.JSONDecodeError:
                self._bad_frame(session, None, 400, "message is not JSON")
                return
        problem = envelope_error(msg, link=True)
        if problem is not None:
            self._bad_frame(session, msg if isinstance(msg, dict) else None, 400, problem)
            return
        self.stats["in"] += 1
        if self.monitor.active:
            self.monitor.emit("message", self.url, direction="in", message=msg, session=session.runtime)
        if msg["type"] == "open":
            self._open(session, msg)
        elif not session.live:
            self._bad_frame(session, msg, 400, "session not open")
        elif msg["to"] == addr.SESSION:
            self._session_control(session, msg)
        else:
            self._route(session, msg)

    # session control (TRANSPORT §2) --------------------------------------------------------------

    def _open(self, session: Session, msg: Message) -> None:
        runtime = msg["from"]
        if msg["to"] != addr.SESSION or not addr.is_runtime_address(runtime) or addr.runtime_of(runtime) != runtime:
            self._answer(session, msg, 400, "open needs a runtime URL and mn:/session")
            return
        if session.live:
            self._answer(session, msg, 400, "session already open")
            return
        token = msg.get("body", {}).get("token")
        known = self.tokens.get(runtime)
        if known is not None and token != known:
            self._answer(session, msg, 403, "runtime URL already bound")
            return
        if known is None:
            known = self.tokens[runtime] = secrets.token_hex(16)
        older = self.sessions.get(runtime)
        session.runtime = runtime
        session.visiting = addr.authority(runtime) != self.domain
        session.state = SessionState.OPEN
        self.sessions[runtime] = session
        if older is not None and older is not session:
            self.disconnect(older, "taken over")
            older.transport.close(1000, "session taken over")
        if self.monitor.active:
            self.monitor.emit("session", self.url, action="takeover" if older else "open", session=session.id,
                              runtime=runtime, visiting=session.visiting)
        self._answer(session, msg, 200, None, value={"session": session.id, "token": known,
                                                      "domain": self.domain, "visiting": session.visiting})

    def _session_control(self, session: Session, msg: Message) -> None:
        if msg["type"] == "close":
            self._answer(session, msg, 200)
            self.disconnect(session, "closed by runtime")
            session.transport.close(1000, "closed")
        else:
            self._answer(session, msg, 400, "mn:/session takes open and close only")

    # routing (PROTOCOL §1.5) ---------------------------------------------------------------------

    def _route(self, s: Session, msg: Message) -> None:
        body = msg.get("body", {})
        source = body.get("source")
        if not self._owns(s, msg["from"]) or (isinstance(source, str) and source and not self._owns(s, source)):
            self._answer(s, msg, 403, "not owned by this session")
            return
        to = msg["to"]
        if to.startswith(self.url + "/") or to == self.registry_url:
            self._component(s, msg)
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
            else:
                self._no_route(s, msg, f"{target} has no live link")
            return
        peers = [p for p in self.subscriptions.subscribers(to) if p is not s]
        if peers:
            self._deliver(peers, msg)
        elif not self.subscriptions.subscribers(to):
            self._no_route(s, msg, "nobody subscribed")

    def _owner_of(self, to: str) -> str | None:
        runtime = addr.runtime_of(to)
        if runtime:
            return runtime
        owner = self.allocator.owner.get(to)
        if owner is not None:
            return owner
        return self.bound.get(to)

    def _owns(self, s: Session, address: str) -> bool:
        """PROTOCOL §6: allocated to it, under its runtime URL or an ObjectURL it owns, or a
        foreign-domain hyperty bound to it at first use; foreign ObjectURLs cannot be checked."""
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
            bound = self.bound.setdefault(address, s.runtime)
            return bound == s.runtime
        return addr.is_object_url(addr.object_of(address))

    def _deliver(self, peers: Iterable[Session], msg: Message) -> None:
        data = orjson.dumps(msg)
        for peer in peers:
            self.stats["out"] += 1
            if self.monitor.active:
                self.monitor.emit("message", self.url, direction="out", message=msg, session=peer.runtime)
            peer.transport.send(data)

    def _no_route(self, s: Session, msg: Message, why: str) -> None:
        self.stats["dropped"] += 1
        if self.monitor.active:
            self.monitor.emit("drop", self.url, reason=f"no route: {why}", message=msg, session=s.runtime)
        if msg["type"] not in ("update", "delete", "response"):
            self._answer(s, msg, 404, "no route")

    def _answer(self, s: Session, request: Message, code: int, description: str | None = None,
                **fields: Any) -> None:
        if request.get("type") == "response":
            return
        reply = response(request, code, description, **fields)
        self.stats["out"] += 1
        if self.monitor.active:
            self.monitor.emit("message", self.url, direction="out", message=reply, session=s.runtime)
        s.transport.send(orjson.dumps(reply))

    def _bad_frame(self, s: Session, msg: dict[str, Any] | None, code: int, problem: str) -> None:
        """TRANSPORT §1: answer what can be answered, drop the rest; 20 within 10 s close the link."""
        self.stats["dropped"] += 1
        if self.monitor.active:
            self.monitor.emit("drop", self.url, reason=problem, message=msg, session=s.runtime)
        if (msg is not None and isinstance(msg.get("from"), str) and msg.get("from")
                and isinstance(msg.get("id"), (int, str)) and not isinstance(msg.get("id"), bool)
                and msg.get("type") != "response"):
            reply = {"id": msg["id"], "type": "response", "from": msg.get("to") if isinstance(msg.get("to"), str)
                     else self.url, "to": msg["from"], "body": {"code": code, "description": problem}}
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
        elif to == self.oam_url and mtype in ("create", "delete", "update", "read"):
            self._object_allocation(s, msg)
        elif to == self.ham_url and mtype in ("create", "delete"):
            self._hyperty_allocation(s, msg)
        elif to == self.registry_url and mtype in ("create", "update", "delete", "read"):
            self._registry_request(s, msg)
        elif to in (self.sm_url, self.oam_url, self.ham_url, self.registry_url):
            self._answer(s, msg, 400, f"{mtype} is not supported by {to}")
        else:
            self._answer(s, msg, 404, "not found")

    def _subscription_request(self, s: Session, msg: Message) -> None:
        resources, problem = resources_of(msg.get("body", {}), msg["type"])
        if problem is not None:
            self._answer(s, msg, 400, problem)
            return
        if msg["type"] == "subscribe":
            for address in resources:
                obj = addr.object_of(address)
                if obj and addr.is_object_url(obj) and addr.authority(obj) == self.domain:
                    owner = self.allocator.owner.get(obj)
                    if owner is None:
                        self._answer(s, msg, 404, "unknown object")
                        return
                    if address in (obj, addr.subscription(obj)) and owner != s.runtime:
                        self._answer(s, msg, 403, "not the owner")
                        return
            new = [a for a in dict.fromkeys(resources) if a not in s.subscriptions]
            if len(s.subscriptions) + len(new) > self.subscriptions.max_per_session:
                self._answer(s, msg, 429, f"at most {self.subscriptions.max_per_session} node subscriptions")
                return
            changed = self.subscriptions.add(s, resources)
        else:
            changed = self.subscriptions.remove(s, resources)
        if self.monitor.active:
            action = "added" if msg["type"] == "subscribe" else "removed"
            for address in changed:
                self.monitor.emit("subscription", self.url, action=action, address=address, session=s.runtime)
        self._answer(s, msg, 200)

    def _object_allocation(self, s: Session, msg: Message) -> None:
        body = msg.get("body", {})
        try:
            if msg["type"] == "create":
                if s.visiting:
                    self._answer(s, msg, 403, "visiting sessions may not allocate addresses")
                    return
                scheme = body.get("scheme")
                value = body.get("value", {})
                number = value.get("number", 1) if isinstance(value, dict) else 1
                if not isinstance(scheme, str) or not scheme or "/" in scheme or ":" in scheme:
                    self._answer(s, msg, 400, "missing scheme")
                    return
                if isinstance(number, bool) or not isinstance(number, int):
                    self._answer(s, msg, 400, "bad number")
                    return
                urls = self.allocator.allocate(s.runtime, scheme, number)
                for url in urls:
                    self._ownership(url, s.runtime, "allocated")
                self._answer(s, msg, 200, value={"allocated": urls})
                return
            resource = body.get("resource")
            if not isinstance(resource, str) or not resource:
                self._answer(s, msg, 400, "missing resource")
                return
            if msg["type"] == "delete":
                self.allocator.deallocate(s.runtime, resource)
                self._ownership(resource, "", "deallocated")
                self._answer(s, msg, 200)
            elif msg["type"] == "read":
                token = body.get("delegationToken")
                if isinstance(token, str) and token:
                    self.allocator.fenced.add(token)
                owner = self.allocator.owner.get(resource)
                if owner is None:
                    self._answer(s, msg, 404, "unknown object")
                else:
                    self._answer(s, msg, 200, value={"runtime": owner})
            else:
                self._transfer(s, msg, resource, body)
        except AllocationError as exc:
            self._answer(s, msg, exc.code, exc.description)

    def _transfer(self, s: Session, msg: Message, resource: str, body: dict[str, Any]) -> None:
        """PROTOCOL §4 #8, the commit point: owner and the node subscriptions of O, O/subscription move."""
        value = body.get("value")
        token = body.get("delegationToken")
        target = value.get("runtime") if isinstance(value, dict) else None
        if not isinstance(target, str) or not addr.is_runtime_address(target) or not isinstance(token, str):
            self._answer(s, msg, 400, "missing value.runtime or delegationToken")
            return
        self.allocator.transfer(s.runtime, resource, target, token)
        new = self.sessions.get(target)
        for address in (resource, addr.subscription(resource)):
            self.subscriptions.move(address, s, new)
        self._ownership(resource, target, "transferred")
        self._answer(s, msg, 200)

    def _ownership(self, address: str, runtime: str, action: str) -> None:
        if self.monitor.active:
            self.monitor.emit("ownership", self.url, address=address, runtime=runtime, action=action)

    def _hyperty_allocation(self, s: Session, msg: Message) -> None:
        body = msg.get("body", {})
        try:
            if msg["type"] == "create":
                if s.visiting:
                    self._answer(s, msg, 403, "visiting sessions may not allocate addresses")
                    return
                value = body.get("value", {})
                number = value.get("number", 1) if isinstance(value, dict) else 1
                if isinstance(number, bool) or not isinstance(number, int):
                    self._answer(s, msg, 400, "bad number")
                    return
                urls = self.allocator.allocate(s.runtime, "hyperty", number)
                for url in urls:
                    self._ownership(url, s.runtime, "allocated")
                self._answer(s, msg, 200, value={"allocated": urls})
            else:
                resource = body.get("resource")
                if not isinstance(resource, str) or not resource:
                    self._answer(s, msg, 400, "missing resource")
                    return
                self.allocator.deallocate(s.runtime, resource)
                self._ownership(resource, "", "deallocated")
                self._answer(s, msg, 200)
        except AllocationError as exc:
            self._answer(s, msg, exc.code, exc.description)

    def _registry_request(self, s: Session, msg: Message) -> None:
        body = msg.get("body", {})
        mtype = msg["type"]
        if mtype == "read":
            resource = body.get("resource")
            if isinstance(resource, str) and resource:
                entry = self.registry.objects.get(resource)
                if entry is None:
                    self._answer(s, msg, 404, "not registered")
                else:
                    self._answer(s, msg, 200, value=dict(entry))
            else:
                self._answer(s, msg, 200, value=self.registry.live())
            return
        value = body.get("value")
        url = value.get("url") if isinstance(value, dict) else body.get("resource")
        if not isinstance(url, str) or not url:
            self._answer(s, msg, 400, "missing value.url" if mtype == "create" else "missing resource")
            return
        if addr.authority(url) == self.domain and self.allocator.owner.get(url) != s.runtime:
            self._answer(s, msg, 403, "not the owner")
            return
        if mtype == "create" and isinstance(value, dict):
            self.registry.register(value)
        elif mtype == "update" and isinstance(value, dict):
            if not self.registry.update(url, value):
                self._answer(s, msg, 404, "not registered")
                return
        elif mtype == "delete":
            self.registry.unregister(url)
        else:
            self._answer(s, msg, 400, "missing value")
            return
        self._answer(s, msg, 200)

    # views -----------------------------------------------------------------------------------------

    def live_objects(self) -> list[dict[str, Any]]:
        """The domain's registered live objects (the registry query)."""
        return self.registry.live()


def resources_of(body: dict[str, Any], mtype: str) -> tuple[list[str], str | None]:
    """The address list of an MN (un)subscribe: `resources`, or one alias of PROTOCOL §1.5 / §7 #5."""
    forms = []
    if "resources" in body:
        forms.append(body["resources"])
    if mtype in body:
        forms.append(body[mtype])
    if "resource" in body:
        resource = body["resource"]
        names = body.get("childrenResources", [])
        if not isinstance(resource, str) or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return [], "bad resource or childrenResources"
        forms.append([resource, *(addr.children(resource, n) for n in names)])
    if not forms:
        return [], "missing resources"
    if len(forms) > 1:
        return [], "give resources in one form only"
    resources = forms[0]
    if not isinstance(resources, list) or not resources or not all(isinstance(a, str) and a for a in resources):
        return [], "resources must be a non-empty list of addresses"
    return resources, None


def _peek(frame: bytes | str) -> dict[str, Any] | None:
    """Read `id`, `from`, `to`, `type` of an oversize frame when it parses (to answer 413)."""
    try:
        msg = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(msg, dict):
        return None
    return {k: msg.get(k) for k in ("id", "type", "from", "to")}
