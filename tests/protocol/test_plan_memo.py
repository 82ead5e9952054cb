"""`direct.plan_of` keeps the plans of the bodies it saw lately, not only the last one: a lab runtime
handed several frames of a turn together asks about each body in turn (issue 16)."""

from __future__ import annotations

from typing import Any

from core.protocol import direct


def _body(version: int, value: Any) -> dict[str, Any]:
    return {"version": version, "attribute": "k", "value": value, "source": "hyperty://a.example/r"}


def test_the_plans_of_a_window_of_bodies_are_each_made_once() -> None:
    direct._plans.clear()   # what earlier tests left would fill the window part way (order-dependent)
    bodies = [_body(v, v) for v in range(1, 17)]
    first = [direct.plan_of(b) for b in bodies]
    again = [direct.plan_of(b) for b in bodies]   # the next replica asks about the same 16 bodies
    assert all(p is q for p, q in zip(first, again, strict=True))
    assert [p[5] for p in again if p is not None] == list(range(1, 17))
    other = _body(1, {"x": [1]})   # a body equal to none of them, but another object
    plan = direct.plan_of(other)
    assert plan is not None and plan[3] is other["value"] and plan[4] is True
