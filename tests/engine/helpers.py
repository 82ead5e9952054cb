"""Helpers for engine tests: listener sets and message sequences read from the real components."""

from __future__ import annotations

from typing import Any

from core.lab import Lab
from core.protocol import address as addr
from core.runtime.runtime import Runtime
from tests.conftest import Trace


def bus_listeners(rt: Runtime, obj: str) -> set[tuple[str, str, str]]:
    """(address, kind, owner) of every core-bus listener on an address of object `obj`."""
    return {(a, k, o) for a, k, o in rt.bus.listeners() if addr.object_of(a) == obj}


def sandbox_listeners(rt: Runtime, obj: str) -> set[tuple[str, str]]:
    """(address, hyperty) of every SB listener of `obj` in the runtime's sandboxes."""
    return {(a, o) for h in rt.hyperties.values() for a, _k, o in h.sandbox.listeners() if addr.object_of(a) == obj}


def node_subscriptions(lab: Lab, obj: str) -> dict[str, list[str]]:
    """address → runtime URLs subscribed at the object's Message Node, for addresses of `obj`."""
    table = lab.nodes[addr.authority(obj)].subscriptions.table()
    return {a: rts for a, rts in table.items() if addr.object_of(a) == obj}


def flow(trace: Trace, where: str, since: int = 0) -> list[tuple[Any, ...]]:
    """(direction, type, from, to, code) of the messages `where` sent or received, in order."""
    out = []
    for event in trace.events[since:]:
        if event.kind == "message" and event.where == where and event.message is not None:
            m = event.message
            out.append((event.direction, m["type"], m["from"], m["to"], m.get("body", {}).get("code")))
    return out


def expected_reporter_listeners(rt: Runtime, obj: str, reporter: str,
                                children: list[str]) -> set[tuple[str, str, str]]:
    """Appendix A, reporter runtime."""
    sm = rt.sm_url
    rows = {(obj, "FWD", reporter), (addr.subscription(obj), "L", sm), (addr.changes(obj), "L", sm),
            (addr.changes(obj), "PUB", rt.url)}
    for n in children:
        ch = addr.children(obj, n)
        rows |= {(ch, "L", sm), (ch, "FWD", reporter), (ch, "PUB", rt.url)}
    return rows


def expected_observer_listeners(rt: Runtime, obj: str, observers: list[str],
                                children: list[str]) -> set[tuple[str, str, str]]:
    """Appendix A, observer runtime: one L and one PUB per address, one FWD per local observer."""
    sm = rt.sm_url
    rows = {(addr.changes(obj), "L", sm)}
    for h in observers:
        rows.add((addr.changes(obj), "FWD", h))
    for n in children:
        ch = addr.children(obj, n)
        rows |= {(ch, "L", sm), (ch, "PUB", rt.url)}
        for h in observers:
            rows.add((ch, "FWD", h))
    return rows
