"""The node's side of the cluster: its local view kept current from JetStream, and the deliveries
that come from other nodes (issue 15)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from core.node.cluster.router import Delivery
from core.node.session import TAKEOVER
from core.protocol import address as addr
from core.protocol.message import UNANSWERED

if TYPE_CHECKING:
    from core.node.node import MessageNode


class NodeView:
    """Applies what any node stored (the watchers of `ClusterState`) to `node`'s in-memory maps, and
    delivers what other nodes route here to `node`'s sessions."""

    def __init__(self, node: MessageNode) -> None:
        self.node = node

    # shared state ------------------------------------------------------------------------------------

    def set_token(self, runtime: str, token: str | None) -> None:
        if token is None:
            self.node.tokens.pop(runtime, None)
        else:
            self.node.tokens[runtime] = token

    def set_owner(self, address: str, runtime: str | None) -> None:
        node = self.node
        before = node.allocator.owner.get(address)
        if before == runtime:
            return
        node.allocator.set_owner(address, runtime)
        if runtime is None:
            node.registry.forget_locally(address)
            return
        # A delegation committed on another node (PROTOCOL §4 #8): the reporter's node subscriptions
        # follow the object to the new owner's session when that session is here.
        session = node.sessions.get(runtime)
        if before is not None and session is not None and addr.is_object_url(address):
            for channel in (address, addr.subscription(address)):
                node.subscriptions.add(session, [channel])

    def set_fence(self, token: str, kind: str | None) -> None:
        if kind == "fence":
            self.node.allocator.fenced.add(token)

    def set_bound(self, hyperty: str, runtime: str | None) -> None:
        if runtime is None:
            self.node.bound.pop(hyperty, None)
        else:
            self.node.bound.setdefault(hyperty, runtime)

    def set_registration(self, url: str, value: dict[str, Any] | None) -> None:
        self.node.registry.apply(url, value)

    def set_acceptance(self, key: str, runtime: str | None) -> None:
        resource, _, token = key.partition("\n")
        if runtime is None:
            self.node.allocator.unaccept((resource, token))
        elif self.node.allocator.accepted.get((resource, token)) != runtime:
            self.node.allocator.accept(runtime, resource, token)

    # deliveries from other nodes (core.node.cluster.router.LocalDelivery) ---------------------------------

    def deliver_to_runtime(self, runtime: str, data: bytes) -> Delivery:
        node = self.node
        session = node.sessions.get(runtime)
        if session is None:
            return Delivery.REFUSED
        msg = orjson.loads(data)
        to = msg["to"]
        if msg["type"] not in UNANSWERED and node.deallocated.get(to) == runtime and to not in node.allocator.owner:
            # This runtime deleted it through this node, and the sender's view still had it: the runtime's
            # own answer, from an address it no longer owns, would be refused. (Only what this node saw
            # deallocated: one it has not heard of yet may have been allocated through another node.)
            if node.monitor.active:
                node.monitor.emit("drop", node.url, reason="gone: the object was deleted", message=msg,
                                  session=runtime)
            return Delivery.GONE
        node._deliver([session], msg)
        return Delivery.DELIVERED

    def deliver_to_address(self, address: str, data: bytes, prefix_only: bool) -> bool:
        """`prefix_only`: `data` is the copy of an `O/children/<name>` message for the sessions that
        subscribed `address` = `O/children/` and not the exact channel (they got the exact copy)."""
        subscriptions = self.node.subscriptions
        if prefix_only:
            msg = orjson.loads(data)
            exact = set(subscriptions.exact(msg["to"]))
            peers = [p for p in subscriptions.exact(address) if p not in exact]
        else:
            peers = subscriptions.exact(address)
            msg = orjson.loads(data) if peers else None
        if not peers or msg is None:
            return False
        self.node._deliver(peers, msg)
        return True

    def taken_over(self, runtime: str) -> None:
        """The runtime opened a session on another node: this node's older one ends (TRANSPORT §2)."""
        session = self.node.sessions.get(runtime)
        if session is not None:
            self.node.disconnect(session, "taken over on another node")
            session.transport.close(*TAKEOVER)
