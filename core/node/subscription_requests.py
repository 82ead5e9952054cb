"""The node's Subscription Manager requests (PROTOCOL §1.5, §3.2 #3, §3.5 #5, INTEROP §2): node
subscriptions added and removed for a session, and the claims of a reTHINK runtime's locally minted
addresses made by its subscribe. A part of `MessageNode`."""

from __future__ import annotations

from core.monitor import Monitor
from core.node.allocation import AllocationError, Allocator
from core.node.frames import resources_of
from core.node.limits import Limits, addresses_error, scheme_error
from core.node.session import Session
from core.node.state import MemoryState
from core.node.subscription_manager import SubscriptionManager
from core.protocol import address as addr
from core.protocol.dialect import is_rethink
from core.protocol.message import Message


class SubscriptionRequests:
    """`domain://msg-node.<d>/sm`: subscribe and unsubscribe of node subscriptions."""

    url: str
    domain: str
    limits: Limits
    allocator: Allocator
    state: MemoryState
    subscriptions: SubscriptionManager
    monitor: Monitor

    def _answer(self, s: Session, request: Message, code: int, description: str | None = None,
                **fields: object) -> None:
        raise NotImplementedError   # the node's

    def _ownership(self, s: Session, address: str, runtime: str, action: str) -> None:
        raise NotImplementedError   # AddressAllocation's

    def _subscription_request(self, s: Session, msg: Message) -> None:
        resources, problem = resources_of(msg.get("body", {}), msg["type"])
        if problem is None:
            problem = addresses_error(self.limits, resources)
        if problem is not None:
            self._answer(s, msg, 400, problem)
            return
        if msg["type"] == "subscribe":
            runtime = s.runtime
            rethink = is_rethink(runtime)
            claims: list[str] = []      # INTEROP §2: a reTHINK runtime's locally minted addresses
            owners: dict[str, str] = {}   # ObjectURL → its owner, '' when not one of this domain's objects
            # `<scheme>://<this domain>/` of the last of this domain's ObjectURLs parsed: an address that
            # starts with it is `head + guid[/…]`, whose object is `head + guid` without the full parse
            head = ""
            obj = objslash = ""
            theirs, guarded = False, ("", "")
            for address in resources:
                # an object's addresses come together: O itself or O/… is O's again, without a parse
                if not obj or not (address.startswith(objslash) or address == obj):
                    known = bool(head) and address.startswith(head)
                    if known:
                        end = address.find("/", len(head))
                        obj = address if end < 0 else address[:end]
                        if len(obj) == len(head):
                            obj = ""
                    else:
                        obj = addr.object_of(address)
                    if not obj:
                        continue
                    objslash = obj + "/"
                    owner = owners.get(obj)
                    if owner is None:
                        owner = ""
                        if known or (addr.authority(obj) == self.domain and (
                                addr.is_object_url(obj) or (rethink and addr.is_hyperty(obj)))):
                            if not known and addr.is_object_url(obj):
                                head = obj.rpartition("/")[0] + "/"
                            owner = self.allocator.owner.get(obj, "")
                            if not owner and rethink and address in (obj, addr.subscription(obj)):
                                if s.visiting:
                                    self._answer(s, msg, 403, "visiting sessions may not allocate addresses")
                                    return
                                problem = scheme_error(addr.scheme_of(obj), self.limits.max_scheme) \
                                    if addr.is_object_url(obj) else None
                                if problem is not None:      # a claim allocates: the same bounds (TRANSPORT §5)
                                    self._answer(s, msg, 400, problem)
                                    return
                                owner = runtime
                                claims.append(obj)
                            elif not owner:
                                self._answer(s, msg, 404, "unknown object")
                                return
                        owners[obj] = owner
                    theirs = bool(owner) and owner != runtime
                    if theirs:
                        guarded = (obj, addr.subscription(obj))   # what only its owner may subscribe
                if theirs and address in guarded:
                    self._answer(s, msg, 403, "not the owner")
                    return
            new = self.subscriptions.new_of(s, resources)
            refusal = self.subscriptions.refusal(s, new)
            if refusal is not None:
                self._answer(s, msg, *refusal)
                return
            if claims:
                try:
                    self.allocator.claim(s.runtime, claims)
                except AllocationError as exc:
                    self._answer(s, msg, exc.code, exc.description)
                    return
                self.state.owners(claims, s.runtime)
                for url in claims:
                    self._ownership(s, url, s.runtime, "claimed")
            changed = self.subscriptions.add(s, resources, new)
        else:
            changed = self.subscriptions.remove(s, resources)
        if self.monitor.active:
            action = "added" if msg["type"] == "subscribe" else "removed"
            for address in changed:
                self.monitor.emit("subscription", self.url, action=action, address=address, session=s.runtime)
        self._answer(s, msg, 200)
