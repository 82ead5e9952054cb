"""The lab's links deliver a turn's frames by one callback, link after link, each link in order
(issue 16: as a runtime process reads what its socket holds); a frame whose handling raises is
reported to the loop and the others still arrive."""

from __future__ import annotations

import asyncio
from typing import Any

from core.lab import Lab
from core.protocol import address as addr
from core.protocol.message import Message
from core.runtime.runtime import Runtime
from core.schemas import COMM_SCHEMA
from core.sync.observer import DataObjectObserver
from core.sync.reporter import DataObjectReporter


async def _observed_twice(lab: Lab) -> tuple[DataObjectReporter, list[Runtime], list[DataObjectObserver]]:
    """A chat of alice's observed from two runtimes, one in another domain."""
    reporter = await (await lab.runtime("a.example")).hyperty("alice")
    rts = [await lab.runtime("a.example"), await lab.runtime("b.example")]
    chat = await reporter.syncher.create(COMM_SCHEMA, data={"k": 0}, name="queue")
    chat.on_subscription(lambda event: event.accept())
    observers = [await (await rt.hyperty("obs")).syncher.subscribe(chat.url, COMM_SCHEMA) for rt in rts]
    await lab.settle()
    return chat, rts, observers


async def test_a_turns_frames_arrive_link_by_link_each_in_order(lab: Lab) -> None:
    chat, rts, observers = await _observed_twice(lab)
    arrivals: list[tuple[int, int]] = []
    errors: list[dict[str, Any]] = []
    boom = RuntimeError("listener failed")

    def listener(i: int) -> Any:
        def heard(msg: Message) -> None:
            arrivals.append((i, msg["body"]["version"]))
            if i == 0 and msg["body"]["version"] == 2:
                raise boom
        return heard

    for i, rt in enumerate(rts):
        rt.bus.add_listener(addr.changes(chat.url), listener(i))
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        for value in (1, 2, 3):   # three updates in one turn: three frames for each link
            chat.data["k"] = value
        await lab.settle()
    finally:
        loop.set_exception_handler(None)
    assert arrivals == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]
    assert [e["exception"] for e in errors] == [boom]
    assert [o.version for o in observers] == [3, 3] and [o.data for o in observers] == [{"k": 3}] * 2
    assert lab.inflight.count == 0


async def test_a_long_drain_lets_the_loop_run_between_frames_and_keeps_each_links_order(
        lab: Lab, monkeypatch: Any) -> None:
    """A drain delivers for at most DRAIN_SECONDS, then what waits on the loop runs (here a callback
    the first arrival schedules) before the frames it left, which still come first and in order."""
    from core.net import memory

    chat, rts, observers = await _observed_twice(lab)
    arrivals: list[tuple[int, int]] = []
    seen_by_callback: list[list[tuple[int, int]]] = []
    loop = asyncio.get_running_loop()

    def listener(i: int) -> Any:
        def heard(msg: Message) -> None:
            arrivals.append((i, msg["body"]["version"]))
            if len(arrivals) == 1:
                loop.call_soon(lambda: seen_by_callback.append(list(arrivals)))
        return heard

    for i, rt in enumerate(rts):
        rt.bus.add_listener(addr.changes(chat.url), listener(i))
    monkeypatch.setattr(memory, "DRAIN_SECONDS", 0.0)   # every drain stops after one frame
    for value in (1, 2, 3):
        chat.data["k"] = value
    await lab.settle()
    assert seen_by_callback == [[(0, 1)]]   # one budget: the whole fan-out before the callback
    assert arrivals == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]
    assert [o.version for o in observers] == [3, 3] and [o.data for o in observers] == [{"k": 3}] * 2
    assert lab.inflight.count == 0
