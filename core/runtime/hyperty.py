"""A hyperty: its URL, identity, sandbox bus and Syncher."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.sync.sandbox import Sandbox
from core.sync.syncher import Syncher

if TYPE_CHECKING:
    from core.runtime.runtime import Runtime


class Hyperty:
    def __init__(self, runtime: Runtime, name: str, url: str) -> None:
        self.runtime = runtime
        self.name = name
        self.url = url
        self.user = f"user://{runtime.domain}/{name}"
        self.identity: dict[str, Any] = {"userProfile": {"userURL": self.user, "username": name}}
        self.rebind()

    def rebind(self) -> None:
        """A fresh sandbox and Syncher on the runtime's (new) bus, as after a restart."""
        self.sandbox = Sandbox(self.url, self.runtime.bus, self.runtime.monitor)
        self.syncher = Syncher(self)

    def __repr__(self) -> str:
        return f"Hyperty({self.name}, {self.url})"
