"""Update forms of PROTOCOL §3.3.1: receiver application, RFC 6902 operations, errors, copies, events."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.protocol import changes as ch
from core.protocol.changes import ChangeError, ChangeEvent, apply_ops, apply_update, update_ops


def applied(doc: Any, b: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    ops = apply_update(doc, b)
    return doc, ops


def refused(doc: Any, b: Any, match: str | None) -> None:
    before = copy.deepcopy(doc)
    with pytest.raises(ChangeError, match=match):
        apply_update(doc, b)
    assert doc == before


# Set --------------------------------------------------------------------------------------------------


def test_set_new_key() -> None:
    assert applied({}, {"attribute": "a", "value": 1}) == ({"a": 1}, [{"op": "add", "path": "/a", "value": 1}])


def test_set_existing_key_is_a_replace() -> None:
    assert applied({"a": 1, "b": 2}, {"attribute": "a", "value": [3]}) == (
        {"a": [3], "b": 2}, [{"op": "replace", "path": "/a", "value": [3]}])


def test_set_null_value_is_a_set_not_a_remove() -> None:
    assert applied({"a": 1}, {"attribute": "a", "value": None})[0] == {"a": None}


def test_set_creates_missing_intermediates_as_objects() -> None:
    doc, ops = applied({"x": 0}, {"attribute": "a.b.c", "value": {"d": 1}})
    assert doc == {"x": 0, "a": {"b": {"c": {"d": 1}}}}
    assert ops == [{"op": "add", "path": "/a", "value": {"b": {"c": {"d": 1}}}}]


def test_set_creates_only_the_missing_part() -> None:
    doc, ops = applied({"a": {"k": 1}}, {"attribute": "a.b.c", "value": 2})
    assert doc == {"a": {"k": 1, "b": {"c": 2}}}
    assert ops == [{"op": "add", "path": "/a/b", "value": {"c": 2}}]


def test_set_replaces_a_scalar_or_null_intermediate_by_an_object() -> None:
    assert applied({"a": 5}, {"attribute": "a.b", "value": 1})[0] == {"a": {"b": 1}}
    assert applied({"a": None}, {"attribute": "a.b", "value": 1})[0] == {"a": {"b": 1}}


def test_set_list_element() -> None:
    doc, ops = applied({"l": [1, 2]}, {"attribute": "l.1", "value": 9})
    assert (doc, ops) == ({"l": [1, 9]}, [{"op": "replace", "path": "/l/1", "value": 9}])


def test_set_list_element_at_end_appends() -> None:
    doc, ops = applied({"l": [1, 2]}, {"attribute": "l.2", "value": 3})
    assert (doc, ops) == ({"l": [1, 2, 3]}, [{"op": "add", "path": "/l/2", "value": 3}])


def test_set_through_list_elements() -> None:
    assert applied({"l": [{"n": 1}, [0, {"m": 1}]]}, {"attribute": "l.1.1.m", "value": 2})[0] == \
        {"l": [{"n": 1}, [0, {"m": 2}]]}


def test_set_with_numeric_key_in_an_object() -> None:
    assert applied({"m": {"5": 1}}, {"attribute": "m.5", "value": 2})[0] == {"m": {"5": 2}}
    assert applied({"m": {}}, {"attribute": "m.0", "value": 2})[0] == {"m": {"0": 2}}


def test_list_form_attribute_for_dotted_keys() -> None:
    url = "hyperty://b.example/bob.smith"
    doc, ops = applied({"participants": {}}, {"attribute": ["participants", url], "value": {"status": "online"}})
    assert doc == {"participants": {url: {"status": "online"}}}
    assert ops == [{"op": "add", "path": f"/participants/{url.replace('/', '~1')}", "value": {"status": "online"}}]
    assert applied(doc, {"attribute": ["participants", url, "status"], "value": "away"})[0] == \
        {"participants": {url: {"status": "away"}}}
    assert applied(doc, {"attribute": ["participants", url]})[0] == {"participants": {}}


def test_list_form_attribute_with_integer_segments() -> None:
    assert applied({"l": [[1], [2]]}, {"attribute": ["l", 1, 0], "value": 5})[0] == {"l": [[1], [5]]}


def test_keys_with_slash_and_tilde_are_escaped() -> None:
    doc, ops = applied({"a/b": {}}, {"attribute": "a/b.c~d", "value": 1})
    assert doc == {"a/b": {"c~d": 1}}
    assert ops == [{"op": "add", "path": "/a~1b/c~0d", "value": 1}]


def test_empty_key_segments() -> None:
    assert applied({}, {"attribute": [""], "value": 1})[0] == {"": 1}
    assert applied({"a": {}}, {"attribute": ["a", ""], "value": 1})[0] == {"a": {"": 1}}
    # a dotted string drops empty segments (reTHINK's parseAttributes, INTEROP §4)
    assert applied({"a": {}}, {"attribute": "a.", "value": 1})[0] == {"a": 1}


@pytest.mark.parametrize(("doc", "attribute", "match"), [
    ({"l": [1, 2]}, "l.3", "out of range"),
    ({"l": [1, 2]}, "l.x", "list index expected"),
    ({"l": [1, 2]}, "l.-1", "list index expected"),
    ({"l": [1, 2]}, "l.01", "list index expected"),
    ({"l": [1, 2]}, "l.²", "list index expected"),
    ({"l": [1, 2]}, "l. 1", "list index expected"),
    ({"l": [1, 2]}, "l.5.x", "out of range"),
    ({"l": [1, "s"]}, "l.1.x", "does not resolve"),
])
def test_set_unresolvable(doc: Any, attribute: str, match: str) -> None:
    refused(doc, {"attribute": attribute, "value": 0}, match)


# Remove ---------------------------------------------------------------------------------------------------


def test_remove() -> None:
    assert applied({"a": {"b": 1, "c": 2}}, {"attribute": "a.b"}) == ({"a": {"c": 2}},
                                                                      [{"op": "remove", "path": "/a/b"}])


def test_remove_list_element_by_plain_remove() -> None:
    assert applied({"l": [1, 2, 3]}, {"attribute": "l.0"})[0] == {"l": [2, 3]}


@pytest.mark.parametrize(("doc", "attribute"), [({"a": 1}, "b"), ({"a": 1}, "a.b"), ({"a": {}}, "a.b.c"),
                                                ({"l": [1]}, "l.1"), ({"l": [1]}, "l.k")])
def test_remove_unresolvable(doc: Any, attribute: str) -> None:
    refused(doc, {"attribute": attribute}, "does not resolve|out of range|list index expected")


# Array insert -----------------------------------------------------------------------------------------------


def insert(attribute: Any, value: Any) -> dict[str, Any]:
    return {"attribute": attribute, "attributeType": "array", "operation": "add", "value": value}


def test_array_insert_several_items_in_order() -> None:
    doc, ops = applied({"l": [1, 4]}, insert("l.1", [2, 3]))
    assert doc == {"l": [1, 2, 3, 4]}
    assert ops == [{"op": "add", "path": "/l/1", "value": 2}, {"op": "add", "path": "/l/2", "value": 3}]


def test_array_insert_at_front_and_end() -> None:
    assert applied({"l": [1]}, insert("l.0", [0]))[0] == {"l": [0, 1]}
    assert applied({"l": [1]}, insert("l.1", [2, 3]))[0] == {"l": [1, 2, 3]}
    assert applied({"l": []}, insert("l.0", ["x"]))[0] == {"l": ["x"]}


@pytest.mark.parametrize("value", ["x", 5, None, True, {"k": [1]}])
def test_array_insert_non_list_value_is_one_item(value: Any) -> None:
    assert applied({"l": [1]}, insert("l.1", value))[0] == {"l": [1, value]}


def test_array_insert_does_not_flatten_nested_lists() -> None:
    assert applied({"l": []}, insert("l.0", [[1, 2], []]))[0] == {"l": [[1, 2], []]}


def test_array_insert_of_nothing_changes_nothing() -> None:
    assert applied({"l": [1]}, insert("l.0", [])) == ({"l": [1]}, [])


def test_array_insert_into_nested_list() -> None:
    assert applied({"a": [{"b": [1]}]}, insert("a.0.b.0", [0]))[0] == {"a": [{"b": [0, 1]}]}


def test_array_insert_with_list_form_attribute() -> None:
    assert applied({"k.x": [1]}, insert(["k.x", 0], [0]))[0] == {"k.x": [0, 1]}


@pytest.mark.parametrize(("doc", "attribute", "match"), [
    ({"l": [1]}, "l.2", "out of range"),
    ({"l": [1]}, "l.-", "list index expected"),
    ({"l": {"0": 1}}, "l.0", "is not a list"),
    ({}, "l.0", "does not resolve"),
    ({"l": [1]}, "l", "is not a list"),
])
def test_array_insert_unresolvable(doc: Any, attribute: str, match: str) -> None:
    refused(doc, insert(attribute, [0]), match)


def test_array_insert_without_value_is_malformed() -> None:
    refused({"l": [1]}, {"attribute": "l.0", "attributeType": "array", "operation": "add"}, "without value")


# Array remove -----------------------------------------------------------------------------------------------


def remove(attribute: str, *count: Any) -> dict[str, Any]:
    b = {"attribute": attribute, "attributeType": "array", "operation": "remove"}
    return {**b, "value": count[0]} if count else b


def test_array_remove_with_count() -> None:
    doc, ops = applied({"l": [0, 1, 2, 3]}, remove("l.1", 2))
    assert doc == {"l": [0, 3]}
    assert ops == [{"op": "remove", "path": "/l/1"}, {"op": "remove", "path": "/l/1"}]


def test_array_remove_to_the_end() -> None:
    assert applied({"l": [0, 1, 2, 3]}, remove("l.1", 3))[0] == {"l": [0]}


def test_array_remove_default_count_is_one() -> None:
    assert applied({"l": [0, 1, 2]}, remove("l.0")) == ({"l": [1, 2]}, [{"op": "remove", "path": "/l/0"}])


@pytest.mark.parametrize("count", [0, -2, "2", True, False, 1.5, 2.0, None, [2], {"n": 2}])
def test_array_remove_bad_count_counts_one(count: Any) -> None:
    assert applied({"l": [0, 1, 2]}, remove("l.1", count))[0] == {"l": [0, 2]}


@pytest.mark.parametrize(("doc", "b", "match"), [
    ({"l": [0, 1]}, remove("l.1", 2), "past the end"),
    ({"l": [0, 1]}, remove("l.2"), "out of range"),
    ({"l": []}, remove("l.0"), "out of range"),
    ({"l": "abc"}, remove("l.0"), "is not a list"),
    ({"m": {}}, remove("l.0"), "does not resolve"),
])
def test_array_remove_unresolvable(doc: Any, b: dict[str, Any], match: str) -> None:
    refused(doc, b, match)


# Array element set -------------------------------------------------------------------------------------------


def test_array_element_set() -> None:
    doc, ops = applied({"l": [0, 1]}, {"attribute": "l.1", "attributeType": "array", "value": {"x": 1}})
    assert (doc, ops) == ({"l": [0, {"x": 1}]}, [{"op": "replace", "path": "/l/1", "value": {"x": 1}}])


@pytest.mark.parametrize(("b", "match"), [
    ({"attribute": "l.2", "attributeType": "array", "value": 1}, "out of range"),
    ({"attribute": "l.0", "attributeType": "array"}, "without value"),
    ({"attribute": "l.0", "attributeType": "array", "operation": "splice", "value": 1}, "unknown array operation"),
])
def test_array_element_set_errors(b: dict[str, Any], match: str) -> None:
    refused({"l": [0, 1]}, b, match)


# Patch -------------------------------------------------------------------------------------------------------


def test_patch_applies_all_ops_in_order() -> None:
    ops = [{"op": "add", "path": "/a", "value": {"l": []}}, {"op": "add", "path": "/a/l/-", "value": 1},
           {"op": "add", "path": "/a/l/0", "value": 0}, {"op": "replace", "path": "/b", "value": 3},
           {"op": "copy", "from": "/a/l", "path": "/c"}, {"op": "move", "from": "/b", "path": "/d"},
           {"op": "test", "path": "/d", "value": 3}, {"op": "remove", "path": "/a/l/1"}]
    doc, applied_ops = applied({"b": 2}, {"patch": ops})
    assert doc == {"a": {"l": [0]}, "c": [0, 1], "d": 3}
    assert applied_ops == ops


@pytest.mark.parametrize("op", [{"op": "replace", "path": "", "value": {"b": [2]}},
                                {"op": "add", "path": "", "value": {"b": [2]}},
                                {"op": "remove", "path": ""},
                                {"op": "move", "from": "/a", "path": ""}])
def test_patch_never_replaces_the_root(op: dict[str, Any]) -> None:
    refused({"a": {"k": 1}}, {"patch": [op]}, "root cannot be re")


@pytest.mark.parametrize(("value", "expected", "equal"), [
    (1, 1.0, True), (1, True, False), (0, False, False), (True, True, True), (None, None, True), ("1", 1, False),
    ({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]}, True), ({"a": [1]}, {"a": [True]}, False),
    ({"a": 1}, {"a": 1, "b": 2}, False), ([1, 2], [2, 1], False), ([], {}, False),
])
def test_patch_test_op_uses_json_equality(value: Any, expected: Any, equal: bool) -> None:
    doc = {"v": value}
    b = {"patch": [{"op": "test", "path": "/v", "value": expected}]}
    if equal:
        assert applied(doc, b)[0] == {"v": value}
    else:
        refused(doc, b, "test of '/v' failed")


def test_patch_reads_the_root() -> None:
    doc, _ = applied({"a": 1}, {"patch": [{"op": "test", "path": "", "value": {"a": 1}},
                                          {"op": "copy", "from": "", "path": "/snapshot"}]})
    assert doc == {"a": 1, "snapshot": {"a": 1}}


def test_patch_move_within_a_list() -> None:
    assert applied({"l": [0, 1, 2]}, {"patch": [{"op": "move", "from": "/l/0", "path": "/l/2"}]})[0] == \
        {"l": [1, 2, 0]}
    assert applied({"l": [0, 1]}, {"patch": [{"op": "move", "from": "/l/0", "path": "/l/0"}]})[0] == {"l": [0, 1]}


@pytest.mark.parametrize("bad", [
    {"op": "remove", "path": "/zz"},
    {"op": "add", "path": "/x/y", "value": 1},
    {"op": "replace", "path": "/new", "value": 1},
    {"op": "test", "path": "/a", "value": 99},
    {"op": "move", "from": "/a", "path": "/a/x"},
    {"op": "move", "from": "/l", "path": "/nowhere/x"},
    {"op": "copy", "from": "/missing", "path": "/c"},
    {"op": "add", "path": "/l/9", "value": 1},
    {"op": "add", "path": "a", "value": 1},
    {"op": "add", "path": 5, "value": 1},
    {"op": "add", "path": "/a"},
    {"op": "frobnicate", "path": "/a"},
    {"path": "/a", "value": 1},
    {"op": "remove", "path": ""},
    {"op": "replace", "path": "", "value": [1]},
    {"op": "add", "path": "/s/0", "value": "x"},
])
def test_patch_is_all_or_none(bad: dict[str, Any]) -> None:
    doc = {"a": 1, "l": [1, 2], "s": "abc", "o": {"k": "v"}}
    good = [{"op": "add", "path": "/l/0", "value": 0}, {"op": "remove", "path": "/o/k"},
            {"op": "replace", "path": "/a", "value": {"n": 2}}, {"op": "add", "path": "/o/new", "value": [1]},
            {"op": "remove", "path": "/l/2"}, {"op": "move", "from": "/o/new", "path": "/m"},
            {"op": "copy", "from": "", "path": "/o/copy"}]
    for cut in range(len(good) + 1):
        refused(doc, {"patch": [*good[:cut], bad]}, None)


@pytest.mark.parametrize("patch", ["ops", {"op": "add"}, [1], [[]], None])
def test_patch_must_be_a_list_of_operations(patch: Any) -> None:
    refused({"a": 1}, {"patch": patch}, "patch must be a list of operations")


def test_attribute_wins_over_patch() -> None:
    assert applied({}, {"attribute": "a", "value": 1, "patch": [{"op": "remove", "path": "/zz"}]})[0] == {"a": 1}


# malformed bodies -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("b", "match"), [
    ({}, "missing attribute"),
    ({"value": 1}, "missing attribute"),
    ({"reporter": "hyperty://b/x", "runtime": "hyperty-runtime://b/r"}, "missing attribute"),
    ({"attribute": "", "value": 1}, "empty attribute"),
    ({"attribute": [], "value": 1}, "must be a string or a list"),
    ({"attribute": 5, "value": 1}, "must be a string or a list"),
    ({"attribute": None, "value": 1}, "must be a string or a list"),
    ({"attribute": ["a", None], "value": 1}, "segments must be strings or integers"),
    ({"attribute": ["a", True], "value": 1}, "segments must be strings or integers"),
    ({"attribute": ["a", 1.5], "value": 1}, "segments must be strings or integers"),
    ({"attribute": [["a"]], "value": 1}, "segments must be strings or integers"),
])
def test_malformed_bodies(b: dict[str, Any], match: str) -> None:
    refused({"a": {}}, b, match)


@pytest.mark.parametrize("b", [[], "attribute", None, 5])
def test_non_object_body(b: Any) -> None:
    refused({"a": 1}, b, "update body is not an object")


def test_value_that_is_not_json_is_refused() -> None:
    refused({"a": 1}, {"attribute": "b", "value": {"x": 2**70}}, "not a JSON value")


def test_apply_ops_refuses_a_non_list() -> None:
    with pytest.raises(ChangeError, match="operations must be a list"):
        apply_ops({}, {"op": "add"})  # type: ignore[arg-type]


# copies ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("b", [
    {"attribute": "a", "value": {"x": [1, {"y": 2}]}},
    {"attribute": "n.a.b", "value": {"x": [1, {"y": 2}]}},
    {"attribute": "l.0", "attributeType": "array", "operation": "add", "value": [{"x": [1]}, [2]]},
    {"attribute": "l.0", "attributeType": "array", "operation": "add", "value": {"x": [1]}},
    {"attribute": "l.0", "attributeType": "array", "value": {"x": [1]}},
    {"patch": [{"op": "add", "path": "/a", "value": {"x": [1]}}, {"op": "copy", "from": "/a", "path": "/b"}]},
])
def test_replicas_never_share_containers(b: dict[str, Any]) -> None:
    one: dict[str, Any] = {"l": [0]}
    two: dict[str, Any] = {"l": [0]}
    apply_update(one, b)
    apply_update(two, b)
    snapshot = copy.deepcopy(one)
    assert two == snapshot
    ids_one = {id(c) for c in containers(one)}
    ids_two = {id(c) for c in containers(two)}
    ids_body = {id(c) for c in containers(b)}
    assert ids_one.isdisjoint(ids_two)
    assert ids_one.isdisjoint(ids_body)
    for c in containers(b):  # mutating the body afterwards changes no replica
        c.clear()
    assert one == snapshot
    assert two == snapshot


def containers(value: Any) -> list[Any]:
    found = []
    if isinstance(value, (dict, list)):
        found.append(value)
        for v in value.values() if isinstance(value, dict) else value:
            found.extend(containers(v))
    return found


def test_copy_json() -> None:
    value = {"a": [1, {"b": None}], "c": 1.5}
    copied = ch.copy_json(value)
    assert copied == value and copied is not value and copied["a"] is not value["a"]
    assert ch.copy_json("s") == "s"


# sender helpers, attribute shapes ------------------------------------------------------------------------------


def test_sender_bodies() -> None:
    assert ch.set_body(["a", "b"], 1) == {"attribute": "a.b", "value": 1}
    assert ch.remove_body(["a", "b"]) == {"attribute": "a.b"}
    assert ch.element_set_body(["l", "0"], 1) == {"attribute": "l.0", "attributeType": "array", "value": 1}
    assert ch.insert_body(["l", "0"], [1, 2]) == {"attribute": "l.0", "attributeType": "array", "operation": "add",
                                                  "value": [1, 2]}
    assert ch.remove_items_body(["l", "3"], 2) == {"attribute": "l.3", "attributeType": "array",
                                                   "operation": "remove", "value": 2}


def test_attribute_field_uses_list_form_when_dotted_form_is_ambiguous() -> None:
    assert ch.attribute_field(["a", "b", "0"]) == "a.b.0"
    # a URL key reads back whole from the dotted form (INTEROP §4) unless more segments follow it
    assert ch.attribute_field(["peers", "hyperty://a.example/x"]) == "peers.hyperty://a.example/x"
    assert ch.attribute_field(["peers", "hyperty://a.example/x", "s"]) == ["peers", "hyperty://a.example/x", "s"]
    assert ch.attribute_field([""]) == [""]
    assert ch.attribute_field(["a", ""]) == ["a", ""]


@given(st.lists(st.text(max_size=6), min_size=1, max_size=4))
def test_attribute_field_round_trips(segments: list[str]) -> None:
    assert ch.parse_attribute(ch.attribute_field(segments)) == segments


def test_pointer() -> None:
    assert ch.pointer([]) == ""
    assert ch.pointer(["a/b", "c~d", "0"]) == "/a~1b/c~0d/0"


# events -----------------------------------------------------------------------------------------------------------


def test_events_of_each_operation() -> None:
    ops = [{"op": "add", "path": "/a/b", "value": 1}, {"op": "replace", "path": "/l/0", "value": 2},
           {"op": "remove", "path": "/l/1"}, {"op": "test", "path": "/a", "value": 1},
           {"op": "move", "from": "/a/b", "path": "/c"}, {"op": "copy", "from": "/c", "path": "/e~1f"}]
    assert ch.events_of(ops) == [
        ChangeEvent("add", "object", "a.b", 1),
        ChangeEvent("update", "array", "l.0", 2),
        ChangeEvent("remove", "array", "l.1", None),
        ChangeEvent("remove", "object", "a.b", None),
        ChangeEvent("add", "object", "c", None),
        ChangeEvent("add", "object", "e/f", None),
    ]


def test_events_of_uses_the_document_for_numeric_keys() -> None:
    ops = [{"op": "add", "path": "/m/5", "value": 1}]
    assert ch.events_of(ops) == [ChangeEvent("add", "array", "m.5", 1)]
    assert ch.events_of(ops, {"m": {"5": 1}}) == [ChangeEvent("add", "object", "m.5", 1)]
    assert ch.events_of([{"op": "add", "path": "/l/-", "value": 1}], {"l": [1]}) == \
        [ChangeEvent("add", "array", "l.-", 1)]


def test_events_of_applied_updates() -> None:
    doc: dict[str, Any] = {"a": 1, "l": [0]}
    assert ch.events_of(apply_update(doc, {"attribute": "a", "value": 2}), doc) == \
        [ChangeEvent("update", "object", "a", 2)]
    assert ch.events_of(apply_update(doc, {"attribute": "b", "value": 3}), doc) == \
        [ChangeEvent("add", "object", "b", 3)]
    assert ch.events_of(apply_update(doc, {"attribute": "b"}), doc) == [ChangeEvent("remove", "object", "b", None)]


def test_update_events_one_per_edit() -> None:
    doc: dict[str, Any] = {"l": [0]}
    b = insert("l.1", [1, 2])
    assert ch.update_events(b, apply_update(doc, b), doc) == [ChangeEvent("add", "array", "l.1", [1, 2])]
    b = remove("l.0", 2)
    assert ch.update_events(b, apply_update(doc, b), doc) == [ChangeEvent("remove", "array", "l.0", None)]
    b = {"attribute": "l.0", "attributeType": "array", "value": 7}
    assert ch.update_events(b, apply_update(doc, b), doc) == [ChangeEvent("update", "array", "l.0", 7)]
    b = {"patch": [{"op": "add", "path": "/l/0", "value": 1}, {"op": "add", "path": "/l/0", "value": 2}]}
    assert ch.update_events(b, apply_update(doc, b), doc) == [ChangeEvent("add", "array", "l.0", 1),
                                                              ChangeEvent("add", "array", "l.0", 2)]


# robustness: any body either applies or raises ChangeError and leaves the document unchanged -------------------

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=4)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) |
                           st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)
segments = st.sampled_from(["a", "b", "l", "0", "1", "2", "-", "", "x.y", "01"]) | st.integers(-1, 3)
attributes = st.lists(segments, min_size=0, max_size=4).map(
    lambda s: s if any(isinstance(x, int) for x in s) else ".".join(map(str, s))) | json_values
pointers = st.lists(st.sampled_from(["a", "b", "l", "0", "1", "-", "", "~1"]), max_size=3).map(
    lambda s: "".join("/" + x for x in s))
patch_ops = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bad"]), "path": pointers},
    optional={"value": json_values, "from": pointers})
bodies = st.fixed_dictionaries({}, optional={
    "attribute": attributes, "value": json_values, "attributeType": st.sampled_from(["array", "object", 1]),
    "operation": st.sampled_from(["add", "remove", "x", None]), "patch": st.lists(patch_ops, max_size=4) | json_values})
documents = st.fixed_dictionaries({"a": json_values, "l": st.lists(json_values, max_size=3)},
                                  optional={"b": json_values})


@settings(deadline=None, max_examples=400)
@given(documents, bodies)
def test_any_body_applies_or_leaves_the_document_unchanged(doc: dict[str, Any], b: dict[str, Any]) -> None:
    before = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    other = orjson.loads(before)
    try:
        ops = update_ops(doc, b)
        apply_ops(doc, ops)
    except ChangeError:
        assert orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) == before
        return
    # the same body applies the same way on an equal replica
    apply_update(other, b)
    assert other == doc
