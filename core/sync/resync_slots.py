"""The resync reads of one runtime's observers (PROTOCOL §5 rule 4): at most `limit` in flight, the
others waiting their turn in the order they asked.

An observer waiting for its first read waits as a callback, not as a task: after a resume of
thousands of objects every one of them asks at once, and a task each (a coroutine frame, a waiter
future) would be made and parked for nothing until its turn.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

#: Called holding a slot; returns False to decline it (nothing to read any more), which frees it.
Start = Callable[[], bool]


class Slot:
    """A slot one resync task holds between its turn and the end of its read; given back once."""

    __slots__ = ("held", "slots")

    def __init__(self, slots: ResyncSlots) -> None:
        self.slots = slots
        self.held = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self.slots.release()


class ResyncSlots:
    def __init__(self, limit: int) -> None:
        self.free = max(1, limit)
        self._waiting: deque[Start] = deque()

    def __len__(self) -> int:
        """How many wait for a slot."""
        return len(self._waiting)

    def when_free(self, start: Start) -> None:
        """Call `start` holding a slot: now if one is free and nobody waits, else in turn."""
        self._waiting.append(start)
        self._hand_over()

    async def acquire(self) -> None:
        """Wait for a slot in turn (a later read of an observer whose resync is under way)."""
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def start() -> bool:
            if turn.cancelled():       # its waiter was cancelled meanwhile: the slot goes on
                return False
            turn.set_result(None)
            return True

        self.when_free(start)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():   # handed over, then cancelled before it ran
                self.release()
            raise

    def release(self) -> None:
        self.free += 1
        self._hand_over()

    def _hand_over(self) -> None:
        # a loop, not a call per waiter: a run of declining waiters (released observers) costs no stack
        waiting = self._waiting
        while self.free > 0 and waiting:
            self.free -= 1
            if not waiting.popleft()():
                self.free += 1
