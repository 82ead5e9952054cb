"""The subscriptions table: one row per (object, observer hyperty) with state, version seen and lag.

Pending and ended subscriptions are known from the monitor only (no observer object exists for
them); live ones are read from the observer replicas each flush.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor

from core.monitor import TraceEvent
from ui.index import EngineIndex
from ui.models.table import KeyedTableModel

ENDED = ("revoked", "unsubscribed", "deleted", "refused")


class SubscriptionsModel(KeyedTableModel):
    columns = ("Object", "Observer", "Runtime", "State", "Version", "Lag")
    OBJECT, OBSERVER, RUNTIME, STATE, VERSION, LAG = range(6)

    def __init__(self, index: EngineIndex) -> None:
        super().__init__()
        self.engine = index
        self.seen: dict[tuple[str, str], dict[str, Any]] = {}

    def ingest(self, events: Iterable[TraceEvent]) -> None:
        for event in events:
            if event.kind == "subscription":
                self._subscription_event(event)
            elif event.kind == "object" and event.detail.get("action") == "deleted":
                url = event.detail.get("object")
                for (obj, _), info in self.seen.items():
                    if obj == url:
                        info["ended"] = "deleted"
        self.refresh()

    def _subscription_event(self, event: TraceEvent) -> None:
        d = event.detail
        obj, hyperty, state = d.get("object"), d.get("hyperty"), d.get("state")
        if not isinstance(obj, str) or not isinstance(hyperty, str):
            return  # node-side subscription events are the routing view's
        info = self.seen.setdefault((obj, hyperty), {"runtime": "", "state": "", "ended": ""})
        if d.get("side") == "reporter":
            if state == "revoked":
                info["ended"] = "revoked"
            return
        info["runtime"] = event.where
        if state == "pending":
            info["ended"] = ""
            info["state"] = "pending"
        elif state == "live":
            info["state"] = "live"
        elif state == "removed":
            info["state"] = "removed"
            if not info["ended"]:
                info["ended"] = "unsubscribed"

    def refresh(self) -> None:
        snap = self.engine.snapshot
        wanted: dict[Hashable, tuple[Any, ...]] = {}
        for url, replicas in snap.observers.items():
            reporter = snap.reporters.get(url)
            for rep in replicas:
                key = (url, rep.hyperty.url)
                version = rep.obj.version
                lag = reporter.obj.version - version if reporter is not None else None
                wanted[key] = (url, rep.hyperty.name, rep.hyperty.runtime.url, rep.obj.status, version, lag)
        for key, info in self.seen.items():
            if key in wanted:
                continue
            state = info["ended"] or ("pending" if info["state"] == "pending" else "unsubscribed")
            if info["state"] == "live" and not info["ended"]:
                state = "pending"  # live at the SM, the Syncher's observer not built yet
            hyperty = snap.hyperties.get(key[1])
            wanted[key] = (key[0], hyperty.name if hyperty else self.engine.short(key[1]), info["runtime"], state,
                           None, None)
        self.apply(wanted)

    def clear_ended(self) -> None:
        for key in [k for k, v in self.seen.items() if v["ended"]]:
            del self.seen[key]
        self.refresh()

    def text(self, row: int, column: int, value: Any) -> str:
        if column in (self.OBJECT, self.RUNTIME):
            return self.engine.short(str(value))
        return super().text(row, column, value)

    def extra(self, row: int, column: int, role: int) -> Any:
        state = self.values[row][self.STATE]
        if role == Qt.ItemDataRole.ForegroundRole:
            if state in ENDED:
                return QBrush(QColor(140, 140, 140))
            if state in ("stale", "resyncing") or (column == self.LAG and (self.values[row][self.LAG] or 0) > 0):
                return QBrush(QColor(220, 120, 0))
        if role == Qt.ItemDataRole.ToolTipRole and column == self.OBJECT:
            return self.keys[row][0]  # type: ignore[index]
        return None
