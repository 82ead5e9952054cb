"""Convergence: reporter in domain A; observers in the same runtime, another runtime of A and a
runtime of B; every update form of PROTOCOL §3.3.1; exact data and version on every replica."""

from __future__ import annotations

from typing import Any

from core.lab import Lab
from core.schemas import COMM_SCHEMA
from core.sync.observer import DataObjectObserver
from core.sync.reporter import DataObjectReporter


async def world(lab: Lab, data: dict[str, Any]) -> tuple[DataObjectReporter, list[DataObjectObserver]]:
    rt_a = await lab.runtime("a.example")
    rt_a2 = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    hs = [await rt_a.hyperty("dave"), await rt_a2.hyperty("carol"), await rt_b.hyperty("bob")]
    chat = await alice.syncher.create(COMM_SCHEMA, data=data, observers=[h.url for h in hs])
    observers = [await h.syncher.subscribe(chat.url, COMM_SCHEMA) for h in hs]
    return chat, observers


def assert_converged(chat: DataObjectReporter, observers: list[DataObjectObserver], version: int) -> None:
    assert chat.version == version
    for obs in observers:
        assert (obs.data, obs.version) == (chat.data, version)
        assert obs.status == "live"


async def test_every_update_form_converges(lab: Lab) -> None:
    chat, observers = await world(lab, {"participants": {}, "list": [0, 1, 2, 3, 4], "n": 0})
    d = chat.data
    d["participants"]["bob"] = {"status": "online", "tags": ["a"]}   # Set (new key, container)
    d["participants"]["bob"]["status"] = "away"                       # Set (existing key)
    d["n"] = 2.5                                                        # Set (number)
    del d["participants"]["bob"]["tags"]                                # Remove
    d["list"].insert(2, "x")                                           # Array insert
    d["list"].extend(["y", "z"])                                       # Array insert, several items
    del d["list"][0:3]                                                 # Array remove with count
    d["list"][0] = {"deep": [1]}                                       # Array element set
    d["list"][0]["deep"].append(2)                                     # nested list in a list element
    d["hyperty://b.example/xyz"] = {"k.with.dots": 1}                  # dotted key: list-form attribute
    d["hyperty://b.example/xyz"]["k.with.dots"] = 2
    d["list"][1:2] = ["s1", "s2"]                                      # slice assignment: remove, then add
    d["list"].pop()
    d["list"].sort(key=str)
    chat.set("new.deep.path", True)                                     # explicit set, intermediates created
    chat.insert("list", 0, "first")
    chat.remove("n")
    with chat.batch():                                                  # Patch: one version
        d["b1"] = 1
        d["b2"] = [1, 2]
        del d["b1"]
    chat.apply_patch([{"op": "add", "path": "/p", "value": {"q": 1}}, {"op": "move", "from": "/p", "path": "/r"}])
    await lab.settle()
    expected_version = chat.version
    assert expected_version == 21
    assert_converged(chat, observers, expected_version)
    assert chat.data["r"] == {"q": 1} and "p" not in chat.data and chat.data["b2"] == [1, 2]


async def test_change_events_with_path_filters(lab: Lab) -> None:
    chat, observers = await world(lab, {"participants": {}})
    events: list[tuple[str, str, str, Any]] = []
    exact: list[str] = []
    observers[2].on_change(lambda e: events.append((e.cType, e.oType, e.field, e.data)), path="participants*")
    observers[2].on_change(lambda e: exact.append(e.field), path="participants.bob.status")
    chat.data["participants"]["bob"] = {"status": "online"}
    chat.data["participants"]["bob"]["status"] = "away"
    chat.data["other"] = [1]
    chat.data["other"].append(2)
    await lab.settle()
    assert events == [("add", "object", "participants.bob", {"status": "online"}),
                      ("update", "object", "participants.bob.status", "away")]
    assert exact == ["participants.bob.status"]
