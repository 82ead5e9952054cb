"""The envelope (PROTOCOL §2): validation, responses and codes."""

from __future__ import annotations

from typing import Any

from core.protocol.frozen import UNCHECKED, FrozenDict

Message = dict[str, Any]

#: PROTOCOL §2.1; `open`, `close`, `event` only on links to `mn:/…` (TRANSPORT §2, §4).
TYPES = frozenset(
    {"create", "read", "update", "delete", "subscribe", "unsubscribe", "response", "forward", "execute"}
)
LINK_TYPES = frozenset({"open", "close", "event", "re-open"})   # re-open: reTHINK's stub (INTEROP §1)

#: What is never answered (PROTOCOL §1.5): publications and responses.
UNANSWERED = frozenset({"update", "delete", "response"})
#: Largest `id` accepted: ids are bus counters, so anything beyond 2**53 is malformed (JSON-safe ints).
MAX_ID = 2**53

REASONS = {
    100: "in progress",
    200: "ok",
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    408: "Response timeout!",
    409: "conflict",
    413: "message too large",
    429: "limit reached",
    500: "internal error",
    503: "object in delegation",
}


class SyncError(Exception):
    """A non-2xx protocol answer (or a 408 timeout) to an operation; carries `code` and `description`."""

    def __init__(self, code: int, description: str, response: Message | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.response = response


def envelope_error(msg: Any, link: bool = False) -> str | None:
    """Why `msg` is not a valid envelope (PROTOCOL §2.1, §6 `missing <field>`), or None if it is."""
    if type(msg) is FrozenDict and not link:
        # a read-only message shared by the receivers of one fan-out (core.net.memory): its content
        # cannot change, so the first receiver's check is every receiver's check
        verdict = getattr(msg, "verdict", UNCHECKED)
        if verdict is UNCHECKED:
            verdict = msg.verdict = _envelope_error(msg, False)
        return verdict  # type: ignore[no-any-return]
    return _envelope_error(msg, link)


def _envelope_error(msg: Any, link: bool) -> str | None:
    if not isinstance(msg, dict):
        return "message is not a JSON object"
    for field in ("id", "type", "from", "to"):
        if field not in msg or msg[field] is None or msg[field] == "":
            return f"missing {field}"
    if not _good_id(msg["id"]):
        return "bad id"
    mtype = msg["type"]
    if not isinstance(mtype, str) or (mtype not in TYPES and not (link and mtype in LINK_TYPES)):
        return "unknown type"
    if not isinstance(msg["from"], str) or not isinstance(msg["to"], str):
        return "bad address"
    body = msg.get("body", {})
    if not isinstance(body, dict):
        return "body is not an object"
    return None


def _good_id(ident: Any) -> bool:
    """PROTOCOL §2.3: a positive integer (≤ MAX_ID). Ids are compared as `str(id)`, so the decimal string
    of such an integer (as sent by JS runtimes) is the same id; any other string is not an id."""
    if isinstance(ident, str):
        if not (ident.isascii() and ident.isdigit()) or len(ident) > len(str(MAX_ID)):
            return False
        ident = int(ident)
    return isinstance(ident, int) and not isinstance(ident, bool) and 0 < ident <= MAX_ID


def body(msg: Message) -> dict[str, Any]:
    b = msg.get("body")
    return b if isinstance(b, dict) else {}


def code_of(msg: Message) -> int:
    b = msg.get("body")   # `body(msg)`, inline: every answer's code is read two or three times
    c = b.get("code", 0) if isinstance(b, dict) else 0
    return c if isinstance(c, int) and not isinstance(c, bool) else 0


def description_of(msg: Message) -> str:
    """The reason of a response; `desc` is accepted for `description` (PROTOCOL §2.2, §7 #4)."""
    b = body(msg)
    d = b.get("description")
    if d is None:
        d = b.get("desc")
    return "" if d is None else d if isinstance(d, str) else str(d)


def response(request: Message, code: int, description: str | None = None, **fields: Any) -> Message:
    """The answer to `request` (PROTOCOL §2.3): same id, from/to swapped."""
    b: dict[str, Any] = {"code": code}
    if description is not None:
        b["description"] = description
    elif code >= 300:
        b["description"] = REASONS.get(code, "error")
    b.update(fields)
    return {"id": request["id"], "type": "response", "from": request["to"], "to": request["from"], "body": b}


def is_request(msg: Message) -> bool:
    return msg.get("type") != "response"


def correlation(address: Any, ident: Any) -> str:
    """Callback key `from|id` of PROTOCOL §2.3 (ids compared as strings)."""
    return f"{address}|{ident}"
