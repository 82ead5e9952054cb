"""The reporter's edit tracking (PROTOCOL §3.3.2): each local edit emits the §3.3.1 body and RFC 6902 ops
that bring a replica to the same value."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import orjson
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from core.protocol import changes as ch
from core.sync.tracked import TrackedDict, TrackedList, wrap


class Recorder:
    """Collects what the tracked tree emits; `frozen` makes guard() refuse edits."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.ops: list[list[dict[str, Any]]] = []
        self.frozen = False

    def guard(self) -> None:
        if self.frozen:
            raise PermissionError("frozen")

    def admit(self, path: list[str]) -> None:
        pass

    def record(self, body: dict[str, Any], ops: list[dict[str, Any]]) -> None:
        self.bodies.append(body)
        self.ops.append(ops)


def tracked(value: dict[str, Any]) -> tuple[Any, Recorder]:
    rec = Recorder()
    return wrap(ch.copy_json(value), None, None, rec), rec


def emitted(rec: Recorder) -> list[dict[str, Any]]:
    bodies = list(rec.bodies)
    rec.bodies.clear()
    rec.ops.clear()
    return bodies


def arr(path: str | list[str], **body: Any) -> dict[str, Any]:
    return {"attribute": path, "attributeType": "array", **body}


def ins(path: str | list[str], items: list[Any]) -> dict[str, Any]:
    return arr(path, operation="add", value=items)


def rem(path: str | list[str], count: int) -> dict[str, Any]:
    return arr(path, operation="remove", value=count)


@pytest.fixture
def doc_rec() -> tuple[Any, Recorder]:
    return tracked({"a": 1, "m": {"x": 1, "y": 2}, "l": [0, 1, 2, 3]})


def replay(initial: dict[str, Any], rec: Recorder) -> dict[str, Any]:
    """A replica built by applying every emitted body (sent as JSON)."""
    replica = ch.copy_json(initial)
    for b in rec.bodies:
        ch.apply_update(replica, orjson.loads(orjson.dumps(b)))
    return replica


# wrapping ---------------------------------------------------------------------------------------------------------


def test_wrap_tracks_nested_containers() -> None:
    doc, rec = tracked({"m": {"l": [{"k": []}]}})
    assert type(doc) is TrackedDict
    assert type(doc["m"]) is TrackedDict
    assert type(doc["m"]["l"]) is TrackedList
    assert type(doc["m"]["l"][0]) is TrackedDict
    assert type(doc["m"]["l"][0]["k"]) is TrackedList
    assert doc == {"m": {"l": [{"k": []}]}}
    assert rec.bodies == []


def test_tracked_containers_are_only_made_by_wrap() -> None:
    with pytest.raises(TypeError, match="made by wrap"):
        TrackedDict()
    with pytest.raises(TypeError, match="made by wrap"):
        TrackedList()


def test_copies_of_tracked_values_are_plain() -> None:
    doc, rec = tracked({"m": {"l": [1, {"k": 2}]}})
    for copied in (copy.deepcopy(doc), copy.copy(doc), pickle.loads(pickle.dumps(doc))):
        assert type(copied) is dict
        assert copied == {"m": {"l": [1, {"k": 2}]}}
    assert type(copy.deepcopy(doc["m"]["l"])) is list
    assert rec.bodies == []


# dict edits --------------------------------------------------------------------------------------------------------


def test_dict_set_new_and_existing_key(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    doc["b"] = 2
    doc["a"] = {"n": [1]}
    assert rec.bodies == [{"attribute": "b", "value": 2}, {"attribute": "a", "value": {"n": [1]}}]
    assert rec.ops == [[{"op": "add", "path": "/b", "value": 2}],
                       [{"op": "replace", "path": "/a", "value": {"n": [1]}}]]
    assert type(doc["a"]) is TrackedDict


def test_dict_nested_set(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    doc["m"]["z"] = None
    assert emitted(rec) == [{"attribute": "m.z", "value": None}]


def test_dict_del(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    del doc["m"]["x"]
    assert rec.bodies == [{"attribute": "m.x"}]
    assert rec.ops == [[{"op": "remove", "path": "/m/x"}]]
    with pytest.raises(KeyError):
        del doc["nope"]
    assert len(rec.bodies) == 1


def test_dict_pop(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    popped = doc.pop("m")
    assert popped == {"x": 1, "y": 2} and type(popped) is dict
    assert doc.pop("nope", "dflt") == "dflt"
    with pytest.raises(KeyError):
        doc.pop("nope")
    assert emitted(rec) == [{"attribute": "m"}]


def test_dict_popitem_takes_the_last_key(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    assert doc["m"].popitem() == ("y", 2)
    assert emitted(rec) == [{"attribute": "m.y"}]
    doc["m"].clear()
    with pytest.raises(KeyError):
        doc["m"].popitem()


def test_dict_setdefault(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    got = doc.setdefault("s", {"k": []})
    assert got == {"k": []} and type(got) is TrackedDict and got is doc["s"]
    assert doc.setdefault("a", 99) == 1
    assert doc.setdefault("n") is None
    assert emitted(rec) == [{"attribute": "s", "value": {"k": []}}, {"attribute": "n", "value": None}]
    got["k"].append(1)
    assert emitted(rec) == [ins("s.k.0", [1])]


def test_dict_update_one_set_per_key(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    doc.update({"a": 2, "b": [1]}, c=3)
    doc["m"].update([("x", 5)])
    doc |= {"d": 4}
    assert emitted(rec) == [{"attribute": "a", "value": 2}, {"attribute": "b", "value": [1]},
                            {"attribute": "c", "value": 3}, {"attribute": "m.x", "value": 5},
                            {"attribute": "d", "value": 4}]
    assert type(doc) is TrackedDict


def test_dict_update_with_a_bad_value_changes_nothing(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    with pytest.raises(TypeError):
        doc.update({"a": 2, "b": object()})
    with pytest.raises(TypeError):
        doc.update({"a": 2, 5: 1})
    assert doc["a"] == 1 and "b" not in doc
    assert rec.bodies == []


def test_dict_clear_removes_each_key(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    doc["m"].clear()
    assert emitted(rec) == [{"attribute": "m.x"}, {"attribute": "m.y"}]
    doc["m"].clear()
    assert rec.bodies == []


# list edits -------------------------------------------------------------------------------------------------------


def test_list_setitem(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    doc["l"][1] = "x"
    doc["l"][-1] = {"k": 1}
    assert rec.bodies == [arr("l.1", value="x"), arr("l.3", value={"k": 1})]
    assert rec.ops == [[{"op": "replace", "path": "/l/1", "value": "x"}],
                       [{"op": "replace", "path": "/l/3", "value": {"k": 1}}]]
    with pytest.raises(IndexError):
        doc["l"][4] = 1
    with pytest.raises(TypeError):
        doc["l"]["0"] = 1
    assert len(rec.bodies) == 2
    assert doc["l"] == [0, "x", 2, {"k": 1}]


def test_list_delitem(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    del doc["l"][1]
    del doc["l"][-1]
    assert rec.bodies == [rem("l.1", 1), rem("l.2", 1)]
    assert rec.ops == [[{"op": "remove", "path": "/l/1"}], [{"op": "remove", "path": "/l/2"}]]
    assert doc["l"] == [0, 2]


def test_list_slice_delete(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    del doc["l"][1:3]
    assert rec.bodies == [rem("l.1", 2)]
    assert rec.ops == [[{"op": "remove", "path": "/l/1"}, {"op": "remove", "path": "/l/1"}]]
    del doc["l"][5:9]
    del doc["l"][1:0]
    with pytest.raises(ValueError, match="extended slice"):
        del doc["l"][::2]
    assert doc["l"] == [0, 3]
    assert len(rec.bodies) == 1


def test_list_slice_assignment_is_two_messages(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    doc["l"][1:3] = ["a", "b", "c"]
    assert emitted(rec) == [rem("l.1", 2), ins("l.1", ["a", "b", "c"])]
    doc["l"][1:1] = ["y"]
    assert emitted(rec) == [ins("l.1", ["y"])]
    doc["l"][0:2] = []
    assert emitted(rec) == [rem("l.0", 2)]
    doc["l"][10:] = (i for i in [7])
    assert emitted(rec) == [ins("l.4", [7])]
    assert doc["l"] == ["a", "b", "c", 3, 7]


def test_list_slice_assignment_with_a_bad_item_changes_nothing(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    with pytest.raises(TypeError):
        doc["l"][0:2] = [1, object()]
    with pytest.raises(ValueError, match="extended slice"):
        doc["l"][::2] = [1, 2]
    assert doc["l"] == [0, 1, 2, 3]
    assert rec.bodies == []


def test_list_append_extend_iadd(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    doc["l"].append([4])
    doc["l"].extend([5, {"k": 6}])
    doc["l"].extend([])
    doc["l"] += (7,)
    assert rec.bodies == [ins("l.4", [[4]]), ins("l.5", [5, {"k": 6}]), ins("l.7", [7])]
    assert rec.ops[1] == [{"op": "add", "path": "/l/5", "value": 5}, {"op": "add", "path": "/l/6", "value": {"k": 6}}]
    assert type(doc["l"]) is TrackedList


@pytest.mark.parametrize(("index", "sent"), [(0, "l.0"), (1, "l.1"), (4, "l.4"), (100, "l.4"), (-1, "l.3"),
                                             (-100, "l.0")])
def test_list_insert_sends_the_index_used(doc_rec: tuple[Any, Recorder], index: int, sent: str) -> None:
    doc, rec = doc_rec
    doc["l"].insert(index, "x")
    assert rec.bodies == [ins(sent, ["x"])]
    assert replay({"l": [0, 1, 2, 3]}, rec)["l"] == doc["l"]


@pytest.mark.parametrize(("index", "sent"), [(100, "l.4"), (-1, "l.3"), (-100, "l.0")])
def test_insert_items_normalises_indices(doc_rec: tuple[Any, Recorder], index: int, sent: str) -> None:
    doc, rec = doc_rec
    doc["l"]._insert_items(index, ["x", "y"])  # DataObjectReporter.insert(path, index, *items)
    assert rec.bodies == [ins(sent, ["x", "y"])]
    assert replay({"l": [0, 1, 2, 3]}, rec)["l"] == doc["l"]


def test_list_pop(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    assert doc["l"].pop() == 3
    assert doc["l"].pop(0) == 0
    assert emitted(rec) == [rem("l.3", 1), rem("l.0", 1)]
    doc["l"].clear()
    with pytest.raises(IndexError):
        doc["l"].pop()


def test_list_pop_returns_a_plain_copy() -> None:
    doc, rec = tracked({"l": [{"k": [1]}]})
    popped = doc["l"].pop()
    assert popped == {"k": [1]} and type(popped) is dict and type(popped["k"]) is list


def test_list_remove(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    doc["l"].remove(2)
    with pytest.raises(ValueError):
        doc["l"].remove(99)
    assert emitted(rec) == [rem("l.2", 1)]


def test_list_clear(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    doc["l"].clear()
    doc["l"].clear()
    assert emitted(rec) == [rem("l.0", 4)]


def test_list_sort_and_reverse_replace_the_items(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    doc["l"].sort(reverse=True)
    assert emitted(rec) == [rem("l.0", 4), ins("l.0", [3, 2, 1, 0])]
    doc["l"].reverse()
    assert emitted(rec) == [rem("l.0", 4), ins("l.0", [0, 1, 2, 3])]
    doc["l"].sort(key=lambda v: -v)
    assert emitted(rec) == [rem("l.0", 4), ins("l.0", [3, 2, 1, 0])]
    doc["l"].append("s")
    emitted(rec)
    with pytest.raises(TypeError):
        doc["l"].sort()
    assert rec.bodies == []
    assert doc["l"] == [3, 2, 1, 0, "s"]


def test_list_imul(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    doc["l"] *= 1
    assert rec.bodies == []
    doc["m"]["k"] = [{"a": 1}]
    emitted(rec)
    doc["m"]["k"] *= 3
    assert emitted(rec) == [ins("m.k.1", [{"a": 1}, {"a": 1}])]
    assert doc["m"]["k"] == [{"a": 1}] * 3
    assert doc["m"]["k"][0] is not doc["m"]["k"][1]
    doc["l"] *= 0
    assert emitted(rec) == [rem("l.0", 4)]
    assert type(doc["m"]["k"]) is TrackedList and doc["l"] == []


# nesting, paths, copies -------------------------------------------------------------------------------------------


def test_nested_containers_in_lists_follow_their_position() -> None:
    doc, rec = tracked({"items": [{"n": 0}, {"n": 1, "tags": []}]})
    second = doc["items"][1]
    doc["items"].insert(0, {"n": -1})
    second["n"] = 5
    second["tags"].append("t")
    del doc["items"][0]
    second["tags"][0] = "u"
    assert emitted(rec)[1:] == [{"attribute": "items.2.n", "value": 5}, ins("items.2.tags.0", ["t"]),
                                rem("items.0", 1), arr("items.1.tags.0", value="u")]


def test_list_in_list() -> None:
    doc, rec = tracked({"g": [[0], [1]]})
    doc["g"][1].append(2)
    doc["g"][0][0] = 9
    assert emitted(rec) == [ins("g.1.1", [2]), arr("g.0.0", value=9)]


def test_assigned_containers_are_copied() -> None:
    doc, rec = tracked({"l": []})
    value = {"k": [1, {"z": 0}]}
    items = [{"i": []}]
    doc["v"] = value
    doc["l"].extend(items)
    doc["l"].append(value)
    doc["l"][0] = items
    value["k"].append(2)
    value["k"][1]["z"] = 1
    items[0]["i"].append(1)
    items.append(3)
    assert doc == {"l": [[{"i": []}], {"k": [1, {"z": 0}]}], "v": {"k": [1, {"z": 0}]}}
    assert rec.bodies[0] == {"attribute": "v", "value": {"k": [1, {"z": 0}]}}
    assert rec.bodies[1] == ins("l.0", [{"i": []}])
    assert doc["v"] is not value


def test_emitted_values_are_not_the_documents_containers() -> None:
    doc, rec = tracked({})
    doc["v"] = {"k": [1]}
    rec.bodies[0]["value"]["k"].append(2)
    rec.ops[0][0]["value"]["k"].append(3)
    assert doc == {"v": {"k": [1]}}


def test_assigning_a_tracked_container_copies_it() -> None:
    doc, rec = tracked({"a": {"k": [1]}})
    doc["b"] = doc["a"]
    doc["b"]["k"].append(2)
    assert doc == {"a": {"k": [1]}, "b": {"k": [1, 2]}}
    assert emitted(rec) == [{"attribute": "b", "value": {"k": [1]}}, ins("b.k.1", [2])]


def test_dotted_keys_use_list_form_attributes() -> None:
    url = "hyperty://b.example/bob"
    doc, rec = tracked({"peers": {}})
    doc["peers"][url] = {"status": "online", "tags": []}
    doc["peers"][url]["status"] = "away"
    doc["peers"][url]["tags"].append("x")
    doc["peers"][url]["tags"][0] = "y"
    del doc["peers"][url]["tags"][0]
    del doc["peers"][url]
    assert rec.bodies == [
        {"attribute": f"peers.{url}", "value": {"status": "online", "tags": []}},   # read back whole
        {"attribute": ["peers", url, "status"], "value": "away"},
        ins(["peers", url, "tags", "0"], ["x"]),
        arr(["peers", url, "tags", "0"], value="y"),
        rem(["peers", url, "tags", "0"], 1),
        {"attribute": f"peers.{url}"},
    ]
    assert rec.ops[0] == [{"op": "add", "path": "/peers/hyperty:~1~1b.example~1bob",
                           "value": {"status": "online", "tags": []}}]
    assert replay({"peers": {}}, rec) == doc == {"peers": {}}


def test_empty_key_uses_list_form() -> None:
    doc, rec = tracked({})
    doc[""] = {"": 1}
    doc[""][""] = 2
    assert rec.bodies == [{"attribute": [""], "value": {"": 1}}, {"attribute": ["", ""], "value": 2}]
    assert replay({}, rec) == doc == {"": {"": 2}}


def test_detached_containers_refuse_edits() -> None:
    doc, rec = tracked({"m": {"k": 1}, "l": [{"n": 1}], "o": {"p": {"q": 1}}})
    m, item, inner = doc["m"], doc["l"][0], doc["o"]["p"]
    doc["m"] = 5
    doc["l"].sort(key=str)
    del doc["o"]
    emitted(rec)
    with pytest.raises(RuntimeError, match="detached"):
        m["k"] = 2
    with pytest.raises(RuntimeError, match="detached"):
        del m["k"]
    with pytest.raises(RuntimeError, match="detached"):
        item["n"] = 2
    with pytest.raises(RuntimeError, match="detached"):
        inner["q"] = 2
    assert (m, item, inner) == ({"k": 1}, {"n": 1}, {"q": 1})
    assert rec.bodies == []


@pytest.mark.parametrize("value", [object(), {1, 2}, float("nan"), float("inf"), -float("inf"), 2**64, -(2**63) - 1,
                                   {"k": 2**70}, {1: "a"}, b"bytes"])
def test_non_json_values_are_refused(value: Any) -> None:
    doc, rec = tracked({"l": [0]})
    for edit in (lambda: doc.__setitem__("x", value), lambda: doc["l"].append(value),
                 lambda: doc["l"].__setitem__(0, value), lambda: doc.setdefault("y", value)):
        with pytest.raises(TypeError):
            edit()
    assert doc == {"l": [0]}
    assert rec.bodies == []


def test_extreme_json_numbers_are_accepted() -> None:
    doc, rec = tracked({})
    doc["a"] = 2**64 - 1
    doc["b"] = -(2**63)
    doc["c"] = 1e308
    assert replay({}, rec) == doc


def test_non_string_keys_are_refused() -> None:
    doc, rec = tracked({})
    with pytest.raises(TypeError, match="keys must be strings"):
        doc[1] = 2
    assert rec.bodies == []


def test_guard_is_checked_before_every_edit(doc_rec: tuple[Any, Recorder]) -> None:
    doc, rec = doc_rec
    rec.frozen = True
    edits = [lambda: doc.__setitem__("a", 2), lambda: doc.__delitem__("a"), lambda: doc.pop("a"),
             lambda: doc.update(a=3), lambda: doc["m"].clear(), lambda: doc["l"].__setitem__(0, 9),
             lambda: doc["l"].__delitem__(0), lambda: doc["l"].append(1), lambda: doc["l"].insert(0, 1),
             lambda: doc["l"].pop(), lambda: doc["l"].remove(1), lambda: doc["l"].clear(),
             lambda: doc["l"].sort(), lambda: doc["l"].reverse(), lambda: doc["l"].__setitem__(slice(0, 1), [5])]
    for edit in edits:
        with pytest.raises(PermissionError):
            edit()
    assert doc == {"a": 1, "m": {"x": 1, "y": 2}, "l": [0, 1, 2, 3]}
    assert rec.bodies == []


# the key property: replicas follow the reporter ----------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "0", "1", "x.y", "hyperty://h.example/z", "", "a/b", "~0", "-"])
SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) |
           st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=3))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                      max_leaves=6)
DOCUMENTS = st.dictionaries(KEYS, VALUES, max_size=4)


def containers_of(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    found = [(path, node)]
    for k, v in (node.items() if isinstance(node, dict) else enumerate(node)):
        if isinstance(v, (dict, list)):
            found.extend(containers_of(v, (*path, k)))
    return found


def at(node: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        node = node[k]
    return node


def draw_dict_edit(data: st.DataObject, c: dict[str, Any]) -> tuple[Any, ...]:
    keys = sorted(c)
    existing = st.sampled_from(keys) if keys else KEYS
    kinds = ["set", "setdefault", "update", "ior", "pop_default"] + (["del", "pop", "popitem", "clear"] if keys else [])
    kind = data.draw(st.sampled_from(kinds))
    if kind == "set":
        return kind, data.draw(existing | KEYS), data.draw(VALUES)
    if kind in ("setdefault", "pop_default"):
        return kind, data.draw(existing | KEYS), data.draw(VALUES)
    if kind in ("update", "ior"):
        return kind, data.draw(st.dictionaries(KEYS, VALUES, max_size=3))
    if kind in ("del", "pop"):
        return kind, data.draw(existing)
    return (kind,)


def draw_list_edit(data: st.DataObject, c: list[Any]) -> tuple[Any, ...]:
    n = len(c)
    kinds = ["append", "extend", "iadd", "insert", "setslice", "delslice", "imul", "reverse", "sort"]
    if n:
        kinds += ["setitem", "delitem", "pop", "remove", "clear"]
    kind = data.draw(st.sampled_from(kinds))
    index = st.integers(-n, n - 1)
    if kind in ("append",):
        return kind, data.draw(VALUES)
    if kind in ("extend", "iadd"):
        return kind, data.draw(st.lists(VALUES, max_size=3))
    if kind == "insert":
        return kind, data.draw(st.integers(-n - 2, n + 2)), data.draw(VALUES)
    if kind == "setitem":
        return kind, data.draw(index), data.draw(VALUES)
    if kind in ("delitem", "pop"):
        return kind, data.draw(index)
    if kind == "remove":
        return kind, ch.copy_json(c[data.draw(st.integers(0, n - 1))])
    if kind == "setslice":
        bounds = st.integers(-n - 1, n + 1) | st.none()
        return kind, data.draw(bounds), data.draw(bounds), data.draw(st.lists(VALUES, max_size=3))
    if kind == "delslice":
        bounds = st.integers(-n - 1, n + 1) | st.none()
        return kind, data.draw(bounds), data.draw(bounds)
    if kind == "imul":
        return kind, data.draw(st.integers(-1, 3))
    if kind == "sort":
        return kind, data.draw(st.booleans())
    return (kind,)


def perform(c: Any, edit: tuple[Any, ...]) -> Any:
    """The edit on `c` (tracked or plain: the same Python semantics); returns its result."""
    kind, *args = edit
    args = [ch.copy_json(a) for a in args]  # each side gets its own argument objects
    if kind in ("set", "setitem"):
        c[args[0]] = args[1]
    elif kind in ("del", "delitem"):
        del c[args[0]]
    elif kind == "pop":
        return c.pop(args[0])
    elif kind == "pop_default":
        return c.pop(args[0], args[1])
    elif kind == "popitem":
        return c.popitem()
    elif kind == "setdefault":
        return ch.copy_json(c.setdefault(args[0], args[1]))
    elif kind == "update":
        c.update(args[0])
    elif kind == "ior":
        c |= args[0]
    elif kind == "clear":
        c.clear()
    elif kind == "append":
        c.append(args[0])
    elif kind == "extend":
        c.extend(args[0])
    elif kind == "iadd":
        c += args[0]
    elif kind == "insert":
        c.insert(args[0], args[1])
    elif kind == "remove":
        c.remove(args[0])
    elif kind == "setslice":
        c[args[0]:args[1]] = args[2]
    elif kind == "delslice":
        del c[args[0]:args[1]]
    elif kind == "imul" and isinstance(c, TrackedList):
        c *= args[0]
    elif kind == "imul":  # the model repeats copies, as a data object does (plain `*=` would alias items)
        snapshot = list(c)
        c[:] = [ch.copy_json(v) for _ in range(args[0]) for v in snapshot]
    elif kind == "reverse":
        c.reverse()
    elif kind == "sort":
        c.sort(key=lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS), reverse=args[0])
    return None


@settings(deadline=None, max_examples=150)
@given(DOCUMENTS, st.data())
def test_replicas_follow_every_edit(initial: dict[str, Any], data: st.DataObject) -> None:
    """After every local edit: body replica == ops replica == tracked document == plain-Python model."""
    doc, rec = tracked(initial)
    model = ch.copy_json(initial)
    by_body = ch.copy_json(initial)
    by_ops = ch.copy_json(initial)
    for _ in range(data.draw(st.integers(1, 12), label="steps")):
        path, target = data.draw(st.sampled_from(containers_of(model)), label="container")
        edit = (draw_dict_edit(data, target) if isinstance(target, dict) else draw_list_edit(data, target))
        note(f"{path} {edit}")
        expected = perform(target, edit)
        result = perform(at(doc, path), edit)
        assert result == expected
        assert doc == model
        for body, ops in zip(rec.bodies, rec.ops, strict=True):
            assert set(body) <= {"attribute", "attributeType", "operation", "value"}
            ch.apply_update(by_body, orjson.loads(orjson.dumps(body)))
            ch.apply_ops(by_ops, orjson.loads(orjson.dumps(ops)))
        if edit[0] not in ("clear", "update", "ior", "setslice", "sort", "reverse", "imul", "pop_default"):
            assert len(rec.bodies) <= 1  # one primitive edit, at most one message
        emitted(rec)
        assert by_body == model
        assert by_ops == model


@settings(deadline=None, max_examples=60)
@given(DOCUMENTS, st.data())
def test_batched_ops_apply_as_one_patch(initial: dict[str, Any], data: st.DataObject) -> None:
    """All ops of a sequence of edits, sent as one Patch body (batch()), bring a replica to the document."""
    doc, rec = tracked(initial)
    for _ in range(data.draw(st.integers(1, 8), label="steps")):
        path, target = data.draw(st.sampled_from(containers_of(doc)), label="container")
        edit = draw_dict_edit(data, target) if isinstance(target, dict) else draw_list_edit(data, target)
        perform(target, edit)
    replica = ch.copy_json(initial)
    patch = [op for ops in rec.ops for op in ops]
    ch.apply_update(replica, orjson.loads(orjson.dumps({"patch": patch})))
    assert replica == doc
