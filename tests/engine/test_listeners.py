"""Appendix A: after each procedure the listeners and node subscriptions that should exist do, and
no others (reference-counted PUB and MNS)."""

from __future__ import annotations

from typing import Any

from core.lab import Lab
from core.protocol import address as addr
from core.schemas import COMM_SCHEMA
from tests.engine.helpers import (
    bus_listeners,
    expected_observer_listeners,
    expected_reporter_listeners,
    node_subscriptions,
    sandbox_listeners,
)

CHILDREN = ["messages", "resources"]


async def test_listener_sets_through_create_subscribe_unsubscribe_delete(lab: Lab) -> None:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    bob2 = await rt_b.hyperty("bob2")

    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0})
    chat.on_subscription(lambda e: e.accept())
    o = chat.url
    await lab.settle()
    assert bus_listeners(rt_a, o) == expected_reporter_listeners(rt_a, o, alice.url, CHILDREN)
    assert sandbox_listeners(rt_a, o) == {(o, alice.url), *((addr.children(o, n), alice.url) for n in CHILDREN)}
    reporter_mns = {o: [rt_a.url], addr.subscription(o): [rt_a.url],
                    **{addr.children(o, n): [rt_a.url] for n in CHILDREN}}
    assert node_subscriptions(lab, o) == reporter_mns
    assert bus_listeners(rt_b, o) == set()

    obs1 = await bob.syncher.subscribe(o, COMM_SCHEMA)
    await lab.settle()
    assert bus_listeners(rt_b, o) == expected_observer_listeners(rt_b, o, [bob.url], CHILDREN)
    both = sorted([rt_a.url, rt_b.url])
    observer_mns = {addr.changes(o): [rt_b.url], **{addr.children(o, n): both for n in CHILDREN}}
    assert node_subscriptions(lab, o) == {**reporter_mns, **observer_mns}
    assert sandbox_listeners(rt_b, o) == {(addr.changes(o), bob.url),
                                          *((addr.children(o, n), bob.url) for n in CHILDREN)}

    # A second observer in the same runtime: one more FWD per address, no new PUB, no new node subscription.
    obs2 = await bob2.syncher.subscribe(o, COMM_SCHEMA)
    await lab.settle()
    assert bus_listeners(rt_b, o) == expected_observer_listeners(rt_b, o, [bob.url, bob2.url], CHILDREN)
    assert [k for a, k, _ in rt_b.bus.listeners() if a == addr.changes(o)].count("L") == 1
    assert rt_b.routing.mns == {a: 1 for a in observer_mns}  # MNS belongs to the ObserverObject
    assert node_subscriptions(lab, o) == {**reporter_mns, **observer_mns}

    # Its unsubscribe leaves the first one working.
    await obs2.unsubscribe()
    await lab.settle()
    assert bus_listeners(rt_b, o) == expected_observer_listeners(rt_b, o, [bob.url], CHILDREN)
    assert rt_b.routing.mns == {a: 1 for a in observer_mns}
    assert node_subscriptions(lab, o) == {**reporter_mns, **observer_mns}
    chat.data["n"] = 1
    await lab.settle()
    assert obs1.data == {"n": 1} and obs1.version == 1
    assert obs2.data == {"n": 0} and obs2.closed

    # The last unsubscribe removes everything of O in rtB and at the node.
    await obs1.unsubscribe()
    await lab.settle()
    assert bus_listeners(rt_b, o) == set()
    assert sandbox_listeners(rt_b, o) == set()
    assert rt_b.routing.mns == {}
    assert node_subscriptions(lab, o) == reporter_mns

    # Delete removes the reporter side, the node subscriptions, the allocation and the registration.
    await chat.delete()
    await lab.settle()
    assert bus_listeners(rt_a, o) == set()
    assert sandbox_listeners(rt_a, o) == set()
    assert node_subscriptions(lab, o) == {}
    node = lab.nodes["a.example"]
    assert o not in node.allocator.owner
    assert o not in node.registry.objects


async def test_delete_removes_observer_side_everywhere(lab: Lab) -> None:
    rt_a = await lab.runtime("a.example")
    rt_a2 = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    dave = await rt_a.hyperty("dave")
    carol = await rt_a2.hyperty("carol")
    bob = await rt_b.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={}, observers=[dave.url, carol.url, bob.url])
    observers = [await h.syncher.subscribe(chat.url, COMM_SCHEMA) for h in (dave, carol, bob)]
    notified: list[tuple[str, str]] = []
    for h in (dave, carol, bob):
        h.syncher.on_notification(lambda e, h=h: (notified.append((h.name, e.type)), e.ack()))
    await lab.settle()
    await chat.delete()
    await lab.settle()
    assert sorted(notified) == [("bob", "delete"), ("carol", "delete"), ("dave", "delete")]
    for rt in (rt_a, rt_a2, rt_b):
        assert bus_listeners(rt, chat.url) == set()
        assert sandbox_listeners(rt, chat.url) == set()
        assert rt.routing.mns == {}
    assert all(o.closed and o.status == "deleted" for o in observers)
    assert node_subscriptions(lab, chat.url) == {}


async def test_reporter_runtime_observer_shares_counted_pub_and_mns(lab: Lab) -> None:
    rt_a = await lab.runtime("a.example")
    alice = await rt_a.hyperty("alice")
    dave = await rt_a.hyperty("dave")
    chat = await alice.syncher.create(COMM_SCHEMA, data={}, observers=[dave.url])
    o = chat.url
    obs = await dave.syncher.subscribe(o, COMM_SCHEMA)
    await lab.settle()
    # O/children/n is published by the ReporterObject and the ObserverObject: one PUB, counted twice.
    for n in CHILDREN:
        channel = addr.children(o, n)
        assert [k for a, k, _ in rt_a.bus.listeners() if a == channel].count("PUB") == 1
        assert rt_a.routing.pub_count(channel) == 2
        assert rt_a.routing.mns[channel] == 2
    assert node_subscriptions(lab, o)[addr.children(o, "messages")] == [rt_a.url]
    chat.data["x"] = 1
    await lab.settle()
    assert obs.data == {"x": 1}
    await obs.unsubscribe()
    await lab.settle()
    assert bus_listeners(rt_a, o) == expected_reporter_listeners(rt_a, o, alice.url, CHILDREN)
    assert rt_a.routing.mns == {a: 1 for a in [o, addr.subscription(o), *(addr.children(o, n) for n in CHILDREN)]}
    assert node_subscriptions(lab, o)[addr.children(o, "messages")] == [rt_a.url]


async def test_a_request_for_an_object_not_live_here_is_answered_unreachable_not_deleted(lab: Lab) -> None:
    rt = await lab.runtime("a.example")
    answers: list[tuple[int, Any]] = []

    def seen(event: Any) -> None:
        msg = event.message
        if event.kind == "message" and event.where == rt.url and msg and msg["type"] == "response":
            answers.append((msg["id"], msg["body"]))

    lab.monitor.subscribe(seen)
    # e.g. a resync read that reaches a reporter runtime before it has resumed the object
    rt.bus.ingress({"id": 901, "type": "read", "from": "hyperty://b.example/bob", "to": "comm://a.example/x1",
                    "body": {}})
    rt.bus.ingress({"id": 902, "type": "read", "from": "hyperty://b.example/bob", "to": "hyperty://a.example/gone",
                    "body": {}})
    await lab.settle()
    assert answers == [(901, {"code": 404, "description": "no route"}),
                       (902, {"code": 404, "description": "not found"})]


async def test_a_pub_keeps_its_place_and_one_ended_mid_dispatch_sends_no_more(lab: Lab) -> None:
    rt = await lab.runtime("a.example")
    bus, sent, seen = rt.bus, [], []
    bus.egress = sent.append
    events: list[tuple[str, str]] = []
    lab.monitor.subscribe(lambda e: events.append((e.detail.get("action", ""), e.detail.get("address", "")))
                          if e.kind == "listener" and e.detail.get("listener") == "PUB" else None)
    a, b = "comm://a.example/x/changes", "comm://a.example/y/changes"
    bus.add_listener(a, lambda m: seen.append("L"), "L", "sm")
    bus.add_listener(b, lambda m: rt.routing.release_pub(b), "L", "sm")   # ends the PUB of what it handles
    rt.routing.acquire_pubs([a, b, a])                    # one PUB each, `a` counted twice
    bus.add_listener(a, lambda m: seen.append("FWD"), "FWD", "h")
    assert [k for x, k, _ in bus.listeners() if x == a] == ["L", "PUB", "FWD"]
    bus.post({"type": "update", "from": "comm://a.example/x", "to": a, "body": {}})
    assert (seen, [m["to"] for m in sent]) == (["L", "FWD"], [a])
    rt.routing.release_pub(a)
    assert rt.routing.pub_count(a) == 1 and [k for x, k, _ in bus.listeners() if x == a] == ["L", "PUB", "FWD"]
    bus.post({"type": "update", "from": "comm://a.example/y", "to": b, "body": {}})
    assert [m["to"] for m in sent] == [a] and bus.listeners(b) == [(b, "L", "sm")]
    assert events == [("added", a), ("added", b), ("removed", b)]


async def test_one_listener_on_several_addresses_is_filed_and_ended_on_each(lab: Lab) -> None:
    rt = await lab.runtime("a.example")
    bus, seen = rt.bus, []
    events: list[tuple[str, str]] = []
    lab.monitor.subscribe(lambda e: events.append((e.detail.get("action", ""), e.detail.get("address", "")))
                          if e.kind == "listener" and e.detail.get("owner") == "h" else None)
    x, y = "comm://a.example/o/children/messages", "comm://a.example/o/children/resources"
    first = bus.add_listener(x, lambda m: seen.append(("first", m["to"])), "L", "sm")
    both = bus.add_listener((x, y), lambda m: seen.append(("both", m["to"])), "FWD", "h")
    assert both.addresses == (x, y)
    assert [(a, k) for a, k, _ in bus.listeners() if a in (x, y)] == [(x, "L"), (x, "FWD"), (y, "FWD")]
    for to in (x, y):
        bus.post({"type": "update", "from": "comm://a.example/o", "to": to, "body": {}})
    assert seen == [("first", x), ("both", x), ("both", y)]
    first.handler = lambda m: both.remove()     # ended by a listener before it, for this very message
    bus.post({"type": "update", "from": "comm://a.example/o", "to": x, "body": {}})
    assert seen == [("first", x), ("both", x), ("both", y)] and bus.listeners(y) == []
    assert events == [("added", x), ("added", y), ("removed", x), ("removed", y)]


async def test_a_listener_named_twice_on_an_address_is_filed_there_once(lab: Lab) -> None:
    rt = await lab.runtime("a.example")
    bus, seen = rt.bus, []
    x, y = "comm://a.example/o/children/messages", "comm://a.example/o/children/resources"
    alone = bus.add_listener((x, y, x), lambda m: seen.append(("alone", m["to"])), "FWD", "h")
    after = bus.add_listeners([((y, y), lambda m: seen.append(("after", m["to"])), "L", "sm")])[0]
    assert bus.listeners(x) == [(x, "FWD", "h")]
    assert bus.listeners(y) == [(y, "FWD", "h"), (y, "L", "sm")]
    for to in (x, y):
        bus.post({"type": "update", "from": "comm://a.example/o", "to": to, "body": {}})
    assert seen == [("alone", x), ("alone", y), ("after", y)]
    alone.remove()
    after.remove()
    assert bus.listeners(x) == [] and bus.listeners(y) == []
