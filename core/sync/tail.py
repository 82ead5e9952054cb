"""Tail retransmission [OUR DESIGN]: a stream re-sends its last update once when it has been quiet for
`Timers.tail`. A lost *last* update is otherwise never noticed (gap detection needs a later message);
the copy is a duplicate for every replica that has it (PROTOCOL §5 rule 3a) and heals the others."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from core.protocol.message import Message
from core.sync.sandbox import Sandbox


class Tail:
    __slots__ = ("alive", "delay", "msg", "sandbox", "timer")

    def __init__(self, sandbox: Sandbox, delay: float, alive: Callable[[], bool]) -> None:
        self.sandbox, self.delay, self.alive = sandbox, delay, alive
        self.msg: Message | None = None
        self.timer: asyncio.TimerHandle | None = None

    def sent(self, msg: Message) -> None:
        self.msg = msg
        if self.timer is not None:
            self.timer.cancel()
        if self.delay > 0:
            self.timer = asyncio.get_running_loop().call_later(self.delay, self._fire)

    def _fire(self) -> None:
        self.timer = None
        if self.msg is not None and self.alive():
            self.sandbox.post({k: v for k, v in self.msg.items() if k != "id"})

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.msg = None
