"""Update forms of PROTOCOL §3.3.1, their RFC 6902 operations, and in-place application.

Senders build bodies with the `*_body` helpers; receivers turn a body into operations against their
own document (`update_ops`) and apply them in place with `jsonpatch` (`apply_ops`). Values are copied
per application so no two replicas ever share a container.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer
import orjson

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


def parse_attribute(attribute: Any) -> Path:
    """Segments of a dotted or list-form `attribute` (PROTOCOL §3.3.1)."""
    if isinstance(attribute, str):
        if attribute == "":
            raise ChangeError("empty attribute")
        return attribute.split(".")
    if isinstance(attribute, list) and attribute:
        segments: Path = []
        for seg in attribute:
            if isinstance(seg, bool) or not isinstance(seg, (str, int)):
                raise ChangeError("attribute segments must be strings or integers")
            segments.append(str(seg))
        return segments
    raise ChangeError("attribute must be a string or a list of segments")


def attribute_field(segments: Path) -> str | list[str]:
    """The `attribute` a sender puts on the wire: dotted, or a list when a key holds a dot."""
    if any("." in s for s in segments):
        return list(segments)
    return ".".join(segments)


def pointer(segments: Path) -> str:
    if not segments:
        return ""
    return "/" + "/".join(s.replace("~", "~0").replace("/", "~1") for s in segments)


def field_of(segments: Path) -> str:
    return ".".join(segments)


def _index(seg: str, size: int, allow_end: bool) -> int:
    if not seg.isdigit():
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
        return [{"op": "add", "path": pointer(segments), "value": value}]
    if isinstance(node, list):
        i = _index(last, len(node), allow_end=True)
        return [{"op": "replace" if i < len(node) else "add", "path": pointer(segments), "value": value}]
    raise ChangeError(f"path {field_of(segments)!r} does not resolve")


def _list_at(doc: Any, segments: Path) -> list[Any]:
    target = _resolve(doc, segments)
    if not isinstance(target, list):
        raise ChangeError(f"{field_of(segments)!r} is not a list")
    return target


def update_ops(doc: Any, b: dict[str, Any]) -> list[Op]:
    """RFC 6902 operations that apply update body `b` (any §3.3.1 form) to `doc`."""
    if "patch" in b and "attribute" not in b:
        ops = b["patch"]
        if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
            raise ChangeError("patch must be a list of operations")
        return ops
    if "attribute" not in b:
        raise ChangeError("missing attribute")
    segments = parse_attribute(b["attribute"])
    if b.get("attributeType") == "array":
        parent, last = segments[:-1], segments[-1]
        items = _list_at(doc, parent)
        operation = b.get("operation")
        if operation == "add":
            i = _index(last, len(items), allow_end=True)
            values = b.get("value")
            values = values if isinstance(values, list) else [values]
            return [{"op": "add", "path": pointer([*parent, str(i + k)]), "value": v} for k, v in enumerate(values)]
        if operation == "remove":
            count = b.get("value", 1)
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                count = 1
            i = _index(last, len(items), allow_end=False)
            if i + count > len(items):
                raise ChangeError("array remove past the end of the list")
            return [{"op": "remove", "path": pointer(segments)}] * count
        if "value" not in b:
            raise ChangeError("array element set without value")
        _index(last, len(items), allow_end=False)
        return [{"op": "replace", "path": pointer(segments), "value": b["value"]}]
    if "value" in b:
        return _set_ops(doc, segments, b["value"])
    _resolve(doc, segments)
    return [{"op": "remove", "path": pointer(segments)}]


def apply_ops(doc: Any, ops: list[Op]) -> Any:
    """Apply `ops` to `doc` in place (values copied) and return the document."""
    copied = [({**op, "value": copy_json(op["value"])} if "value" in op else op) for op in ops]
    try:
        return jsonpatch.apply_patch(doc, copied, in_place=True)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, KeyError,
            IndexError, ValueError) as exc:
        raise ChangeError(str(exc)) from exc


def apply_update(doc: Any, b: dict[str, Any]) -> list[Op]:
    """Apply update body `b` to `doc` in place; returns the operations applied."""
    ops = update_ops(doc, b)
    apply_ops(doc, ops)
    return ops


def events_of(ops: list[Op], doc: Any = None) -> list[ChangeEvent]:
    """onChange events for applied operations (PROTOCOL §3.3.2)."""
    events = []
    for op in ops:
        path = op.get("path", "")
        segments = [s.replace("~1", "/").replace("~0", "~") for s in path.split("/")[1:]] if path else []
        array = bool(segments) and segments[-1].isdigit()
        kind = op.get("op")
        ctype = {"add": "add", "replace": "update", "remove": "remove"}.get(str(kind), "update")
        events.append(ChangeEvent(ctype, "array" if array else "object", field_of(segments), op.get("value")))
    return events


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
