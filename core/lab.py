"""The embedded lab: domains, Message Nodes, runtimes and hyperties in one process on one loop.

Every message between a runtime and a node crosses an in-memory link as JSON bytes. `settle()`
waits until no message is in flight and the engine has gone quiet.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from core.monitor import Monitor, TraceEvent
from core.net.faults import Delay, FaultHandle, FaultSet, Probability
from core.net.link import CloseHandler, FrameHandler, LinkEnd
from core.net.memory import InFlight, MemoryLink
from core.node.node import MessageNode
from core.policy import Policy
from core.protocol import address as addr
from core.runtime.catalogue import Catalogue
from core.runtime.runtime import Runtime
from core.timers import Timers


class Lab:
    def __init__(self, storage_dir: str | Path | None = None, timers: Timers | None = None,
                 monitor: Monitor | None = None) -> None:
        self.storage_dir = Path(storage_dir) if storage_dir is not None else None
        self.timers = timers or Timers()
        self.monitor = monitor or Monitor()
        self.catalogue = Catalogue()
        self.nodes: dict[str, MessageNode] = {}
        self.runtimes: list[Runtime] = []
        self.links: list[MemoryLink] = []
        self.inflight = InFlight()
        self._ids = itertools.count(1)
        self._lab_faults: list[FaultSet] = []
        self.partitioned: set[str] = set()   # runtime URLs cut off the network (`partition`)
        self.closed = False

    async def __aenter__(self) -> Lab:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # building ----------------------------------------------------------------------------------------

    def node(self, domain: str, **limits: Any) -> MessageNode:
        """The Message Node of `domain`, created on first use (with `limits`, e.g. max_subscriptions)."""
        node = self.nodes.get(domain)
        if node is None:
            node = self.nodes[domain] = MessageNode(domain, self.monitor, **limits)
            self.monitor.emit("session", node.url, action="node", domain=domain)
        return node

    async def runtime(self, domain: str, policy: Policy | None = None, *, rethink: bool = False) -> Runtime:
        """A new runtime in `domain` (the domain's node is created on first use); `rethink`: one that
        plays a runtime of reTHINK's own implementation on the wire (`runtime://`, INTEROP.md)."""
        self.node(domain)
        ident = f"rt{next(self._ids)}"
        url = f"{addr.RETHINK_RUNTIME}://{domain}/{ident}" if rethink else addr.runtime_url(domain, ident)
        storage = self.storage_dir / f"{domain}-{ident}.sqlite3" if self.storage_dir is not None else None
        runtime = Runtime(url, connector=self._connect, monitor=self.monitor, timers=self.timers,
                          catalogue=self.catalogue, policy=policy, storage=storage)
        self.runtimes.append(runtime)
        await runtime.start()
        return runtime

    async def _connect(self, runtime_url: str, domain: str, on_frame: FrameHandler,
                       on_close: CloseHandler) -> LinkEnd | None:
        node = self.nodes.get(domain)
        if node is None:
            return None
        if runtime_url in self.partitioned:   # as a connect to an unreachable host fails
            raise ConnectionError(f"{runtime_url} is partitioned from {domain}")
        self.links[:] = [x for x in self.links if x.state != "down"]   # in place: fault handles hold the list
        link = MemoryLink(node, runtime_url, on_frame, on_close, self.inflight, self.monitor)
        self._lab_faults = [f for f in self._lab_faults if not f.closed]
        link.fault_sets.extend(self._lab_faults)
        self.links.append(link)
        return link

    def links_of(self, runtime: Runtime) -> list[MemoryLink]:
        return [link for link in self.links if link.runtime_url == runtime.url and link.state != "down"]

    # faults --------------------------------------------------------------------------------------------

    def faults(self, drop: Probability = 0.0, duplicate: Probability = 0.0, delay: Delay = 0.0,
               reorder: bool = False, seed: int | None = None) -> FaultHandle:
        """Faults on every link, present and future (until the handle is closed)."""
        faults = FaultSet(drop, duplicate, delay, reorder, seed)
        self._lab_faults.append(faults)
        return FaultHandle(self.links, faults)  # the live list: closing also reaches links made since

    def link_faults(self, link: MemoryLink, **kwargs: Any) -> FaultHandle:
        """Faults on one link (as `link.faults(...)`)."""
        return link.faults(**kwargs)

    def partition(self, runtime: Runtime) -> None:
        """Cut `runtime` off the network: each of its links is lost at both ends as a dropped
        WebSocket is (TRANSPORT §2), and its reconnection attempts fail until `heal`."""
        self.partitioned.add(runtime.url)
        self.monitor.emit("session", runtime.url, action="partitioned")
        for link in self.links_of(runtime):
            link.lose("network partition")

    def heal(self, runtime: Runtime) -> None:
        """Let `runtime` reach the network again: it reconnects at its next reconnection attempt."""
        self.partitioned.discard(runtime.url)
        self.monitor.emit("session", runtime.url, action="healed")

    # waiting -------------------------------------------------------------------------------------------

    async def settle(self, timeout: float = 10.0, quiet_turns: int = 10) -> None:
        """Wait until no message is in flight, no callback is ready to run and no observer is healing a
        gap (its grace timer or resync read); TimeoutError after `timeout` seconds.

        On the asyncio loop "no callback ready" is read off the loop's ready queue, so a chain of task
        wake-ups of any depth counts as work; on another loop (qasync) it is `quiet_turns` idle turns."""
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)  # asyncio's run queue: an implementation detail, read only
        deadline = loop.time() + timeout
        quiet = 0
        needed = 2 if ready is not None else quiet_turns
        while quiet < needed:
            await asyncio.sleep(0)
            if self.inflight.count == 0 and not ready and not self._healing():
                quiet += 1
                continue
            quiet = 0
            if loop.time() > deadline:
                raise TimeoutError(f"lab did not settle within {timeout}s "
                                   f"({self.inflight.count} messages in flight, healing: {self._healing()})")
            if self.inflight.count == 0 and not ready:
                await asyncio.sleep(0.001)  # only timers are pending: let the clock move
            elif self._only_delayed():
                await asyncio.sleep(0.001)

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds, re-checking it after every monitor event."""
        if predicate():
            return
        reached = asyncio.Event()
        loop = asyncio.get_running_loop()

        def recheck() -> None:
            if predicate():
                reached.set()

        def check(_event: TraceEvent) -> None:
            loop.call_soon(recheck)  # events are emitted before their effect: look once it happened

        stop = self.monitor.subscribe(check)
        try:
            await asyncio.wait_for(reached.wait(), timeout)
        finally:
            stop()

    def _healing(self) -> bool:
        """A runtime that may reach the network heals a gap, finishes owed node work or reconnects (a
        partitioned runtime's own healing waits for `heal`)."""
        return any((rt.healing or rt.reconnecting) and rt.url not in self.partitioned for rt in self.runtimes)

    def _only_delayed(self) -> bool:
        return any(f.delay for link in self.links for f in link.fault_sets if not f.closed)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for runtime in self.runtimes:
            await runtime.close()
