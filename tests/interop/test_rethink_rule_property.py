"""Property (issue 13): for random documents with URL-like and dotted keys and random edits of every
form, what a SyncScope reporter sends to an object with a reTHINK observer is applied identically by a
receiver that follows reTHINK's rule (string attributes split by `parseAttributes`, INTEROP §4,
written in tests/interop/rethink.py, not taken from the engine) and by SyncScope receivers: every
replica ends equal to the reporter's data."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.lab import Lab
from core.protocol.changes import copy_json
from core.schemas import COMM_SCHEMA
from tests.conftest import FAST
from tests.interop.rethink import rethink_apply

URL_KEYS = ["hyperty://a.example/x.y", "hyperty://b.example/z", "user://idp.example/u.v", "comm://a.example/o"]
#: Top-level keys: reTHINK can address any of these (a dotted key without a scheme it cannot, DECISIONS.md).
top_keys = st.one_of(st.text(alphabet="abk", min_size=1, max_size=3), st.sampled_from(URL_KEYS))
#: Keys below the top: dotted, URL-like, empty segments, numbers.
nested_keys = st.one_of(st.text(alphabet="ab.", min_size=1, max_size=4), st.sampled_from([*URL_KEYS, "v1.2", "0"]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-100, 100), st.text(alphabet="xy", max_size=3))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(nested_keys, inner, max_size=3)),
                      max_leaves=6)


def containers(node: Any, root: bool = True) -> list[tuple[Any, bool]]:
    found = [(node, root)]
    for child in (node.values() if isinstance(node, dict) else node):
        if isinstance(child, (dict, list)):
            found.extend(containers(child, False))
    return found


def edit(draw: Any, doc: Any) -> None:
    target, root = draw(st.sampled_from(containers(doc)))
    keys = top_keys if root else nested_keys
    if isinstance(target, dict):
        kind = draw(st.sampled_from(["set", "set", "del"]))
        if kind == "del" and target:
            del target[draw(st.sampled_from(sorted(target)))]
        else:
            target[draw(keys)] = draw(values)
        return
    n = len(target)
    kind = draw(st.sampled_from(["append", "insert", "extend", "setitem", "delslice", "pop"]))
    if kind == "append":
        target.append(draw(values))
    elif kind == "insert":
        target.insert(draw(st.integers(0, n)), draw(values))
    elif kind == "extend":
        target.extend(draw(st.lists(values, min_size=1, max_size=3)))
    elif kind == "setitem" and n:
        target[draw(st.integers(0, n - 1))] = draw(values)
    elif kind == "delslice" and n:
        i = draw(st.integers(0, n - 1))
        del target[i:i + draw(st.integers(1, 3))]
    elif kind == "pop" and n:
        target.pop(draw(st.integers(0, n - 1)))


async def scenario(draw: Any) -> None:
    async with Lab(timers=FAST) as lab:
        ours = await lab.runtime("a.example")
        theirs = await lab.runtime("a.example", rethink=True)
        alice, bob = await ours.hyperty("alice"), await ours.hyperty("bob")
        rita = await theirs.hyperty("rita")
        start = {"participants": {URL_KEYS[0]: {"status": "on"}}, "list": [1, {"a.b": 2}], "meta": {"v1.2": {}}}
        chat = await alice.syncher.create(COMM_SCHEMA, data=start)
        chat.on_subscription(lambda event: event.accept())
        sent: dict[int, dict[str, Any]] = {}
        node = lab.nodes["a.example"].url

        def capture(event: Any) -> None:
            msg = event.message
            if event.kind == "message" and event.where == node and event.direction == "in" and msg \
                    and msg["type"] == "update" and msg["from"] == chat.url:
                sent.setdefault(msg["body"]["version"], msg)
        lab.monitor.subscribe(capture)
        seen_by_rita = await rita.syncher.subscribe(chat.url, COMM_SCHEMA)
        seen_by_bob = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
        child = await chat.add_child("resources", {"n": 0})
        await lab.settle()
        replica = copy_json(seen_by_rita.data)          # the reTHINK-rule receiver starts where rita did
        child_replica = copy_json(child.data)
        base = seen_by_rita.version
        for _ in range(draw(st.integers(1, 20))):
            step = draw(st.sampled_from(["edit", "edit", "edit", "child", "batch", "settle"]))
            if step == "edit":
                edit(draw, chat.data)
            elif step == "child":     # the reporter's own child: its edits take parent versions (R7)
                edit(draw, child.data)
            elif step == "batch":
                with chat.batch():
                    for _ in range(draw(st.integers(1, 4))):
                        edit(draw, chat.data)
            else:
                await lab.settle()
        await lab.settle()
        # one version sequence, as a reTHINK observer needs it: every update of the object or its child
        assert sorted(sent) == list(range(base + 1, chat.version + 1))
        for version in sorted(sent):
            msg = sent[version]
            body = msg["body"]
            assert isinstance(body["attribute"], str) and "patch" not in body
            rethink_apply(child_replica if "/children/" in msg["to"] else replica, body)
        assert replica == chat.data and child_replica == child.data
        for seen in (seen_by_rita, seen_by_bob):
            assert (seen.data, seen.version) == (chat.data, chat.version)
            assert seen.children[child.child_id].data == child.data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_rethink_rule_receiver_and_ours_apply_what_we_send_identically(data: st.DataObject) -> None:
    asyncio.run(scenario(data.draw))
