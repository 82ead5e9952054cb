"""A node whose view of the clustered domain has not yet caught up with a change another node stored
holds the refusal it would answer, catches up with JetStream and handles the message once more
(DECISIONS 90): a client that asks one node right after another answered gets what one node would.

n1 reaches NATS through a forwarder that holds what the server sends it (a slow link, not a cut) while
n2 allocates, so its view is certainly behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from core.node.cluster.catch_up import MAX_HELD, MAX_QUEUED
from core.node.node import MessageNode
from core.node.session import Session
from core.protocol import address as addr
from tests.cluster.conftest import WAIT, Nats
from tests.cluster.inprocess import Answers, answer_to, asked, clustered
from tests.net.conftest import Cut

D = "a.example"
ASKER, HOLDER = addr.runtime_url(D, "asker"), addr.runtime_url(D, "holder")


@pytest.fixture
async def nodes(nats_server: Nats) -> AsyncIterator[tuple[MessageNode, MessageNode, Cut]]:
    """n1 (through the slow link) and n2 of one domain, in this process, on a real NATS server."""
    link = await Cut(nats_server.url).start()
    try:
        async with clustered(D, [link.url, nats_server.url]) as (n1, n2):
            try:
                yield n1, n2, link
            finally:
                link.release()
    finally:
        await link.close()


async def sessions(n1: MessageNode, n2: MessageNode) -> tuple[Session, Session]:
    asker, holder = n1.connect(Answers()), n2.connect(Answers())
    assert (await asked(n1, asker, "open", ASKER, addr.SESSION, {}, 1))["code"] == 200
    assert (await asked(n2, holder, "open", HOLDER, addr.SESSION, {}, 1))["code"] == 200
    return asker, holder


async def allocate(node: MessageNode, s: Session, runtime: str, ident: int, number: int = 1) -> list[str]:
    answer = await asked(node, s, "create", runtime + "/address-allocation", addr.object_allocation(D),
                         {"scheme": "comm", "value": {"number": number}}, ident)
    return list(answer["value"]["allocated"])


def owner_query(obj: str, ident: int) -> bytes:
    return orjson.dumps({"id": ident, "type": "read", "from": ASKER + "/sm", "to": addr.object_allocation(D),
                         "body": {"resource": obj}})


def answers(s: Session) -> list[tuple[int, dict[str, Any]]]:
    wire = s.transport
    assert isinstance(wire, Answers)
    return [(m["id"], m["body"]) for m in wire.sent if m["type"] == "response"]


async def test_an_owner_query_right_after_another_nodes_allocation_finds_the_owner(
        nodes: tuple[MessageNode, MessageNode, Cut]) -> None:
    n1, n2, link = nodes
    asker, holder = await sessions(n1, n2)
    mine = (await allocate(n1, asker, ASKER, 2))[0]
    link.hold()
    [obj] = await allocate(n2, holder, HOLDER, 2)          # n2 answered: it is stored in JetStream
    assert obj not in n1.allocator.owner                   # n1 has heard nothing since
    n1.receive(asker, owner_query(obj, 3))
    n1.receive(asker, owner_query(mine, 4))                # later on the same link: waits behind it
    n1.receive(asker, owner_query("comm://a.example/never-allocated", 5))
    assert answers(asker)[-1][0] == 2                      # nothing answered since: no 404 from a stale view
    link.release()
    assert await answer_to(asker, 5) == {"code": 404, "description": "unknown object"}   # final, and last
    assert answers(asker)[-3:] == [(3, {"code": 200, "value": {"runtime": HOLDER}}),
                                   (4, {"code": 200, "value": {"runtime": ASKER}}),
                                   (5, {"code": 404, "description": "unknown object"})]
    assert n1.allocator.owner[obj] == HOLDER


async def test_a_read_routed_right_after_another_nodes_allocation_reaches_the_owner(
        nodes: tuple[MessageNode, MessageNode, Cut]) -> None:
    """A request to the new object itself: n1 routes it to the holder's runtime on n2 once it knows."""
    n1, n2, link = nodes
    asker, holder = await sessions(n1, n2)
    [hyperty] = (await asked(n1, asker, "create", ASKER + "/address-allocation", addr.hyperty_allocation(D),
                             {"value": {"number": 1}}, 2))["value"]["allocated"]
    await allocate(n2, holder, HOLDER, 2)
    link.hold()
    [obj] = await allocate(n2, holder, HOLDER, 3)
    n1.receive(asker, orjson.dumps({"id": 4, "type": "read", "from": hyperty, "to": obj, "body": {}}))
    link.release()
    wire = holder.transport
    assert isinstance(wire, Answers)
    async with asyncio.timeout(WAIT):
        while not any(m["type"] == "read" and m["to"] == obj for m in wire.sent):
            wire.sent_more.clear()
            await wire.sent_more.wait()
    n2.receive(holder, orjson.dumps({"id": 4, "type": "response", "from": obj, "to": hyperty,
                                     "body": {"code": 200, "value": {"n": 1}}}))
    assert await answer_to(asker, 4) == {"code": 200, "value": {"n": 1}}


async def test_a_flood_of_misses_costs_one_catch_up_per_burst(
        nodes: tuple[MessageNode, MessageNode, Cut]) -> None:
    """A hostile peer asking for objects that do not exist: every request is answered 404, the node
    holds at most MAX_HELD refusals and queues at most MAX_QUEUED frames behind one, and what came
    while it caught up is answered without another catch-up."""
    n1, n2, link = nodes
    asker, _holder = await sessions(n1, n2)
    catch_up = n1._catch_up
    assert catch_up is not None
    before = catch_up.caught_up
    total = MAX_QUEUED + 500
    link.hold()                                            # the catch-up cannot finish while the burst comes
    for i in range(total):
        n1.receive(asker, owner_query(f"comm://a.example/never-{i}", 100 + i))
    assert asker.held is not None and len(asker.held) == MAX_QUEUED
    assert len(catch_up.waiting) == 1 + (total - 1 - MAX_QUEUED) <= MAX_HELD
    link.release()
    assert await answer_to(asker, 100 + total - 1) == {"code": 404, "description": "unknown object"}
    got = [ident for ident, body in answers(asker) if ident >= 100]
    assert sorted(got) == list(range(100, 100 + total))
    assert all(body == {"code": 404, "description": "unknown object"} for ident, body in answers(asker)
               if ident >= 100)
    assert catch_up.caught_up == before + 1
    assert asker.held is None
