"""Nodes of one clustered domain in the test's own process, on a real NATS server, so a test can act on
two of them in one loop turn; and link ends that say when a node answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson

from core.node.cluster.cluster import Cluster
from core.node.node import MessageNode
from core.node.session import Session
from tests.cluster.conftest import WAIT
from tests.node.helpers import Wire


@asynccontextmanager
async def clustered(domain: str, servers: list[str]) -> AsyncIterator[list[MessageNode]]:
    """A node of `domain` for each NATS URL of `servers` (n1, n2, …), closed after."""
    clusters: list[Cluster] = []
    nodes: list[MessageNode] = []
    try:
        for i, url in enumerate(servers, 1):
            cluster = Cluster([url], domain, node_id=f"n{i}")
            clusters.append(cluster)
            await cluster.connect()
            nodes.append(MessageNode(domain, state=cluster.state, cluster=cluster))
            await cluster.attach(nodes[-1])
        yield nodes
    finally:
        for node in nodes:
            node.close()
        for cluster in clusters:
            await cluster.close()


class Answers(Wire):
    """A link end that also says when the node sent something."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_more = asyncio.Event()

    def send(self, data: bytes) -> None:
        super().send(data)
        self.sent_more.set()


async def answer_to(session: Session, ident: int) -> dict[str, Any]:
    """The body of the answer `session` got to its request `ident` (WAIT at most)."""
    wire = session.transport
    assert isinstance(wire, Answers)
    async with asyncio.timeout(WAIT):
        while (found := next((m for m in wire.sent if m.get("id") == ident and m["type"] == "response"),
                             None)) is None:
            wire.sent_more.clear()
            await wire.sent_more.wait()
    return dict(found["body"])


async def asked(node: MessageNode, session: Session, mtype: str, frm: str, to: str, body: dict[str, Any],
                ident: int) -> dict[str, Any]:
    """The body of the node's answer (a clustered node answers once what it stored is in JetStream)."""
    node.receive(session, orjson.dumps({"id": ident, "type": mtype, "from": frm, "to": to, "body": body}))
    return await answer_to(session, ident)
