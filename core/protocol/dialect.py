"""Peer dialects (INTEROP.md): the one place that knows how reTHINK's own runtimes differ from ours.

A peer's dialect is chosen by its runtime URL scheme: `hyperty-runtime://` is a SyncScope runtime,
`runtime://` a reTHINK one (INTEROP §1). Everything outside this module speaks SyncScope; it asks
here what a reTHINK peer sends or can read: string attributes split by reTHINK's `parseAttributes`
rule (INTEROP §4), update forms a reTHINK observer can apply, and `childrenObjects` nested by
collection name (INTEROP §5).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from enum import Enum
from typing import Any

from core.protocol.address import RETHINK_RUNTIME, runtime_of
from core.protocol.message import SyncError


class Dialect(Enum):
    SYNCSCOPE = "syncscope"
    RETHINK = "rethink"


def dialect_of(url: str) -> Dialect:
    """The dialect of the runtime that `url` (a runtime URL or an address under one) belongs to."""
    return Dialect.RETHINK if runtime_of(url).startswith(RETHINK_RUNTIME + "://") else Dialect.SYNCSCOPE


def is_rethink(url: str) -> bool:
    return dialect_of(url) is Dialect.RETHINK


def to_rethink(msg: dict[str, Any]) -> dict[str, Any]:
    """`msg` as a reTHINK runtime reads it: a response's reason also as `desc` (INTEROP §1)."""
    if msg.get("type") == "response":
        body = msg.get("body")
        if isinstance(body, dict) and "description" in body and "desc" not in body:
            return {**msg, "body": {**body, "desc": body["description"]}}
    return msg


def as_rethink_sends(msg: dict[str, Any]) -> dict[str, Any]:
    """`msg` as reTHINK's own runtime puts it on the wire (a runtime of ours with a `runtime://` URL
    plays one for tests): a response's reason only as `desc`, the subscriber of a subscribe to
    `O/subscription` only as `subscriber` (INTEROP §1, §3; its unsubscribe says `source`)."""
    body = msg.get("body")
    if not isinstance(body, dict):
        return msg
    if msg.get("type") == "response" and "description" in body:
        rest = {k: v for k, v in body.items() if k != "description"}
        return {**msg, "body": {**rest, "desc": body["description"]}}
    if msg.get("type") == "subscribe" and str(msg.get("to", "")).endswith("/subscription") and "source" in body:
        rest = {k: v for k, v in body.items() if k != "source"}
        return {**msg, "body": {**rest, "subscriber": body["source"]}}
    return msg


def minted(scheme: str, domain: str) -> str:
    """An address minted locally, as a reTHINK runtime does (INTEROP §2): `<scheme>://<domain>/<guid>`."""
    return f"{scheme}://{domain}/{uuid.uuid4()}"


# String attributes (INTEROP §4, reTHINK's `parseAttributes`) -----------------------------------------

_SCHEME = re.compile(r"[0-9a-zA-Z][-\w]*://", re.ASCII)
_IDENTITY = ".identity"


def _dotted(text: str) -> list[str]:
    return [s for s in text.split(".") if s]


def parse_string(path: str) -> list[str]:
    """Segments of a string `attribute` by reTHINK's rule: split on `.`, except that everything from
    the first `<scheme>://` on is one key (a URL key), which ends before `.identity` when the path
    has one; empty segments are dropped."""
    found = _SCHEME.search(path) if "://" in path else None
    if found is None:
        return _dotted(path)
    head, url = path[:found.start()], path[found.start():]
    cut = url.find(_IDENTITY + ".")
    if cut < 0 and url.endswith(_IDENTITY):
        cut = len(url) - len(_IDENTITY)
    if cut < 0:
        return [*_dotted(head), url]
    return [*_dotted(head), url[:cut], "identity", *_dotted(url[cut + len(_IDENTITY):])]


def writable(segments: list[str]) -> bool:
    """True when a reTHINK receiver reads `segments` back from their dotted string."""
    return bool(segments) and parse_string(".".join(segments)) == segments


def admit_for_rethink(path: list[str]) -> None:
    """Refuse an edit at `path` that no reTHINK observer could be sent: a top-level key its rule splits,
    where no parent can be Set in its place (DECISIONS 77)."""
    if path and not writable(path[:1]):
        raise SyncError(400, f"key {path[0]!r} cannot reach reTHINK observers (INTEROP §4)")


# Update forms a reTHINK observer applies (INTEROP §4 "What SyncScope sends") ------------------------

_MISSING = object()


def _at(doc: Any, segments: list[str]) -> Any:
    node = doc
    for seg in segments:
        if isinstance(node, dict) and seg in node:
            node = node[seg]
        elif isinstance(node, list) and seg.isdigit() and int(seg) < len(node):
            node = node[int(seg)]
        else:
            return _MISSING
    return node


def _copy(value: Any) -> Any:
    from core.protocol.changes import copy_json  # changes imports this module
    return copy_json(value)


def _set_or_remove(doc: Any, segments: list[str]) -> dict[str, Any]:
    value = _at(doc, segments)
    dotted = ".".join(segments)
    return {"attribute": dotted} if value is _MISSING else {"attribute": dotted, "value": _copy(value)}


def _segments(attribute: Any) -> list[str]:
    if isinstance(attribute, str):
        return parse_string(attribute)
    return [str(s) for s in attribute] if isinstance(attribute, list) else []


def _pointer_segments(path: str) -> list[str]:
    return [s.replace("~1", "/").replace("~0", "~") for s in path.split("/")[1:]] if path else []


def rethink_bodies(body: dict[str, Any], doc: Any) -> list[dict[str, Any]] | None:
    """The update bodies a reTHINK observer can apply for one edit `body` whose effect `doc` (the
    document after the edit) already holds; None when `body` can go as it is. Never the list form of
    `attribute`, never `{patch}`: a path reTHINK cannot write becomes a Set of its nearest writable
    parent, a Patch becomes Sets (or Removes) of the nearest writable common parent of what it
    touched, one per top-level key when that is the root. An empty list: nothing reTHINK can address."""
    if "patch" in body and "attribute" not in body:
        touched = [_pointer_segments(str(op.get("path", ""))) for op in body["patch"] if isinstance(op, dict)]
        touched += [_pointer_segments(str(op["from"])) for op in body["patch"]
                    if isinstance(op, dict) and op.get("op") == "move" and isinstance(op.get("from"), str)]
        return _cover(touched, doc)
    if "attribute" not in body:
        return None
    segments = _segments(body["attribute"])
    if writable(segments):
        if isinstance(body["attribute"], str) and body["attribute"] == ".".join(segments):
            return None
        return [{**body, "attribute": ".".join(segments)}]
    return _cover([segments], doc)


def _cover(paths: Iterable[list[str]], doc: Any) -> list[dict[str, Any]]:
    """Set/Remove bodies that carry the current value of every path in `paths` (see rethink_bodies)."""
    tops: dict[str, list[list[str]]] = {}
    for path in paths:
        if path:
            tops.setdefault(path[0], []).append(path)
    bodies = []
    for group in tops.values():
        common = group[0]
        for path in group[1:]:
            n = 0
            while n < min(len(common), len(path)) and common[n] == path[n]:
                n += 1
            common = common[:n]
        target = common
        # A Set replaces and a Remove deletes a key: never an item of a list (reTHINK's `delete` leaves a hole).
        while target and (not writable(target) or isinstance(_at(doc, target[:-1]), list)):
            target = target[:-1]
        if target:
            bodies.append(_set_or_remove(doc, target))
    return bodies


# childrenObjects (INTEROP §5) ----------------------------------------------------------------------

def _is_entry(entry: Any) -> bool:
    """A flat `childrenObjects` entry `{value: <child value>, identity?}` (not a collection of them)."""
    return isinstance(entry, dict) and isinstance(entry.get("value"), dict) and set(entry) <= {"value", "identity"}


def flat_children(children: Any) -> dict[str, Any]:
    """`{childId: {value, identity?}}` from either the flat form or reTHINK's form nested by collection
    name (`{name: {childId: {value, identity?}}}`); a nested child's value learns its `children` name."""
    if not isinstance(children, dict):
        return {}
    flat: dict[str, Any] = {}
    for key, entry in children.items():
        if _is_entry(entry):
            flat[key] = entry
        elif isinstance(entry, dict):
            for cid, child in entry.items():
                if _is_entry(child):
                    value = child["value"] if "children" in child["value"] else {**child["value"], "children": key}
                    flat[cid] = {**child, "value": value}
    return flat


def nested_children(children: dict[str, Any]) -> dict[str, Any]:
    """The nested form a value carries on the wire (INTEROP §5) of flat `{childId: {value, identity?}}`."""
    nested: dict[str, Any] = {}
    for cid, entry in children.items():
        name = entry.get("value", {}).get("children", "") if isinstance(entry, dict) else ""
        nested.setdefault(str(name), {})[cid] = entry
    return nested
