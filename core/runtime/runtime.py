"""A runtime: core bus, Sync Manager, address allocation and registry clients, policy, stubs, and
its storage file. `restart()` stops it as a crash would and brings it back resumed (PROTOCOL §3.8)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from core.bus import Addresses, Handler, Listener, MessageBus
from core.monitor import Monitor
from core.net.link import Connector
from core.policy import Policy
from core.protocol import address as addr
from core.protocol.changes import Op
from core.protocol.dialect import as_rethink_sends, is_rethink, minted
from core.protocol.message import Message, SyncError, code_of, description_of
from core.runtime.catalogue import Catalogue
from core.runtime.hyperty import Hyperty
from core.runtime.observer_object import ObserverObject
from core.runtime.persistence import Persistence
from core.runtime.reporter_object import ReporterObject
from core.runtime.resubscribe import Resubscriber
from core.runtime.routing import Routing
from core.runtime.storage import Kind
from core.runtime.stub import Stub, StubState
from core.runtime.sync_manager import SyncManager
from core.sync.resync_slots import ResyncSlots
from core.tasks import TaskSet
from core.timers import Timers


class Runtime:
    """`hyperty-runtime://<domain>/<id>`; messages leave through the stub of `route(to)`."""

    def __init__(self, url: str, *, connector: Connector, monitor: Monitor | None = None,
                 timers: Timers | None = None, catalogue: Catalogue | None = None,
                 policy: Policy | None = None, storage: str | Path | None = None,
                 home_secret: str | None = None) -> None:
        """`home_secret`: the domain's secret, presented at each `open` of the home session (for a
        node started with `--home-secret-file`, TRANSPORT §2); visiting sessions never send it."""
        self.url = url
        self.home_secret = home_secret
        self.domain = addr.authority(url)
        self.connector = connector
        self.monitor = monitor or Monitor()
        self.timers = timers or Timers()
        self.catalogue = catalogue or Catalogue()
        self.policy = policy or Policy()
        self.storage_path = Path(storage) if storage is not None else None
        self.sm_url = addr.sm_of(url)
        self.allocation_url = addr.allocation_of(url)
        self.hyperties: dict[str, Hyperty] = {}
        self.hyperty_urls: dict[str, Hyperty] = {}
        self.tokens: dict[str, str] = {}       # session token per node domain, kept across restarts
        self.running = False
        self.restarts = 0
        self.healing: set[Any] = set()          # observers healing a gap, deletes owed by the node
        #: a `runtime://` URL: this runtime plays a reTHINK one on the wire (INTEROP.md, `--flavour rethink`)
        self.rethink = is_rethink(url)
        self._build()

    def _build(self) -> None:
        """The parts a restart makes anew (everything but identity, hyperty names/URLs and tokens)."""
        self.stopped = False
        self.tasks = TaskSet(self.monitor, self.url)
        self.resync_slots = ResyncSlots(self.timers.resync_reads)
        self.bus = MessageBus(self.url, self.monitor, self.timers, egress=self._egress)
        self.bus.interceptors.append(self._policy_interceptor)
        self.stubs: dict[str, Stub] = {}
        self._opened_domains: set[str] = set()
        self.routing = Routing(self)
        self.resubscriber = Resubscriber(self)
        self.persistence = Persistence(self.storage_path, self.monitor, self.url) if self.storage_path else None
        self.sm = SyncManager(self)

    def __repr__(self) -> str:
        return f"Runtime({self.url})"

    @property
    def reconnecting(self) -> bool:
        """A link of this running runtime is being reopened (TRANSPORT §2)."""
        return self.running and any(stub.reconnecting for stub in self.stubs.values())

    # lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the session at the home node."""
        stub = self._stub(self.domain)
        await stub.open()
        if stub.state.value != "open":
            if stub.refusal is not None:   # the node answered the open: say what it said (e.g. 403)
                raise SyncError(stub.refusal[0], f"home node of {self.domain} refused the session: "
                                                 f"{stub.refusal[1]}")
            raise SyncError(503, f"home node of {self.domain} unreachable")
        self.running = True
        self.monitor.emit("session", self.url, action="runtime started", domain=self.domain)

    async def close(self) -> None:
        """A clean stop: owned tasks cancelled, sessions closed, storage closed."""
        await self._stop(crashed=False)

    async def crash(self) -> None:
        """Stop as a crash would: links drop, no final writes; the node keeps the ownerships."""
        await self._stop(crashed=True)

    async def _stop(self, crashed: bool) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.running = False
        for stub in self.stubs.values():
            if stub.token:
                self.tokens[stub.domain] = stub.token
        await self.tasks.close()
        self.bus.close()
        for stub in self.stubs.values():
            stub.close()
        if self.persistence is not None:
            self.persistence.close()
        for hyperty in self.hyperties.values():
            hyperty.syncher.close()
        self.healing.clear()
        self.monitor.emit("session", self.url, action="runtime crashed" if crashed else "runtime stopped",
                          domain=self.domain)

    async def restart(self, crash: bool = True, resume: bool = True, keep_hyperties: bool = True) -> None:
        """Stop (as a crash by default), come back with the same URL, token, storage and hyperty URLs,
        and resume every Syncher (PROTOCOL §3.8). Hyperty handles stay valid; object handles close.
        `resume=False` leaves resuming to the caller; `keep_hyperties=False` comes back with none
        (as a process would whose hyperties are new instances)."""
        await self._stop(crashed=crash)
        self._build()
        await self.start()
        self.restarts += 1
        if not keep_hyperties:
            self.hyperties.clear()
            self.hyperty_urls.clear()
        for hyperty in self.hyperties.values():
            self.hyperty_urls[hyperty.url] = hyperty
            hyperty.rebind()
            self.forward(hyperty.url, hyperty.url)
        collecting = gc.isenabled()
        gc.disable()  # thousands of records become objects at once: one collection after, not dozens during
        try:
            for hyperty in self.hyperties.values() if resume else ():
                await hyperty.syncher.resume()
        finally:
            _promote_young()
            if collecting:
                gc.enable()
        self.monitor.emit("session", self.url, action="runtime resumed", domain=self.domain)

    # hyperties ---------------------------------------------------------------------------------------

    async def hyperty(self, name: str) -> Hyperty:
        """The hyperty called `name`, allocated at the home node on first use."""
        existing = self.hyperties.get(name)
        if existing is not None:
            return existing
        if is_rethink(self.url):
            return self.add_hyperty(name, await self._claim_hyperty())
        answer = await self.bus.request({"type": "create", "from": self.allocation_url,
                                         "to": addr.hyperty_allocation(self.domain),
                                         "body": {"value": {"number": 1, "allocationKey": self.url}}})
        if code_of(answer) != 200:
            raise SyncError(code_of(answer), description_of(answer) or "hyperty allocation failed", answer)
        url = answer["body"]["value"]["allocated"][0]
        return self.add_hyperty(name, url)

    async def _claim_hyperty(self) -> str:
        """A reTHINK runtime mints its hyperty URL and claims it by subscribe (INTEROP §2)."""
        url = minted(addr.HYPERTY, self.domain)
        answer = await self.bus.request({"type": "subscribe", "from": self.url + "/subscriptions",
                                         "to": addr.mn_sm(self.domain),
                                         "body": {"resources": [url], "source": self.allocation_url}})
        if code_of(answer) != 200:
            raise SyncError(code_of(answer), description_of(answer) or "hyperty claim failed", answer)
        return url

    def add_hyperty(self, name: str, url: str) -> Hyperty:
        hyperty = Hyperty(self, name, url)
        self.hyperties[name] = hyperty
        self.hyperty_urls[url] = hyperty
        self.forward(url, url)
        self.monitor.emit("object", self.url, action="hyperty", hyperty=url, name=name)
        return hyperty

    def user_of(self, hyperty_url: str) -> str:
        h = self.hyperty_urls.get(hyperty_url)
        return h.user if h else ""

    def forward(self, address: Addresses, hyperty_url: str) -> Listener:
        """`FWD(address ⇒ H)`: messages for `address` (each of several) are also delivered unchanged into
        H's sandbox."""
        return self.bus.add_listener(address, self.deliverer(hyperty_url), "FWD", hyperty_url)

    def deliverer(self, hyperty_url: str) -> Handler:
        """The handler of a `FWD(… ⇒ H)`: delivery into H's sandbox."""
        return self.hyperty_urls[hyperty_url].sandbox.deliver

    # links -------------------------------------------------------------------------------------------

    def _stub(self, domain: str) -> Stub:
        stub = self.stubs.get(domain)
        if stub is None:
            stub = self.stubs[domain] = Stub(self, domain)
            stub.token = self.tokens.get(domain)
            stub.on_open.append(self._reopened)
        return stub

    def link_open(self, domain: str) -> bool:
        """The session at `domain`'s node is open now (a request there can be answered)."""
        stub = self.stubs.get(domain)
        return stub is not None and stub.state is StubState.OPEN

    def _egress(self, msg: Message) -> None:
        if self.rethink:
            msg = as_rethink_sends(msg)
        self._stub(addr.route_domain(msg["to"])).send(msg)

    def ingress(self, msg: Any, via: str) -> None:
        """A message from a link into the bus; one for reTHINK's unnamed `O/children/` goes to the
        children channel it belongs to (interop findings, DECISIONS.md)."""
        to = msg.get("to") if isinstance(msg, dict) else None
        if isinstance(to, str) and to.endswith(addr.CHILDREN):
            msg = self._named_channel(msg, to)
        self.bus.ingress(msg, via)

    def _named_channel(self, msg: Message, to: str) -> Message:
        obj = addr.object_of(to)
        known = self.sm.reporters.get(obj) or self.sm.observers.get(obj)
        if known is None or to != obj + addr.CHILDREN or not known.childrens:
            return msg
        body: dict[str, Any] = msg["body"] if isinstance(msg.get("body"), dict) else {}
        value = body.get("value")
        name = value.get("children") if isinstance(value, dict) else None
        if name not in known.childrens:
            stored = known.children_objects.get(str(body.get("resource")))
            name = stored.get("value", {}).get("children") if isinstance(stored, dict) else None
        if name not in known.childrens:
            name = known.childrens[0]
        return {**msg, "to": addr.children(obj, str(name))}

    def _reopened(self, stub: Stub) -> None:
        """After each reopen the runtime re-sends its node subscriptions (TRANSPORT §2), per object."""
        if stub.token:
            self.tokens[stub.domain] = stub.token
        if stub.domain not in self._opened_domains:
            self._opened_domains.add(stub.domain)  # first open: the subscriptions are on their way
            return
        self.resubscriber.reopened(stub)

    def _policy_interceptor(self, msg: Message, ingress: bool) -> tuple[int, str] | None:
        policy = self.policy
        if ingress and policy.deny_rules and msg["type"] != "response" and not policy.allows("receive", msg):
            return 403, "Blocked by policy"
        return None

    # persistence (PROTOCOL §3.0.6) -------------------------------------------------------------------

    def persist_reporter(self, ro: ReporterObject) -> None:
        if self.persistence is not None:
            self.persistence.reporter(ro)

    def persist_observer(self, oo: ObserverObject) -> None:
        if self.persistence is not None:
            self.persistence.observer(oo)

    def persist_change(self, kind: Kind, obj: ReporterObject | ObserverObject, ops: list[Op] | None,
                       last_modified: str | None = None) -> None:
        if self.persistence is not None:
            self.persistence.change(kind, obj, ops, last_modified)

    def forget_reporter(self, url: str) -> None:
        if self.persistence is not None:
            self.persistence.forget("reporter", url)

    def forget_observer(self, url: str) -> None:
        if self.persistence is not None:
            self.persistence.forget("observer", url)

    def stored(self, kind: Kind, encoded_data: bool = False) -> dict[str, dict[str, Any]]:
        """The stored records of `kind` by URL; with `encoded_data`, data may be left `Encoded`."""
        return self.persistence.records(kind, encoded_data) if self.persistence is not None else {}

    def stored_record(self, kind: Kind, url: str) -> dict[str, Any] | None:
        return self.persistence.record(kind, url) if self.persistence is not None else None

    def observer_storage_allowed(self, value: dict[str, Any]) -> bool:
        return value.get("observerStorage") is not False


def _promote_young() -> None:
    """Hand what a resume just built to the collector's oldest generation without walking it.

    A resume builds some 70 tracked objects per data object (20,000 objects: 1.4 million) while the
    collector is off. Left young, the first collection after it walks them all (0.3-0.5 s in which the
    loop stands still) and two more walk them again on their way to the oldest generation, though they
    live as long as the runtime. `gc.freeze()` moves every tracked object aside in one step and
    `gc.unfreeze()` puts them all in the oldest generation in one more, where the next full collection
    sees them as usual (a cycle among them is collected then). Where the host keeps objects frozen
    (the console's `CollectorPacing`) they join its frozen ones and are thawed with them.
    """
    host_frozen = gc.get_freeze_count() > 0    # counts the frozen ones: only a host that froze pays
    gc.freeze()
    if not host_frozen:
        gc.unfreeze()
