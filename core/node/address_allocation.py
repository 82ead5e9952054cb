"""The node's address allocation components (PROTOCOL §1.2, §4 #8, TRANSPORT §3): object and hyperty
allocation, deallocation, the owner query and the ownership transfer, as a part of `MessageNode`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from core.monitor import Monitor
from core.node.allocation import AllocationError, Allocator
from core.node.limits import Limits, address_error, scheme_error, token_error
from core.node.monitor_feed import MonitorFeed
from core.node.registry import Registry
from core.node.session import Session
from core.node.state import MemoryState
from core.node.subscription_manager import SubscriptionManager
from core.protocol import address as addr
from core.protocol.message import Message

#: Objects deallocated by reTHINK runtimes the node remembers, for their late delete (INTEROP).
MAX_DEALLOCATED = 10_000


class AddressAllocation:
    """`domain://msg-node.<d>/object-address-allocation` and `…/hyperty-address-allocation`."""

    url: str
    limits: Limits
    allocator: Allocator
    state: MemoryState
    registry: Registry
    sessions: dict[str, Session]
    subscriptions: SubscriptionManager
    monitor: Monitor
    feed: MonitorFeed | None
    deallocated: OrderedDict[str, str]

    def _answer(self, s: Session, request: Message, code: int, description: str | None = None,
                **fields: Any) -> None:
        raise NotImplementedError   # the node's

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
                problem = scheme_error(scheme, self.limits.max_scheme)   # PROTOCOL §1.1, TRANSPORT §5
                if problem is not None:
                    self._answer(s, msg, 400, problem)
                    return
                if isinstance(number, bool) or not isinstance(number, int):
                    self._answer(s, msg, 400, "bad number")
                    return
                urls = self.allocator.allocate(s.runtime, scheme, number)
                self.state.owners(urls, s.runtime)
                for url in urls:
                    self._ownership(s, url, s.runtime, "allocated")
                self._answer(s, msg, 200, value={"allocated": urls})
                return
            resource = body.get("resource")
            if not isinstance(resource, str) or not resource:
                self._answer(s, msg, 400, "missing resource")
                return
            if msg["type"] == "delete":
                self.allocator.deallocate(s.runtime, resource)
                self.state.drop_owner(resource)
                self.registry.forget(resource)
                if addr.is_object_url(resource):
                    self.deallocated[resource] = s.runtime
                    if len(self.deallocated) > MAX_DEALLOCATED:
                        self.deallocated.popitem(last=False)
                self._ownership(s, resource, "", "deallocated")
                self._answer(s, msg, 200)
            elif msg["type"] == "read":
                self._owner_query(s, msg, resource, body.get("delegationToken"))
            else:
                self._transfer(s, msg, resource, body)
        except AllocationError as exc:
            self._answer(s, msg, exc.code, exc.description)

    def _owner_query(self, s: Session, msg: Message, resource: str, token: Any) -> None:
        """PROTOCOL §1.2 step 6. The query fences its token only when it is answered 200 and asked by
        the owner or by the runtime that accepted a transfer with it: nobody else's query can be
        contradicted by a transfer, and a refused or third-party query stores nothing."""
        problem = token_error(self.limits, token)
        if problem is not None:
            self._answer(s, msg, 400, problem)
            return
        owner = self.allocator.owner.get(resource)
        if owner is None:
            self._answer(s, msg, 404, "unknown object")
            return
        if isinstance(token, str) and token and token not in self.allocator.fenced and (
                owner == s.runtime or self.allocator.accepted.get((resource, token)) == s.runtime):
            self.allocator.unaccept((resource, token))
            self.allocator.fenced.add(token)
            self.state.fence(token)
        self._answer(s, msg, 200, value={"runtime": owner})

    def _transfer(self, s: Session, msg: Message, resource: str, body: dict[str, Any]) -> None:
        """PROTOCOL §4 #8, the commit point: owner and the node subscriptions of O, O/subscription move,
        only to a runtime that accepted the transfer with this token (#4), within its quota."""
        value = body.get("value")
        token = body.get("delegationToken")
        target = value.get("runtime") if isinstance(value, dict) else None
        if not isinstance(target, str) or not isinstance(token, str) or not token:
            self._answer(s, msg, 400, "missing value.runtime or delegationToken")
            return
        problem = address_error(self.limits, target) or token_error(self.limits, token)
        if problem is None and addr.runtime_of(target) != target:
            problem = "value.runtime is not a runtime URL"
        if problem is not None:
            self._answer(s, msg, 400, problem)
            return
        self.allocator.transfer(s.runtime, resource, target, token)
        self.state.commit_transfer(token)
        self.state.owners([resource], target)
        new = self.sessions.get(target)
        for address in (resource, addr.subscription(resource)):
            had = address in s.subscriptions
            self.subscriptions.move(address, s, new)
            if had and self.monitor.active:   # the routing view follows the move like any other change
                self.monitor.emit("subscription", self.url, action="removed", address=address, session=s.runtime)
                if new is not None:
                    self.monitor.emit("subscription", self.url, action="added", address=address,
                                      session=new.runtime)
        self._ownership(s, resource, target, "transferred")
        self._answer(s, msg, 200)

    def _ownership(self, s: Session, address: str, runtime: str, action: str) -> None:
        """`runtime` is the owner afterwards ('' once deallocated); `session` the runtime that asked."""
        if self.monitor.active:
            detail: dict[str, Any] = {"address": address, "runtime": runtime, "action": action, "session": s.runtime}
            feed = self.feed
            if feed is not None and feed.alone():
                feed.flat("ownership", detail, strings=True)   # no TraceEvent nobody else reads
            else:
                self.monitor.emit("ownership", self.url, **detail)

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
                self.state.owners(urls, s.runtime)
                for url in urls:
                    self._ownership(s, url, s.runtime, "allocated")
                self._answer(s, msg, 200, value={"allocated": urls})
            else:
                resource = body.get("resource")
                if not isinstance(resource, str) or not resource:
                    self._answer(s, msg, 400, "missing resource")
                    return
                self.allocator.deallocate(s.runtime, resource)
                self.state.drop_owner(resource)
                self._ownership(s, resource, "", "deallocated")
                self._answer(s, msg, 200)
        except AllocationError as exc:
            self._answer(s, msg, exc.code, exc.description)
