"""Replicas of one runtime share one message (issue 16: the update is parsed once per runtime), yet
never a container with each other, the message or the reporter; each gets its own exact events."""

from __future__ import annotations

from typing import Any

from core.lab import Lab
from core.protocol.changes import ChangeEvent
from core.schemas import COMM_SCHEMA


async def test_replicas_of_one_runtime_own_their_containers_and_events(lab: Lab) -> None:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    hs = [await rt_a.hyperty("dave"), await rt_b.hyperty("bob"), await rt_b.hyperty("carol")]
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0, "list": [1]}, observers=[h.url for h in hs])
    chat.on_subscription(lambda event: event.accept())
    observers = [await h.syncher.subscribe(chat.url, COMM_SCHEMA) for h in hs]
    seen: list[list[ChangeEvent]] = [[] for _ in observers]
    for obs, events in zip(observers, seen, strict=True):
        obs.on_change(events.append)
    d = chat.data
    d["obj"] = {"x": [1], "y": {"z": 2}}   # new key, a container
    d["n"] = 1                              # existing key, a scalar
    d["list"].append(2)                     # an array insert: the general path
    chat.set("deep.er", {"v": []})          # missing intermediate created
    chat.remove("n")
    await lab.settle()
    expected = [ChangeEvent("add", "object", "obj", {"x": [1], "y": {"z": 2}}),
                ChangeEvent("update", "object", "n", 1),
                ChangeEvent("add", "array", "list.1", 2),
                ChangeEvent("add", "object", "deep", {"er": {"v": []}}),
                ChangeEvent("remove", "object", "n", None)]
    assert seen == [expected] * 3
    datas = [obs.data for obs in observers]
    final = {"list": [1, 2], "obj": {"x": [1], "y": {"z": 2}}, "deep": {"er": {"v": []}}}
    assert datas == [chat.data] * 3 == [final] * 3
    containers = [_containers(x) for x in (*datas, chat.data)]
    ids = [id(c) for cs in containers for c in cs]
    assert len(ids) == len(set(ids))   # no container held by two replicas, or by a replica and the reporter
    for events, data in zip(seen, datas, strict=True):   # no event data is a replica's document part
        assert not {id(e.data) for e in events} & {id(c) for c in _containers(data)}
    datas[1]["obj"]["x"].append(99)
    datas[1]["deep"]["er"]["v"].append(1)
    assert datas[2]["obj"] == {"x": [1], "y": {"z": 2}} and datas[2]["deep"] == {"er": {"v": []}}
    assert datas[0]["obj"] == {"x": [1], "y": {"z": 2}} and chat.data["obj"] == {"x": [1], "y": {"z": 2}}
    assert seen[2][0].data == {"x": [1], "y": {"z": 2}}


def _containers(value: Any) -> list[Any]:
    found: list[Any] = []
    if isinstance(value, dict):
        found.append(value)
        for v in value.values():
            found.extend(_containers(v))
    elif isinstance(value, list):
        found.append(value)
        for v in value:
            found.extend(_containers(v))
    return found


async def test_a_replicas_metadata_shares_no_list_with_the_sync_manager_the_caller_or_another_replica(
        lab: Lab) -> None:
    # A hyperty's replicas are its own, as across reTHINK's sandbox boundary: their metadata's lists are
    # not the caller's, the message's or the Sync Manager's (whose metadata is registered, persisted and
    # answered to readers), whether made by a create, a subscribe or a resume.
    rt_a = await lab.runtime("a.example")
    alice, dave = await rt_a.hyperty("alice"), await rt_a.hyperty("dave")
    tags, resources = ["chat"], ["audio"]
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0}, observers=[dave.url], store=True, tags=tags,
                                      resources=resources)
    chat.on_subscription(lambda event: event.accept())
    seen = await dave.syncher.subscribe(chat.url, COMM_SCHEMA, store=True)
    await lab.settle()

    def check() -> None:
        replicas = [alice.syncher.reporters[chat.url], dave.syncher.observers[chat.url]]
        sm = [rt_a.sm.reporters[chat.url].metadata, rt_a.sm.observers[chat.url].metadata]
        held = [[id(c) for c in _containers(x)] for x in (*(r.metadata for r in replicas), *sm, tags, resources)]
        ids = [i for each in held for i in each]
        assert len(ids) == len(set(ids))
        assert [r.metadata["tags"] for r in replicas] == [["chat"], ["chat"]]
        assert replicas[1].metadata["childrens"] == ["messages", "resources"]

    check()
    tags.append("changed by the caller")
    chat.metadata["tags"].append("changed in alice's replica")
    seen.metadata["tags"].append("changed in dave's replica")
    assert rt_a.sm.reporters[chat.url].metadata["tags"] == ["chat"]
    assert chat.metadata["tags"] == ["chat", "changed in alice's replica"]
    assert seen.metadata["tags"] == ["chat", "changed in dave's replica"]
    read = await dave.syncher.read(chat.url)                                 # answered by alice's replica
    assert read["tags"] == ["chat", "changed in alice's replica"]
    assert not {id(c) for c in _containers(read)} & {id(c) for c in _containers(chat.metadata)}
    await rt_a.restart()
    check()


async def test_a_delegation_offer_in_the_same_runtime_shows_the_candidate_none_of_the_reporters_lists(
        lab: Lab) -> None:
    rt_a = await lab.runtime("a.example")
    alice, bob = await rt_a.hyperty("alice"), await rt_a.hyperty("bob")
    offers: list[dict[str, Any]] = []

    def on_notification(event: Any) -> None:
        if event.type == "delegate":
            offers.append(event.value)
            event.accept()
        else:
            event.ack()

    bob.syncher.on_notification(on_notification)
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": [0]}, observers=[bob.url], tags=["chat"])
    await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    await lab.settle()
    held = {id(c) for c in (*_containers(chat.metadata), *_containers(chat.data),
                            *_containers(rt_a.sm.reporters[chat.url].metadata))}
    await chat.delegate(bob.url)
    await lab.settle()
    assert [(o["tags"], o["childrens"]) for o in offers] == [(["chat"], ["messages", "resources"])]
    assert not {id(c) for c in _containers(offers[0])} & held
    new = bob.syncher.reporters[chat.url]
    assert not {id(c) for c in (*_containers(new.metadata), *_containers(new.data))} & held
