"""Which paths of a replica changed since the last look, from the replica's own `on_change` events.

A view that shows a replica opens a buffer on it (`watch`) and closes it when it looks elsewhere;
closing removes the buffer's handler from the replica (`on_change` returns the function that
stops it), so a replica nobody shows pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Paths a buffer records between two looks before it asks for a full refresh instead.
MAX_PATHS = 2_000


class ChangeBuffer:
    __slots__ = ("_stop", "full", "paths")

    def __init__(self) -> None:
        self.full = False
        self.paths: list[list[str]] = []
        self._stop: Callable[[], None] | None = None

    def __call__(self, event: Any) -> None:
        self.add(getattr(event, "field", ""))

    def add(self, field: str) -> None:
        if not field or len(self.paths) >= MAX_PATHS:
            self.full = True
            self.paths.clear()
        elif not self.full:
            self.paths.append(field.split("."))

    def take(self) -> tuple[bool, list[list[str]]]:
        full, paths = self.full, self.paths
        self.full, self.paths = False, []
        return full, paths

    def close(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


def watch(replica: Any) -> ChangeBuffer:
    """A new buffer of the changes of `replica` from now on (close it when done)."""
    buffer = ChangeBuffer()
    buffer._stop = replica.on_change(buffer)
    return buffer
