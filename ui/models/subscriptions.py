"""The subscriptions table: one row per (object, observer hyperty) with state, version seen and lag.

Pending and ended subscriptions are known from the monitor only (no observer object exists for
them); live ones are read from the observer replicas. Each flush reads again only the rows of the
objects the batch concerned.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor

from core.monitor import TraceEvent
from ui.index import EngineIndex
from ui.models.table import GONE, KeyedTableModel

ENDED = ("revoked", "unsubscribed", "deleted", "refused")


class SubscriptionsModel(KeyedTableModel):
    columns = ("Object", "Observer", "Runtime", "State", "Version", "Lag")
    OBJECT, OBSERVER, RUNTIME, STATE, VERSION, LAG = range(6)

    def __init__(self, index: EngineIndex) -> None:
        super().__init__()
        self.engine = index
        #: What the monitor said of each (object, observer): object URL → hyperty URL → info.
        self.seen: dict[str, dict[str, dict[str, Any]]] = {}
        #: The rows each object has in the table.
        self.rows_of: dict[str, set[str]] = {}
        self.refresh(index.object_urls())

    def ingest(self, events: Iterable[TraceEvent]) -> None:
        for event in events:
            if event.kind == "subscription":
                self._subscription_event(event)
            elif event.kind == "object" and event.detail.get("action") == "deleted":
                for info in self.seen.get(str(event.detail.get("object")), {}).values():
                    info["ended"] = "deleted"
        if self.engine.touched:
            self.refresh(self.engine.touched)

    def _subscription_event(self, event: TraceEvent) -> None:
        d = event.detail
        obj, hyperty, state = d.get("object"), d.get("hyperty"), d.get("state")
        if not isinstance(obj, str) or not isinstance(hyperty, str):
            return  # node-side subscription events are the routing view's
        info = self.seen.setdefault(obj, {}).setdefault(hyperty, {"runtime": "", "state": "", "ended": ""})
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

    def refresh(self, urls: Iterable[str]) -> None:
        """Read the rows of the objects `urls` again."""
        changes: dict[Hashable, tuple[Any, ...] | None] = {}
        for url in urls:
            wanted = self._rows(url)
            shown = self.rows_of.get(url)
            if shown is not None and shown != wanted.keys():
                for hyperty in shown - wanted.keys():
                    changes[(url, hyperty)] = GONE
                shown = None
            for hyperty, values in wanted.items():
                changes[(url, hyperty)] = values
            if not wanted:
                self.rows_of.pop(url, None)
            elif shown is None:
                self.rows_of[url] = set(wanted)
        self.update_rows(changes)

    def _rows(self, url: str) -> dict[str, tuple[Any, ...]]:
        reporter = self.engine.reporter(url)
        rows: dict[str, tuple[Any, ...]] = {}
        for rep in self.engine.observer_replicas(url):
            version = rep.obj.version
            lag = reporter.obj.version - version if reporter is not None else None
            rows[rep.hyperty.url] = (url, rep.holder, rep.hyperty.runtime.url, rep.obj.status, version, lag)
        for hyperty_url, info in self.seen.get(url, {}).items():
            if hyperty_url in rows:
                continue
            state = info["ended"] or ("pending" if info["state"] == "pending" else "unsubscribed")
            if info["state"] == "live" and not info["ended"]:
                state = "pending"  # live at the SM, the Syncher's observer not built yet
            hyperty = self.engine.hyperty(hyperty_url)
            rows[hyperty_url] = (url, hyperty.name if hyperty else self.engine.short(hyperty_url), info["runtime"],
                                 state, None, None)
        return rows

    def clear_ended(self) -> None:
        urls = []
        for url, infos in self.seen.items():
            ended = [h for h, info in infos.items() if info["ended"]]
            for hyperty in ended:
                del infos[hyperty]
            if ended:
                urls.append(url)
        self.seen = {url: infos for url, infos in self.seen.items() if infos}
        self.refresh(urls)

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
