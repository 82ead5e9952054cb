"""Runtimes of this process on node processes of one clustered domain: each runtime reaches the
domain through the comma-separated URLs it is given (the first that answers), as `syncscope runtime
--node URL1,URL2` does. Waiting is on monitor events (`Watch`), never on sleeps."""

from __future__ import annotations

from collections.abc import Callable

from core.monitor import Monitor
from core.net.websocket import WebSocketConnector
from core.protocol import address as addr
from core.runtime.runtime import Runtime
from tests.conftest import FAST
from tests.net.conftest import Watch

WAIT = 20.0


class World:
    def __init__(self) -> None:
        self.monitor = Monitor()
        self.watch = Watch(self.monitor)
        self.runtimes: list[Runtime] = []
        self.connectors: list[WebSocketConnector] = []

    async def runtime(self, *urls: str, domain: str = "a.example", name: str | None = None) -> Runtime:
        connector = WebSocketConnector({domain: ",".join(urls)}, monitor=self.monitor)
        self.connectors.append(connector)
        runtime = Runtime(addr.runtime_url(domain, name or f"rt{len(self.runtimes) + 1}"), connector=connector,
                          monitor=self.monitor, timers=FAST)
        self.runtimes.append(runtime)
        await runtime.start()
        return runtime

    async def until(self, check: Callable[[], bool], timeout: float = WAIT) -> None:
        await self.watch.state(check, timeout)

    async def close(self) -> None:
        for runtime in self.runtimes:
            await runtime.close()
        for connector in self.connectors:
            await connector.close()
