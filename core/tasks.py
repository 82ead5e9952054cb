"""Owned tasks: nothing is fired and forgotten, nothing fails without a trace event."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from core.monitor import Monitor


class TaskSet:
    """Tasks a component owns; `close()` cancels them. Exceptions become monitor `error` events."""

    def __init__(self, monitor: Monitor, where: str) -> None:
        self.monitor = monitor
        self.where = where
        self._tasks: set[asyncio.Task[Any]] = set()
        self.errors: list[BaseException] = []

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name or None)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.errors.append(exc)
            self.monitor.emit("error", self.where, error=f"{type(exc).__name__}: {exc}", task=task.get_name())

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
