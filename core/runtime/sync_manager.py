"""The runtime Sync Manager `<RuntimeURL>/sm` (PROTOCOL §3): create and invite, subscribe, the
read, unsubscribe; the reporter-side subscription handler `L(O/subscription)` is
`core.runtime.subscribers`, delete `core.runtime.deletion`, update tracking `core.runtime.update_tracking`.

Every request runs as an owned task; every refusal is answered with the PROTOCOL §6 code and
description, and processing stops there.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from core.protocol import address as addr
from core.protocol.changes import copy_json, own_containers
from core.protocol.dialect import flat_children, minted
from core.protocol.identity import user_of
from core.protocol.message import Message, code_of, description_of
from core.protocol.schema import Descriptor, DescriptorError
from core.protocol.timestamps import iso_now
from core.runtime.delegation import Delegations
from core.runtime.deletion import Deletion
from core.runtime.observer_object import ObserverObject, Subscription, SubscriptionState
from core.runtime.refusal import Refusal
from core.runtime.reporter_object import ObjectState, ReporterObject
from core.runtime.resume import Resumer
from core.runtime.subscribers import Subscribers
from core.runtime.wiring import Wiring

if TYPE_CHECKING:
    from core.runtime.runtime import Runtime


class SyncManager(Wiring):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.url = runtime.sm_url
        self.bus = runtime.bus
        self.monitor = runtime.monitor
        self.timers = runtime.timers
        self.reporters: dict[str, ReporterObject] = {}
        self.observers: dict[str, ObserverObject] = {}
        self.delegations = Delegations(self)
        self.resumer = Resumer(self)
        self.deletion = Deletion(self)
        self.subscribers = Subscribers(self)
        self.listener = self.bus.add_listener(self.url, self._on_request, "L", self.url)

    # dispatch ------------------------------------------------------------------------------------

    def _on_request(self, msg: Message) -> None:
        mtype = msg["type"]
        if mtype == "response":
            return
        handler = {"create": self._create, "subscribe": self._subscribe, "unsubscribe": self._unsubscribe,
                   "delete": self.deletion.delete, "read": self._local_read, "update": self._snapshot_update,
                   "execute": self._execute}.get(mtype)
        if handler is None:
            self.bus.reply(msg, 400, f"{mtype} is not handled by the Sync Manager")
            return
        self.runtime.tasks.spawn(self._guarded(handler, msg), f"sm {mtype}")

    async def _guarded(self, handler: Any, msg: Message) -> None:
        try:
            await handler(msg)
        except Refusal as refusal:
            self.bus.reply(msg, refusal.code, refusal.description)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # answer, then let the task trace it
            self.bus.reply(msg, 500, f"internal error: {type(exc).__name__}: {exc}")
            raise

    def _local_hyperty(self, msg: Message) -> str:
        sender = msg["from"]
        if sender not in self.runtime.hyperty_urls:
            raise Refusal(403, "not a local hyperty")
        return str(sender)

    def _allowed(self, action: str, msg: Message) -> None:
        if not self.runtime.policy.allows(action, msg):
            raise Refusal(403, "Blocked by policy")

    def _descriptor(self, schema: str) -> Descriptor:
        try:
            return self.runtime.catalogue.resolve(schema)
        except DescriptorError as exc:
            raise Refusal(500, str(exc)) from exc

    @staticmethod
    def _field(b: dict[str, Any], name: str, kind: type | tuple[type, ...] = str) -> Any:
        value = b.get(name)
        wrong_type = not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)
        if value is None or value == "" or wrong_type:
            raise Refusal(400, f"missing {name}")
        return value

    # create (PROTOCOL §3.1) ------------------------------------------------------------------------

    async def _create(self, msg: Message) -> None:
        b = msg.get("body", {})
        if b.get("resume") is True:
            await self.resumer.reporters(msg)                # PROTOCOL §3.8
            return
        if "delegate" in b:
            await (self.delegations.accept(msg) if "delegationToken" in b else self.delegations.request(msg))
            return
        resource = b.get("resource")
        if isinstance(resource, str) and resource in self.reporters:
            await self._invite_or_repeat(msg, self.reporters[resource])
            return
        reporter = self._local_hyperty(msg)
        schema = self._field(b, "schema")
        value = self._field(b, "value", dict)
        self._allowed("create", msg)
        descriptor = self._descriptor(schema)
        if resource is not None:
            if "authorise" in b and "data" not in value:
                raise Refusal(404, "unknown object")   # an invitation for an object we do not report
            raise Refusal(403, "resource not reusable")
        url = await self._allocate(descriptor.scheme)
        metadata = own_containers({k: v for k, v in value.items() if k != "data"})   # not the sender's lists
        metadata.update({"url": url, "reporter": reporter, "runtime": self.runtime.url, "schema": schema,
                         "childrens": list(descriptor.children), "status": "live"})   # §3.0.4, as registered
        user = user_of(b.get("identity")) or self.runtime.user_of(reporter)
        ro = ReporterObject(url, reporter, schema, descriptor.children, metadata, store=bool(b.get("store")),
                            preauthorised=set(_urls(b.get("authorise"))), subscriber_users=[user] if user else [],
                            last_modified=iso_now(),
                            data=copy_json(value.get("data", {})) if b.get("store") else None)
        ro.routed = value.get("domain_routing") is not False
        ro.registered = value.get("domain_registration") is not False
        self._attach_reporter(ro)
        if ro.routed:
            reply = await self.runtime.routing.subscribe(ro.node_addresses(), retries=self.timers.mn_retries)
            if code_of(reply) != 200:
                await self._undo_create(ro, routed=False)
                raise Refusal(500, f"node subscription failed: {code_of(reply)} {description_of(reply)}")
            ro.mns = ro.node_addresses()
        if ro.registered:
            reply = await self._registry("create", ro.registration(self.runtime.url))
            if code_of(reply) != 200:
                await self._undo_create(ro, routed=ro.routed)
                raise Refusal(500, f"registration failed: {code_of(reply)} {description_of(reply)}")
        self.runtime.persist_reporter(ro)
        self.monitor.emit("object", self.runtime.url, action="created", role="reporter", object=url,
                          schema=schema, reporter=reporter, version=0)
        self.bus.reply(msg, 200, resource=url, childrenResources=list(descriptor.children))

    async def _allocate(self, scheme: str) -> str:
        """PROTOCOL §1.2 step 4; a reTHINK runtime mints the URL and claims it by its MNS (INTEROP §2)."""
        if self.runtime.rethink:
            return minted(scheme, self.runtime.domain)
        allocated = await self.bus.request({"type": "create", "from": self.runtime.allocation_url,
                                            "to": addr.object_allocation(self.runtime.domain),
                                            "body": {"scheme": scheme,
                                                     "value": {"number": 1, "allocationKey": self.runtime.url}}})
        urls = allocated.get("body", {}).get("value", {}).get("allocated") if code_of(allocated) == 200 else None
        if not urls or not isinstance(urls, list) or not isinstance(urls[0], str):
            raise Refusal(500, f"allocation failed: {code_of(allocated)} {description_of(allocated)}")
        return urls[0]

    async def _undo_create(self, ro: ReporterObject, routed: bool) -> None:
        self._detach_reporter(ro)
        if routed:
            await self.runtime.routing.unsubscribe(ro.node_addresses())
        await self._deallocate(ro.url)

    async def _deallocate(self, url: str) -> Message:
        return await self.bus.request({"type": "delete", "from": self.runtime.allocation_url,
                                       "to": addr.object_allocation(addr.authority(url)), "body": {"resource": url}})

    async def _registry(self, mtype: str, value: dict[str, Any] | None = None, resource: str = "") -> Message:
        body: dict[str, Any] = {"value": value} if value is not None else {"resource": resource}
        domain = addr.authority(value["url"] if value else resource)
        return await self.bus.request({"type": mtype, "from": self.runtime.url + "/registry",
                                       "to": addr.registry(domain), "body": body})

    # invite (PROTOCOL §3.1.1) ----------------------------------------------------------------------

    async def _invite_or_repeat(self, msg: Message, ro: ReporterObject) -> None:
        b = msg.get("body", {})
        if msg["from"] != ro.owner:
            raise Refusal(403, "not the reporter")
        if "authorise" not in b:
            self.bus.reply(msg, 200, resource=ro.url, childrenResources=list(ro.childrens))
            return
        if ro.state is not ObjectState.LIVE:
            raise Refusal(503, "object in delegation")
        invitees = _urls(b.get("authorise"))
        if len(invitees) != 1 or not isinstance(b.get("authorise"), list) or len(b["authorise"]) != 1:
            raise Refusal(400, "authorise must name exactly one hyperty")
        self._allowed("invite", msg)
        invitee = invitees[0]
        ro.preauthorised.add(invitee)
        self.runtime.persist_reporter(ro)
        invitation: dict[str, Any] = {"source": ro.owner, "resource": ro.url, "schema": ro.schema,
                                      "value": {k: v for k, v in ro.metadata.items() if k != "data"}}
        if "identity" in b:
            invitation["identity"] = b["identity"]

        def relay(answer: Message) -> None:  # #10: each #9 relayed with the id of #7
            ab = answer.get("body", {})
            self.bus.reply(msg, code_of(answer), ab.get("description") if code_of(answer) >= 300 else None,
                           source=invitee)

        self.bus.post({"type": "create", "from": addr.subscription(ro.url), "to": invitee, "body": invitation},
                      relay, self.timers.request)

    # subscribe (PROTOCOL §3.2, observer side) --------------------------------------------------------

    async def _subscribe(self, msg: Message) -> None:
        b = msg.get("body", {})
        if b.get("resume") is True:
            await self.resumer.observers(msg)                # PROTOCOL §3.8
            return
        hyperty = self._local_hyperty(msg)
        url = self._field(b, "resource")
        schema = self._field(b, "schema")
        if not addr.is_object_url(url):
            raise Refusal(400, "resource is not an ObjectURL")
        self._allowed("subscribe", msg)
        oo = self.observers.get(url)
        sub = oo.subscriptions.get(hyperty) if oo else None
        if sub is not None and sub.state is SubscriptionState.PENDING:
            raise Refusal(409, "subscription pending")
        if oo is None or sub is None:
            descriptor = self._descriptor(schema)
            if oo is None:
                oo = await self._observe(url, schema, descriptor, b)
            sub = Subscription(hyperty)
            oo.subscriptions[hyperty] = sub
            sub.forwards = [self.runtime.forward(tuple(oo.node_addresses()), hyperty)]
            self.monitor.emit("subscription", self.runtime.url, object=url, hyperty=hyperty, state="pending",
                              side="observer")
        self.bus.reply(msg, 100, resource=url, schema=schema, childrenResources=list(oo.childrens))
        request: dict[str, Any] = {"source": hyperty, "subscriber": hyperty}   # reTHINK reads `subscriber`
        if "identity" in b:
            request["identity"] = b["identity"]
        answer = await self._ask_reporter(url, request, msg)
        if code_of(answer) != 200:
            self._drop_subscription(oo, hyperty)
            if not oo.subscriptions and not oo.dormant:
                await self._forget_observed(oo)
            self.bus.reply(msg, code_of(answer), description_of(answer) or "subscription refused")
            return
        ab = answer.get("body", {})
        value = ab.get("value") if isinstance(ab.get("value"), dict) else {}
        # a reTHINK reporter's SM says `owner` (INTEROP §3)
        self._confirm(oo, value, str(ab.get("reporter") or ab.get("owner") or value.get("reporter", "")))
        sub.state = SubscriptionState.LIVE
        self.runtime.persist_observer(oo)
        self.monitor.emit("subscription", self.runtime.url, object=url, hyperty=hyperty, state="live",
                          side="observer", version=oo.version)
        self.bus.reply(msg, 200, resource=url, schema=schema, value=value)

    async def _observe(self, url: str, schema: str, descriptor: Descriptor, b: dict[str, Any]) -> ObserverObject:
        """A new ObserverObject with its listeners and MNS (PROTOCOL §3.2 step 4)."""
        oo = ObserverObject(url, schema, descriptor.children, store=bool(b.get("store")))
        self._attach_observer(oo)
        if b.get("domain_subscription") is not False:
            reply = await self.runtime.routing.subscribe(oo.node_addresses())
            if code_of(reply) != 200:
                self._release_observed(oo)
                raise Refusal(code_of(reply) or 500, description_of(reply) or "node subscription failed")
            oo.mns = oo.node_addresses()
        return oo

    async def _ask_reporter(self, url: str, request: dict[str, Any], msg: Message,
                            mtype: str = "subscribe") -> Message:
        """#5 (or the unsubscribe #2), re-sent every second while answered 503 (a delegation is
        pending), for up to T_standby: a delegation delays requests instead of failing them."""
        deadline = asyncio.get_running_loop().time() + self.timers.standby
        while True:
            answer = await self.bus.request(
                {"type": mtype, "from": self.url, "to": addr.subscription(url), "body": dict(request)},
                on_provisional=lambda r: self.bus.reply(msg, code_of(r)))  # every 1xx relayed (§3.2)
            if code_of(answer) != 503 or asyncio.get_running_loop().time() >= deadline:
                return answer
            await asyncio.sleep(self.timers.retry_503_every)

    def _confirm(self, oo: ObserverObject, value: dict[str, Any], reporter: str) -> None:
        version = value.get("version", 0)
        version = version if isinstance(version, int) and not isinstance(version, bool) else 0
        if reporter:
            oo.reporter = reporter
        oo.metadata = own_containers({k: v for k, v in value.items()
                                      if k not in ("data", "version", "childrenObjects")})
        if not oo.confirmed or version > oo.version:
            oo.tracker.reset(max(version, oo.version))
            if oo.store and self.runtime.observer_storage_allowed(value):
                oo.replaced(copy_json(value.get("data", {})), copy_json(flat_children(value.get("childrenObjects"))))
        oo.confirmed = True
        early, oo.early = oo.early, {}
        for v in sorted(early):
            if v > oo.version:
                self._offer(oo, v, early[v])

    def _left_deleted(self, oo: ObserverObject, hyperty: str) -> None:
        """A hyperty that resumed a deleted object's tombstone leaves it; the last one ends it."""
        oo.dormant.discard(hyperty)
        if oo.dormant or oo.subscriptions:
            self.runtime.persist_observer(oo)
            return
        self._release_observed(oo)
        self.runtime.forget_observer(oo.url)

    def _drop_subscription(self, oo: ObserverObject, hyperty: str) -> None:
        oo.dormant.discard(hyperty)
        sub = oo.subscriptions.pop(hyperty, None)
        if sub is not None:
            for listener in sub.forwards:
                listener.remove()
            self.monitor.emit("subscription", self.runtime.url, object=oo.url, hyperty=hyperty, state="removed",
                              side="observer")

    def _release_observed(self, oo: ObserverObject) -> None:
        self._unwire(oo)
        if self.observers.get(oo.url) is oo:
            del self.observers[oo.url]

    async def _forget_observed(self, oo: ObserverObject) -> None:
        self._release_observed(oo)
        self.runtime.forget_observer(oo.url)   # first: a crash during the node's answer must not resume it
        mns, oo.mns = oo.mns, []
        if mns:
            await self.runtime.routing.unsubscribe(mns)

    # unsubscribe (PROTOCOL §3.5) ---------------------------------------------------------------------

    async def _unsubscribe(self, msg: Message) -> None:
        b = msg.get("body", {})
        hyperty = self._local_hyperty(msg)
        url = self._field(b, "resource")
        subscriber = b.get("subscriber", b.get("source"))
        if isinstance(subscriber, str) and subscriber and subscriber != hyperty:
            await self._revoke(msg, url, subscriber)
            return
        oo = self.observers.get(url)
        if oo is not None and oo.deleted and hyperty in oo.dormant:
            self._left_deleted(oo, hyperty)   # it resumed, found the object gone and leaves (§3.8)
            self.bus.reply(msg, 200)
            return
        if oo is None or hyperty not in oo.subscriptions:
            raise Refusal(404, "not subscribed")
        request: dict[str, Any] = {"source": hyperty, "subscriber": hyperty}
        if "identity" in b:
            request["identity"] = b["identity"]
        # Whatever the answer, 408 included: a reTHINK reporter never answers (INTEROP §3), and the
        # reporter was told either way.
        await self._ask_reporter(url, request, msg, "unsubscribe")
        self._drop_subscription(oo, hyperty)
        if oo.subscriptions or oo.dormant:   # the record stays for hyperties that have not resumed yet
            self.runtime.persist_observer(oo)
        else:
            await self._forget_observed(oo)
        self.bus.reply(msg, 200)

    def _reporter_of(self, msg: Message, url: str) -> ReporterObject:
        """PROTOCOL §6: the live object `url` whose reporter sent `msg` (404 / 403 / 503 otherwise)."""
        ro = self.reporters.get(url)
        if ro is None:
            raise Refusal(404, "unknown object")
        if msg["from"] != ro.owner:
            raise Refusal(403, "not the reporter")
        if ro.state is not ObjectState.LIVE:
            raise Refusal(503, "object in delegation")
        return ro

    async def _revoke(self, msg: Message, url: str, hyperty: str) -> None:
        """Reporter-initiated unsubscribe (PROTOCOL §3.5, revocation #1–#3)."""
        ro = self._reporter_of(msg, url)
        if hyperty not in ro.subscriptions and hyperty not in ro.preauthorised:
            raise Refusal(404, "not subscribed")            # PROTOCOL §6: nothing to revoke
        ro.subscriptions.pop(hyperty, None)
        ro.preauthorised.discard(hyperty)
        self.runtime.persist_reporter(ro)
        self.monitor.emit("subscription", self.runtime.url, object=url, hyperty=hyperty, state="revoked",
                          side="reporter")
        self.bus.reply(msg, 200)

    # local read, snapshot update, execute (PROTOCOL §3.4, §5 rule 5, §3.9) ---------------------------

    async def _local_read(self, msg: Message) -> None:
        self._local_hyperty(msg)
        url = self._field(msg.get("body", {}), "resource")
        ro = self.reporters.get(url)
        if ro is not None:
            ro.document()   # the record leaves the Sync Manager: its data decoded, not a resume's text
            self.bus.reply(msg, 200, value=ro.record())
            return
        oo = self.observers.get(url)
        if oo is None:
            raise Refusal(404, "unknown object")
        self.bus.reply(msg, 200, value=oo.record())

    async def _snapshot_update(self, msg: Message) -> None:
        b = msg.get("body", {})
        if "delegate" in b and "status" in b:
            await self.delegations.peer_update(msg)          # PROTOCOL §4 #9 / aborted
            return
        hyperty = self._local_hyperty(msg)
        url = self._field(b, "resource")
        value = self._field(b, "value", dict)
        oo = self.observers.get(url)
        if oo is None or hyperty not in oo.subscriptions:
            raise Refusal(404, "not subscribed")
        version = value.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version >= oo.version:
            oo.tracker.reset(version)
            if oo.store and self.runtime.observer_storage_allowed(value):
                oo.replaced(copy_json(value.get("data", {})), copy_json(flat_children(value.get("childrenObjects"))))
            while (nxt := oo.tracker.next_buffered()) is not None:   # what came after the snapshot's version
                self._apply_observed(oo, nxt)
            oo.stale = oo.store and oo.tracker.has_gap    # PROTOCOL §5 rule 5: stale only while a gap is still open
            self.runtime.persist_observer(oo)
        self.bus.reply(msg, 200)

    async def _execute(self, msg: Message) -> None:
        self._local_hyperty(msg)
        b = msg.get("body", {})
        method = self._field(b, "method")
        if method not in ("sync", "stopSync"):
            raise Refusal(400, f"unknown method {method}")
        self.bus.reply(msg, 200)

    # views ---------------------------------------------------------------------------------------

    def close(self) -> None:
        self.listener.remove()


def _urls(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []
