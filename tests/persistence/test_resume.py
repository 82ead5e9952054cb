"""Persistence and resume (PROTOCOL §3.0.6, §3.8): a runtime restarts and nothing is lost."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path
from typing import Any

import pytest

from core import SyncError
from core.lab import Lab
from core.monitor import TraceEvent
from core.schemas import COMM_SCHEMA, CONTEXT_SCHEMA
from tests.conftest import FAST


async def world(lab: Lab, store: bool = True) -> Any:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0, "l": []}, observers=[bob.url], store=store)
    obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA, store=store)
    chat.data["n"] = 1
    chat.data["l"].append("x")
    await lab.settle()
    return rt_a, rt_b, alice, bob, chat, obs


async def test_reporter_runtime_restart(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    child = await chat.add_child("messages", {"text": "before"})
    await lab.settle()
    registered = dict(lab.nodes["a.example"].registry.objects[chat.url])
    metadata = dict(rt_a.sm.reporters[chat.url].metadata)
    await rt_a.restart()
    assert chat.closed                                   # old handles are closed
    with pytest.raises(SyncError):
        chat.data["n"] = 99
    resumed = alice.syncher.reporters[chat.url]
    assert (resumed.data, resumed.version) == ({"n": 1, "l": ["x"]}, 2)
    assert resumed.subscriptions.keys() == {bob.url}
    assert set(resumed.children) == {child.child_id}
    resumed.data["n"] = 2                                 # versions continue: no reuse of a number
    await lab.settle()
    assert (obs.data, obs.version) == ({"n": 2, "l": ["x"]}, 3)
    assert rt_a.sm.reporters[chat.url].preauthorised == {bob.url}
    registration = lab.nodes["a.example"].registry.objects[chat.url]    # re-registered in bulk, live
    assert (registration["reporter"], registration["runtime"], registration["status"]) == (alice.url, rt_a.url, "live")
    assert registration == registered                    # the entry of its create (PROTOCOL §3.1 step 6), resources too
    # none of the record's other fields (subscriptions, store, data, …); its lastModified from its record
    assert rt_a.sm.reporters[chat.url].metadata == {**metadata, "lastModified": resumed.metadata["lastModified"]}
    second = await resumed.add_child("messages", {"text": "after"})
    assert second.child_id == f"{alice.url}#2"            # the child counter continues too


async def test_observer_runtime_restart_resyncs_what_it_missed(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    await rt_b.crash()
    chat.data["n"] = 5                                    # made while bob's runtime is down
    chat.data["l"].append("y")
    await lab.settle()
    await rt_b.restart()
    await lab.settle()
    again = bob.syncher.observers[chat.url]
    assert again is not obs and obs.closed
    assert (again.data, again.version, again.status) == ({"n": 5, "l": ["x", "y"]}, 4, "live")
    record_only = {"isReporter", "subscriptions", "subscriberUsers", "preAuthorised", "store", "stale",
                   "delegationToken", "rethinkSubscribers", "data", "version", "childrenObjects"}
    assert not record_only & set(rt_b.sm.observers[chat.url].metadata)      # its record's other fields left out
    chat.data["n"] = 6
    await lab.settle()
    assert (again.data["n"], again.version) == (6, 5)


async def test_both_runtimes_restart(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    await rt_a.restart()
    await rt_b.restart()
    await lab.settle()
    rep = alice.syncher.reporters[chat.url]
    rep.data["n"] = 7
    await lab.settle()
    again = bob.syncher.observers[chat.url]
    assert (again.data, again.version) == (rep.data, rep.version) == ({"n": 7, "l": ["x"]}, 3)


async def test_resumed_observer_reads_its_stored_data_when_an_update_comes_first(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    await rt_a.crash()
    await rt_b.restart()                                  # the resync read finds no reporter: retried later
    oo = rt_b.sm.observers[chat.url]
    again = bob.syncher.observers[chat.url]
    assert (again.data, again.version) == ({"n": 1, "l": ["x"]}, 2)
    assert (oo.data, oo.load is not None) == (None, True)  # the SM holds no second copy until it needs one
    await rt_a.restart()
    alice.syncher.reporters[chat.url].data["l"].append("z")
    await lab.until(lambda: oo.version == 3, 3.0)         # applied before any resync replaced the data
    assert (oo.data, oo.load) == ({"n": 1, "l": ["x", "z"]}, None)
    assert oo.data is not again.data
    stored = rt_b.stored("observer")[chat.url]
    assert (stored["data"], stored["version"]) == ({"n": 1, "l": ["x", "z"]}, 3)


async def test_clean_stop_and_start_resumes_too(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    await rt_a.restart(crash=False)
    assert alice.syncher.reporters[chat.url].version == 2


async def test_resume_criteria(lab: Lab) -> None:
    rt = await lab.runtime("a.example")
    alice = await rt.hyperty("alice")
    chat = await alice.syncher.create(COMM_SCHEMA, data={}, store=True, name="chat", tags=["t1"])
    ctx = await alice.syncher.create(CONTEXT_SCHEMA, data={}, store=True, name="ctx")
    await rt.restart(resume=False)
    s = alice.syncher
    got = await s.resume_reporters(schema=CONTEXT_SCHEMA)
    assert [r.url for r in got] == [ctx.url]
    got = await s.resume_reporters(resource=chat.url, value={"name": "chat"})
    assert [r.url for r in got] == [chat.url]
    with pytest.raises(SyncError) as nothing:
        await s.resume_reporters(schema=CONTEXT_SCHEMA, value={"name": "chat"})   # AND: no record matches both
    assert (nothing.value.code, nothing.value.description) == (404, "No data objects reporters to be resumed")
    with pytest.raises(SyncError) as nothing:
        await s.resume_observers()
    assert (nothing.value.code, nothing.value.description) == (404, "No data objects observers to be resumed")
    again = await s.resume_reporters()                     # already live ones are listed, not rebuilt
    assert sorted(r.url for r in again) == sorted([chat.url, ctx.url])


async def test_identity_resume_by_a_new_hyperty_instance(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    await rt_a.restart(keep_hyperties=False)
    alice2 = await rt_a.hyperty("alice-phone")           # a new instance of the same user
    assert alice2.url != alice.url
    with pytest.raises(SyncError):
        await alice2.syncher.resume_reporters()          # not the stored reporter, no identity given
    got = await alice2.syncher.resume_reporters(identity="user://a.example/alice")
    assert [r.url for r in got] == [chat.url]
    await lab.settle()
    assert (obs.reporter, obs.version) == (alice2.url, 3)   # the reporter change was published first
    got[0].data["n"] = 8
    await lab.settle()
    assert (obs.data["n"], obs.version) == (8, 4)


async def test_observer_resume_after_delete_and_revocation(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    ctx = await alice.syncher.create(CONTEXT_SCHEMA, data={}, observers=[bob.url], store=True)
    await bob.syncher.subscribe(ctx.url, CONTEXT_SCHEMA, store=True)
    await lab.settle()
    notes: list[tuple[str, str]] = []
    await rt_b.crash()
    await chat.delete()
    await alice.syncher.reporters[ctx.url].revoke(bob.url)
    await lab.settle()
    await rt_b.restart()
    bob.syncher.on_notification(lambda e: notes.append((e.type, e.url)))
    await lab.settle()
    await lab.until(lambda: not bob.syncher.observers and not rt_b.sm.observers, 3.0)
    assert rt_b.stored("observer") == {}
    assert rt_b.routing.mns == {}


async def test_stored_records(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    reporters = rt_a.stored("reporter")
    rec = reporters[chat.url]
    assert (rec["version"], rec["data"], rec["subscriptions"], rec["preAuthorised"], rec["isReporter"]) == (
        2, {"n": 1, "l": ["x"]}, [bob.url], [bob.url], True)
    assert rec["subscriberUsers"] == ["user://a.example/alice", "user://b.example/bob"]
    observed = rt_b.stored("observer")[chat.url]
    assert (observed["version"], observed["data"], observed["subscriptions"]) == (2, {"n": 1, "l": ["x"]}, [bob.url])
    await obs.unsubscribe()
    assert rt_b.stored("observer") == {}
    await chat.delete()
    assert rt_a.stored("reporter") == {}


async def test_observer_storage_false_keeps_data_out(lab: Lab) -> None:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"secret": 1}, observers=[bob.url], store=True,
                                      observer_storage=False)
    await bob.syncher.subscribe(chat.url, COMM_SCHEMA, store=True)
    await lab.settle()
    assert "data" not in rt_b.stored("observer")[chat.url]


async def test_resync_reads_after_a_resume_are_bounded_per_runtime(tmp_path: Path) -> None:
    async with Lab(storage_dir=tmp_path, timers=dataclasses.replace(FAST, resync_reads=2)) as lab:
        rt_a = await lab.runtime("a.example")
        rt_b = await lab.runtime("b.example")
        alice = await rt_a.hyperty("alice")
        bob = await rt_b.hyperty("bob")
        chats = [await alice.syncher.create(COMM_SCHEMA, data={"i": i}, observers=[bob.url]) for i in range(6)]
        for chat in chats:
            await bob.syncher.subscribe(chat.url, COMM_SCHEMA, store=True)
        await lab.settle()
        in_flight, most, reads = 0, 0, set()

        def count(event: TraceEvent) -> None:
            nonlocal in_flight, most
            msg = event.message
            if event.kind != "message" or event.where != rt_b.url or not msg:
                return
            if msg["type"] == "read" and event.direction == "out":
                reads.add(msg["id"])
                in_flight += 1
                most = max(most, in_flight)
            elif msg["type"] == "response" and msg["id"] in reads and event.direction == "in":
                in_flight -= 1

        lab.monitor.subscribe(count)
        await rt_b.restart()
        await lab.settle()
        assert (len(reads), most, in_flight) == (6, 2, 0)
        assert sorted(o.data["i"] for o in bob.syncher.observers.values() if o.status == "live") == list(range(6))


async def test_what_a_resume_builds_is_left_to_full_collections(lab: Lab) -> None:
    # Thousands of resumed objects live as long as the runtime: they go straight to the oldest
    # generation, so no young collection right after the restart walks them (or any other object).
    rt_a, _rt_b, alice, _bob, chat, obs = await world(lab)
    frozen = gc.get_freeze_count()
    await rt_a.restart()
    ro = rt_a.sm.reporters[chat.url]
    young = {id(o) for generation in (0, 1) for o in gc.get_objects(generation)}
    assert id(ro) not in young and id(ro.metadata) not in young
    if not frozen:
        assert gc.get_freeze_count() == 0           # nothing left frozen where the host froze nothing
    chat_again = alice.syncher.reporters[chat.url]
    chat_again.data["n"] = 7                        # and the resumed object works as before
    await lab.settle()
    assert obs.data["n"] == 7
