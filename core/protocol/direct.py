"""Direct application of the set and remove forms of PROTOCOL §3.3.1, with their §3.3.2 event.

The same document, event and `ChangeError` as `changes.apply_update` followed by
`changes.update_events` for these two forms, without operation dicts, pointers or an undo journal:
the path is walked once, nothing changes before the one assignment, so all or none holds by
construction. The attribute of a body is parsed once per message, not once per replica (`plan_of`
keeps the plans of the bodies it saw lately): every replica of a runtime is handed the same message,
one after the other, and in the lab every runtime of a fan-out the same read-only one. Every other
form (arrays, Patch) returns no plan and takes the general path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.protocol.changes import ChangeError, Path, _copy, _index, field_of, parse_attribute

#: The plan of a set or remove body: (apply, segments, field, value, mutable, version, source,
#: lastModified). `apply` is `apply_set` or `apply_remove`; `mutable`: the value is a container, so
#: each replica gets a copy of its own (an immutable scalar is shared as it is); `version` is None
#: unless an integer; `source` is the sender (`source`, or reTHINK's `subscriber`, INTEROP §1);
#: `lastModified` is MISSING when the body has none.
Plan = tuple["Applier", Path, str, Any, bool, "int | None", Any, Any]
Applier = Callable[[Any, Path, str, Any, bool], tuple[str, str, str, Any]]

MISSING: Any = object()

#: segments of the string attributes seen lately (one runtime per message when each holds one replica)
_parsed: dict[str, tuple[Path, str]] = {}
PARSED_MAX = 4096

#: id → (body, its plan) of the bodies asked about lately: a lab runtime handed its frames of a turn
#: together (core.net.memory) asks about each of them in turn. Few, as the memo keeps them alive.
_plans: dict[int, tuple[Any, Plan | None]] = {}
PLANS_MAX = 32


def plan_of(b: Any) -> Plan | None:
    """The plan of a set or remove body `b`, None for any other form (or a malformed attribute, whose
    error the general path raises). Bodies are not changed once sent (decision 74; a shared one
    cannot be, decision 78), so the plan of a body asked about lately is reused while the same body
    object comes again (the memo holds it: its identity cannot be taken by another)."""
    seen = _plans.get(id(b))
    if seen is not None and seen[0] is b:
        return seen[1]
    plan: Plan | None = None
    if isinstance(b, dict) and "attribute" in b and b.get("attributeType") != "array":
        attribute = b["attribute"]
        parsed = _parsed.get(attribute) if type(attribute) is str else None
        if parsed is None:
            try:
                segments = parse_attribute(attribute)
            except ChangeError:
                segments = []
            parsed = (segments, field_of(segments))
            if segments and type(attribute) is str:
                if len(_parsed) >= PARSED_MAX:
                    _parsed.clear()
                _parsed[attribute] = parsed
        segments, field = parsed
        if segments:
            version = b.get("version")
            if not isinstance(version, int) or isinstance(version, bool):
                version = None
            source = b["source"] if "source" in b else b.get("subscriber")
            modified = b.get("lastModified", MISSING)
            if "value" in b:
                value = b["value"]
                setter = apply_set if len(segments) > 1 else apply_set_top
                plan = (setter, segments, field, value, isinstance(value, (dict, list)), version, source, modified)
            else:
                plan = (apply_remove, segments, field, None, False, version, source, modified)
    if len(_plans) >= PLANS_MAX:
        _plans.clear()
    _plans[id(b)] = (b, plan)
    return plan


def _unresolved(segments: Path) -> ChangeError:
    return ChangeError(f"path {field_of(segments)!r} does not resolve")


def apply_set(doc: Any, segments: Path, field: str, value: Any, mutable: bool) -> tuple[str, str, str, Any]:
    """Set `segments` to a copy of `value` in `doc` (missing intermediate objects are created,
    PROTOCOL §3.3.1); returns (cType, oType, field, data) of its event."""
    node = doc
    last = len(segments) - 1
    for depth in range(last):
        seg = segments[depth]
        if isinstance(node, dict):
            nxt = node.get(seg, MISSING)
            if nxt is MISSING or not isinstance(nxt, (dict, list)):
                nested: Any = value
                for key in reversed(segments[depth + 1:]):
                    nested = {key: nested}
                node[seg] = _copy(nested)
                return "add", "object", field_of(segments[: depth + 1]), nested
            node = nxt
        elif isinstance(node, list):
            node = node[_index(seg, len(node), allow_end=False)]
        else:
            raise _unresolved(segments)
    key = segments[last]
    if isinstance(node, dict):
        ctype = "update" if key in node else "add"
        node[key] = _copy(value) if mutable else value
        return ctype, "object", field, value
    if isinstance(node, list):
        i = _index(key, len(node), allow_end=True)
        copied = _copy(value) if mutable else value
        if i < len(node):
            node[i] = copied
            return "update", "array", field, value
        node.append(copied)
        return "add", "array", field, value
    raise _unresolved(segments)


def apply_set_top(doc: Any, segments: Path, field: str, value: Any, mutable: bool) -> tuple[str, str, str, Any]:
    """`apply_set` of a one-segment path (the most common edit: a top-level key)."""
    if not isinstance(doc, dict):
        return apply_set(doc, segments, field, value, mutable)
    key = segments[0]
    ctype = "update" if key in doc else "add"
    doc[key] = _copy(value) if mutable else value
    return ctype, "object", field, value


def apply_remove(doc: Any, segments: Path, field: str, _value: Any = None, _mutable: bool = False
                 ) -> tuple[str, str, str, Any]:
    """Remove `segments` from `doc`; returns (cType, oType, field, data) of its event."""
    node = doc
    last = len(segments) - 1
    for depth in range(last):
        seg = segments[depth]
        if isinstance(node, dict):
            if seg not in node:
                raise _unresolved(segments)
            node = node[seg]
        elif isinstance(node, list):
            node = node[_index(seg, len(node), allow_end=False)]
        else:
            raise _unresolved(segments)
    key = segments[last]
    if isinstance(node, dict):
        if key not in node:
            raise _unresolved(segments)
        del node[key]
        return "remove", "object", field, None
    if isinstance(node, list):
        del node[_index(key, len(node), allow_end=False)]
        return "remove", "array", field, None
    raise _unresolved(segments)


def apply_plan(doc: Any, plan: Plan) -> tuple[str, str, str, Any]:
    """Apply a plan to `doc` in place; (cType, oType, field, data) of its event."""
    return plan[0](doc, plan[1], plan[2], plan[3], plan[4])
