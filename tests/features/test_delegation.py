"""Reporter delegation (PROTOCOL §4): happy paths in three placements, rules, failure paths."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core import SyncError
from core.lab import Lab
from core.schemas import COMM_SCHEMA

OAM = "domain://msg-node.a.example/object-address-allocation"


async def world(lab: Lab, candidate_domain: str, same_runtime: bool = False) -> Any:
    rt_a = await lab.runtime("a.example")
    rt_c = rt_a if same_runtime else await lab.runtime(candidate_domain)
    rt_o1 = await lab.runtime("a.example")
    rt_o2 = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_c.hyperty("bob")
    obs_h = [await rt_o1.hyperty("carol"), await rt_o2.hyperty("erin")]
    bob.syncher.on_notification(lambda e: e.accept() if e.type == "delegate" else e.ack())
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0}, observers=[bob.url, *(h.url for h in obs_h)])
    bob_obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    observers = [await h.syncher.subscribe(chat.url, COMM_SCHEMA) for h in obs_h]
    chat.data["n"] = 1
    await lab.settle()
    return rt_a, rt_c, alice, bob, chat, bob_obs, observers


@pytest.mark.parametrize("placement", ["same runtime", "other runtime", "other domain"])
async def test_happy_path(lab: Lab, placement: str) -> None:
    rt_a, rt_c, alice, bob, chat, bob_obs, observers = await world(
        lab, "b.example" if placement == "other domain" else "a.example", same_runtime=placement == "same runtime")
    await chat.delegate(bob.url)
    await lab.settle()
    new = bob.syncher.reporters[chat.url]
    assert chat.closed and chat.url not in alice.syncher.reporters
    assert bob_obs.closed and chat.url not in bob.syncher.observers
    assert (new.version, new.data, new.status, new.metadata["reporter"]) == (2, {"n": 1}, "live", bob.url)
    for obs in observers:
        assert (obs.version, obs.data, obs.reporter, obs.status) == (2, {"n": 1}, bob.url, "live")
    new.data["n"] = 2
    await lab.settle()
    assert [(o.version, o.data) for o in observers] == [(3, {"n": 2})] * 2
    node = lab.nodes["a.example"]
    assert node.allocator.owner[chat.url] == rt_c.url
    assert rt_c.sm.reporters[chat.url].owner == bob.url
    if rt_c is not rt_a:
        assert chat.url not in rt_a.sm.reporters
    await alice.syncher.subscribe(chat.url, COMM_SCHEMA)      # the old reporter is pre-authorised
    await new.delete()
    await lab.settle()
    assert all(o.closed for o in observers)


async def test_rules(lab: Lab) -> None:
    rt_a, rt_c, alice, bob, chat, bob_obs, observers = await world(lab, "b.example")
    stranger = await rt_c.hyperty("stranger")
    with pytest.raises(SyncError) as refused:
        await chat.delegate(stranger.url)
    assert (refused.value.code, refused.value.description) == (403, "candidate not authorised")
    assert chat.status == "live"
    dave = await rt_a.hyperty("dave")
    answer = await dave.sandbox.request({"type": "create", "from": dave.url, "to": rt_a.sm_url,
                                         "body": {"resource": chat.url, "delegate": bob.url, "value": {}}})
    assert answer["body"] == {"code": 403, "description": "not the reporter"}
    answer = await alice.sandbox.request({"type": "create", "from": alice.url, "to": rt_a.sm_url,
                                          "body": {"resource": chat.url, "delegate": bob.url}})
    assert answer["body"] == {"code": 400, "description": "missing value"}


async def test_rejection_and_no_handler(lab: Lab) -> None:
    rt_a, rt_c, alice, bob, chat, bob_obs, observers = await world(lab, "b.example")
    bob.syncher.on_notification(lambda e: e.reject("not today"))
    with pytest.raises(SyncError) as refused:
        await chat.delegate(bob.url)
    assert (refused.value.code, refused.value.description) == (403, "not today")
    assert chat.status == "live"
    chat.data["n"] = 5
    await lab.settle()
    assert [o.data for o in observers] == [{"n": 5}] * 2
    assert lab.nodes["a.example"].allocator.owner[chat.url] == rt_a.url


async def test_stale_old_reporter_is_refused_by_node_and_ignored(lab: Lab, trace: Any) -> None:
    rt_a, rt_c, alice, bob, chat, bob_obs, observers = await world(lab, "b.example")
    await chat.delegate(bob.url)
    await lab.settle()
    trace.clear()
    stale = {"type": "update", "from": chat.url, "to": chat.url + "/changes",
             "body": {"version": 3, "source": alice.url, "attribute": "n", "value": 666}}
    alice.sandbox.post(stale)
    await lab.settle()
    refusals = [m["body"] for m in trace.messages(lab.nodes["a.example"].url, "out") if m["type"] == "response"]
    assert refusals == [{"code": 403, "description": "not owned by this session"}]   # O is rtB's now
    assert [o.data for o in observers] == [{"n": 1}] * 2


async def test_chained_three_times(lab: Lab) -> None:
    rt_a, rt_c, alice, bob, chat, bob_obs, observers = await world(lab, "b.example")
    carol, erin = (o.syncher.hyperty for o in observers)
    for h in (alice, carol, erin):
        h.syncher.on_notification(lambda e: e.accept() if e.type == "delegate" else e.ack())
    await chat.delegate(bob.url)
    current = bob.syncher.reporters[chat.url]
    await current.delegate(carol.url)
    current = carol.syncher.reporters[chat.url]
    await current.delegate(alice.url)
    current = alice.syncher.reporters[chat.url]
    current.data["n"] = 9
    await lab.settle()
    erin_obs = erin.syncher.observers[chat.url]
    assert (erin_obs.data, erin_obs.version, erin_obs.reporter) == ({"n": 9}, 5, alice.url)


def reporters_of(lab: Lab, url: str) -> list[str]:
    """Every hyperty holding a live DataObjectReporter for `url`."""
    return [h.url for rt in lab.runtimes for h in rt.hyperties.values()
            if url in h.syncher.reporters and not h.syncher.reporters[url].closed]


async def test_candidate_silent_past_the_timeout(short_lab: Lab) -> None:
    lab = short_lab
    rt_a, rt_c, alice, bob, chat, bob_obs, observers = await world(lab, "b.example")
    bob.syncher.on_notification(lambda e: None)          # never decides
    with pytest.raises(SyncError) as refused:
        await chat.delegate(bob.url)
    assert refused.value.code == 408
    assert reporters_of(lab, chat.url) == [alice.url] and chat.status == "live"
    chat.data["n"] = 2
    await lab.settle()
    assert [o.data for o in observers] == [{"n": 2}] * 2


async def test_transfer_refused(short_lab: Lab) -> None:
    lab = short_lab
    rt_a, rt_c, alice, bob, chat, bob_obs, observers = await world(lab, "b.example")
    tokens: list[str] = []
    lab.monitor.subscribe(lambda e: tokens.append(e.message["body"]["delegationToken"])
                          if e.kind == "message" and e.message and "delegationToken" in e.message.get("body", {})
                          and e.message["type"] == "create" and not tokens else None)

    def fence(event: Any) -> None:     # the candidate's app fences the token before accepting
        rt_a.bus.post({"type": "read", "from": rt_a.sm_url, "to": OAM,
                       "body": {"resource": chat.url, "delegationToken": tokens[0]}}, lambda _a: None)
        event.accept()

    bob.syncher.on_notification(fence)
    with pytest.raises(SyncError) as refused:
        await chat.delegate(bob.url)
    assert (refused.value.code, refused.value.description) == (403, "delegation token fenced by an owner query")
    await lab.settle()
    assert reporters_of(lab, chat.url) == [alice.url]
    assert chat.url not in rt_c.sm.reporters           # the standby object went with the abort
    chat.data["n"] = 3
    await lab.settle()
    assert [o.data for o in observers] == [{"n": 3}] * 2


async def test_transfer_answer_lost_commits_by_owner_query(short_lab: Lab) -> None:
    lab = short_lab
    rt_a, rt_c, alice, bob, chat, bob_obs, observers = await world(lab, "b.example")
    oam = OAM
    lost: list[int] = []

    def transfer_answer(m: dict[str, Any]) -> bool:
        hit = m.get("type") == "response" and m.get("from") == oam and m.get("to") == rt_a.sm_url and not lost
        if hit:
            lost.append(1)
        return hit

    with lab.faults(drop=transfer_answer):
        await chat.delegate(bob.url)
    await lab.settle()
    assert lost == [1]
    assert reporters_of(lab, chat.url) == [bob.url]
    new = bob.syncher.reporters[chat.url]
    new.data["n"] = 4
    await lab.settle()
    assert [(o.data, o.reporter) for o in observers] == [({"n": 4}, bob.url)] * 2


async def test_lost_commit_at_candidate_goes_live_after_standby(short_lab: Lab) -> None:
    lab = short_lab
    rt_a, rt_c, alice, bob, chat, bob_obs, observers = await world(lab, "b.example")
    commit = lambda m: m.get("type") == "update" and m.get("body", {}).get("status") == "committed" \
        and m.get("to") == rt_c.sm_url  # noqa: E731
    with lab.faults(drop=commit):
        await chat.delegate(bob.url)                   # #12 comes whatever #9's answer
        assert reporters_of(lab, chat.url) == []       # bob is still standing by
        await lab.until(lambda: reporters_of(lab, chat.url) == [bob.url], 5.0)
    await lab.settle()
    new = bob.syncher.reporters[chat.url]
    new.data["n"] = 6
    await lab.settle()
    assert [(o.data, o.version) for o in observers] == [({"n": 6}, 3)] * 2


async def test_subscribe_during_delegation_waits_for_the_commit(short_lab: Lab) -> None:
    lab = short_lab
    rt_a, rt_c, alice, bob, chat, bob_obs, observers = await world(lab, "b.example")
    late_rt = await lab.runtime("b.example")
    frank = await late_rt.hyperty("frank")
    await chat.invite(frank.url)
    offers: list[Any] = []
    busy: list[dict[str, Any]] = []
    lab.monitor.subscribe(lambda e: busy.append(e.message) if e.kind == "message" and e.message
                          and e.message["type"] == "response" and e.message["body"].get("code") == 503 else None)
    bob.syncher.on_notification(lambda e: offers.append(e))
    delegation = asyncio.ensure_future(chat.delegate(bob.url))
    await lab.until(lambda: bool(offers), 2.0)
    subscribing = asyncio.ensure_future(frank.syncher.subscribe(chat.url, COMM_SCHEMA))
    await lab.until(lambda: bool(busy), 2.0)            # SM_A answered 503: SM_B will retry
    offers[0].accept()
    await delegation
    obs = await subscribing
    assert (obs.data, obs.reporter) == ({"n": 1}, bob.url)


async def test_unsubscribe_during_delegation_waits_for_the_commit(short_lab: Lab) -> None:
    lab = short_lab
    rt_a, rt_c, alice, bob, chat, bob_obs, observers = await world(lab, "b.example")
    offers: list[Any] = []
    busy: list[dict[str, Any]] = []
    lab.monitor.subscribe(lambda e: busy.append(e.message) if e.kind == "message" and e.message
                          and e.message["type"] == "response" and e.message["body"].get("code") == 503 else None)
    bob.syncher.on_notification(lambda e: offers.append(e))
    delegation = asyncio.ensure_future(chat.delegate(bob.url))
    await lab.until(lambda: bool(offers), 2.0)
    leaving = asyncio.ensure_future(observers[1].unsubscribe())
    await lab.until(lambda: bool(busy), 2.0)            # answered 503 while delegating: retried
    offers[0].accept()
    await delegation
    await leaving                                         # succeeds after the commit, never a spurious error
    await lab.settle()
    new = bob.syncher.reporters[chat.url]
    assert set(new.subscriptions) == {observers[0].syncher.url}
    assert set(rt_c.sm.reporters[chat.url].subscriptions) == {observers[0].syncher.url}


async def test_commit_moves_node_subscriptions_visibly(lab: Lab, trace: Any) -> None:
    rt_a, rt_c, alice, bob, chat, bob_obs, observers = await world(lab, "b.example")
    trace.clear()
    await chat.delegate(bob.url)
    moved = [(e.detail["action"], e.detail["address"], e.detail["session"]) for e in trace.of_kind("subscription")
             if e.where == lab.nodes["a.example"].url and e.detail["address"] in (chat.url, chat.url + "/subscription")]
    assert moved[:4] == [("removed", chat.url, rt_a.url), ("added", chat.url, rt_c.url),
                         ("removed", chat.url + "/subscription", rt_a.url),
                         ("added", chat.url + "/subscription", rt_c.url)]
    table = lab.nodes["a.example"].subscriptions.table()
    assert table[chat.url] == [rt_c.url] and table[chat.url + "/subscription"] == [rt_c.url]
