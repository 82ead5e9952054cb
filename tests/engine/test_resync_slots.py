"""Resync slots: at most `limit` reads at once, turns in order, no task for an observer that waits."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path

from core.lab import Lab
from core.schemas import COMM_SCHEMA
from core.sync.resync_slots import ResyncSlots, Slot
from tests.conftest import FAST


async def test_turns_are_taken_in_order_and_declined_ones_pass_on() -> None:
    slots = ResyncSlots(2)
    started: list[str] = []

    def start(name: str, take: bool = True) -> Callable[[], bool]:
        def begin() -> bool:
            started.append(name)
            return take
        return begin

    for name, take in (("a", True), ("b", True), ("c", False), ("d", True), ("e", True)):
        slots.when_free(start(name, take))
    assert (started, slots.free, len(slots)) == (["a", "b"], 0, 3)
    slots.release()                       # c declines: the slot goes straight on to d
    assert (started, slots.free, len(slots)) == (["a", "b", "c", "d"], 0, 1)
    slots.release()
    slots.release()
    assert (started, slots.free, len(slots)) == (["a", "b", "c", "d", "e"], 1, 0)


async def test_a_cancelled_waiter_gives_its_turn_on() -> None:
    slots = ResyncSlots(1)
    held = Slot(slots)
    slots.free = 0                        # `held` has the one slot
    waiter = asyncio.create_task(slots.acquire())
    second = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    held.give_back()
    held.give_back()                      # once only
    await asyncio.wait_for(second, 1.0)
    assert (slots.free, len(slots)) == (0, 0)
    # handed over, then cancelled before it ran: the slot is not lost
    third = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    slots.release()                       # `second`'s slot: hands it to third's turn
    third.cancel()
    await asyncio.gather(third, return_exceptions=True)
    assert (slots.free, len(slots)) == (1, 0)


async def test_observers_waiting_for_a_resync_after_a_resume_hold_no_task(tmp_path: Path) -> None:
    async with Lab(storage_dir=tmp_path, timers=dataclasses.replace(FAST, resync_reads=2)) as lab:
        rt_a, rt_b = await lab.runtime("a.example"), await lab.runtime("b.example")
        alice, bob = await rt_a.hyperty("alice"), await rt_b.hyperty("bob")
        chats = [await alice.syncher.create(COMM_SCHEMA, data={"i": i}, observers=[bob.url]) for i in range(8)]
        for chat in chats:
            await bob.syncher.subscribe(chat.url, COMM_SCHEMA, store=True)
        await lab.settle()
        await rt_b.restart()
        observers = list(bob.syncher.observers.values())
        running = [o for o in observers if o._resync_task is not None]
        assert (len(running), len(rt_b.resync_slots), len(rt_b.healing)) == (2, 6, 8)
        assert all(o.healing for o in observers)
        await observers[-1].resync()      # waits its turn, then its read
        assert observers[-1].resyncs == 1 and not observers[-1].healing
        await lab.settle()
        assert [o.status for o in observers] == ["live"] * 8 and rt_b.resync_slots.free == 2
        assert sorted(o.data["i"] for o in observers) == list(range(8))
