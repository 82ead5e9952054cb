"""What the node reads off a frame or an envelope before it acts on it: its size on the wire, the
address list of an MN (un)subscribe, the header of a message refused whole, a transfer acceptance."""

from __future__ import annotations

from typing import Any

import orjson

from core.protocol import address as addr
from core.protocol.message import Message


def resources_of(body: dict[str, Any], mtype: str) -> tuple[list[str], str | None]:
    """The address list of an MN (un)subscribe: `resources`, or one alias of PROTOCOL §1.5 / §7 #5."""
    forms = []
    if "resources" in body:
        forms.append(body["resources"])
    if mtype in body:
        forms.append(body[mtype])
    if "resource" in body:
        resource = body["resource"]
        names = body.get("childrenResources", [])
        if not isinstance(resource, str) or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return [], "bad resource or childrenResources"
        forms.append([resource, *(addr.children(resource, n) for n in names)])
    if not forms:
        return [], "missing resources"
    if mtype == "unsubscribe" and len(forms) == 2 and "resource" in body and "resources" in body \
            and isinstance(forms[0], list):
        # INTEROP §2: reTHINK's observer sends both; their union, where `resource: O` also names O's
        # change channel (an observer never holds O itself, DECISIONS.md)
        forms = [[*forms[0], *forms[1], addr.changes(body["resource"])]]
    if len(forms) > 1:
        return [], "give resources in one form only"
    resources = forms[0]
    if not isinstance(resources, list) or not resources or not _all_addresses(resources):
        return [], "resources must be a non-empty list of addresses"
    return resources, None


def _all_addresses(items: list[Any]) -> bool:
    """Every item is a non-empty string."""
    try:
        "".join(items)      # a TypeError unless each is a str: checked in C, not item by item in Python
    except TypeError:
        return False
    return all(items)


def wire_size(frame: bytes | str) -> int:
    """Size in bytes as it crossed the wire (UTF-8); `isascii` is O(1) on str, so ASCII text is free."""
    if isinstance(frame, bytes) or frame.isascii():
        return len(frame)
    return len(frame.encode())


def acceptance(msg: Message) -> tuple[str, str] | None:
    """(runtime, token) when `msg` is a runtime accepting a transfer (PROTOCOL §4 #4: its SM to
    `O/subscription`, `create {delegate, delegationToken, runtime}`), else None."""
    if msg["type"] != "create":
        return None
    body = msg.get("body", {})
    runtime, token = body.get("runtime"), body.get("delegationToken")
    if (not msg["to"].endswith(addr.SUBSCRIPTION) or "delegate" not in body
            or not isinstance(runtime, str) or not isinstance(token, str) or not token
            or msg["from"] != addr.sm_of(runtime)):
        return None
    return runtime, token


def header(msg: Any) -> dict[str, Any] | None:
    """`id`, `type`, `from`, `to` of a parsed message refused whole (to answer it, and trace it small)."""
    if not isinstance(msg, dict):
        return None
    return {k: msg.get(k) for k in ("id", "type", "from", "to")}


def peek(frame: bytes | str) -> dict[str, Any] | None:
    """Read `id`, `from`, `to`, `type` of an oversize frame when it parses (to answer 413)."""
    try:
        msg = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(msg, dict):
        return None
    return {k: msg.get(k) for k in ("id", "type", "from", "to")}
