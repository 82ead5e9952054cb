"""A Message Node served over WebSocket on 127.0.0.1 with runtimes of its domain connected to it, in
one process: a small live deployment for the console's screenshot and its load bench."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from core.monitor import Monitor
from core.net.websocket import NodeServer, WebSocketConnector
from core.node.node import MessageNode
from core.protocol import address as addr
from core.runtime.catalogue import Catalogue
from core.runtime.runtime import Runtime


@asynccontextmanager
async def served_node(domain: str, monitor_token: str, runtime_names: Sequence[str]
                      ) -> AsyncIterator[tuple[NodeServer, list[Runtime]]]:
    """The node's server (port 0) and one runtime per name, each on its own link, not started yet;
    all closed on exit."""
    node = MessageNode(domain, monitor_token=monitor_token)
    server = NodeServer(node, port=0)
    await server.start()
    catalogue = Catalogue()
    connectors = [WebSocketConnector({domain: server.url}) for _ in runtime_names]
    runtimes = [Runtime(addr.runtime_url(domain, name), connector=connector, monitor=Monitor(), catalogue=catalogue)
                for name, connector in zip(runtime_names, connectors, strict=True)]
    try:
        yield server, runtimes
    finally:
        for runtime in runtimes:
            await runtime.close()
        for connector in connectors:
            await connector.close()
        await server.close()
        node.close()
