"""Write-through of the Sync Manager's records to the runtime's storage file (PROTOCOL §3.0.6).

Every change listed in PROTOCOL §3 is written in its own transaction; a data change is stored as
the RFC 6902 operations just applied (no record rewrite). A storage failure never breaks message
dispatch: it becomes a monitor `error` event naming the file, and the record is rewritten whole on
the next change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.monitor import Monitor
from core.protocol.changes import Op
from core.runtime.observer_object import ObserverObject
from core.runtime.reporter_object import ReporterObject
from core.runtime.storage import Kind, Storage, StorageError


class Persistence:
    def __init__(self, path: Path, monitor: Monitor, where: str) -> None:
        self.path = path
        self.monitor = monitor
        self.where = where
        self.storage = Storage(path)
        self._dirty: set[tuple[str, str]] = set()   # records to rewrite whole after a failed write

    def close(self) -> None:
        self.storage.close()

    def _failed(self, doing: str, exc: Exception) -> None:
        self.monitor.emit("error", self.where, error=f"storage: {doing}: {exc}", file=str(self.path))

    def reporter(self, ro: ReporterObject) -> None:
        self._put("reporter", ro.url, ro.record())

    def observer(self, oo: ObserverObject) -> None:
        self._put("observer", oo.url, oo.record())

    def _put(self, kind: Kind, url: str, record: dict[str, Any]) -> None:
        try:
            if kind == "reporter":
                self.storage.put_reporter(url, record)
            else:
                self.storage.put_observer(url, record)
            self._dirty.discard((kind, url))
        except (StorageError, ValueError, TypeError) as exc:
            self._dirty.add((kind, url))
            self._failed(f"store {kind} {url}", exc)

    def change(self, kind: Kind, obj: ReporterObject | ObserverObject, ops: list[Op] | None,
               last_modified: str | None = None) -> None:
        """One update: its operations (when the record stores data) and its version, one transaction."""
        if (kind, obj.url) in self._dirty:
            self._put(kind, obj.url, obj.record())
            return
        try:
            if ops:
                self.storage.apply_change(kind, obj.url, ops, version=obj.version, last_modified=last_modified)
            else:
                self.storage.set_version(kind, obj.url, obj.version, last_modified)
        except KeyError:
            self._put(kind, obj.url, obj.record())
        except (StorageError, ValueError, TypeError) as exc:
            self._dirty.add((kind, obj.url))
            self._failed(f"store a change of {obj.url}", exc)

    def forget(self, kind: Kind, url: str) -> None:
        try:
            if kind == "reporter":
                self.storage.delete_reporter(url)
            else:
                self.storage.delete_observer(url)
        except KeyError:
            pass
        except StorageError as exc:
            self._failed(f"delete {kind} {url}", exc)
        self._dirty.discard((kind, url))

    def record(self, kind: Kind, url: str) -> dict[str, Any] | None:
        """One stored record, or None (a read failure becomes a monitor `error` event)."""
        try:
            return self.storage.record(kind, url)
        except StorageError as exc:
            self._failed(f"read {kind} {url}", exc)
            return None

    def records(self, kind: Kind, encoded_data: bool = False) -> dict[str, dict[str, Any]]:
        if kind == "reporter":
            return self.storage.reporters(encoded_data)
        return self.storage.observers(encoded_data)
