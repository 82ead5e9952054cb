"""What a part of the Syncher kept in a module of its own (children, a delegation's candidate side)
reads of the Syncher it belongs to: set by `Syncher.__init__`, answered by its methods."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.protocol.message import Message
from core.sync.observer import DataObjectObserver
from core.sync.reporter import DataObjectReporter

if TYPE_CHECKING:
    from core.runtime.hyperty import Hyperty
    from core.runtime.runtime import Runtime
    from core.sync.sandbox import Sandbox


class SyncherPart:
    hyperty: Hyperty
    runtime: Runtime
    url: str
    sm_url: str
    sandbox: Sandbox
    reporters: dict[str, DataObjectReporter]
    observers: dict[str, DataObjectObserver]

    def _answer(self, msg: Message, code: int, description: str | None = None, **fields: Any) -> None:
        raise NotImplementedError
