"""What reporters, observers and children share: identity, metadata, version, change events."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.protocol.changes import ChangeEvent, Path, own_containers
from core.protocol.dialect import admit_for_rethink, is_rethink

if TYPE_CHECKING:
    from core.sync.child import DataObjectChild
    from core.sync.syncher import Syncher

ChangeHandler = Callable[[ChangeEvent], Any]


def matches(path_filter: str, field: str) -> bool:
    """`onChange` filter: `*`, `prefix*` or an exact path (PROTOCOL §3.3.2)."""
    if path_filter == "*":
        return True
    if path_filter.endswith("*"):
        return field.startswith(path_filter[:-1])
    return field == path_filter


class DataObject:
    #: the document: each kind keeps its own behind a property (set by its `__init__`, not here)
    data: dict[str, Any]

    def __init__(self, syncher: Syncher, url: str, schema: str, metadata: dict[str, Any], version: int,
                 childrens: list[str]) -> None:
        self.syncher = syncher
        self.url = url
        self.schema = schema
        # its lists may still be the Sync Manager's or a message's (a resume hands over thousands): the
        # hyperty's `metadata` makes them its own on first use; this package reads `_metadata` as it is
        self._metadata = metadata
        self._owns_metadata = False
        self.version = version
        self.childrens = list(childrens)
        self.children: dict[str, DataObjectChild] = {}
        self.closed = False
        self._change_handlers: list[tuple[str, ChangeHandler]] = []
        self._child_handlers: list[Callable[[Any], Any]] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url}, v{self.version})"

    @property
    def metadata(self) -> dict[str, Any]:
        """Its metadata (PROTOCOL §3.0.4), sharing no list or dict with the Sync Manager, a message or
        another replica."""
        if not self._owns_metadata:
            own_containers(self._metadata)
            self._owns_metadata = True
        return self._metadata

    @metadata.setter
    def metadata(self, metadata: dict[str, Any]) -> None:
        self._metadata, self._owns_metadata = metadata, False

    @property
    def rethink_observed(self) -> bool:
        """A runtime of reTHINK's own may hold a replica: edits take the forms it applies (INTEROP §4)."""
        return self.syncher.runtime.rethink or is_rethink(str(self._metadata.get("runtime", "")))

    def admit(self, path: Path) -> None:
        """Refuse an edit at `path` no reTHINK replica could be sent while one may exist (DECISIONS 77)."""
        if self.rethink_observed:
            admit_for_rethink(path)

    def counts_children(self) -> bool:
        """Whether this replica's own children edits consume its versions, as reTHINK's do."""
        return False

    def guard_child_edit(self) -> None:
        """Raise if a child edit that counts as this object's version may not be made now."""

    def send_child_update(self, child_id: str, channel: str, body: dict[str, Any]) -> None:
        raise NotImplementedError("only a reporter counts its children's edits")

    def on_change(self, handler: ChangeHandler, path: str = "*") -> Callable[[], None]:
        """Call `handler` for each change whose field matches `path`; returns the function that stops it."""
        entry = (path, handler)
        self._change_handlers.append(entry)
        return lambda: self._change_handlers.remove(entry) if entry in self._change_handlers else None

    def on_child(self, handler: Callable[[Any], Any]) -> Callable[[], None]:
        """Call `handler` for each child created or deleted; returns the function that stops it."""
        self._child_handlers.append(handler)
        return lambda: self._child_handlers.remove(handler) if handler in self._child_handlers else None

    def _changed(self, events: list[ChangeEvent]) -> None:
        if not self._change_handlers:
            return
        for event in events:
            for path, handler in self._change_handlers:
                if matches(path, event.field):
                    self._call(handler, event)

    def _changed_one(self, event: ChangeEvent) -> None:
        """`_changed` of one event, without the list (an update of the set or remove form)."""
        field = event.field
        for path, handler in self._change_handlers:
            if path == "*" or matches(path, field):
                try:
                    result = handler(event)
                except Exception as exc:
                    self._raised(exc)
                    continue
                if result is not None and inspect.isawaitable(result):
                    self._own(result)

    def _call(self, handler: Callable[[Any], Any], event: Any) -> None:
        """Run an application callback; a coroutine it returns becomes an owned task."""
        try:
            result = handler(event)
        except Exception as exc:
            self._raised(exc)
            return
        if result is not None and inspect.isawaitable(result):
            self._own(result)

    def _raised(self, exc: Exception) -> None:
        self.syncher.runtime.monitor.emit("error", self.syncher.runtime.url, object=self.url,
                                          error=f"callback raised {type(exc).__name__}: {exc}")

    def _own(self, result: Any) -> None:
        """A coroutine a callback returned becomes an owned task."""
        async def await_it() -> None:
            await result
        self.syncher.runtime.tasks.spawn(await_it(), "callback")

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            runtime = self.syncher.runtime
            runtime.monitor.emit("object", runtime.url, action="released", object=self.url, hyperty=self.syncher.url,
                                 version=self.version)
