"""Property: random sequences of edits of every form (nested dicts and lists, inserts, removes with
counts, dotted keys, batches, children) on a reporter with observers in three runtimes and two
domains end with every replica equal to the reporter: data, version and children."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.lab import Lab
from core.schemas import COMM_SCHEMA
from tests.conftest import FAST

scalars = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=5),
                    st.floats(allow_nan=False, allow_infinity=False, width=32))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                      max_leaves=6)
keys = st.one_of(st.text(min_size=1, max_size=4), st.sampled_from(["a.b", "hyperty://x.y/z", "0", "k"]))


def containers(node: Any) -> list[Any]:
    found = [node]
    items = node.values() if isinstance(node, dict) else node
    for child in items:
        if isinstance(child, (dict, list)):
            found.extend(containers(child))
    return found


def edit(draw: Any, root: Any) -> None:
    target = draw(st.sampled_from(containers(root)))
    if isinstance(target, dict):
        kind = draw(st.sampled_from(["set", "set", "del", "setdefault", "update"]))
        if kind == "del" and target:
            del target[draw(st.sampled_from(sorted(target)))]
        elif kind == "setdefault":
            target.setdefault(draw(keys), draw(values))
        elif kind == "update":
            target.update({draw(keys): draw(values)})
        else:
            target[draw(keys)] = draw(values)
        return
    kind = draw(st.sampled_from(["append", "insert", "extend", "setitem", "delslice", "pop", "slice", "reverse"]))
    n = len(target)
    if kind == "append":
        target.append(draw(values))
    elif kind == "insert":
        target.insert(draw(st.integers(-n - 1, n + 1)), draw(values))
    elif kind == "extend":
        target.extend(draw(st.lists(values, max_size=3)))
    elif kind == "setitem" and n:
        target[draw(st.integers(0, n - 1))] = draw(values)
    elif kind == "delslice" and n:
        i = draw(st.integers(0, n - 1))
        del target[i:i + draw(st.integers(1, 3))]
    elif kind == "pop" and n:
        target.pop(draw(st.integers(-n, n - 1)))
    elif kind == "slice":
        i = draw(st.integers(0, n))
        target[i:i + draw(st.integers(0, 2))] = draw(st.lists(values, max_size=2))
    elif kind == "reverse":
        target.reverse()


async def scenario(draw: Any) -> None:
    async with Lab(timers=FAST) as lab:
        rt_a = await lab.runtime("a.example")
        rt_a2 = await lab.runtime("a.example")
        rt_b = await lab.runtime("b.example")
        alice = await rt_a.hyperty("alice")
        hs = [await rt_a.hyperty("dave"), await rt_a2.hyperty("carol"), await rt_b.hyperty("bob")]
        chat = await alice.syncher.create(COMM_SCHEMA, data={"d": {}, "l": []}, observers=[h.url for h in hs])
        observers = [await h.syncher.subscribe(chat.url, COMM_SCHEMA) for h in hs]
        children: list[Any] = []
        for _ in range(draw(st.integers(1, 25))):
            step = draw(st.sampled_from(["edit", "edit", "edit", "batch", "child", "child-edit", "settle"]))
            if step == "edit":
                edit(draw, chat.data)
            elif step == "batch":
                with chat.batch():
                    for _ in range(draw(st.integers(1, 4))):
                        edit(draw, chat.data)
            elif step == "child":
                owner = draw(st.sampled_from([chat, *observers]))
                children.append(await owner.add_child("messages", draw(st.dictionaries(keys, values, max_size=2))))
            elif step == "child-edit" and children:
                child = draw(st.sampled_from(children))
                if not child.closed:
                    edit(draw, child.data)
            else:
                await lab.settle()
        await lab.settle()
        mine = {cid: (c.version, c.data) for cid, c in chat.children.items()}
        for obs in observers:
            assert (obs.data, obs.version) == (chat.data, chat.version)
            assert {cid: (c.version, c.data) for cid, c in obs.children.items()} == mine


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_edits_converge_on_every_replica(data: st.DataObject) -> None:
    asyncio.run(scenario(data.draw))
