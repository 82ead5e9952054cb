"""Versions that heal (PROTOCOL §5): duplicates and stale updates discarded, gaps buffered then
resynced after GAP_GRACE, resync retries, 401/403 = revoked, 404 = deleted, the 100–200 window."""

from __future__ import annotations

import asyncio
from typing import Any

from core.lab import Lab
from core.schemas import COMM_SCHEMA
from tests.conftest import Trace


async def pair(lab: Lab) -> tuple[Any, Any, Any, Any, Any, Any]:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0}, observers=[bob.url])
    obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    await lab.settle()
    return rt_a, rt_b, alice, bob, chat, obs


def only(version: int):
    return lambda m: m.get("type") == "update" and m.get("body", {}).get("version") == version


async def test_duplicates_are_discarded(lab: Lab) -> None:
    *_, chat, obs = await pair(lab)
    applied: list[Any] = []
    obs.on_change(lambda e: applied.append(e.data), path="n")
    with lab.faults(duplicate=1.0):
        chat.data["n"] = 1
        chat.data["n"] = 2
        await lab.settle()
    assert applied == [1, 2] and obs.version == 2 and obs.resyncs == 0


async def test_gap_buffers_then_resyncs_after_grace(lab: Lab, trace: Trace) -> None:
    *_, chat, obs = await pair(lab)
    with lab.faults(drop=only(2)):
        for i in (1, 2, 3, 4):
            chat.data["n"] = i
        await lab.settle()
    # v3 and v4 waited behind the gap at v1; after GAP_GRACE one resync read healed it.
    resync = [e.detail for e in trace.of_kind("object") if e.detail.get("action") in ("resync", "resynced")]
    assert [(d["action"], d["version"]) for d in resync] == [("resync", 1), ("resynced", 4)]
    assert (obs.data, obs.version, obs.status, obs.resyncs) == ({"n": 4}, 4, "live", 1)
    reads = [m for m in trace.messages() if m["type"] == "read" and m["to"] == chat.url]
    assert len({m["id"] for m in reads}) == 1


async def test_gap_closed_by_a_late_message_needs_no_resync(lab: Lab) -> None:
    *_, chat, obs = await pair(lab)
    with lab.faults(delay=lambda m: 0.02 if only(1)(m) else 0.0):   # v1 overtaken by v2, within the grace
        chat.data["n"] = 1
        chat.data["n"] = 2
        await lab.settle()
    assert (obs.data, obs.version, obs.status, obs.resyncs) == ({"n": 2}, 2, "live", 0)


async def test_resync_retries_with_backoff_while_partitioned(short_lab: Lab) -> None:
    lab = short_lab
    trace = Trace()
    lab.monitor.subscribe(trace)
    rt_a, _rt_b, _alice, _bob, chat, obs = await pair(lab)
    lab.partition(rt_a)
    chat.data["n"] = 1
    chat.data["n"] = 2
    await lab.settle()
    obs.resync_soon()
    await lab.until(lambda: obs.resyncs >= 2, 10.0)   # the reporter's runtime is offline: 404 "no route", retried
    assert (obs.data, obs.version, obs.closed) == ({"n": 0}, 0, False)   # the replica is kept meanwhile
    lab.heal(rt_a)
    await lab.until(lambda: obs.status == "live" and obs.version == 2, 10.0)
    assert obs.data == {"n": 2}
    answers = [m["body"].get("description") for m in trace.messages(_rt_b.url, "in")
               if m["type"] == "response" and m["from"] == chat.url and m["body"].get("code") == 404]
    assert len(answers) >= 2 and set(answers) == {"no route"}


async def test_resync_answered_404_means_deleted(lab: Lab) -> None:
    _rt_a, rt_b, _alice, bob, chat, obs = await pair(lab)
    notes: list[tuple[str, str]] = []
    bob.syncher.on_notification(lambda e: notes.append((e.type, e.url)))
    lab.partition(rt_b)
    await chat.delete()                      # bob misses the delete
    lab.heal(rt_b)
    await obs.resync()
    await lab.settle()
    assert obs.status == "deleted" and obs.closed and chat.url not in bob.syncher.observers
    assert notes == [("delete", chat.url)] and chat.url not in rt_b.sm.observers


async def test_resync_answered_401_means_revoked(short_lab: Lab) -> None:
    _rt_a, rt_b, _alice, bob, chat, obs = await pair(short_lab)
    lab = short_lab
    notes: list[str] = []
    bob.syncher.on_notification(lambda e: notes.append(e.type))
    lab.partition(rt_b)
    await chat.revoke(bob.url)               # the revocation notice is lost in the partition
    lab.heal(rt_b)
    await obs.resync()
    await lab.settle()
    assert obs.status == "revoked" and obs.closed and notes == ["unsubscribe"]
    assert chat.url not in rt_b.sm.observers


async def test_updates_between_100_and_200_apply_only_if_newer(lab: Lab) -> None:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0})
    decided = asyncio.Event()
    pending: list[Any] = []

    def decide(event: Any) -> None:
        pending.append(event)
        decided.set()

    chat.on_subscription(decide)
    task = asyncio.create_task(bob.syncher.subscribe(chat.url, COMM_SCHEMA))
    await asyncio.wait_for(decided.wait(), 2.0)
    chat.data["n"] = 1                        # reaches bob before the 200 (FWDs are in place)
    await lab.settle()
    pending[0].accept()                       # the 200 carries version 1 already
    chat.data["n"] = 2
    obs = await task
    await lab.settle()
    assert (obs.data, obs.version, obs.resyncs) == ({"n": 2}, 2, 0)


async def test_forced_resync_replaces_a_corrupted_replica(lab: Lab) -> None:
    *_, chat, obs = await pair(lab)
    chat.data["n"] = 5
    await lab.settle()
    obs.data["n"] = "corrupted"              # an application wrote into its read-only replica
    await obs.resync()
    assert (obs.data, obs.version) == ({"n": 5}, 1)


