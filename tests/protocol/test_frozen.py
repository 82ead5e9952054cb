"""Read-only containers of a shared publication (core.protocol.frozen) and the envelope check they cache."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from core.protocol.frozen import FrozenDict, FrozenList, freeze
from core.protocol.message import envelope_error

MESSAGES: list[Any] = [
    {"id": 1, "type": "update", "from": "comm://a.example/x", "to": "comm://a.example/x/changes",
     "body": {"version": 2, "attribute": "k", "value": {"a": [1, {"b": None}]}}},
    {"id": 1, "type": "update", "from": "comm://a.example/x", "to": "comm://a.example/x/changes", "body": []},
    {"id": 0, "type": "update", "from": "a", "to": "b"},
    {"id": "12", "type": "update", "from": "a", "to": "b"},
    {"id": True, "type": "update", "from": "a", "to": "b"},
    {"id": 1, "type": "open", "from": "a", "to": "mn:/session"},
    {"id": 1, "type": "update", "from": ["a"], "to": "b"},
    {"id": 1, "type": "update", "from": "a"},
    {"id": 1, "type": "update", "from": "", "to": "b"},
    {"id": 2**53 + 1, "type": "update", "from": "a", "to": "b"},
]


@pytest.mark.parametrize("msg", MESSAGES)
def test_the_check_of_a_frozen_message_is_that_of_its_content(msg: dict[str, Any]) -> None:
    frozen = freeze(orjson.loads(orjson.dumps(msg)))
    assert type(frozen) is FrozenDict
    for _ in range(2):   # the first check is kept; the second answers the same
        assert envelope_error(frozen) == envelope_error(msg)
    assert envelope_error(frozen, link=True) == envelope_error(msg, link=True)


def test_every_mutation_is_refused_and_copies_are_plain() -> None:
    d = freeze({"a": [1, {"b": 2}], "c": {}})
    assert type(d["a"]) is FrozenList and type(d["a"][1]) is FrozenDict and d == {"a": [1, {"b": 2}], "c": {}}
    attempts = [lambda: d.__setitem__("x", 1), lambda: d.__delitem__("a"), lambda: d.update(x=1),
                lambda: d.pop("a"), lambda: d.popitem(), lambda: d.setdefault("x", 1), lambda: d.clear(),
                lambda: d["c"].__ior__({"x": 1}), lambda: d["a"].append(1), lambda: d["a"].extend([1]),
                lambda: d["a"].insert(0, 1), lambda: d["a"].pop(), lambda: d["a"].remove(1),
                lambda: d["a"].clear(), lambda: d["a"].sort(), lambda: d["a"].reverse(),
                lambda: d["a"].__setitem__(0, 5), lambda: d["a"].__delitem__(0), lambda: d["a"].__iadd__([1]),
                lambda: d["a"].__imul__(2), lambda: d["a"][1].__setitem__("b", 3)]
    for attempt in attempts:
        with pytest.raises(TypeError):
            attempt()
    assert d == {"a": [1, {"b": 2}], "c": {}}
    for made in (copy.deepcopy(d), orjson.loads(orjson.dumps(d))):
        assert type(made) is dict and type(made["a"]) is list and type(made["a"][1]) is dict
        made["a"][1]["b"] = 3
    assert type(copy.copy(d)) is dict and type(d.copy()) is dict and type(d["a"].copy()) is list
    assert d == {"a": [1, {"b": 2}], "c": {}}
