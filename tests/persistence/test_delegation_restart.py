"""Delegation and persistence (PROTOCOL §4, §3.8): the new reporter's runtime stores the record, the
old one forgets it, and a restart of either after the handover resumes the right role."""

from __future__ import annotations

from typing import Any

from core.lab import Lab
from core.schemas import COMM_SCHEMA


async def world(lab: Lab) -> Any:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    rt_o = await lab.runtime("a.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    carol = await rt_o.hyperty("carol")
    bob.syncher.on_notification(lambda e: e.accept() if e.type == "delegate" else e.ack())
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0}, observers=[bob.url, carol.url], store=True)
    await bob.syncher.subscribe(chat.url, COMM_SCHEMA, store=True)
    obs = await carol.syncher.subscribe(chat.url, COMM_SCHEMA, store=True)
    chat.data["n"] = 1
    await lab.settle()
    return rt_a, rt_b, rt_o, alice, bob, carol, chat, obs


async def test_records_move_with_the_role_and_restarts_resume_it(lab: Lab) -> None:
    rt_a, rt_b, rt_o, alice, bob, carol, chat, obs = await world(lab)
    await chat.delegate(bob.url)
    await lab.settle()
    assert chat.url not in rt_a.stored("reporter")
    record = rt_b.stored("reporter")[chat.url]
    assert (record["reporter"], record["version"], record["subscriptions"], record["data"]) == (
        bob.url, 2, [carol.url], {"n": 1})
    assert alice.url in record["preAuthorised"] and "delegationToken" not in record
    assert chat.url not in rt_b.stored("observer")          # bob's own observer record went with the role
    await rt_b.restart()                                      # right after the commit
    await rt_a.restart()
    await lab.settle()
    assert chat.url not in alice.syncher.reporters
    new = bob.syncher.reporters[chat.url]
    assert (new.version, new.data) == (2, {"n": 1})
    new.data["n"] = 3
    await lab.settle()
    assert (obs.data, obs.version, obs.reporter) == ({"n": 3}, 3, bob.url)


async def test_candidate_crash_between_commit_and_go_live_resumes_from_standby(short_lab: Lab) -> None:
    lab = short_lab
    rt_a, rt_b, rt_o, alice, bob, carol, chat, obs = await world(lab)
    commit = lambda m: m.get("type") == "update" and m.get("body", {}).get("status") == "committed" \
        and m.get("to") == rt_b.sm_url  # noqa: E731
    with lab.faults(drop=commit):
        await chat.delegate(bob.url)                          # #9 lost: bob stands by
        assert rt_b.stored("reporter")[chat.url]["delegationToken"]
        await rt_b.crash()                                    # … and crashes before T_standby
    await rt_b.restart()                                      # the fenced owner query says: ours
    await lab.settle()
    new = bob.syncher.reporters[chat.url]
    assert new.status == "live" and "delegationToken" not in rt_b.stored("reporter")[chat.url]
    new.data["n"] = 4
    await lab.settle()
    assert (obs.data, obs.reporter) == ({"n": 4}, bob.url)
