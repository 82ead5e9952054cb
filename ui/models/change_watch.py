"""Which paths of a replica changed since the last look, from the replica's own `on_change` events.

The engine has no way to remove an `on_change` handler, so each replica gets one hub for its
lifetime; every view that shows the replica opens its own buffer on the hub and closes it when
it looks elsewhere. A hub without buffers returns at once.
"""

from __future__ import annotations

import weakref
from typing import Any

#: Paths a buffer records between two looks before it asks for a full refresh instead.
MAX_PATHS = 2_000


class ChangeBuffer:
    __slots__ = ("full", "hub", "paths")

    def __init__(self, hub: ChangeHub) -> None:
        self.hub = hub
        self.full = False
        self.paths: list[list[str]] = []

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
        if self in self.hub.buffers:
            self.hub.buffers.remove(self)


class ChangeHub:
    __slots__ = ("__weakref__", "buffers")

    def __init__(self) -> None:
        self.buffers: list[ChangeBuffer] = []

    def __call__(self, event: Any) -> None:
        if self.buffers:
            field = getattr(event, "field", "")
            for buffer in self.buffers:
                buffer.add(field)


_hubs: weakref.WeakKeyDictionary[Any, ChangeHub] = weakref.WeakKeyDictionary()


def watch(replica: Any) -> ChangeBuffer:
    """A new buffer of the changes of `replica` from now on (close it when done)."""
    hub = _hubs.get(replica)
    if hub is None:
        hub = _hubs[replica] = ChangeHub()
        replica.on_change(hub)
    buffer = ChangeBuffer(hub)
    hub.buffers.append(buffer)
    return buffer
