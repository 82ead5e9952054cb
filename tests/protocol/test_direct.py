"""Direct application of set/remove (core.protocol.direct) against the general path (issue 16)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from core.protocol import changes as ch
from core.protocol import direct

KEYS = st.one_of(st.sampled_from(["a", "b", "0", "1"]),
                 st.sampled_from(["2", "01", "-", "", "x.y", "u~v", "w/z", "http://h.example/p"]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["s", ""]))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(KEYS, inner, max_size=3)), max_leaves=12)
DOCS = st.dictionaries(KEYS, JSON, max_size=4)
ATTRIBUTES = st.one_of(st.lists(st.one_of(KEYS, st.integers(0, 3)), min_size=1, max_size=4),
                       st.lists(KEYS, min_size=1, max_size=4).map(".".join),
                       st.sampled_from([5, None, "", [], [True], "http://h.example/p.identity.x"]))


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    b: dict[str, Any] = {"attribute": draw(ATTRIBUTES)}
    if draw(st.booleans()):
        b["value"] = draw(JSON)
    if draw(st.integers(0, 19)) == 0:
        b["attributeType"] = draw(st.sampled_from(["array", "object"]))
    return b


def general(doc: Any, b: dict[str, Any]) -> tuple[Any, list[ch.ChangeEvent] | str]:
    try:
        ops = ch.apply_update(doc, b)
    except ch.ChangeError as exc:
        return doc, str(exc)
    return doc, ch.update_events(b, ops, doc)


def directly(doc: Any, b: dict[str, Any]) -> tuple[Any, list[ch.ChangeEvent] | str] | None:
    plan = direct.plan_of(b)
    if plan is None:
        return None
    try:
        event = ch.ChangeEvent(*direct.apply_plan(doc, plan))
    except ch.ChangeError as exc:
        return doc, str(exc)
    return doc, [event]


@settings(max_examples=1500, deadline=None)
@given(DOCS, bodies())
def test_direct_application_equals_the_general_path(doc: dict[str, Any], b: dict[str, Any]) -> None:
    mine = directly(copy.deepcopy(doc), b)
    if mine is None:
        assert b.get("attributeType") == "array" or isinstance(general(copy.deepcopy(doc), b)[1], str)
        return
    theirs = general(copy.deepcopy(doc), b)
    assert orjson.dumps(mine[0]) == orjson.dumps(theirs[0])   # member order included
    assert mine[1] == theirs[1]


@settings(max_examples=500, deadline=None)
@given(DOCS, bodies())
def test_one_body_shared_by_replicas_gives_each_its_own_value(doc: dict[str, Any], b: dict[str, Any]) -> None:
    replicas = [copy.deepcopy(doc) for _ in range(3)]
    results = [directly(r, b) for r in replicas]
    if results[0] is None:
        return
    expected = general(copy.deepcopy(doc), b)
    for result in results:
        assert result is not None and result[0] == expected[0] and result[1] == expected[1]
    if isinstance(b.get("value"), (dict, list)) and isinstance(expected[1], list):
        # no two replicas (and no replica and the message) share the container set
        found = [r for r in replicas if isinstance(r, dict)]
        ids = {id(x) for r in found for x in _containers(r)}
        assert id(b["value"]) not in ids
        assert len(ids) == sum(len(list(_containers(r))) for r in found)


def _containers(value: Any) -> Any:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _containers(v)
    elif isinstance(value, list):
        yield value
        for v in value:
            yield from _containers(v)
