"""Update forms of PROTOCOL §3.3.1, their RFC 6902 operations, and in-place application.

Senders build bodies with the `*_body` helpers; receivers turn a body into operations against their
own document (`update_ops`) and apply them in place, all or none (`apply_ops`, paths resolved with
`jsonpointer`). Values are copied per application so no two replicas ever share a container.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import jsonpointer
import orjson

from core.protocol.dialect import parse_string, writable

Op = dict[str, Any]
Path = list[str]


class ChangeError(Exception):
    """An update whose path does not resolve or whose body is malformed: a gap (PROTOCOL §3.3.1)."""


@dataclass(slots=True)
class ChangeEvent:
    """`onChange` event of PROTOCOL §3.3.2: cType add|update|remove, oType object|array."""

    cType: str
    oType: str
    field: str
    data: Any = None


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (containers only; scalars are immutable)."""
    if isinstance(value, (dict, list)):
        return orjson.loads(orjson.dumps(value))
    return value


def own_containers(record: dict[str, Any]) -> dict[str, Any]:
    """`record` with each of its container values replaced by a deep copy, in place (and returned): a
    dict taken from a message, or from another layer's state, then shares no list or dict with it."""
    for key, value in record.items():
        if type(value) is list or type(value) is dict:   # (JSON values: exact types; scalars are immutable)
            record[key] = orjson.loads(orjson.dumps(value))
    return record


def parse_attribute(attribute: Any) -> Path:
    """Segments of a dotted or list-form `attribute` (PROTOCOL §3.3.1); a string is split by reTHINK's
    `parseAttributes` rule, so a URL key arrives whole (INTEROP §4)."""
    if isinstance(attribute, str):
        keys = parse_string(attribute)
        if not keys:
            raise ChangeError("empty attribute")
        return keys
    if isinstance(attribute, list) and attribute:
        segments: Path = []
        for seg in attribute:
            if isinstance(seg, bool) or not isinstance(seg, (str, int)):
                raise ChangeError("attribute segments must be strings or integers")
            segments.append(str(seg))
        return segments
    raise ChangeError("attribute must be a string or a list of segments")


def attribute_field(segments: Path) -> str | list[str]:
    """The `attribute` a sender puts on the wire: dotted when a receiver reads the same segments back
    (INTEROP §4's rule), else a list (PROTOCOL §3.3.1: a key holds a dot, or is empty)."""
    dotted = ".".join(segments)
    if "://" not in dotted:
        return list(segments) if any("." in s or not s for s in segments) else dotted
    return dotted if writable(segments) else list(segments)


def pointer(segments: Path) -> str:
    if not segments:
        return ""
    return "/" + "/".join(s.replace("~", "~0").replace("/", "~1") for s in segments)


def field_of(segments: Path) -> str:
    return ".".join(segments)


def _index(seg: str, size: int, allow_end: bool) -> int:
    # A list index is a canonical decimal (RFC 6901 §4: no sign, no leading zero, ASCII digits only).
    if not (seg.isascii() and seg.isdigit()) or (len(seg) > 1 and seg[0] == "0"):
        raise ChangeError(f"list index expected, got {seg!r}")
    i = int(seg)
    if i > size or (i == size and not allow_end):
        raise ChangeError(f"list index {i} out of range")
    return i


def _resolve(doc: Any, segments: Path) -> Any:
    node = doc
    for seg in segments:
        if isinstance(node, dict):
            if seg not in node:
                raise ChangeError(f"path {field_of(segments)!r} does not resolve")
            node = node[seg]
        elif isinstance(node, list):
            node = node[_index(seg, len(node), allow_end=False)]
        else:
            raise ChangeError(f"path {field_of(segments)!r} does not resolve")
    return node


def _set_ops(doc: Any, segments: Path, value: Any) -> list[Op]:
    node = doc
    for depth, seg in enumerate(segments[:-1]):
        if isinstance(node, dict):
            if seg not in node or not isinstance(node[seg], (dict, list)):
                # Missing intermediate containers on Set are created as objects (PROTOCOL §3.3.1).
                nested: Any = value
                for key in reversed(segments[depth + 1:]):
                    nested = {key: nested}
                return [{"op": "add", "path": pointer(segments[: depth + 1]), "value": nested}]
            node = node[seg]
        elif isinstance(node, list):
            node = node[_index(seg, len(node), allow_end=False)]
        else:
            raise ChangeError(f"path {field_of(segments)!r} does not resolve")
    last = segments[-1]
    if isinstance(node, dict):
        # `replace` for an existing key so that the event says "update" (PROTOCOL §3.3.2 "add or update").
        return [{"op": "replace" if last in node else "add", "path": pointer(segments), "value": value}]
    if isinstance(node, list):
        i = _index(last, len(node), allow_end=True)
        return [{"op": "replace" if i < len(node) else "add", "path": pointer([*segments[:-1], str(i)]),
                 "value": value}]
    raise ChangeError(f"path {field_of(segments)!r} does not resolve")


def _list_at(doc: Any, segments: Path) -> list[Any]:
    target = _resolve(doc, segments)
    if not isinstance(target, list):
        raise ChangeError(f"{field_of(segments)!r} is not a list")
    return target


def _array_ops(doc: Any, b: dict[str, Any], segments: Path) -> list[Op]:
    """The three array forms of PROTOCOL §3.3.1 (`attributeType: "array"`), splice semantics (§7 #14)."""
    parent, last = segments[:-1], segments[-1]
    items = _list_at(doc, parent)
    operation = b.get("operation")
    if operation == "add":
        if "value" not in b:
            raise ChangeError("array insert without value")
        i = _index(last, len(items), allow_end=True)
        values = b["value"]
        # Senders MUST send a list; receivers take a non-list as one item. A list is never flattened further.
        values = values if isinstance(values, list) else [values]
        return [{"op": "add", "path": pointer([*parent, str(i + k)]), "value": v} for k, v in enumerate(values)]
    if operation == "remove":
        # k elements from index i: k is an int ≥ 1, anything else counts as the default 1.
        count = b.get("value", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            count = 1
        i = _index(last, len(items), allow_end=False)
        if i + count > len(items):
            raise ChangeError("array remove past the end of the list")
        return [{"op": "remove", "path": pointer([*parent, str(i)])} for _ in range(count)]
    if operation is not None:
        raise ChangeError(f"unknown array operation {operation!r}")
    if "value" not in b:
        raise ChangeError("array element set without value")
    i = _index(last, len(items), allow_end=False)
    return [{"op": "replace", "path": pointer([*parent, str(i)]), "value": b["value"]}]


def update_ops(doc: Any, b: dict[str, Any]) -> list[Op]:
    """RFC 6902 operations that apply update body `b` (any §3.3.1 form) to `doc`."""
    if not isinstance(b, dict):
        raise ChangeError("update body is not an object")
    if "patch" in b and "attribute" not in b:
        ops = b["patch"]
        if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
            raise ChangeError("patch must be a list of operations")
        return ops
    if "attribute" not in b:
        raise ChangeError("missing attribute")
    segments = parse_attribute(b["attribute"])
    if b.get("attributeType") == "array":
        return _array_ops(doc, b, segments)
    if "value" in b:
        return _set_ops(doc, segments, b["value"])
    _resolve(doc, segments)
    return [{"op": "remove", "path": pointer(segments)}]


# In-place application, all or none ------------------------------------------------------------------

Undo = list[Callable[[], object]]


def _copy(value: Any) -> Any:
    try:
        return copy_json(value)
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise ChangeError(f"not a JSON value: {exc}") from exc


@lru_cache(maxsize=4096)
def _pointer(path: str) -> jsonpointer.JsonPointer:
    """Parsed pointers, cached: every replica of a runtime applies the same paths."""
    return jsonpointer.JsonPointer(path)


def _locate(doc: Any, path: str) -> tuple[dict[str, Any] | list[Any], str | int]:
    """The container of the last token of `path` and that token (an int or '-' for lists)."""
    try:
        parent, part = _pointer(path).to_last(doc)
    except jsonpointer.JsonPointerException as exc:
        raise ChangeError(f"path {path!r} does not resolve: {exc}") from exc
    if not isinstance(parent, (dict, list)) or part is None:
        raise ChangeError(f"path {path!r} does not resolve: its parent is not a container")
    return parent, part


def _get(doc: Any, path: str) -> Any:
    if path == "":
        return doc
    parent, part = _locate(doc, path)
    if isinstance(parent, dict):
        if part not in parent:
            raise ChangeError(f"path {path!r} does not resolve")
        return parent[str(part)]
    if not isinstance(part, int) or part >= len(parent):
        raise ChangeError(f"list index of {path!r} out of range")
    return parent[part]


def _put(doc: Any, path: str, value: Any, replace: bool, undo: Undo) -> None:
    """RFC 6902 `add` (or `replace`) of `value` at `path`, recording the inverse in `undo`."""
    if path == "":
        # Replacing the whole document cannot happen in place (the caller holds `doc`): refused, so that a
        # replica never takes a replacement its reporter could not make (jsonpatch in place ignores it).
        raise ChangeError("the document root cannot be replaced")
    parent, part = _locate(doc, path)
    if isinstance(parent, dict):
        key = str(part)
        if key in parent:
            undo.append(partial(parent.__setitem__, key, parent[key]))
        elif replace:
            raise ChangeError(f"path {path!r} does not resolve")
        else:
            undo.append(partial(parent.__delitem__, key))
        parent[key] = value
        return
    i = len(parent) if part == "-" else part
    if not isinstance(i, int) or i > len(parent) or (replace and i == len(parent)):
        raise ChangeError(f"list index of {path!r} out of range")
    if replace:
        undo.append(partial(parent.__setitem__, i, parent[i]))
        parent[i] = value
    else:
        parent.insert(i, value)
        undo.append(partial(parent.pop, i))


def _remove(doc: Any, path: str, undo: Undo) -> Any:
    if path == "":
        raise ChangeError("the document root cannot be removed")
    parent, part = _locate(doc, path)
    if isinstance(parent, dict):
        key = str(part)
        if key not in parent:
            raise ChangeError(f"path {path!r} does not resolve")
        value = parent.pop(key)
        undo.append(partial(parent.__setitem__, key, value))
        return value
    if not isinstance(part, int) or part >= len(parent):
        raise ChangeError(f"list index of {path!r} out of range")
    value = parent.pop(part)
    undo.append(partial(parent.insert, part, value))
    return value


def _json_equal(a: Any, b: Any) -> bool:
    """RFC 6902 §4.6 equality: numbers by value, a boolean only equals the same boolean (`1 != true`)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _apply_op(doc: Any, op: Any, undo: Undo) -> None:
    if not isinstance(op, dict):
        raise ChangeError("an operation is not an object")
    kind, path = op.get("op"), op.get("path")
    if not isinstance(path, str):
        raise ChangeError(f"operation {kind!r} without a string path")
    if kind in ("add", "replace", "test") and "value" not in op:
        raise ChangeError(f"operation {kind!r} without value")
    if kind in ("add", "replace"):
        _put(doc, path, _copy(op["value"]), kind == "replace", undo)
    elif kind == "remove":
        _remove(doc, path, undo)
    elif kind == "test":
        if not _json_equal(_get(doc, path), op["value"]):
            raise ChangeError(f"test of {path!r} failed")
    elif kind in ("move", "copy"):
        source = op.get("from")
        if not isinstance(source, str):
            raise ChangeError(f"operation {kind!r} without a string from")
        if kind == "copy":
            _put(doc, path, _copy(_get(doc, source)), False, undo)
        elif source != path:
            if path.startswith(source + "/"):
                raise ChangeError(f"cannot move {source!r} into itself")
            # RFC 6902 §4.4: remove from `from`, then add at `path` in the resulting document.
            _put(doc, path, _remove(doc, source, undo), False, undo)
    else:
        raise ChangeError(f"unknown operation {kind!r}")


def apply_ops(doc: Any, ops: list[Op]) -> Any:
    """Apply RFC 6902 `ops` to `doc` in place and return it; values are copied into the document, so
    no two replicas share a container. All or none (PROTOCOL §3.3.1 Patch): when an operation fails the
    ones before it are undone and ChangeError is raised, leaving `doc` as it was (object member order
    aside)."""
    if not isinstance(ops, list):
        raise ChangeError("operations must be a list")
    undo: Undo = []
    try:
        for op in ops:
            _apply_op(doc, op, undo)
    except ChangeError:
        for restore in reversed(undo):
            restore()
        raise
    return doc


def apply_update(doc: Any, b: dict[str, Any]) -> list[Op]:
    """Apply update body `b` to `doc` in place, all or none; returns the operations applied."""
    ops = update_ops(doc, b)
    apply_ops(doc, ops)
    return ops


def _segments_of(path: str) -> Path:
    return [s.replace("~1", "/").replace("~0", "~") for s in path.split("/")[1:]] if path else []


def _object_type(segments: Path, doc: Any) -> str:
    """`array` when the container of the last segment is a list: looked up in `doc` (after the change)
    when given and resolvable, else guessed from the segment (an index or '-')."""
    if doc is not None and segments:
        try:
            parent = _resolve(doc, segments[:-1])
        except ChangeError:
            parent = None
        if isinstance(parent, (dict, list)):
            return "array" if isinstance(parent, list) else "object"
    last = segments[-1] if segments else ""
    return "array" if last == "-" or (last.isascii() and last.isdigit()) else "object"


def _event(ctype: str, path: str, data: Any, doc: Any) -> ChangeEvent:
    segments = _segments_of(path)
    return ChangeEvent(ctype, _object_type(segments, doc), field_of(segments), data)


def events_of(ops: list[Op], doc: Any = None) -> list[ChangeEvent]:
    """onChange events for applied operations, one per operation (PROTOCOL §3.3.2; Patch updates raise
    events per op). `doc`, the document after the change, settles whether a numeric key is a list index."""
    events = []
    for op in ops:
        kind, path = op.get("op"), str(op.get("path", ""))
        if kind == "add" or kind == "copy":
            events.append(_event("add", path, op.get("value"), doc))
        elif kind == "replace":
            events.append(_event("update", path, op.get("value"), doc))
        elif kind == "remove":
            events.append(_event("remove", path, None, doc))
        elif kind == "move":
            events.append(_event("remove", str(op.get("from", "")), None, doc))
            events.append(_event("add", path, None, doc))
        # `test` changes nothing: no event.
    return events


def update_events(b: dict[str, Any], ops: list[Op], doc: Any = None) -> list[ChangeEvent]:
    """The events of one applied update body: one per local edit for the §3.3.1 forms (an array insert
    of k items is one `add` event at its first index with the items as data, an array remove of k items
    one `remove` event), one per operation for a Patch (PROTOCOL §3.3.2)."""
    events = events_of(ops, doc)
    if ("patch" in b and "attribute" not in b) or b.get("attributeType") != "array" or len(events) < 2:
        return events
    if b.get("operation") == "add":
        return [ChangeEvent("add", "array", events[0].field, [e.data for e in events])]
    return [ChangeEvent("remove", "array", events[0].field)]


# Sender side: one body per local edit (PROTOCOL §3.3.2 table).

def set_body(segments: Path, value: Any) -> dict[str, Any]:
    return {"attribute": attribute_field(segments), "value": value}


def remove_body(segments: Path) -> dict[str, Any]:
    return {"attribute": attribute_field(segments)}


def element_set_body(segments: Path, value: Any) -> dict[str, Any]:
    return {"attribute": attribute_field(segments), "attributeType": "array", "value": value}


def insert_body(segments: Path, items: list[Any]) -> dict[str, Any]:
    return {"attribute": attribute_field(segments), "attributeType": "array", "operation": "add", "value": items}


def remove_items_body(segments: Path, count: int) -> dict[str, Any]:
    return {"attribute": attribute_field(segments), "attributeType": "array", "operation": "remove",
            "value": count}
