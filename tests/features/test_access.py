"""Revocation (PROTOCOL §3.5), read and execute (§3.4), and the policy engine: exact codes."""

from __future__ import annotations

from typing import Any

import pytest

from core import SyncError
from core.lab import Lab
from core.policy import Policy
from core.schemas import COMM_SCHEMA, CONTEXT_SCHEMA


async def world(lab: Lab) -> Any:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    eve = await rt_b.hyperty("eve")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0}, observers=[bob.url])
    obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    await lab.settle()
    return rt_a, rt_b, alice, bob, eve, chat, obs


async def codes(coro: Any) -> tuple[int, str]:
    with pytest.raises(SyncError) as refused:
        await coro
    return refused.value.code, refused.value.description


async def test_revocation_unsubscribes_the_observer_and_governs_reads(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, eve, chat, obs = await world(lab)
    notes: list[tuple[str, str]] = []
    bob.syncher.on_notification(lambda e: notes.append((e.type, e.url)))
    await chat.revoke(bob.url)
    await lab.settle()
    assert notes == [("unsubscribe", chat.url)]
    assert obs.closed and obs.status == "revoked"
    assert chat.subscriptions == {} and rt_a.sm.reporters[chat.url].subscriptions == {}
    assert bob.url not in rt_a.sm.reporters[chat.url].preauthorised
    assert chat.url not in rt_b.sm.observers and rt_b.routing.mns == {}
    assert await codes(bob.syncher.read(chat.url)) == (401, "unauthorized")
    # a new subscribe asks the reporter again: no handler means no
    assert await codes(bob.syncher.subscribe(chat.url, COMM_SCHEMA)) == (403, "no subscription handler")
    chat.on_subscription(lambda e: e.accept())
    again = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    assert again.data == {"n": 0}


async def test_revocation_rows(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, eve, chat, obs = await world(lab)
    dave = await rt_a.hyperty("dave")
    not_reporter = {"type": "unsubscribe", "from": dave.url, "to": rt_a.sm_url,
                    "body": {"resource": chat.url, "subscriber": bob.url}}
    answer = await dave.sandbox.request(not_reporter)
    assert answer["body"] == {"code": 403, "description": "not the reporter"}
    unknown = {"type": "unsubscribe", "from": alice.url, "to": rt_a.sm_url,
               "body": {"resource": "comm://a.example/unknown", "subscriber": bob.url}}
    answer = await alice.sandbox.request(unknown)
    assert answer["body"] == {"code": 404, "description": "unknown object"}
    fake = {"type": "unsubscribe", "from": eve.url, "to": bob.url, "body": {"resource": chat.url}}
    answer = await eve.sandbox.request(fake)          # only O's reporter may revoke (§3.5 #4)
    assert answer["body"] == {"code": 403, "description": "not the reporter"}
    nothing = {"type": "unsubscribe", "from": alice.url, "to": bob.url, "body": {"resource": "comm://a.example/x"}}
    answer = await alice.sandbox.request(nothing)
    assert answer["body"] == {"code": 404, "description": "unknown object"}
    assert not obs.closed


async def test_read_rules(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, eve, chat, obs = await world(lab)
    assert (await bob.syncher.read(chat.url))["data"] == {"n": 0}          # a subscriber
    assert await codes(eve.syncher.read(chat.url)) == (401, "unauthorized")   # no handler
    asked: list[str] = []
    chat.on_read(lambda e: (asked.append(e.url), e.reject("ask alice")))
    assert await codes(eve.syncher.read(chat.url)) == (401, "ask alice")
    chat.on_read(lambda e: e.accept())
    assert (await eve.syncher.read(chat.url))["version"] == 0
    assert asked == [eve.url]
    public = await alice.syncher.create(CONTEXT_SCHEMA, data={"t": 21}, public_observation=True)
    assert (await eve.syncher.read(public.url))["data"] == {"t": 21}


async def test_execute(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, eve, chat, obs = await world(lab)
    assert await codes(obs.execute("reset")) == (401, "unauthorized")
    calls: list[tuple[str, list[Any]]] = []

    def on_execute(event: Any) -> None:
        calls.append((event.method, event.params))
        if event.method == "reset":
            chat.data["n"] = 0
            event.accept({"done": True})
        else:
            event.reject("unknown method")

    chat.on_execute(on_execute)
    chat.data["n"] = 5
    assert await obs.execute("reset", 1, "x") == {"done": True}
    await lab.settle()
    assert obs.data == {"n": 0} and obs.version == 2
    assert await codes(obs.execute("explode")) == (401, "unknown method")
    answer = await bob.sandbox.request({"type": "execute", "from": bob.url, "to": chat.url, "body": {}})
    assert answer["body"] == {"code": 400, "description": "missing method"}
    assert calls == [("reset", [1, "x"]), ("explode", [])]


async def test_policy_rule_set_from_data(lab: Lab) -> None:
    policy = Policy.from_rules([{"action": "create", "schema": CONTEXT_SCHEMA},
                                {"action": "subscribe", "from": "hyperty://b.example/blocked"}])
    rt = await lab.runtime("a.example", policy=policy)
    alice = await rt.hyperty("alice")
    assert await codes(alice.syncher.create(CONTEXT_SCHEMA, data={})) == (403, "Blocked by policy")
    chat = await alice.syncher.create(COMM_SCHEMA, data={})
    assert chat.version == 0
    assert policy.rules() == [{"action": "create", "schema": CONTEXT_SCHEMA},
                              {"action": "subscribe", "from": "hyperty://b.example/blocked"}]


async def test_policy_on_incoming_messages(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, eve, chat, obs = await world(lab)
    rt_b.policy.deny("receive", from_=chat.url)
    chat.data["n"] = 1
    await lab.settle()
    assert obs.version == 0                                     # the update was refused at rt_b's bus
    rt_b.policy.clear()
    chat.data["n"] = 2                                          # a gap now: healed by a resync
    await lab.settle()
    assert (obs.data, obs.version, obs.resyncs) == ({"n": 2}, 2, 1)
    rt_a.policy.deny("receive", from_=bob.url)
    assert await codes(bob.syncher.read(chat.url)) == (403, "Blocked by policy")


async def test_node_policy_blocks_routing_with_403(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, eve, chat, obs = await world(lab)
    node = lab.nodes["a.example"]
    node.policy.deny("route", from_=eve.url)
    assert await codes(eve.syncher.read(chat.url)) == (403, "Blocked by policy")
    assert (await bob.syncher.read(chat.url))["data"] == {"n": 0}     # everyone else is routed as before
    node.policy.clear()
    chat.on_read(lambda e: e.accept())
    assert (await eve.syncher.read(chat.url))["version"] == 0
