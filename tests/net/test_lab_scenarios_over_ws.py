"""The embedded lab's scenarios, unchanged, across real WebSocket nodes (issue 7 item 4).

Every test of the listed modules that takes only the `lab` fixture and uses nothing a network
does not have (fault injection, partitions, restarts, link objects) runs here with a `NetLab`:
reporter behind node A, observers behind node B visiting node A, and the same assertions.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAST
from tests.net.netlab import NetLab

MODULES = ("tests.engine.test_smoke", "tests.engine.test_convergence", "tests.engine.test_listeners",
           "tests.engine.test_authorisation", "tests.features.test_access",
           "tests.features.test_children", "tests.features.test_delegation")
#: What only the in-memory lab can do.
LAB_ONLY = ("faults(", "partition(", "heal(", "links", "restart(", "inflight", "short_lab", "trace")


def scenarios() -> list[Any]:
    found = []
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for attr, fn in sorted(vars(module).items()):
            if not attr.startswith("test_") or not inspect.iscoroutinefunction(fn):
                continue
            if any(word in inspect.getsource(fn) for word in LAB_ONLY):
                continue
            short = f"{name.rsplit('.', 1)[-1]}::{attr}"
            found.extend(pytest.param(fn, kwargs, id=short + label) for kwargs, label in _cases(fn))
    return found


def _cases(fn: Callable[..., Any]) -> list[tuple[dict[str, Any], str]]:
    """One call per value of a single-argument `parametrize`, or one plain call; [] otherwise."""
    params = list(inspect.signature(fn).parameters)
    marks = getattr(fn, "pytestmark", [])
    if params == ["lab"] and not marks:
        return [({}, "")]
    if len(marks) == 1 and marks[0].name == "parametrize" and params[0] == "lab" and len(params) == 2:
        argname, values = marks[0].args[0], marks[0].args[1]
        if argname == params[1]:
            return [({argname: v}, f"[{v}]") for v in values]
    return []


@pytest.fixture
async def netlab(tmp_path: Path) -> AsyncIterator[NetLab]:
    async with NetLab(storage_dir=tmp_path, timers=FAST) as lab:
        yield lab


@pytest.mark.parametrize(("scenario", "kwargs"), scenarios())
async def test_lab_scenario_over_websocket(netlab: NetLab, scenario: Callable[..., Any],
                                           kwargs: dict[str, Any]) -> None:
    await scenario(netlab, **kwargs)
    assert netlab.servers, "the scenario ran on WebSocket nodes"
