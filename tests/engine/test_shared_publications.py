"""The lab decodes a publication once for all the runtimes it fans out to (issue 16): what they
share is read-only, so no receiver can change what another reads, and each still checks it. Each
runtime's listeners get an envelope of their own around the shared body."""

from __future__ import annotations

from typing import Any

import pytest

from core.lab import Lab
from core.protocol import address as addr
from core.protocol.message import Message
from core.schemas import COMM_SCHEMA


async def test_runtimes_share_a_read_only_publication_and_keep_their_own_replicas(lab: Lab) -> None:
    rt_r = await lab.runtime("a.example")
    rts = [await lab.runtime("a.example"), await lab.runtime("b.example"), await lab.runtime("a.example")]
    alice = await rt_r.hyperty("alice")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0}, name="shared")
    chat.on_subscription(lambda event: event.accept())
    observers = [await (await rt.hyperty("obs")).syncher.subscribe(chat.url, COMM_SCHEMA) for rt in rts]
    await lab.settle()
    received: list[Message] = []
    refused: list[str] = []

    def hostile(msg: Message) -> None:
        """A listener of the first runtime that tries to change the message under the others."""
        received.append(msg)
        attempts = (lambda: msg["body"]["value"]["x"].append(99), lambda: msg["body"].update(version=99),
                    lambda: msg["body"].__setitem__("version", 99), lambda: msg["body"].pop("value"),
                    lambda: msg["body"]["value"].setdefault("y", 1), lambda: msg["body"]["value"]["x"].clear())
        for attempt in attempts:
            try:
                attempt()
            except TypeError:
                refused.append("refused")
        msg["to"] = "elsewhere"   # its own envelope: changed for this runtime's later listeners only

    rts[0].bus.add_listener(addr.changes(chat.url), hostile)
    for rt in rts[1:]:
        rt.bus.add_listener(addr.changes(chat.url), received.append)
    chat.data["obj"] = {"x": [1]}
    await lab.settle()
    assert refused == ["refused"] * 6
    assert len(received) == 3 and received[0]["body"] is received[1]["body"] is received[2]["body"]  # decoded once
    assert len({id(m) for m in received}) == 3 and all(type(m) is dict for m in received)
    assert received[0]["to"] == "elsewhere" and received[1]["to"] == received[2]["to"] == addr.changes(chat.url)
    assert received[0]["body"]["value"] == {"x": [1]} and received[0]["body"]["version"] == 1
    assert [o.data for o in observers] == [{"n": 0, "obj": {"x": [1]}}] * 3
    assert [o.version for o in observers] == [1] * 3
    shared_value = received[0]["body"]["value"]
    replica_parts = [o.data["obj"] for o in observers] + [o.data["obj"]["x"] for o in observers]
    assert len({id(p) for p in replica_parts}) == 6 and all(type(p) in (dict, list) for p in replica_parts)
    assert all(p is not shared_value and p is not shared_value["x"] for p in replica_parts)
    observers[0].data["obj"]["x"].append(2)   # a replica is the runtime's own, mutable
    assert observers[1].data["obj"] == {"x": [1]} == observers[2].data["obj"] and shared_value == {"x": [1]}


async def test_copies_of_a_shared_publication_are_plain_and_mutable(lab: Lab) -> None:
    import copy

    rt_r, rt_o = await lab.runtime("a.example"), await lab.runtime("a.example")
    chat = await (await rt_r.hyperty("alice")).syncher.create(COMM_SCHEMA, data={}, name="copies")
    chat.on_subscription(lambda event: event.accept())
    await (await rt_o.hyperty("bob")).syncher.subscribe(chat.url, COMM_SCHEMA)
    got: list[Message] = []
    rt_o.bus.add_listener(addr.changes(chat.url), got.append)
    chat.data["obj"] = {"x": [1]}
    await lab.settle()
    for made in (copy.deepcopy(got[0]), _json_copy(got[0])):
        made["body"]["value"]["x"].append(2)
        assert type(made) is dict and made["body"]["value"] == {"x": [1, 2]}
    assert got[0]["body"]["value"] == {"x": [1]}
    shallow = {**got[0], "to": "changed"}
    assert shallow["to"] == "changed" and got[0]["to"] == addr.changes(chat.url)
    with pytest.raises(TypeError):
        got[0]["body"]["value"]["x"][0] = 5


def _json_copy(msg: Message) -> Any:
    import orjson
    return orjson.loads(orjson.dumps(msg))
