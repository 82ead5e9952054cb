"""The application's loop schedules as asyncio does (ready callbacks in order, timers by deadline,
cancelled timers dropped) with two Qt timers in all; the collector pacing freezes the survivors
of a full collection and gives them back when stopped."""

from __future__ import annotations

import asyncio
import gc

from PySide6.QtWidgets import QApplication

from ui import app as app_module
from ui.app import SharedLoop
from ui.collector import CollectorPacing


async def test_callbacks_run_in_order_and_timers_by_deadline() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, SharedLoop)
    seen: list[str] = []
    done = loop.create_future()
    loop.call_later(0.03, seen.append, "late")
    loop.call_later(0.01, seen.append, "early")
    for name in ("a", "b", "c"):
        loop.call_soon(seen.append, name)
    loop.call_later(0.05, done.set_result, None)
    await done
    assert seen == ["a", "b", "c", "early", "late"]
    started = loop.time()
    await asyncio.sleep(0.02)
    assert 0.02 <= loop.time() - started < 0.5


async def test_timers_due_at_the_same_time_run_in_the_order_they_were_set() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, SharedLoop)
    seen: list[int] = []
    when = loop.time() + 0.01
    for n in range(50):
        loop.call_at(when, seen.append, n)
    done = loop.create_future()
    loop.call_at(when + 0.01, done.set_result, None)
    await done
    assert seen == list(range(50))


async def test_cancelled_timers_never_run_and_are_swept() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, SharedLoop)
    ran: list[int] = []
    handles = [loop.call_later(60.0, ran.append, n) for n in range(3 * app_module.SWEEP_MIN)]
    kept = len(loop._heap)
    for handle in handles:
        handle.cancel()
    assert len(loop._heap) < kept - 2 * app_module.SWEEP_MIN  # more than half cancelled: swept at once
    soon = loop.call_later(0.001, ran.append, -1)
    soon.cancel()
    await asyncio.sleep(0.01)
    assert ran == []


def test_the_collector_pacing_freezes_what_survived_a_full_collection(qapp: QApplication) -> None:
    pacing = CollectorPacing(thaw_every=3600)
    try:
        gc.collect()
        pacing.check()
        assert pacing.full_collections >= 1 and pacing.freezes == 1
        assert gc.get_freeze_count() > 0
        pacing.check()
        assert pacing.freezes == 1  # nothing new since
    finally:
        pacing.stop()
    assert gc.get_freeze_count() == 0
