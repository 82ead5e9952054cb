"""Each procedure's messages, in order, as PROTOCOL §3 draws them (seen through the monitor)."""

from __future__ import annotations

import pytest

from core import SyncError
from core.lab import Lab
from core.protocol import address as addr
from core.schemas import COMM_SCHEMA
from tests.conftest import Trace
from tests.engine.helpers import flow

CHILDREN = ["messages", "resources"]


def protocol_flow(trace: Trace, where: str) -> list[tuple]:
    """The flow at `where` without link control (session open, TRANSPORT §2)."""
    return [f for f in flow(trace, where) if addr.SESSION not in (f[2], f[3])]


async def setup(lab: Lab):
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    return rt_a, rt_b, alice, bob


async def test_create_sequence(lab: Lab, trace: Trace) -> None:
    rt_a, _rt_b, alice, _bob = await setup(lab)
    trace.clear()
    chat = await alice.syncher.create(COMM_SCHEMA, data={"a": 1})
    await lab.settle()
    sm, aa, o = rt_a.sm_url, rt_a.allocation_url, chat.url
    assert protocol_flow(trace, rt_a.url) == [
        ("out", "create", alice.url, sm, None),                                      # #1
        ("out", "create", aa, addr.object_allocation("a.example"), None),           # #2
        ("in", "response", addr.object_allocation("a.example"), aa, 200),           # #3
        ("out", "subscribe", sm, addr.mn_sm("a.example"), None),                    # #4
        ("in", "response", addr.mn_sm("a.example"), sm, 200),                       # #5
        ("out", "create", rt_a.url + "/registry", addr.registry("a.example"), None),  # step 6
        ("in", "response", addr.registry("a.example"), rt_a.url + "/registry", 200),
        ("out", "response", sm, alice.url, 200),                                     # #6
    ]
    subscribe = next(m for m in trace.messages(rt_a.url, "out") if m["type"] == "subscribe")
    assert subscribe["body"] == {"resources": [o, addr.subscription(o), *(addr.children(o, n) for n in CHILDREN)],
                                 "source": rt_a.url}
    answer = trace.messages(rt_a.url, "out")[-1]
    assert answer["body"] == {"code": 200, "resource": o, "childrenResources": CHILDREN}
    allocation = trace.messages(rt_a.url, "out")[1]
    assert allocation["body"] == {"scheme": "comm", "value": {"number": 1, "allocationKey": rt_a.url}}


async def test_subscribe_sequence_on_both_runtimes(lab: Lab, trace: Trace) -> None:
    rt_a, rt_b, alice, bob = await setup(lab)
    chat = await alice.syncher.create(COMM_SCHEMA, data={"a": 1})
    decisions: list[str] = []
    chat.on_subscription(lambda e: (decisions.append(e.url), e.accept()))
    await lab.settle()
    trace.clear()
    obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    await lab.settle()
    o, sm_b = chat.url, rt_b.sm_url
    assert protocol_flow(trace, rt_b.url) == [
        ("out", "subscribe", bob.url, sm_b, None),                         # #1
        ("out", "subscribe", sm_b, addr.mn_sm("a.example"), None),         # #2
        ("in", "response", addr.mn_sm("a.example"), sm_b, 200),            # #3
        ("out", "response", sm_b, bob.url, 100),                           # #4
        ("out", "subscribe", sm_b, addr.subscription(o), None),            # #5
        ("in", "response", addr.subscription(o), sm_b, 100),               # #6
        ("out", "response", sm_b, bob.url, 100),                           # #6 relayed
        ("in", "response", addr.subscription(o), sm_b, 200),               # #9
        ("out", "response", sm_b, bob.url, 200),                           # #10
    ]
    assert protocol_flow(trace, rt_a.url) == [
        ("in", "subscribe", sm_b, addr.subscription(o), None),             # #5
        ("out", "response", addr.subscription(o), sm_b, 100),              # #6
        ("out", "forward", o, alice.url, None),                            # #7
        ("out", "response", alice.url, o, 200),                            # #8
        ("out", "response", addr.subscription(o), sm_b, 200),              # #9
    ]
    forward = next(m for m in trace.messages(rt_a.url, "out") if m["type"] == "forward")
    assert forward["body"] == {"type": "subscribe", "from": bob.url, "to": o, "preauthorised": False,
                               "identity": bob.identity, "runtime": rt_b.url}   # its dialect (INTEROP §4)
    final = trace.messages(rt_b.url, "out")[-1]
    assert final["body"]["value"]["data"] == {"a": 1} and final["body"]["value"]["version"] == 0
    assert decisions == [bob.url]
    assert obs.data == {"a": 1}
    assert chat.subscriptions.keys() == {bob.url}
    assert rt_a.sm.reporters[o].subscriptions.keys() == {bob.url}


async def test_update_path_reporter_node_observer(lab: Lab, trace: Trace) -> None:
    rt_a, rt_b, alice, bob = await setup(lab)
    chat = await alice.syncher.create(COMM_SCHEMA, data={}, observers=[bob.url])
    await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    await lab.settle()
    trace.clear()
    chat.data["k"] = "v"
    await lab.settle()
    o = chat.url
    update = ("update", o, addr.changes(o), None)
    assert [f[1:] for f in protocol_flow(trace, rt_a.url)] == [update]
    node = lab.nodes["a.example"].url
    assert protocol_flow(trace, node) == [("in", *update), ("out", *update)]
    assert protocol_flow(trace, rt_b.url) == [("in", *update)]
    sent = trace.messages(rt_a.url, "out")[0]["body"]
    assert {k: v for k, v in sent.items() if k != "lastModified"} == {"version": 1, "source": alice.url,
                                                                     "attribute": "k", "value": "v"}
    delivered = next(e for e in trace.events if e.kind == "message" and e.where == rt_b.url)
    assert delivered.detail["hits"] == [f"L:{rt_b.sm_url}", f"FWD:{bob.url}"]


async def test_unsubscribe_sequence(lab: Lab, trace: Trace) -> None:
    rt_a, rt_b, alice, bob = await setup(lab)
    chat = await alice.syncher.create(COMM_SCHEMA, data={}, observers=[bob.url])
    left: list[str] = []
    chat.on_subscription(lambda e: left.append(e.type))
    obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    await lab.settle()
    trace.clear()
    await obs.unsubscribe()
    await lab.settle()
    o, sm_b = chat.url, rt_b.sm_url
    assert protocol_flow(trace, rt_b.url) == [
        ("out", "unsubscribe", bob.url, sm_b, None),                        # #1
        ("out", "unsubscribe", sm_b, addr.subscription(o), None),           # #2
        ("in", "response", addr.subscription(o), sm_b, 200),                # #4
        ("out", "unsubscribe", sm_b, addr.mn_sm("a.example"), None),        # #5
        ("in", "response", addr.mn_sm("a.example"), sm_b, 200),             # #6
        ("out", "response", sm_b, bob.url, 200),                            # #7
    ]
    assert protocol_flow(trace, rt_a.url) == [
        ("in", "unsubscribe", sm_b, addr.subscription(o), None),            # #2
        ("out", "forward", o, alice.url, None),                             # #3
        ("out", "response", addr.subscription(o), sm_b, 200),               # #4
    ]
    assert left == ["subscribe", "unsubscribe"]  # pre-authorised subscribe raised as information
    assert chat.subscriptions == {}
    assert bob.url in rt_a.sm.reporters[o].preauthorised  # bob stays invited


async def test_delete_sequence(lab: Lab, trace: Trace) -> None:
    rt_a, rt_b, alice, bob = await setup(lab)
    chat = await alice.syncher.create(COMM_SCHEMA, data={}, observers=[bob.url])
    await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    chat.data["x"] = 1
    await lab.settle()
    trace.clear()
    await chat.delete()
    await lab.settle()
    o, sm_a, sm_b = chat.url, rt_a.sm_url, rt_b.sm_url
    assert protocol_flow(trace, rt_a.url) == [
        ("out", "delete", alice.url, sm_a, None),                                        # #1
        ("out", "delete", addr.subscription(o), addr.changes(o), None),                  # #2
        ("out", "unsubscribe", sm_a, addr.mn_sm("a.example"), None),                     # #5
        ("in", "response", addr.mn_sm("a.example"), sm_a, 200),
        ("out", "delete", rt_a.url + "/registry", addr.registry("a.example"), None),     # unregister
        ("in", "response", addr.registry("a.example"), rt_a.url + "/registry", 200),
        ("out", "delete", rt_a.allocation_url, addr.object_allocation("a.example"), None),  # #6
        ("in", "response", addr.object_allocation("a.example"), rt_a.allocation_url, 200),
        ("out", "response", sm_a, alice.url, 200),                                       # #7
    ]
    assert protocol_flow(trace, rt_b.url) == [
        ("in", "delete", addr.subscription(o), addr.changes(o), None),                   # #2
        ("out", "delete", addr.subscription(o), bob.url, None),                          # #3
        ("out", "response", bob.url, addr.subscription(o), 200),                         # #4
        ("out", "unsubscribe", sm_b, addr.mn_sm("a.example"), None),                     # release MNS
        ("in", "response", addr.mn_sm("a.example"), sm_b, 200),
    ]
    delete = trace.messages(rt_a.url, "out")[1]
    assert delete["body"] == {"resource": o, "version": 1}


async def test_invite_sequence_and_results(lab: Lab, trace: Trace) -> None:
    rt_a, rt_b, alice, bob = await setup(lab)
    carol = await rt_b.hyperty("carol")
    seen: list[tuple[str, str, str]] = []
    bob.syncher.on_notification(lambda e: (seen.append((e.type, e.url, e.from_)), e.ack()))
    carol.syncher.on_notification(lambda e: e.reject("busy"))
    chat = await alice.syncher.create(COMM_SCHEMA, data={})
    trace.clear()
    results = await chat.invite(bob.url, carol.url)
    await lab.settle()
    assert results == {bob.url: 200, carol.url: 403}
    assert seen == [("create", chat.url, alice.url)]
    o, sm_a = chat.url, rt_a.sm_url
    assert protocol_flow(trace, rt_a.url)[:4] == [
        ("out", "create", alice.url, sm_a, None),                  # #7
        ("out", "create", addr.subscription(o), bob.url, None),    # #8
        ("in", "response", bob.url, addr.subscription(o), 200),    # #9
        ("out", "response", sm_a, alice.url, 200),                 # #10
    ]
    relayed = [m for m in trace.messages(rt_a.url, "out") if m["type"] == "response" and m["to"] == alice.url]
    assert [m["body"] for m in relayed] == [{"code": 200, "source": bob.url},
                                            {"code": 403, "description": "busy", "source": carol.url}]
    assert rt_a.sm.reporters[o].preauthorised == {bob.url, carol.url}


async def test_read_by_subscriber_and_stranger(lab: Lab, trace: Trace) -> None:
    _rt_a, rt_b, alice, bob = await setup(lab)
    eve = await rt_b.hyperty("eve")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"x": [1, 2]}, observers=[bob.url])
    await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    trace.clear()
    value = await bob.syncher.read(chat.url)
    assert value["data"] == {"x": [1, 2]} and value["version"] == 0 and value["url"] == chat.url
    assert protocol_flow(trace, rt_b.url) == [("out", "read", bob.url, chat.url, None),
                                              ("in", "response", chat.url, bob.url, 200)]
    with pytest.raises(SyncError) as refused:
        await eve.syncher.read(chat.url)
    assert (refused.value.code, refused.value.description) == (401, "unauthorized")
