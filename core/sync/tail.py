"""Tail retransmission [OUR DESIGN]: a stream re-sends its last message when it has been quiet for
`Timers.tail`, again after twice that and four times that (`REPEATS`). A lost *last* update is
otherwise never noticed (gap detection needs a later message); each copy is a duplicate for every
replica that has it (PROTOCOL §5 rule 3a) and heals the others. With a loss rate p a replica misses
all of them with probability p**(REPEATS + 1)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from core.protocol.message import Message
from core.sync.sandbox import Sandbox

#: Copies of a quiet stream's last message, at delay, 2·delay and 4·delay after it.
REPEATS = 3


class Tail:
    __slots__ = ("alive", "delay", "left", "msg", "sandbox", "timer")

    def __init__(self, sandbox: Sandbox, delay: float, alive: Callable[[], bool]) -> None:
        self.sandbox, self.delay, self.alive = sandbox, delay, alive
        self.msg: Message | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.left = 0

    def sent(self, msg: Message) -> None:
        self.msg = msg
        self.left = REPEATS
        if self.timer is not None:
            self.timer.cancel()
        if self.delay > 0:
            self.timer = asyncio.get_running_loop().call_later(self.delay, self._fire)

    def _fire(self) -> None:
        self.timer = None
        if self.msg is None or not self.alive():
            return
        self.sandbox.post({k: v for k, v in self.msg.items() if k != "id"})
        self.left -= 1
        if self.left > 0:
            wait = self.delay * 2 ** (REPEATS - self.left)
            self.timer = asyncio.get_running_loop().call_later(wait, self._fire)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.msg = None
