"""Stored observers after a restart (PROTOCOL §3.8, §5 rule 5): the stored copy keeps following."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core import SyncError
from core.lab import Lab
from core.schemas import COMM_SCHEMA, CONNECTION_SCHEMA, CONTEXT_SCHEMA
from tests.conftest import FAST
from tests.persistence.test_resume import world


async def test_stored_observer_keeps_its_copy_current_after_a_restart(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    await rt_b.crash()
    chat.data["n"] = 2                                    # missed while down: the resume resyncs to v3
    await lab.settle()
    await rt_b.restart()
    await lab.settle()
    again = bob.syncher.observers[chat.url]
    assert (again.data, again.version, again.status) == ({"n": 2, "l": ["x"]}, 3, "live")
    oo = rt_b.sm.observers[chat.url]
    assert (oo.version, oo.stale) == (3, False)
    chat.data["n"] = 3                                    # every later update reaches the stored copy
    chat.data["l"].append("y")
    await lab.settle()
    stored = rt_b.stored("observer")[chat.url]
    assert (stored["data"], stored["version"], stored.get("stale")) == ({"n": 3, "l": ["x", "y"]}, 5, None)
    await rt_b.restart()                                  # a second restart resumes from v5, not v3
    resumed = bob.syncher.observers[chat.url]
    assert (resumed.data, resumed.version) == ({"n": 3, "l": ["x", "y"]}, 5)
    await lab.settle()
    chat.data["n"] = 4
    await lab.settle()
    assert (resumed.data, resumed.version, resumed.status) == ({"n": 4, "l": ["x", "y"]}, 6, "live")
    stored = rt_b.stored("observer")[chat.url]
    assert (stored["data"], stored["version"], stored.get("stale")) == ({"n": 4, "l": ["x", "y"]}, 6, None)


async def test_resume_values_carry_store(lab: Lab) -> None:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    kept = await alice.syncher.create(COMM_SCHEMA, data={"k": 1}, observers=[bob.url], store=True)
    loose = await alice.syncher.create(COMM_SCHEMA, data={"k": 2}, observers=[bob.url], store=False)
    await bob.syncher.subscribe(kept.url, COMM_SCHEMA, store=True)
    await bob.syncher.subscribe(loose.url, COMM_SCHEMA, store=False)
    await lab.settle()
    await rt_a.restart(resume=False)
    await rt_b.restart(resume=False)
    answers = {}
    for hyperty, body in ((alice, {"resume": True}), (bob, {"resume": True})):
        mtype = "create" if hyperty is alice else "subscribe"
        answer = await hyperty.sandbox.request({"type": mtype, "from": hyperty.url, "to": hyperty.runtime.sm_url,
                                                "body": body})
        answers[mtype] = {v["url"]: v.get("store") for v in answer["body"]["value"]}
    assert answers == {"create": {kept.url: True, loose.url: False},
                       "subscribe": {kept.url: True, loose.url: False}}


async def test_resume_observers_lists_live_observers_too(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    ctx = await alice.syncher.create(CONTEXT_SCHEMA, data={"c": 1}, observers=[bob.url], store=True)
    await bob.syncher.subscribe(ctx.url, CONTEXT_SCHEMA, store=True)
    await lab.settle()
    await rt_b.restart(resume=False)
    s = bob.syncher
    first = await s.resume_observers(resource=chat.url)
    assert [(o.url, o.data, o.version) for o in first] == [(chat.url, {"n": 1, "l": ["x"]}, 2)]
    seen: list[list[str]] = []
    s.on_observers_resume(lambda observers: seen.append(sorted(o.url for o in observers)))
    both = await s.resume_observers()                    # the live one is listed as it is, the other rebuilt
    assert sorted(o.url for o in both) == sorted([chat.url, ctx.url])
    assert next(o for o in both if o.url == chat.url) is first[0]
    assert seen == [sorted([chat.url, ctx.url])]
    again = await s.resume_observers(schema=CONTEXT_SCHEMA)
    assert [o.url for o in again] == [ctx.url] and again[0] is s.observers[ctx.url]
    with pytest.raises(SyncError) as nothing:
        await s.resume_observers(schema=CONNECTION_SCHEMA)
    assert (nothing.value.code, nothing.value.description) == (404, "No data objects observers to be resumed")
    await lab.settle()
    chat.data["n"] = 2
    ctx.data["c"] = 2
    await lab.settle()
    assert (s.observers[chat.url].data["n"], s.observers[ctx.url].data["c"]) == (2, 2)


async def test_stored_copy_converges_when_updates_race_the_resync(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    await rt_b.crash()
    chat.data["n"] = 2                                    # v3, missed
    await lab.settle()
    await rt_b.restart()                                  # its resync read is on its way
    chat.data["n"] = 3                                    # v4 races it: a gap at the SM until the snapshot
    chat.data["l"].append("z")                            # v5
    await lab.settle()
    oo = rt_b.sm.observers[chat.url]
    again = bob.syncher.observers[chat.url]
    assert (again.data, again.version, again.status) == ({"n": 3, "l": ["x", "z"]}, 5, "live")
    assert (oo.version, oo.stale, oo.tracker.buffer) == (5, False, {})
    stored = rt_b.stored("observer")[chat.url]
    assert (stored["data"], stored["version"], stored.get("stale")) == ({"n": 3, "l": ["x", "z"]}, 5, None)


async def test_a_snapshot_applies_what_the_sm_buffered_past_it(tmp_path: Path) -> None:
    timers = dataclasses.replace(FAST, gap_grace=30.0, tail=0.0)     # only the snapshot below heals the gap
    async with Lab(storage_dir=tmp_path, timers=timers) as lab:
        rt_a, rt_b, alice, bob, chat, obs = await world(lab)
        oo = rt_b.sm.observers[chat.url]
        with lab.faults(drop=lambda m: m.get("type") == "update" and m.get("body", {}).get("version") == 3):
            chat.data["n"] = 2                                        # v3, lost on every link
            at_v3 = chat.value()
            chat.data["n"] = 3                                        # v4: a gap at bob's runtime
            await lab.until(lambda: set(oo.tracker.buffer) == {4}, 5.0)
        assert (oo.version, oo.stale) == (2, True)
        answer = await bob.sandbox.request({"type": "update", "from": bob.url, "to": rt_b.sm_url,
                                            "body": {"resource": chat.url, "value": at_v3}})   # §5 rule 5 at v3
        assert answer["body"] == {"code": 200}
        assert (oo.version, oo.stale, oo.data, oo.tracker.buffer) == (4, False, {"n": 3, "l": ["x"]}, {})
        stored = rt_b.stored("observer")[chat.url]
        assert (stored["data"], stored["version"], stored.get("stale")) == ({"n": 3, "l": ["x"]}, 4, None)
