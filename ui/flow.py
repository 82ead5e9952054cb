"""One message's journey out of a message log, for the sequence chart and "filter the log to this flow".

A message is known by its identity — type, sender, id and resource (a response: sender, recipient,
id and code) — so every sighting of it (the sender's runtime bus, the node, each receiving runtime)
is the same message, wherever the selected row was seen. A flow starts at a request (a selected
response leads back to its request) and holds:

- every sighting of that request and of every answer to it;
- for a request that is not a publication, the requests it caused on the same object: those made
  on behalf of the same hyperty (`source`, `subscriber`, a forward's `from`) or sent by a component
  the flow already reached (the Sync Manager that took a subscribe asks the node for its
  subscription), until the request's final answer — and their answers, with all their sightings.

An update, a delete or a child's create is a publication: its flow is that one message fanned out
to every observer, never the traffic that follows it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ui.models.log_row import (
    CODE,
    ID,
    KIND,
    RAW,
    RESOURCE,
    SENDER,
    TO,
    TS,
    TYPE,
    WHERE,
    LogRow,
    identity,
    message_of,
)
from ui.naming import MN_PREFIX, REGISTRY_PREFIX, RUNTIME_PREFIXES, Namer, object_of, runtime_label, runtime_of

#: Longest span of a flow whose final answer never came.
MAX_SPAN = 10.0
#: Longest time between two sightings of one message (a faulty link may delay it that long).
MAX_HOP = 5.0
#: Messages that are published to observers, not answered by a chain of requests.
PUBLICATIONS = frozenset({"update", "delete"})

#: Where an object's own addresses live: object URL → (reporter hyperty URL, reporter runtime URL).
ReporterOf = Callable[[str], "tuple[str, str] | None"]

Identity = tuple[Any, ...]


@dataclass
class Arrow:
    row: int          # index of the sighting's event in the log
    source: str       # lifeline ids
    target: str
    label: str
    delay: float = 0.0  # seconds since the flow's first sighting


@dataclass
class Chart:
    lifelines: list[tuple[str, str]]   # (id, label) in order of appearance
    arrows: list[Arrow]


def _is_message(row: LogRow) -> bool:
    return row[KIND] in ("message", "drop")


def _objects_of(row: LogRow, body: Any = None) -> set[str]:
    found = {object_of(row[SENDER]), object_of(row[TO]), object_of(row[RESOURCE])}
    if row[TYPE] in ("subscribe", "unsubscribe"):  # node subscriptions name their addresses in `resources`
        if body is None:
            body = message_of(row).get("body")
        resources = body.get("resources") if isinstance(body, dict) else None
        for address in resources if isinstance(resources, list) else []:
            if isinstance(address, str):
                found.add(object_of(address))
    found.discard("")
    return found


def _acting_for(row: LogRow, msg: dict[str, Any]) -> str:
    """The hyperty a request is made on behalf of, when it names one other than its sender."""
    body = msg.get("body")
    if not isinstance(body, dict):
        return ""
    for key in ("source", "subscriber"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    if row[TYPE] == "forward" and isinstance(body.get("from"), str):
        return str(body["from"])
    return ""


def first_sighting(rows: Sequence[LogRow], seed: int) -> int:
    """The earliest row showing the same message as `rows[seed]`."""
    mine = identity(rows[seed])
    earliest = rows[seed][TS] - MAX_HOP
    found = seed
    for i in range(seed - 1, -1, -1):
        other = rows[i]
        if other[TS] < earliest:
            break
        if _is_message(other) and identity(other) == mine:
            found = i
    return found


def _request_of(rows: Sequence[LogRow], answer: int) -> int:
    """The row of the request `rows[answer]` answers (itself when it is not in the log)."""
    first = rows[answer]
    for i in range(answer - 1, -1, -1):
        other = rows[i]
        if first[TS] - other[TS] > MAX_SPAN:
            break
        if (_is_message(other) and other[TYPE] != "response" and other[SENDER] == first[TO]
                and other[ID] == first[ID]):
            return first_sighting(rows, i)
    return answer


def _caused(row: LogRow) -> bool:
    """A request that a request before it may have caused (not a publication, an answer or children)."""
    return row[TYPE] != "response" and row[TYPE] not in PUBLICATIONS and "/children/" not in row[TO]


def _cause_of(rows: Sequence[LogRow], start: int) -> int:
    """The first sighting of the request that caused the request at `start` (itself when none did):
    one made by the hyperty it acts for, or one sent to the component that sent it."""
    row = rows[start]
    if not _is_message(row) or not _caused(row):
        return start
    msg = message_of(row)
    acting = _acting_for(row, msg)
    objects = _objects_of(row, msg.get("body"))
    mine = identity(row)
    for i in range(start - 1, -1, -1):
        other = rows[i]
        if row[TS] - other[TS] > MAX_SPAN:
            break
        if not _is_message(other) or not _caused(other) or identity(other) == mine:
            continue
        if acting and acting != row[SENDER]:
            if other[SENDER] != acting:
                continue
        elif other[TO] != row[SENDER] and runtime_of(other[TO]) + "/sm" != row[SENDER]:
            continue
        if not (_objects_of(other) & objects):
            continue
        cause = first_sighting(rows, i)
        if mine in _members(rows, cause):
            return cause
    return start


def flow_members(rows: Sequence[LogRow], seed: int) -> tuple[int, set[Identity]]:
    """(row of the flow's first sighting, identities of its messages) for the message of `rows[seed]`:
    the flow of the request that began the chain the message belongs to."""
    if not 0 <= seed < len(rows) or not _is_message(rows[seed]):
        return -1, set()
    start = first_sighting(rows, seed)
    if rows[start][TYPE] == "response":
        start = _request_of(rows, start)
    for _ in range(4):  # hyperty → its SM → the reporter's SM → the reporter: at most a few links up
        cause = _cause_of(rows, start)
        if cause == start:
            break
        start = cause
    return start, _members(rows, start)


def _members(rows: Sequence[LogRow], start: int) -> set[Identity]:
    root = rows[start]
    members = {identity(root)}
    requests = {(root[SENDER], root[ID])}
    end_ts = root[TS] + MAX_SPAN
    for i in range(start + 1, len(rows)):
        other = rows[i]
        if other[TS] > end_ts:
            break
        if (_is_message(other) and other[TYPE] == "response" and other[TO] == root[SENDER]
                and other[ID] == root[ID] and (other[CODE] or 0) >= 200):
            end_ts = other[TS]
            break
    publication = root[TYPE] in PUBLICATIONS or "/children/" in root[TO]
    objects = _objects_of(root)
    reached = {root[TO], runtime_of(root[TO]) + "/sm"}
    for i in range(start + 1, len(rows)):
        other = rows[i]
        if other[TS] > end_ts:
            break
        if not _is_message(other):
            continue
        mine = identity(other)
        if mine in members:
            continue
        if other[TYPE] == "response":
            if (other[TO], other[ID]) in requests:
                members.add(mine)
            continue
        # Ordinary traffic on the object (updates, children) is not caused by a request.
        if publication or other[TYPE] in PUBLICATIONS or "/children/" in other[TO]:
            continue
        msg = message_of(other)
        if not objects or not (_objects_of(other, msg.get("body")) & objects):
            continue
        acting = _acting_for(other, msg)
        if acting and acting != other[SENDER]:
            if acting != root[SENDER]:
                continue  # another hyperty's request on the same object
        elif other[SENDER] not in reached:
            continue
        members.add(mine)
        requests.add((other[SENDER], other[ID]))
        reached.add(other[TO])
    return members


def flow_rows(rows: Sequence[LogRow], seed: int) -> list[int]:
    """Indexes into `rows` of every sighting of every message of the flow `rows[seed]` belongs to."""
    start, members = flow_members(rows, seed)
    if start < 0:
        return []
    out = []
    last_ts = rows[start][TS]
    for i in range(start, len(rows)):
        row = rows[i]
        if row[TS] > last_ts + MAX_HOP:
            break
        if _is_message(row) and identity(row) in members:
            out.append(i)
            last_ts = row[TS]
    return out


class Lifelines:
    """Maps addresses to lifelines (hyperty, runtime bus, Sync Manager or component, Message Node)."""

    def __init__(self, namer: Namer, reporter_of: ReporterOf) -> None:
        self.namer = namer
        self.reporter_of = reporter_of

    @staticmethod
    def bus(runtime: str) -> tuple[str, str]:
        return "bus:" + runtime, f"{runtime_label(runtime)} bus"

    @staticmethod
    def node(domain: str) -> tuple[str, str]:
        return "mn:" + domain, f"MN {domain}"

    def of(self, address: str, mtype: str, sending: bool) -> tuple[str, str]:
        if address.startswith("hyperty://"):
            base = address.split("#", 1)[0]
            return "h:" + base, self.namer.short(base)
        if address.startswith(RUNTIME_PREFIXES):
            runtime = runtime_of(address) or address
            ident = runtime_label(runtime)
            component = address[len(runtime):].strip("/")
            if component == "sm":
                return "sm:" + runtime, f"{ident} SM"
            if component == "":
                return self.bus(runtime)
            return f"rt:{runtime}/{component}", f"{ident} {component}"
        if address.startswith(MN_PREFIX) or address.startswith(REGISTRY_PREFIX):
            prefix = MN_PREFIX if address.startswith(MN_PREFIX) else REGISTRY_PREFIX
            return self.node(address[len(prefix):].split("/", 1)[0])
        obj = object_of(address)
        if obj:
            rest = address[len(obj):]
            if rest.startswith("/changes") or rest.startswith("/children/"):
                return self.node(obj.split("://", 1)[1].split("/", 1)[0])
            owner = self.reporter_of(obj)
            if owner is not None:
                hyperty, runtime = owner
                to_hyperty = rest == "" and ((sending and mtype == "update")
                                             or (not sending and mtype != "response"))
                if to_hyperty:
                    return "h:" + hyperty, self.namer.short(hyperty)
                return "sm:" + runtime, f"{runtime.rsplit('/', 1)[-1]} SM"
            return "o:" + obj, self.namer.short(obj)
        return "x:" + address, address


def _hops(row: LogRow, event: dict[str, Any], lifelines: Lifelines) -> list[tuple[tuple[str, str], tuple[str, str],
                                                                                   str]]:
    """(source, target, note) of the arrows one sighting of a message draws."""
    where, mtype = row[WHERE], row[TYPE]
    direction = event.get("direction")
    if row[KIND] == "drop":
        here = lifelines.of(where, mtype, False)
        return [(here, here, f"dropped: {event.get('reason', '')}".rstrip(": "))]
    if direction == "fault":
        here = lifelines.of(where, mtype, False)
        return [(here, here, f"fault: {event.get('fault', '')}".rstrip(": "))]
    if where.startswith(MN_PREFIX):
        node = lifelines.node(where[len(MN_PREFIX):].split("/", 1)[0])
        session = event.get("session")
        peer = lifelines.bus(session) if isinstance(session, str) and session else lifelines.of(
            row[SENDER] if direction == "in" else row[TO], mtype, direction == "in")
        return [(peer, node, "")] if direction == "in" else [(node, peer, "")]
    if not where.startswith(RUNTIME_PREFIXES):
        here = lifelines.of(where, mtype, False)
        return [(lifelines.of(row[SENDER], mtype, True), here, "")]
    bus = lifelines.bus(runtime_of(where) or where)
    out: list[tuple[tuple[str, str], tuple[str, str], str]] = []
    if direction == "out":
        out.append((lifelines.of(row[SENDER], mtype, True), bus, ""))
    route = str(event.get("route", ""))
    if route == "listeners":
        targets: list[tuple[str, str]] = []
        for hit in event.get("hits") or []:
            kind, _, owner = str(hit).partition(":")
            if kind == "PUB" or not owner:
                continue  # published to the node: its own sighting there draws that hop
            target = lifelines.of(owner, mtype, False)
            if target not in targets and target != bus:
                targets.append(target)
        out.extend((bus, target, "") for target in targets)
    elif route == "callback":
        out.append((bus, lifelines.of(row[TO], mtype, False), ""))
    elif route and route != "egress":
        out.append((bus, bus, route))
    return out


def build_chart(rows: Sequence[LogRow], seed: int, lifelines: Lifelines) -> Chart:
    order: dict[str, str] = {}
    arrows = []
    found = flow_rows(rows, seed)
    t0 = rows[found[0]][TS] if found else 0.0
    for i in found:
        row = rows[i]
        event = orjson.loads(row[RAW])
        label = f"{row[TYPE]}{'' if row[CODE] is None else ' ' + str(row[CODE])}"
        for source, target, note in _hops(row, event, lifelines):
            order.setdefault(*source)
            order.setdefault(*target)
            arrows.append(Arrow(i, source[0], target[0], f"{label} · {note}" if note else label, row[TS] - t0))
    return Chart(list(order.items()), arrows)
