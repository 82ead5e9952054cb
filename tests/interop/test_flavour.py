"""A runtime of ours with a `runtime://` URL plays reTHINK on the wire (`--flavour rethink`): what it
sends, checked frame by frame at the node."""

from __future__ import annotations

from typing import Any

import pytest

from core.lab import Lab
from core.net.websocket import WebSocketConnector
from core.protocol import address as addr
from core.protocol.message import SyncError
from core.runtime.runtime import Runtime
from core.schemas import COMM_SCHEMA
from tests.conftest import FAST
from tests.net.conftest import Net

A = "a.example"


def node_saw(net: Net, direction: str, mtype: str) -> list[dict[str, Any]]:
    return [e.message for e in net.watch.events if e.kind == "message" and e.where == f"domain://msg-node.{A}"
            and e.direction == direction and e.message and e.message["type"] == mtype]


async def test_a_rethink_flavoured_runtime_mints_claims_and_re_opens_with_its_token(net: Net) -> None:
    server = await net.node(A)
    cut = await net.cut(A)
    connector = WebSocketConnector({A: cut.url}, monitor=net.monitor)
    net.connectors.append(connector)
    rt = Runtime(f"runtime://{A}/5d2c9a1e-0b7f-4c4e-9a57-3f0c7d0e8b11", connector=connector, monitor=net.monitor,
                 timers=FAST)
    net.runtimes.append(rt)
    await rt.start()
    alice = await rt.hyperty("alice")
    # the hyperty URL is minted here and claimed by subscribe (INTEROP §2): no allocation request
    assert not [m for m in node_saw(net, "in", "create") if m["to"].endswith("hyperty-address-allocation")]
    claim = node_saw(net, "in", "subscribe")[0]
    assert claim["from"] == rt.url + "/subscriptions" and claim["body"] == {
        "resources": [alice.url], "source": rt.url + "/address-allocation"}
    assert server.node.allocator.owner[alice.url] == rt.url
    chat = await alice.syncher.create(COMM_SCHEMA, data={"a": 1})
    assert not [m for m in node_saw(net, "in", "create") if m["to"].endswith("object-address-allocation")]
    assert server.node.allocator.owner[chat.url] == rt.url
    # the node told it a runtimeToken; after a lost link it re-opens from `<runtimeURL>/<runtimeToken>`
    token = rt.stubs[A].runtime_token
    assert token == server.node.tokens[rt.url]
    cut.cut()
    await net.watch.state(lambda: rt.url not in server.node.sessions)
    cut.heal()
    await net.watch.state(lambda: rt.url in server.node.sessions and rt.link_open(A))
    reopen = node_saw(net, "in", "re-open")
    assert reopen == [{"id": reopen[0]["id"], "type": "re-open", "from": f"{rt.url}/{token}", "to": addr.SESSION}]
    assert [m for m in node_saw(net, "in", "open") if m["from"].startswith(rt.url)] == [node_saw(net, "in", "open")[0]]
    chat.data["b"] = 2       # the object is still its own
    await net.watch.state(lambda: server.node.allocator.owner[chat.url] == rt.url and chat.version == 1)


async def test_a_rethink_flavoured_runtime_sends_subscriber_and_desc(net: Net) -> None:
    await net.node(A)
    ours = await net.runtime(A)
    alice = await ours.hyperty("alice")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"a": 1})
    chat.on_subscription(lambda e: e.accept())
    connector = WebSocketConnector(net.urls, monitor=net.monitor)
    net.connectors.append(connector)
    rt = Runtime(f"runtime://{A}/0c6f1b7e-2d6a-4f0e-8e53-9b1d2c3a4f5e", connector=connector, monitor=net.monitor,
                 timers=FAST)
    net.runtimes.append(rt)
    await rt.start()
    bob = await rt.hyperty("bob")
    obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    assert obs.data == {"a": 1}
    request = next(m for m in node_saw(net, "in", "subscribe") if m["to"] == chat.url + "/subscription")
    assert request["from"] == rt.url + "/sm" and request["body"] == {"subscriber": bob.url,
                                                                    "identity": bob.identity}
    # its answers carry the reason as `desc` only, as reTHINK's do
    refused = await alice.syncher.sandbox.request({"type": "execute", "from": alice.url, "to": rt.url + "/nothing",
                                                   "body": {}})
    answer = next(m for m in node_saw(net, "in", "response") if m["id"] == refused["id"] and m["to"] == alice.url)
    assert answer["body"] == {"code": 404, "desc": "not found"}
    assert refused["body"]["code"] == 404


@pytest.mark.parametrize("placement", ["same runtime", "other runtime"])
async def test_a_new_reporter_after_a_delegation_keeps_to_the_forms_its_rethink_subscribers_apply(
        placement: str) -> None:
    async with Lab(timers=FAST) as lab:
        rt_a = await lab.runtime(A)
        rt_c = rt_a if placement == "same runtime" else await lab.runtime(A)
        theirs = await lab.runtime(A, rethink=True)
        alice, bob, rita = await rt_a.hyperty("alice"), await rt_c.hyperty("bob"), await theirs.hyperty("rita")
        bob.syncher.on_notification(lambda e: e.accept() if e.type == "delegate" else e.ack())
        chat = await alice.syncher.create(COMM_SCHEMA, data={"meta": {}}, observers=[bob.url])
        chat.on_subscription(lambda e: e.accept())
        await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
        seen_by_rita = await rita.syncher.subscribe(chat.url, COMM_SCHEMA)
        await chat.delegate(bob.url)
        await lab.settle()
        new = bob.syncher.reporters[chat.url]
        assert new.rethink == {rita.url} and rt_c.sm.reporters[chat.url].subscriptions[rita.url].get("rethink")
        sent: list[dict[str, Any]] = []
        lab.monitor.subscribe(lambda e: sent.append(e.message) if e.kind == "message" and e.direction == "in"
                              and e.where == lab.nodes[A].url and e.message
                              and e.message["to"] == chat.url + "/changes" else None)
        new.data["meta"]["v1.2"] = 1          # a path reTHINK would split: a Set of its parent instead
        with pytest.raises(SyncError):
            new.data["v1.2"] = 1              # nothing reTHINK could address: refused
        await lab.settle()
        assert [(m["body"]["attribute"], m["body"]["value"]) for m in sent] == [("meta", {"v1.2": 1})]
        assert (seen_by_rita.data, seen_by_rita.version) == ({"meta": {"v1.2": 1}}, new.version)
