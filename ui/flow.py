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

from core.monitor import TraceEvent
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


def _code(msg: dict[str, Any]) -> int | None:
    body = msg.get("body")
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _key(msg: dict[str, Any]) -> tuple[Any, ...]:
    return msg.get("type"), msg.get("from"), msg.get("to"), msg.get("id"), _code(msg)


def _objects_of(msg: dict[str, Any]) -> set[str]:
    found = {object_of(str(msg.get("from", ""))), object_of(str(msg.get("to", "")))}
    body = msg.get("body")
    if isinstance(body, dict):
        if isinstance(body.get("resource"), str):
            found.add(object_of(body["resource"]))
        for address in body.get("resources", []) if isinstance(body.get("resources"), list) else []:
            if isinstance(address, str):
                found.add(object_of(address))
    found.discard("")
    return found


def _is_message(event: TraceEvent) -> bool:
    return event.kind == "message" and isinstance(event.message, dict)


def flow_rows(rows: Sequence[TraceEvent], seed: int, max_span: float = MAX_SPAN) -> list[int]:
    """Indexes into `rows` of the messages of the flow that `rows[seed]` belongs to."""
    if not 0 <= seed < len(rows) or not _is_message(rows[seed]):
        return []
    msg = rows[seed].message or {}
    if msg.get("type") == "response":
        for i in range(seed - 1, -1, -1):
            other = rows[i].message or {}
            if (_is_message(rows[i]) and other.get("type") != "response" and other.get("from") == msg.get("to")
                    and other.get("id") == msg.get("id")):
                seed, msg = i, other
                break
    objects = _objects_of(msg)
    start_ts = rows[seed].ts
    end_ts = start_ts + max_span
    for i in range(seed + 1, len(rows)):
        other = rows[i].message or {}
        if (_is_message(rows[i]) and other.get("type") == "response" and other.get("to") == msg.get("from")
                and other.get("id") == msg.get("id") and (_code(other) or 0) >= 200):
            end_ts = rows[i].ts
            break
    # Ordinary traffic on the object (updates, children) is not part of another flow.
    quiet = msg.get("type") != "update" and "/children/" not in str(msg.get("to", ""))
    requests = {(msg.get("from"), msg.get("id"))}
    seen = {_key(msg)}
    out = [seed]
    for i in range(seed + 1, len(rows)):
        event = rows[i]
        if event.ts > end_ts:
            break
        if not _is_message(event):
            continue
        other = event.message or {}
        key = _key(other)
        if key in seen:
            continue
        if other.get("type") == "response":
            if (other.get("to"), other.get("id")) not in requests:
                continue
        else:
            mine = _objects_of(other)
            if not objects or not (mine & objects):
                continue
            if quiet and (other.get("type") == "update" or "/children/" in str(other.get("to", ""))):
                continue
            requests.add((other.get("from"), other.get("id")))
        seen.add(key)
        out.append(i)
    return out


class Lifelines:
    """Maps addresses to lifelines (hyperty, runtime SM or component, Message Node)."""

    def __init__(self, namer: Namer, reporter_of: ReporterOf) -> None:
        self.namer = namer
        self.reporter_of = reporter_of

    def of(self, address: str, msg: dict[str, Any], sending: bool) -> tuple[str, str]:
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
                to_hyperty = rest == "" and ((sending and msg.get("type") == "update")
                                             or (not sending and msg.get("type") != "response"))
                if to_hyperty:
                    return "h:" + hyperty, self.namer.short(hyperty)
                return "sm:" + runtime, f"{runtime.rsplit('/', 1)[-1]} SM"
            return "o:" + obj, self.namer.short(obj)
        return "x:" + address, address


def build_chart(rows: Sequence[TraceEvent], seed: int, lifelines: Lifelines) -> Chart:
    order: dict[str, str] = {}
    arrows = []
    for i in flow_rows(rows, seed):
        msg = rows[i].message or {}
        source = lifelines.of(str(msg.get("from", "")), msg, True)
        target = lifelines.of(str(msg.get("to", "")), msg, False)
        order.setdefault(*source)
        order.setdefault(*target)
        code = _code(msg)
        label = f"{msg.get('type')}{'' if code is None else ' ' + str(code)}"
        arrows.append(Arrow(i, source[0], target[0], label))
    return Chart(list(order.items()), arrows)
