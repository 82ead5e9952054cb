"""The cluster router on a real NATS server: a request on its way to a node whose interest in the
address ends meanwhile is answered, never lost (the sender's node then answers its runtime at once
instead of leaving its request to time out); the subscription goes once it has lingered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest

from core.monitor import Monitor
from core.node.cluster.names import Names
from core.node.cluster.router import ClusterRouter, Delivery
from core.tasks import TaskSet
from tests.cluster.conftest import Nats, until

ROUNDS = 40
#: A refusal's wait for another node's delivery in the tests where one comes: a loaded machine's
#: delays must not turn the delivery into a 404 (the router's own is 0.2 s).
LONG_GRACE = 5.0


class Sessions:
    """The node side of a router (`LocalDelivery`): which addresses its sessions subscribe, and what
    the router delivered to them."""

    def __init__(self) -> None:
        self.subscribed: set[str] = set()
        self.delivered: list[bytes] = []
        #: what its node answers a message to a runtime it holds
        self.runtime_answer = Delivery.REFUSED

    def deliver_to_runtime(self, runtime: str, data: bytes) -> Delivery:
        return self.runtime_answer

    def deliver_to_address(self, address: str, data: bytes, prefix_only: bool) -> bool:
        if address not in self.subscribed:
            return False
        self.delivered.append(data)
        return True

    def taken_over(self, runtime: str) -> None:
        pass


@pytest.fixture
async def routers(nats_server: Nats) -> AsyncIterator[tuple[ClusterRouter, ClusterRouter, Sessions]]:
    connections, tasks = [], []
    made: list[ClusterRouter] = []
    for node in ("n1", "n2"):
        nc = await nats.connect(nats_server.url)
        connections.append(nc)
        tasks.append(TaskSet(Monitor(), f"router {node}"))
        made.append(ClusterRouter(nc, Names("a.example"), node, Sessions(), tasks[-1]))
        await made[-1].start()
    try:
        yield made[0], made[1], made[1].local  # type: ignore[misc]
    finally:
        for task_set in tasks:
            assert task_set.errors == []
            await task_set.close()
        for nc in connections:
            await nc.close()


async def test_a_request_crossing_the_end_of_interest_is_answered(
        routers: tuple[ClusterRouter, ClusterRouter, Sessions]) -> None:
    sender, receiver, sessions = routers
    unrouted: list[int] = []
    for i in range(ROUNDS):
        address = f"comm://a.example/object-{i}"
        sessions.subscribed.add(address)
        receiver.interest(address, True)
        await until(lambda a=address: receiver._address_subs.get(a) is not None)
        await receiver.nc.flush()          # the server has the subscription
        sender.to_address(address, str(i).encode(), lambda i=i: unrouted.append(i))
        if i % 2:                          # either order: the end of interest or the request first
            await asyncio.sleep(0)
        sessions.subscribed.discard(address)
        receiver.interest(address, False)
    # every request is delivered or answered unrouted, once, and none waits for ACK_WAIT
    async with asyncio.timeout(5.0):
        while len(sessions.delivered) + len(unrouted) < ROUNDS:
            await asyncio.sleep(0.01)
    delivered = sorted(int(d) for d in sessions.delivered)
    assert sorted(delivered + unrouted) == list(range(ROUNDS))
    assert sender.stats["unrouted"] == len(unrouted)
    assert receiver.addresses() == []


async def test_a_refusal_waits_for_another_nodes_delivery(
        routers: tuple[ClusterRouter, ClusterRouter, Sessions], nats_server: Nats) -> None:
    """A node that cannot deliver answers "0"; a second node with subscribers delivers: no 404."""
    sender, receiver, sessions = routers
    third_sessions = Sessions()
    nc = await nats.connect(nats_server.url)
    tasks = TaskSet(Monitor(), "router n3")
    third = ClusterRouter(nc, Names("a.example"), "n3", third_sessions, tasks)
    await third.start()
    sender.refusal_grace = LONG_GRACE
    try:
        address = "comm://a.example/object"
        third_sessions.subscribed.add(address)
        for router in (receiver, third):
            router.interest(address, True)
        await until(lambda: receiver._address_subs.get(address) is not None
                    and third._address_subs.get(address) is not None)
        await receiver.nc.flush()
        await nc.flush()
        unrouted: list[str] = []
        sender.to_address(address, b"m", lambda: unrouted.append("m"))   # n2 has no subscribers: "0"
        # both answers came (n2's "0" and n3's "1", in either order) once nothing is pending
        await until(lambda: third_sessions.delivered == [b"m"] and not sender._pending)
        assert (unrouted, sessions.delivered, sender.stats["unrouted"]) == ([], [], 0)
    finally:
        assert tasks.errors == []
        await tasks.close()
        await nc.close()


async def test_an_ended_interest_unsubscribes_after_lingering_and_returning_interest_keeps_it(
        routers: tuple[ClusterRouter, ClusterRouter, Sessions]) -> None:
    sender, receiver, sessions = routers
    address = "comm://a.example/object"
    sessions.subscribed.add(address)
    receiver.interest(address, True)
    await until(lambda: receiver._address_subs.get(address) is not None)
    kept = receiver._address_subs[address]
    receiver.interest(address, False)
    receiver.interest(address, True)          # back within LINGER: the same subscription, no round trip
    assert receiver._address_subs[address] is kept
    receiver.interest(address, False)
    # lingered, then drained: the router's tasks are its pump alone
    await until(lambda: not receiver._lingering and len(receiver.tasks) == 1)
    unrouted: list[str] = []
    sender.to_address(address, b"late", lambda: unrouted.append("late"))   # NATS: no responders
    await until(lambda: unrouted == ["late"])
    assert (sessions.delivered, receiver.stats["received"]) == ([], 0)


async def test_interest_that_ends_and_returns_while_subscribing_delivers_once(
        routers: tuple[ClusterRouter, ClusterRouter, Sessions]) -> None:
    """Two subscriptions are made (the first is still on its way as interest goes and comes): the
    router keeps one for its deliveries, and the other answers "0" until it is drained."""
    sender, receiver, sessions = routers
    sender.refusal_grace = LONG_GRACE
    address = "comm://a.example/object"
    sessions.subscribed.add(address)
    for on in (True, False, True):
        receiver.interest(address, on)
    await until(lambda: receiver._address_subs.get(address) is not None and len(receiver.tasks) == 1)
    assert list(receiver._lingering) == [receiver.names.address(address)]   # the second one made
    await receiver.nc.flush()
    received = receiver.nc.stats["in_msgs"]
    unrouted: list[str] = []
    sender.to_address(address, b"once", lambda: unrouted.append("once"))
    await until(lambda: receiver.nc.stats["in_msgs"] == received + 2 and not sender._pending)
    await receiver.nc.flush()     # both subscriptions' callbacks have run
    assert (sessions.delivered, unrouted, receiver.stats["received"]) == ([b"once"], [], 1)


async def test_a_request_to_a_runtime_whose_node_answers_gone_gets_the_gone_answer_at_once(
        routers: tuple[ClusterRouter, ClusterRouter, Sessions]) -> None:
    """The node holding the runtime knows the address was deallocated (DECISIONS 88): the sender's node
    answers "unknown object" without waiting for other nodes (one node holds a runtime)."""
    sender, receiver, sessions = routers
    sender.refusal_grace = LONG_GRACE   # a "gone" taken as a plain refusal would wait this long
    runtime = "hyperty-runtime://a.example/rt"
    sessions.runtime_answer = Delivery.GONE
    receiver.runtime_opened(runtime)
    await until(lambda: receiver._runtime_subs.get(runtime) is not None)
    await receiver.nc.flush()
    answers: list[str] = []
    sender.to_runtime(runtime, b"read", lambda: answers.append("no route"), lambda: answers.append("gone"))
    await until(lambda: answers != [])
    assert (answers, sender.stats["unrouted"], sender._pending) == (["gone"], 1, {})
    sender.to_runtime(runtime, b"read", lambda: answers.append("no route"))   # no `gone`: unrouted
    await until(lambda: len(answers) == 2)
    assert answers == ["gone", "no route"]
