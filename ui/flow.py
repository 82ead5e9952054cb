"""One protocol flow out of a message log, for the sequence chart.

A flow starts at a request (a selected response leads back to its request) and lasts until that
request's final answer. It holds the messages of that span that concern the same object, plus
the answers to every request it holds. Each message appears once, at its first sighting (the
runtime that sent it); lifelines are hyperties, Sync Managers and Message Nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ui.models.log_row import CODE, ID, KIND, RESOURCE, SENDER, TO, TS, TYPE, LogRow, message_of
from ui.naming import MN_PREFIX, REGISTRY_PREFIX, RUNTIME_PREFIX, Namer, object_of, runtime_of

#: Longest span of a flow whose final answer never came.
MAX_SPAN = 10.0

#: Where an object's own addresses live: object URL → (reporter hyperty URL, reporter runtime URL).
ReporterOf = Callable[[str], "tuple[str, str] | None"]


@dataclass
class Arrow:
    row: int          # index of the message's event in the log
    source: str       # lifeline ids
    target: str
    label: str


@dataclass
class Chart:
    lifelines: list[tuple[str, str]]   # (id, label) in order of appearance
    arrows: list[Arrow]


def _key(row: LogRow) -> tuple[Any, ...]:
    return row[TYPE], row[SENDER], row[TO], row[ID], row[CODE]


def _objects_of(row: LogRow) -> set[str]:
    found = {object_of(row[SENDER]), object_of(row[TO]), object_of(row[RESOURCE])}
    if row[TYPE] in ("subscribe", "unsubscribe"):  # node subscriptions name their addresses in `resources`
        body = message_of(row).get("body")
        resources = body.get("resources") if isinstance(body, dict) else None
        for address in resources if isinstance(resources, list) else []:
            if isinstance(address, str):
                found.add(object_of(address))
    found.discard("")
    return found


def _is_message(row: LogRow) -> bool:
    return row[KIND] == "message"


def flow_rows(rows: Sequence[LogRow], seed: int, max_span: float = MAX_SPAN) -> list[int]:
    """Indexes into `rows` of the messages of the flow that `rows[seed]` belongs to."""
    if not 0 <= seed < len(rows) or not _is_message(rows[seed]):
        return []
    first = rows[seed]
    if first[TYPE] == "response":
        for i in range(seed - 1, -1, -1):
            other = rows[i]
            if first[TS] - other[TS] > max_span:
                break
            if (_is_message(other) and other[TYPE] != "response" and other[SENDER] == first[TO]
                    and other[ID] == first[ID]):
                seed, first = i, other
                break
    objects = _objects_of(first)
    start_ts = first[TS]
    end_ts = start_ts + max_span
    for i in range(seed + 1, len(rows)):
        other = rows[i]
        if other[TS] > end_ts:
            break
        if (_is_message(other) and other[TYPE] == "response" and other[TO] == first[SENDER]
                and other[ID] == first[ID] and (other[CODE] or 0) >= 200):
            end_ts = other[TS]
            break
    # Ordinary traffic on the object (updates, children) is not part of another flow.
    quiet = first[TYPE] != "update" and "/children/" not in first[TO]
    requests = {(first[SENDER], first[ID])}
    seen = {_key(first)}
    out = [seed]
    for i in range(seed + 1, len(rows)):
        other = rows[i]
        if other[TS] > end_ts:
            break
        if not _is_message(other):
            continue
        key = _key(other)
        if key in seen:
            continue
        if other[TYPE] == "response":
            if (other[TO], other[ID]) not in requests:
                continue
        else:
            if quiet and (other[TYPE] == "update" or "/children/" in other[TO]):
                continue
            if not objects or not (_objects_of(other) & objects):
                continue
            requests.add((other[SENDER], other[ID]))
        seen.add(key)
        out.append(i)
    return out


class Lifelines:
    """Maps addresses to lifelines (hyperty, runtime SM or component, Message Node)."""

    def __init__(self, namer: Namer, reporter_of: ReporterOf) -> None:
        self.namer = namer
        self.reporter_of = reporter_of

    def of(self, address: str, mtype: str, sending: bool) -> tuple[str, str]:
        if address.startswith("hyperty://"):
            base = address.split("#", 1)[0]
            return "h:" + base, self.namer.short(base)
        if address.startswith(RUNTIME_PREFIX):
            runtime = runtime_of(address) or address
            ident = runtime.rsplit("/", 1)[-1]
            component = address[len(runtime):].strip("/")
            if component in ("sm", ""):
                return "sm:" + runtime, f"{ident} SM"
            return f"rt:{runtime}/{component}", f"{ident} {component}"
        if address.startswith(MN_PREFIX) or address.startswith(REGISTRY_PREFIX):
            prefix = MN_PREFIX if address.startswith(MN_PREFIX) else REGISTRY_PREFIX
            domain = address[len(prefix):].split("/", 1)[0]
            return "mn:" + domain, f"MN {domain}"
        obj = object_of(address)
        if obj:
            rest = address[len(obj):]
            if rest.startswith("/changes") or rest.startswith("/children/"):
                domain = obj.split("://", 1)[1].split("/", 1)[0]
                return "mn:" + domain, f"MN {domain}"
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


def build_chart(rows: Sequence[LogRow], seed: int, lifelines: Lifelines) -> Chart:
    order: dict[str, str] = {}
    arrows = []
    for i in flow_rows(rows, seed):
        row = rows[i]
        source = lifelines.of(row[SENDER], row[TYPE], True)
        target = lifelines.of(row[TO], row[TYPE], False)
        order.setdefault(*source)
        order.setdefault(*target)
        label = f"{row[TYPE]}{'' if row[CODE] is None else ' ' + str(row[CODE])}"
        arrows.append(Arrow(i, source[0], target[0], label))
    return Chart(list(order.items()), arrows)
