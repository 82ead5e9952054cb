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
