"""One row of the message log: a trace event's envelope fields, and the event as its JSON line.

A row is a plain tuple of strings and numbers. The garbage collector stops tracking such a tuple
at its first collection, so the 50,000 rows of a full log add nothing to a full collection and do
not bring the next one closer. (Rows as class instances stay tracked: under a stress run 8,000
new rows a second brought a 250–400 ms full collection every few seconds.) The names below are
its fields; `message_of` and `event_of` read the JSON line back.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from core.monitor import TraceEvent
from core.protocol.encoded import as_fragment
from ui.naming import object_of

TS: Final = 0
KIND: Final = 1
WHERE: Final = 2
DIRECTION: Final = 3
TYPE: Final = 4
SENDER: Final = 5
TO: Final = 6
ID: Final = 7
CODE: Final = 8
RESOURCE: Final = 9
RAW: Final = 10

#: (ts, kind, where, direction, type, from, to, id, code or None, body.resource, the trace event as
#: one JSON line without its newline)
LogRow = tuple[float, str, str, str, str, str, str, str, "int | None", str, str]


def _text(value: Any) -> str:
    return value if type(value) is str else ("" if value is None else str(value))


def log_row(event: TraceEvent) -> LogRow:
    # Made for every message the console sees (8,000 a second under a stress run): the fields are
    # read once, and the JSON line is TraceEvent.to_dict's, built here without a second call.
    msg = event.message
    kind, where, direction = event.kind, event.where, event.direction
    line: dict[str, Any] = {"kind": kind, "ts": event.ts, "where": where}
    if direction is not None:
        line["direction"] = direction
    if msg is None:
        msg = {}
    else:
        line["message"] = msg
    if event.detail:
        line.update(event.detail)
    body = msg.get("body")
    code = resource = None
    if isinstance(body, dict):
        code = body.get("code")
        resource = body.get("resource")
    mtype, sender, to, ident = msg.get("type"), msg.get("from"), msg.get("to"), msg.get("id")
    return (event.ts, kind, where,
            "drop" if kind == "drop" else (direction if type(direction) is str else _text(direction)),
            mtype if type(mtype) is str else _text(mtype), sender if type(sender) is str else _text(sender),
            to if type(to) is str else _text(to), ident if type(ident) is str else _text(ident),
            code if type(code) is int else None, resource if type(resource) is str else "",
            # Text, not bytes: orjson's bytes keep their 4 KB output buffer, a str is the text's size. (A
            # resume answer may carry stored documents still as their text: written out as they are.)
            orjson.dumps(line, default=as_fragment).decode())


def size_of(row: LogRow) -> int:
    """The envelope's size in bytes, as JSON (worked out when shown: most rows never are)."""
    return len(orjson.dumps(message_of(row)))


def event_of(row: LogRow) -> TraceEvent:
    return TraceEvent.from_dict(orjson.loads(row[RAW]))


def message_of(row: LogRow) -> dict[str, Any]:
    return orjson.loads(row[RAW]).get("message") or {}


def concerns(row: LogRow, url: str) -> bool:
    """The message is addressed from or to the object `url` (or one of its sub-addresses)."""
    return url in (object_of(row[TO]), object_of(row[SENDER]))


def identity(row: LogRow) -> tuple[Any, ...]:
    """What makes a message itself at every hop: type, sender, id and resource (a response: sender,
    recipient, id and code)."""
    if row[TYPE] == "response":
        return "response", row[SENDER], row[TO], row[ID], row[CODE]
    return row[TYPE], row[SENDER], row[ID], row[RESOURCE]
