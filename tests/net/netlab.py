"""`NetLab`: the embedded lab's building API (`runtime`, `settle`, `nodes`, `monitor`) over real
WebSocket nodes on 127.0.0.1, so scenarios written for the lab run unchanged across the network.

Every node is a `NodeServer` on its own port; every runtime has its own `WebSocketConnector`
reading one live domain → URL map, so visiting links to nodes started later open on demand.
`settle()` waits until every frame written by one side has been read by the other: all ends are in
this process, so the counts are exact.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.lab import Lab
from core.monitor import Monitor
from core.net.websocket import NodeServer, WebSocketConnector
from core.policy import Policy
from core.protocol import address as addr
from core.runtime.runtime import Runtime
from core.timers import Timers


class NetLab(Lab):
    """The Lab with its nodes served over WebSocket; only building, settling and closing differ."""

    def __init__(self, storage_dir: str | Path | None = None, timers: Timers | None = None,
                 monitor: Monitor | None = None) -> None:
        super().__init__(storage_dir, timers, monitor)
        self.servers: dict[str, NodeServer] = {}
        self.urls: dict[str, str] = {}
        self.connectors: list[WebSocketConnector] = []
        self.events = 0
        self.monitor.subscribe(self._count)

    def _count(self, _event: object) -> None:
        self.events += 1

    async def serve(self, domain: str) -> NodeServer:
        server = self.servers.get(domain)
        if server is None:
            server = self.servers[domain] = NodeServer(self.node(domain))
            await server.start()
            self.urls[domain] = server.url
        return server

    async def runtime(self, domain: str, policy: Policy | None = None) -> Runtime:
        await self.serve(domain)
        connector = WebSocketConnector(self.urls, monitor=self.monitor)
        self.connectors.append(connector)
        runtime = Runtime(addr.runtime_url(domain, f"rt{next(self._ids)}"), connector=connector,
                          monitor=self.monitor, timers=self.timers, catalogue=self.catalogue, policy=policy)
        self.runtimes.append(runtime)
        await runtime.start()
        return runtime

    @property
    def in_flight(self) -> int:
        written = sum(c.frames_out for c in self.connectors) + sum(s.frames_out for s in self.servers.values())
        read = sum(c.frames_in for c in self.connectors) + sum(s.frames_in for s in self.servers.values())
        return written - read

    async def settle(self, timeout: float = 10.0, quiet_turns: int = 3) -> None:
        """Wait until, for `quiet_turns` loop turns in a row, no frame is in flight, no observer is
        healing a gap and no component did anything (no monitor event: a socket adds loop turns
        between a frame and its local effects, so turns alone are not enough). While only a timer
        can move things on (a gap's grace period), it waits for the next event instead of spinning."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = 0
        seen = self.events
        while quiet < quiet_turns:
            await asyncio.sleep(0)
            busy, seen = self.events != seen, self.events
            if self.in_flight == 0 and not self._healing() and not busy:
                quiet += 1
                continue
            quiet = 0
            if loop.time() > deadline:
                raise TimeoutError(f"network lab did not settle within {timeout}s "
                                   f"({self.in_flight} frames in flight, healing: {self._healing()})")
            if self.in_flight == 0 and not busy:  # only a gap's grace timer can move things on
                await self._next_event(deadline - loop.time())

    async def _next_event(self, timeout: float) -> None:
        seen = asyncio.Event()
        stop = self.monitor.subscribe(lambda _event: seen.set())
        try:
            await asyncio.wait_for(seen.wait(), max(timeout, 0.0))
        except TimeoutError:
            pass
        finally:
            stop()
        await asyncio.sleep(0)  # events are emitted before their effect: look once it happened

    async def close(self) -> None:
        if self.closed:
            return
        await super().close()
        for connector in self.connectors:
            await connector.close()
        for server in self.servers.values():
            await server.close()
        for node in self.nodes.values():
            node.close()
