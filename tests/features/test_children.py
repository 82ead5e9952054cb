"""Children (PROTOCOL §3.7): channels per declared name, who may create/update/delete, independent
versions, events, and children carried in subscribe and read values."""

from __future__ import annotations

from typing import Any

import pytest

from core import SyncError
from core.lab import Lab
from core.protocol import address as addr
from core.schemas import COMM_SCHEMA


async def world(lab: Lab) -> Any:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    rt_c = await lab.runtime("b.example")
    bob = await rt_b.hyperty("bob")
    carol = await rt_c.hyperty("carol")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"topic": "t"}, observers=[bob.url, carol.url])
    bob_obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    carol_obs = await carol.syncher.subscribe(chat.url, COMM_SCHEMA)
    await lab.settle()
    return rt_a, rt_b, alice, bob, carol, chat, bob_obs, carol_obs


def view(obj: Any) -> dict[str, tuple[int, Any, str]]:
    return {cid: (c.version, c.data, c.reporter) for cid, c in obj.children.items()}


async def test_observer_creates_updates_deletes_a_child(lab: Lab) -> None:
    _rt_a, _rt_b, alice, bob, _carol, chat, bob_obs, carol_obs = await world(lab)
    events: list[tuple[str, str]] = []
    chat.on_child(lambda e: events.append((e["type"], e["childId"])))
    child = await bob_obs.add_child("messages", {"text": "hi"})
    assert child.child_id == f"{bob.url}#1"
    await lab.settle()
    assert view(chat) == view(carol_obs) == view(bob_obs) == {child.child_id: (0, {"text": "hi"}, bob.url)}
    child.data["text"] = "hello"
    child.data["reactions"] = ["+1"]
    await lab.settle()
    assert view(chat) == view(carol_obs) == {child.child_id: (2, {"text": "hello", "reactions": ["+1"]}, bob.url)}
    assert chat.version == 0  # child versions never touch the parent's (§5 rule 2)
    second = await bob_obs.add_child("messages", {"text": "again"})
    assert second.child_id == f"{bob.url}#2"
    await child.delete()
    await lab.settle()
    assert set(chat.children) == set(carol_obs.children) == {second.child_id}
    assert events == [("create", child.child_id), ("create", second.child_id), ("delete", child.child_id)]


async def test_reporter_child_and_parent_reporter_may_delete_any(lab: Lab) -> None:
    *_, alice, bob, carol, chat, bob_obs, carol_obs = await world(lab)
    mine = await chat.add_child("resources", {"kind": "file"})
    theirs = await bob_obs.add_child("messages", {"text": "x"})
    await lab.settle()
    assert mine.child_id == f"{alice.url}#1"
    assert set(carol_obs.children) == {mine.child_id, theirs.child_id}
    await chat.children[theirs.child_id].delete()   # the parent reporter deletes bob's child
    await lab.settle()
    assert set(carol_obs.children) == set(bob_obs.children) == {mine.child_id}
    with pytest.raises(SyncError) as refused:
        await carol_obs.children[mine.child_id].delete()
    assert refused.value.code == 403


async def test_only_the_child_reporter_updates_and_forgeries_are_ignored(lab: Lab) -> None:
    *_, alice, bob, carol, chat, bob_obs, carol_obs = await world(lab)
    child = await bob_obs.add_child("messages", {"text": "hi"})
    await lab.settle()
    forged = {"type": "update", "from": carol.url, "to": addr.children(chat.url, "messages"),
              "body": {"resource": child.child_id, "version": 1, "source": carol.url, "attribute": "text",
                       "value": "forged"}}
    carol.sandbox.post(forged)
    forged_delete = {"type": "delete", "from": carol.url, "to": addr.children(chat.url, "messages"),
                     "body": {"resource": child.child_id}}
    carol.sandbox.post(forged_delete)
    await lab.settle()
    assert view(chat) == view(bob_obs) == {child.child_id: (0, {"text": "hi"}, bob.url)}


async def test_a_non_observer_child_is_refused_then_deleted(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, carol, chat, bob_obs, carol_obs = await world(lab)
    eve = await rt_b.hyperty("eve")
    create = {"type": "create", "from": eve.url, "to": addr.children(chat.url, "messages"),
              "body": {"resource": f"{eve.url}#1", "value": {"url": f"{eve.url}#1", "data": {"spam": True},
                                                             "version": 0, "reporter": eve.url}}}
    answer = await eve.sandbox.request(create)
    assert answer["body"] == {"code": 403, "description": "not an accepted observer", "source": alice.url}
    await lab.settle()
    assert chat.children == {} and bob_obs.children == {} and carol_obs.children == {}


async def test_children_travel_in_subscribe_and_read_values(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, carol, chat, bob_obs, carol_obs = await world(lab)
    child = await bob_obs.add_child("messages", {"text": "hi"})
    child.data["text"] = "edited"
    await lab.settle()
    dave = await rt_a.hyperty("dave")
    await chat.invite(dave.url)
    late = await dave.syncher.subscribe(chat.url, COMM_SCHEMA)
    assert view(late) == {child.child_id: (1, {"text": "edited"}, bob.url)}
    value = await bob.syncher.read(chat.url)
    # nested by collection name on the wire (INTEROP §5)
    assert value["childrenObjects"]["messages"][child.child_id]["value"]["data"] == {"text": "edited"}
    # the counter continues after the largest n already used under bob's prefix (§1.3)
    late_bob = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    assert late_bob is bob_obs
    nxt = await bob_obs.add_child("messages", {"text": "next"})
    assert nxt.child_id == f"{bob.url}#2"


async def test_child_gap_heals_from_the_child_reporter_at_observers_and_parent_reporter(lab: Lab) -> None:
    *_, alice, bob, carol, chat, bob_obs, carol_obs = await world(lab)
    child = await bob_obs.add_child("messages", {"n": 0})
    await lab.settle()
    lost = lambda m: m.get("to", "").endswith("/children/messages") and m["body"].get("version") == 1  # noqa: E731
    with lab.faults(drop=lost):
        child.data["n"] = 1
        child.data["n"] = 2
        await lab.settle()
    # the parent's reporter missed the same update: both read the child from bob (DECISIONS.md 5)
    await lab.until(lambda: carol_obs.children[child.child_id].version == chat.children[child.child_id].version == 2,
                    2.0)
    assert view(carol_obs) == view(chat) == {child.child_id: (2, {"n": 2}, bob.url)}


async def test_unknown_collection_name_is_refused(lab: Lab) -> None:
    *_, chat, bob_obs, _carol_obs = await world(lab)
    with pytest.raises(SyncError) as refused:
        await bob_obs.add_child("nope", {})
    assert refused.value.code == 400
