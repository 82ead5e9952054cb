"""What a part of the runtime Sync Manager kept in a module of its own (resume, delegation, delete,
the reporter's side of a subscription) starts from: the Sync Manager it works for and the parts of its
runtime it uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.runtime.sync_manager import SyncManager


class SmPart:
    def __init__(self, sm: SyncManager) -> None:
        self.sm = sm
        self.runtime = sm.runtime
        self.bus = sm.bus
        self.monitor = sm.monitor
        self.timers = sm.timers
