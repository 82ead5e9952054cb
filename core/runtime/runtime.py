"""A runtime: core bus, Sync Manager, address allocation and registry clients, policy, stubs."""

from __future__ import annotations

from typing import Any

from core.bus import Listener, MessageBus
from core.monitor import Monitor
from core.net.link import Connector
from core.protocol import address as addr
from core.protocol.message import Message, SyncError, code_of, description_of
from core.runtime.catalogue import Catalogue
from core.runtime.hyperty import Hyperty
from core.runtime.observer_object import ObserverObject
from core.runtime.policy import Policy
from core.runtime.reporter_object import ReporterObject
from core.runtime.routing import Routing
from core.runtime.stub import Stub
from core.runtime.sync_manager import SyncManager
from core.tasks import TaskSet
from core.timers import Timers


class Runtime:
    """`hyperty-runtime://<domain>/<id>`; messages leave through the stub of `route(to)`."""

    def __init__(self, url: str, *, connector: Connector, monitor: Monitor | None = None,
                 timers: Timers | None = None, catalogue: Catalogue | None = None,
                 policy: Policy | None = None) -> None:
        self.url = url
        self.domain = addr.authority(url)
        self.connector = connector
        self.monitor = monitor or Monitor()
        self.timers = timers or Timers()
        self.catalogue = catalogue or Catalogue()
        self.policy = policy or Policy()
        self.sm_url = addr.sm_of(url)
        self.allocation_url = addr.allocation_of(url)
        self.tasks = TaskSet(self.monitor, url)
        self.bus = MessageBus(url, self.monitor, self.timers, egress=self._egress)
        self.bus.interceptors.append(self._policy_interceptor)
        self.stubs: dict[str, Stub] = {}
        self._opened_domains: set[str] = set()
        self.routing = Routing(self)
        self.hyperties: dict[str, Hyperty] = {}
        self.hyperty_urls: dict[str, Hyperty] = {}
        self.sm = SyncManager(self)
        self.running = False

    def __repr__(self) -> str:
        return f"Runtime({self.url})"

    # lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the session at the home node."""
        stub = self._stub(self.domain)
        await stub.open()
        if stub.state.value != "open":
            raise SyncError(503, f"home node of {self.domain} unreachable")
        self.running = True

    async def close(self) -> None:
        self.running = False
        await self.tasks.close()
        self.bus.close()
        for stub in self.stubs.values():
            stub.close()

    # hyperties ---------------------------------------------------------------------------------------

    async def hyperty(self, name: str) -> Hyperty:
        """The hyperty called `name`, allocated at the home node on first use."""
        existing = self.hyperties.get(name)
        if existing is not None:
            return existing
        answer = await self.bus.request({"type": "create", "from": self.allocation_url,
                                         "to": addr.hyperty_allocation(self.domain),
                                         "body": {"value": {"number": 1, "allocationKey": self.url}}})
        if code_of(answer) != 200:
            raise SyncError(code_of(answer), description_of(answer) or "hyperty allocation failed", answer)
        url = answer["body"]["value"]["allocated"][0]
        return self.add_hyperty(name, url)

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

    def forward(self, address: str, hyperty_url: str) -> Listener:
        """`FWD(address ⇒ H)`: messages for `address` are also delivered unchanged into H's sandbox."""
        hyperty = self.hyperty_urls[hyperty_url]
        return self.bus.add_listener(address, hyperty.sandbox.deliver, "FWD", hyperty_url)

    # links -------------------------------------------------------------------------------------------

    def _stub(self, domain: str) -> Stub:
        stub = self.stubs.get(domain)
        if stub is None:
            stub = self.stubs[domain] = Stub(self, domain)
            stub.on_open.append(self._reopened)
        return stub

    def _egress(self, msg: Message) -> None:
        self._stub(addr.route_domain(msg["to"])).send(msg)

    def _reopened(self, stub: Stub) -> None:
        """After each reopen the runtime re-sends its node subscriptions (TRANSPORT §2)."""
        if stub.domain not in self._opened_domains:
            self._opened_domains.add(stub.domain)  # first open: the subscriptions are on their way
            return
        held = self.routing.node_subscriptions(stub.domain)
        if held and stub.link is not None:
            stub.link.send({"id": self.bus.next_id(), "type": "subscribe", "from": self.sm_url,
                            "to": addr.mn_sm(stub.domain), "body": {"resources": held, "source": self.url}})

    def _policy_interceptor(self, msg: Message, ingress: bool) -> tuple[int, str] | None:
        if ingress and msg["type"] != "response" and not self.policy.allows("receive", msg):
            return 403, "Blocked by policy"
        return None

    # persistence hooks (storage lands with the persistence issue) ------------------------------------

    def persist_reporter(self, ro: ReporterObject, version_only: bool = False) -> None:
        pass

    def persist_observer(self, oo: ObserverObject, version_only: bool = False) -> None:
        pass

    def forget_reporter(self, url: str) -> None:
        pass

    def forget_observer(self, url: str) -> None:
        pass

    def observer_storage_allowed(self, value: dict[str, Any]) -> bool:
        return value.get("observerStorage") is not False
