"""The Syncher of one hyperty: creates, subscribes, reads, resumes, and handles what reaches `SB(H)`
(invitations, subscription forwards, deletes, revocations); the children channels (§3.7) are
`core.sync.children`, a delegation's candidate side (§4) `core.sync.candidate`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.protocol import address as addr
from core.protocol import changes as ch
from core.protocol.dialect import is_rethink
from core.protocol.message import Message, SyncError, code_of, response
from core.protocol.timestamps import iso_now
from core.schemas import expand
from core.sync.candidate import DelegationCandidate
from core.sync.children import SyncherChildren
from core.sync.events import NotificationEvent
from core.sync.observer import DataObjectObserver, split_value
from core.sync.reporter import DataObjectReporter
from core.sync.sandbox import Sandbox, SandboxListener

if TYPE_CHECKING:
    from core.runtime.hyperty import Hyperty


class Syncher(SyncherChildren, DelegationCandidate):
    def __init__(self, hyperty: Hyperty) -> None:
        self.hyperty = hyperty
        self.runtime = hyperty.runtime
        self.url = hyperty.url
        self.sandbox: Sandbox = hyperty.sandbox
        self.sm_url = self.runtime.sm_url
        self.reporters: dict[str, DataObjectReporter] = {}
        self.observers: dict[str, DataObjectObserver] = {}
        self._on_notification: Callable[[NotificationEvent], Any] | None = None
        self._stored: set[str] = set()
        self._child_counters: dict[str, int] = {}
        self._standby: dict[str, DataObjectReporter] = {}
        self._healing_children: set[str] = set()
        self._on_reporters_resume: Callable[[list[DataObjectReporter]], Any] | None = None
        self._on_observers_resume: Callable[[list[DataObjectObserver]], Any] | None = None
        self._listener = self.sandbox.add(self.url, self._on_message)

    def __repr__(self) -> str:
        return f"Syncher({self.url})"

    def _adopt(self, obj: DataObjectReporter | DataObjectObserver) -> None:
        """Hold `obj` by URL and tell the monitor (the console learns of Syncher objects this way)."""
        if isinstance(obj, DataObjectReporter):
            role, self.reporters[obj.url] = "reporter", obj
        else:
            role, self.observers[obj.url] = "observer", obj
        monitor = self.runtime.monitor
        if monitor.active:   # no event dict per object while nobody listens (a resume adopts thousands)
            monitor.emit("object", self.runtime.url, action="held", role=role, object=obj.url, hyperty=self.url,
                         version=obj.version)

    def on_notification(self, handler: Callable[[NotificationEvent], Any]) -> None:
        self._on_notification = handler

    def on_reporters_resume(self, handler: Callable[[list[DataObjectReporter]], Any]) -> None:
        self._on_reporters_resume = handler

    def on_observers_resume(self, handler: Callable[[list[DataObjectObserver]], Any]) -> None:
        self._on_observers_resume = handler

    def close(self) -> None:
        """The runtime stopped: every object handle of this Syncher is closed."""
        for obj in (*self.reporters.values(), *self.observers.values(), *self._standby.values()):
            if isinstance(obj, DataObjectObserver):
                obj._release()
            else:
                obj._close()
        self.reporters.clear()
        self.observers.clear()
        self._standby.clear()

    # resume (PROTOCOL §3.8) ------------------------------------------------------------------------

    async def resume(self) -> tuple[list[DataObjectReporter], list[DataObjectObserver]]:
        """Resume every stored reporter and observer object of this hyperty (none is not an error)."""
        reporters, observers = [], []
        try:
            reporters = await self.resume_reporters()
        except SyncError as exc:
            if exc.code != 404:
                raise
        try:
            observers = await self.resume_observers()
        except SyncError as exc:
            if exc.code != 404:
                raise
        return reporters, observers

    @staticmethod
    def _criteria(schema: str | None, resource: str | None, value: dict[str, Any] | None,
                  identity: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"resume": True}
        for key, given in (("schema", expand(schema) if schema else None), ("resource", resource), ("value", value),
                           ("identity", identity)):
            if given is not None:
                body[key] = given
        return body

    async def resume_reporters(self, *, schema: str | None = None, resource: str | None = None,
                               value: dict[str, Any] | None = None, identity: Any = None) -> list[DataObjectReporter]:
        """Reporters at their stored version with their subscriptions (404 when nothing matches)."""
        body = self._criteria(schema, resource, value, identity)
        monitor = self.runtime.monitor
        mark = monitor.mark()
        answer = await self.sandbox.call({"type": "create", "from": self.url, "to": self.sm_url, "body": body},
                                         timeout=self.runtime.timers.long)
        # the answer's values were made for this Syncher alone: untraced, they are taken apart in place
        own = monitor.untraced_since(mark)
        resumed = []
        announce = {u for u in answer.get("announce", []) if isinstance(u, str)}
        reporters = self.reporters
        for item in answer.get("value", []):
            if not isinstance(item, dict):
                continue
            metadata, data, version, children = split_value(item, copy=False, own=own)
            subscribers = metadata.pop("subscriptions", [])
            rethink = metadata.pop("rethinkSubscribers", [])
            stored = metadata.pop("store", False) is True
            url = str(metadata.get("url", ""))
            # its `childrens` list is copied by the object (once)
            reporter = DataObjectReporter(self, url, str(metadata.get("schema", "")), metadata, data, version,
                                          metadata.get("childrens", []))
            # a fresh object's are empty already: no comprehension (a frame each) for none
            if subscribers:
                reporter.subscriptions = {h: {"status": "live"} for h in subscribers if isinstance(h, str)}
                if rethink:
                    reporter.rethink = frozenset(h for h in rethink if h in reporter.subscriptions)
            if children:
                self._load_children(reporter, children)
            old = reporters.get(url)
            if old is not None:
                old._close()
            self._adopt(reporter)
            if stored:
                self._stored.add(url)
            reporter._attach()
            if url in announce:
                reporter._publish({"reporter": self.url, "runtime": self.runtime.url}, [])  # §4 #11 first
            resumed.append(reporter)
        if self._on_reporters_resume is not None:
            self._on_reporters_resume(resumed)
        return resumed

    def _observed_listeners(self, url: str, names: Any, inbox: Callable[[Message], None]) -> list[SandboxListener]:
        """SB(O/changes) and SB(O/children/n) of an observed object, as its 100 answer names them."""
        prefix = url + addr.CHILDREN   # `addr.children(url, n)` of each name, without a call each
        channels = [prefix + str(n) for n in names] if isinstance(names, list) else []
        # SB(O/changes) apart and first: once the replica exists it is pointed at it directly
        # (`_Inbox.hand_over`)
        return self.sandbox.add_object(addr.changes(url), inbox, channels, inbox)

    async def resume_observers(self, *, schema: str | None = None, resource: str | None = None,
                               value: dict[str, Any] | None = None, identity: Any = None) -> list[DataObjectObserver]:
        """Observers rebuilt from the stored records, each then resynced by a read (PROTOCOL §3.8)."""
        body = self._criteria(schema, resource, value, identity)
        inboxes: dict[str, _Inbox] = {}

        def provisional(answer: Message) -> None:
            ab = answer.get("body", {})
            url = ab.get("resource")
            if code_of(answer) != 100 or not isinstance(url, str) or url in inboxes or url in self.observers:
                return
            inboxes[url] = _Inbox(self, url, ab.get("childrenResources", []))

        monitor = self.runtime.monitor
        mark = monitor.mark()
        try:
            answer = await self.sandbox.call({"type": "subscribe", "from": self.url, "to": self.sm_url, "body": body},
                                             timeout=self.runtime.timers.long, on_provisional=provisional)
        except BaseException:
            for inbox in inboxes.values():
                for listener in inbox.listeners:
                    listener.remove()
            raise
        listed, rebuilt = [], []
        observers = self.observers
        own = monitor.untraced_since(mark)   # as for reporters
        for item in answer.get("value", []):
            if not isinstance(item, dict):
                continue
            url = str(item.get("url", ""))
            if item.get("store", False) is True:
                self._stored.add(url)
            existing = observers.get(url)
            if existing is not None and not existing.closed:
                listed.append(existing)          # already live here: listed as it is, like a live reporter
                continue
            # the SM lists a subscription it already held live (no 100 for it): wire the replica now
            inbox = inboxes.pop(url) if url in inboxes else _Inbox(self, url, item.get("childrens", []))
            listeners = inbox.listeners
            # a resume answer's data was read from storage for this replica alone (PROTOCOL §3.8)
            observer = DataObjectObserver(self, url, str(item.get("schema", "")), item, listeners, copy=False,
                                          own=own)
            observer._metadata.pop("store", None)   # the answer's, not the object's (its metadata is a copy)
            self._adopt(observer)
            inbox.hand_over(observer)
            listed.append(observer)
            rebuilt.append(observer)
        for inbox in inboxes.values():   # announced by a 100 but not listed: nothing to feed
            for listener in inbox.listeners:
                listener.remove()
        if self._on_observers_resume is not None:
            self._on_observers_resume(listed)
        for observer in rebuilt:
            observer.resync_soon()
        return listed

    # create (PROTOCOL §3.1) ----------------------------------------------------------------------------

    async def create(self, schema: str, data: dict[str, Any] | None = None, observers: list[str] | tuple[str, ...] = (),
                     store: bool = False, name: str = "", *, public_observation: bool | None = None,
                     observer_storage: bool | None = None, description: str | None = None,
                     tags: list[str] | None = None, resources: list[str] | None = None,
                     domain_registration: bool = True, domain_routing: bool = True) -> DataObjectReporter:
        if not isinstance(schema, str) or not schema:
            raise SyncError(400, "missing schema")          # PROTOCOL §6: mandatory fields, Syncher side
        schema = expand(schema)
        # reTHINK's DataObject throws on an empty name (INTEROP §3)
        value: dict[str, Any] = {"name": name or "no name", "reporter": self.url, "runtime": self.runtime.url,
                                 "schema": schema, "created": iso_now(), "status": "live",
                                 "data": ch.copy_json(data or {})}
        for key, option in (("publicObservation", public_observation), ("observerStorage", observer_storage),
                            ("description", description), ("tags", tags), ("resources", resources)):
            if option is not None:
                value[key] = option
        if not domain_registration:
            value["domain_registration"] = False
        if not domain_routing:
            value["domain_routing"] = False
        body: dict[str, Any] = {"schema": schema, "value": value, "store": store, "identity": self.hyperty.identity}
        if observers:
            body["authorise"] = list(observers)
        answer = await self.sandbox.call({"type": "create", "from": self.url, "to": self.sm_url, "body": body})
        url = answer["resource"]
        # (its lists its own: not the caller's `tags` or `resources`, nor the message's)
        metadata = ch.own_containers({k: v for k, v in value.items()
                                      if k not in ("data", "domain_registration", "domain_routing")})
        metadata.update(url=url, childrens=list(answer.get("childrenResources", [])), lastModified=value["created"])
        reporter = DataObjectReporter(self, url, schema, metadata, value["data"], int(answer.get("version", 0)),
                                      metadata["childrens"])
        self._adopt(reporter)
        if store:
            self._stored.add(url)
        reporter._attach()
        if observers:
            self.runtime.tasks.spawn(reporter.invite(*observers), f"invite {url}")
        return reporter

    # subscribe (PROTOCOL §3.2) -------------------------------------------------------------------------

    async def subscribe(self, url: str, schema: str | None = None, store: bool = False, *,
                        domain_subscription: bool = True) -> DataObjectObserver:
        schema = expand(schema) if schema else self._schema_for(url)
        existing = self.observers.get(url)
        inbox: _Inbox | None = None

        def provisional(answer: Message) -> None:
            nonlocal inbox
            if code_of(answer) == 100 and inbox is None and existing is None:
                inbox = _Inbox(self, url, answer.get("body", {}).get("childrenResources", []))

        body: dict[str, Any] = {"resource": url, "schema": schema, "store": store, "identity": self.hyperty.identity}
        if not domain_subscription:
            body["domain_subscription"] = False
        try:
            answer = await self.sandbox.call({"type": "subscribe", "from": self.url, "to": self.sm_url, "body": body},
                                             on_provisional=provisional)
        except BaseException:
            for listener in inbox.listeners if inbox is not None else ():
                listener.remove()
            raise
        value: dict[str, Any] = answer["value"] if isinstance(answer.get("value"), dict) else {}
        if store:
            self._stored.add(url)
        if existing is not None and not existing.closed:
            existing._replace(value)
            return existing
        observer = DataObjectObserver(self, url, schema, value, inbox.listeners if inbox is not None else [])
        self._adopt(observer)
        if inbox is not None:   # PROTOCOL §5 rule 7: of what waited, only what is newer than the 200's applies
            inbox.hand_over(observer)
        if "childrenObjects" not in value and observer.childrens and is_rethink(str(value.get("runtime", ""))):
            observer.resync_soon()   # a reTHINK reporter's answer has no children: its read has them
        return observer

    def _dispatch_observed(self, observer: DataObjectObserver, msg: Message) -> None:
        if msg["to"] == observer.changes_url:
            observer._on_changes(msg)
        else:
            self._on_children_msg(observer, msg)

    def _schema_for(self, url: str) -> str:
        scheme = addr.scheme_of(url)
        for name in self.runtime.catalogue.names():
            if self.runtime.catalogue.resolve(name).scheme == scheme:
                return expand(name)
        raise SyncError(400, f"missing schema: no bundled schema has scheme {scheme!r}")

    def _stores(self, url: str) -> bool:
        return url in self._stored

    # read (PROTOCOL §3.4) ------------------------------------------------------------------------------

    async def read(self, url: str) -> dict[str, Any]:
        """A one-off object value read from the reporter."""
        answer = await self.sandbox.call({"type": "read", "from": self.url, "to": url, "body": {}})
        value = answer.get("value")
        if not isinstance(value, dict):
            raise SyncError(500, "read answered without a value")
        # the caller's own: not the lists of a reporter replica in this runtime, nor the message's
        copied: dict[str, Any] = ch.copy_json(value)
        return copied

    # SB(H): what reaches the hyperty itself -----------------------------------------------------------

    def _on_message(self, msg: Message) -> None:
        mtype, sender = msg["type"], msg["from"]
        b = msg.get("body", {})
        if mtype == "response":
            return
        if mtype == "forward":
            reporter = self.reporters.get(str(b.get("to", "")))
            if reporter is None or sender != reporter.url:
                self._answer(msg, 404, "unknown object")
            else:
                reporter._on_forward(msg)
        elif mtype == "create" and "delegate" in b:
            self._delegation_offered(msg)
        elif mtype == "update" and "delegate" in b and "status" in b:
            self._delegation_status(msg)
        elif mtype == "create" and sender.endswith(addr.SUBSCRIPTION):
            self._invited(msg)
        elif mtype == "delete" and sender.endswith(addr.SUBSCRIPTION):
            self._delete_notified(msg)
        elif mtype == "unsubscribe":
            self._revocation(msg)
        elif mtype == "read" and "resource" in b:
            self._child_read(msg)
        else:
            self._answer(msg, 400, f"{mtype} is not handled by the Syncher of {self.url}")

    def _answer(self, msg: Message, code: int, description: str | None = None, **fields: Any) -> None:
        if msg.get("type") != "response":
            self.sandbox.post(response(msg, code, description, **fields))

    def _notify(self, event: NotificationEvent, default_code: int) -> None:
        if self._on_notification is None:
            event.ack(default_code)
            return
        try:
            result = self._on_notification(event)
        except Exception as exc:
            self.runtime.monitor.emit("error", self.runtime.url, hyperty=self.url,
                                      error=f"notification handler raised {type(exc).__name__}: {exc}")
            event.ack(500)
            return
        if inspect.isawaitable(result):
            async def await_it() -> None:
                await result
            self.runtime.tasks.spawn(await_it(), "notification")

    def _invited(self, msg: Message) -> None:
        """Invitation (PROTOCOL §3.1.1 #8): raise `create`, answer #9 with `ack`."""
        b = msg.get("body", {})
        url = msg["from"][: -len(addr.SUBSCRIPTION)]

        def answer(code: int, reason: str | None, _value: Any) -> None:
            self._answer(msg, code, reason, source=self.url)

        value = b.get("value") if isinstance(b.get("value"), dict) else {}
        self._notify(NotificationEvent(answer, type="create", url=url, from_=str(b.get("source", "")),
                                       schema=str(b.get("schema", "")), value=value, identity=b.get("identity")), 200)

    def _delete_notified(self, msg: Message) -> None:
        """Delete of an observed object (PROTOCOL §3.6 #3)."""
        url = msg["from"][: -len(addr.SUBSCRIPTION)]
        observer = self.observers.get(url)
        if observer is None:
            self._answer(msg, 404, "unknown object")
            return
        self._deleted(observer)

        def answer(code: int, _reason: str | None, _value: Any) -> None:
            self._answer(msg, code, source=self.url)

        self._notify(NotificationEvent(answer, type="delete", url=url, from_=msg["from"]), 200)

    def _deleted(self, observer: DataObjectObserver) -> None:
        observer.status = "deleted"
        observer._release()

    def _deleted_while_away(self, observer: DataObjectObserver) -> None:
        """A resync read found the object gone (404 "unknown object", PROTOCOL §5 rule 4): handled as
        its delete (§3.6), which never reached us: the SM still holds our subscription, so we leave
        it, and the application gets the `delete` notification as if the delete had arrived."""
        if self.observers.get(observer.url) is not observer:
            return
        self._deleted(observer)
        self.runtime.tasks.spawn(self.sandbox.request({"type": "unsubscribe", "from": self.url, "to": self.sm_url,
                                                       "body": {"resource": observer.url}}), "leave deleted")
        self._notify(NotificationEvent(lambda *_: None, type="delete", url=observer.url,
                                       from_=addr.subscription(observer.url)), 200)

    def _revocation(self, msg: Message) -> None:
        """Reporter-initiated unsubscribe (PROTOCOL §3.5 #3–#4), then our own unsubscribe."""
        url = msg.get("body", {}).get("resource")
        observer = self.observers.get(url) if isinstance(url, str) else None
        if observer is None:
            self._answer(msg, 404, "unknown object")
            return
        if msg["from"] != observer.reporter:
            self._answer(msg, 403, "not the reporter")
            return
        self._answer(msg, 200)
        self.runtime.tasks.spawn(self._revoked(observer), f"revoked {url}")

    async def _revoked(self, observer: DataObjectObserver) -> None:
        if observer.closed or observer.status == "revoked":
            return   # already told (a resync read can be refused while the revocation is under way)
        observer.status = "revoked"
        self._notify(NotificationEvent(lambda *_: None, type="unsubscribe", url=observer.url,
                                       from_=observer.reporter), 200)
        await self.sandbox.request({"type": "unsubscribe", "from": self.url, "to": self.sm_url,
                                    "body": {"resource": observer.url}})
        observer._release()

    async def _snapshot_update(self, observer: DataObjectObserver, value: dict[str, Any]) -> None:
        """PROTOCOL §5 rule 5: a stored observer's record is replaced after a resync."""
        await self.sandbox.request({"type": "update", "from": self.url, "to": self.sm_url,
                                    "body": {"resource": observer.url, "value": value}})


class _Inbox:
    """The SB listeners of an object a resume observes, queueing what arrives until its replica exists
    (one object, not a closure and two lists per object)."""

    __slots__ = ("listeners", "observer", "queued", "syncher")

    def __init__(self, syncher: Syncher, url: str, names: Any) -> None:
        self.syncher = syncher
        self.observer: DataObjectObserver | None = None
        self.queued: list[Message] | None = None   # made by the first message that waits
        self.listeners = syncher._observed_listeners(url, names, self.take)

    def hand_over(self, observer: DataObjectObserver) -> None:
        """The replica exists: what waited goes to it in order, and SB(O/changes) calls it directly."""
        self.observer = observer
        queued, self.queued = self.queued, None
        for msg in queued or ():
            self.syncher._dispatch_observed(observer, msg)
        # SB(O/changes), filed first by `_observed_listeners`, now calls the replica without the inbox (one
        # update reaches every replica of a runtime: the layers between cost per replica)
        self.listeners[0].handler = observer._on_changes

    def take(self, msg: Message) -> None:
        observer = self.observer
        if observer is not None:
            self.syncher._dispatch_observed(observer, msg)
        elif self.queued is None:
            self.queued = [msg]
        else:
            self.queued.append(msg)
