"""Stress workload: create N objects (each with observers) and update them M times a second.

Plain asyncio on the lab's loop; progress is reported through a callback so a dialog or the bench
can show it, and cancelling the task stops it cleanly between two operations.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from typing import Any

#: Objects created concurrently (each create is several round trips through the node).
CREATE_CONCURRENCY = 50


async def create_objects(reporter: Any, count: int, observers: Sequence[Any] = (),
                         progress: Callable[[int], None] | None = None, schema: str = "Context") -> list[Any]:
    """`count` objects reported by `reporter`, each subscribed by every hyperty of `observers`."""
    created: list[Any] = []

    async def one(number: int) -> None:
        obj = await reporter.syncher.create(schema, data={"type": "stress", "seq": 0, "values": []},
                                            name=f"stress {number}")
        obj.on_subscription(lambda event: event.accept())
        for hyperty in observers:
            await hyperty.syncher.subscribe(obj.url)
        created.append(obj)

    for start in range(0, count, CREATE_CONCURRENCY):
        batch = range(start, min(count, start + CREATE_CONCURRENCY))
        await asyncio.gather(*(one(n) for n in batch))
        if progress is not None:
            progress(len(created))
    return created


async def update_objects(objects: Sequence[Any], rate: float, seconds: float | None = None,
                         tick: float = 0.01, on_tick: Callable[[int], None] | None = None) -> int:
    """Edit `objects` round robin, `rate` edits a second, for `seconds` (forever when None)."""
    if not objects or rate <= 0:
        return 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    done = 0
    live = itertools.cycle(objects)
    while seconds is None or loop.time() - start < seconds:
        due = int((loop.time() - start) * rate) - done
        for _ in range(max(0, due)):
            obj = next(live)
            if not obj.closed and obj.status == "live":
                obj.data["seq"] = obj.data.get("seq", 0) + 1
            done += 1
        if on_tick is not None:
            on_tick(done)
        await asyncio.sleep(tick)
    return done
