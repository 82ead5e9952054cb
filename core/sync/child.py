"""DataObjectChild: an object in a parent's children collection, with its own reporter and version
(PROTOCOL §3.7, §5 rule 2). The child's reporter edits it like a parent (tracked at mutation time)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.protocol import address as addr
from core.protocol import changes as ch
from core.protocol.changes import Op, Path
from core.protocol.dialect import rethink_bodies
from core.protocol.message import Message, SyncError
from core.protocol.timestamps import iso_now
from core.sync.tail import Tail
from core.sync.tracked import wrap

if TYPE_CHECKING:
    from core.sync.data_object import DataObject


class DataObjectChild:
    def __init__(self, parent: DataObject, name: str, value: dict[str, Any], identity: Any = None) -> None:
        self.parent = parent
        self.name = name
        self.child_id = str(value.get("url", ""))
        self.reporter = str(value.get("reporter", ""))
        self.metadata = ch.own_containers({k: v for k, v in value.items() if k not in ("data", "version")})
        version = value.get("version", 0)
        self.version = version if isinstance(version, int) and not isinstance(version, bool) else 0
        self.identity = ch.copy_json(identity)
        self.closed = False
        data = value.get("data", {})
        data = ch.copy_json(data) if isinstance(data, dict) else {}
        self.own = self.reporter == parent.syncher.url
        self.data: dict[str, Any] = wrap(data, None, None, self) if self.own else data
        self._handlers: list[Any] = []
        self._tail: Tail | None = None

    def __repr__(self) -> str:
        return f"DataObjectChild({self.child_id}, v{self.version})"

    @property
    def channel(self) -> str:
        return addr.children(self.parent.url, self.name)

    def on_change(self, handler: Any) -> None:
        self._handlers.append(handler)

    def value_entry(self) -> dict[str, Any]:
        """`childrenObjects[childId]` of an object value (PROTOCOL §3.0.5)."""
        entry: dict[str, Any] = {"value": {**self.metadata, "data": ch.copy_json(self.data), "version": self.version}}
        if self.identity is not None:
            entry["identity"] = self.identity
        return entry

    # edits by the child's reporter -----------------------------------------------------------------

    def guard(self) -> None:
        if self.closed:
            raise SyncError(404, "child deleted")
        if not self.own:
            raise SyncError(403, "only the child's reporter may update it")
        if self._parents_reporter:
            self.parent.guard_child_edit()

    @property
    def _parents_reporter(self) -> bool:
        """The child's reporter is its parent's: its edits may count as the parent's versions."""
        return self.reporter == self.parent._metadata.get("reporter")

    def admit(self, path: Path) -> None:
        self.parent.admit(path)   # a reTHINK runtime holding the parent may hear the child too

    def record(self, body: dict[str, Any], ops: list[Op]) -> None:
        # A children channel may reach reTHINK runtimes whatever its parent knows: their forms (INTEROP §4)
        forms = rethink_bodies(body, self.data)
        if forms and len(forms) == 1:
            body = forms[0]
        self.version += 1
        syncher = self.parent.syncher
        if self._parents_reporter and self.parent.counts_children():
            self.parent.send_child_update(self.child_id, self.channel, body)
            self._changed(ch.update_events(body, ops, self.data))
            return
        now = iso_now()
        msg = {"type": "update", "from": syncher.url, "to": self.channel,
               "body": {"resource": self.child_id, "version": self.version, "source": syncher.url,
                        "lastModified": now, **body}}
        syncher.sandbox.post(msg)
        self._sent(msg)
        self._changed(ch.update_events(body, ops, self.data))

    def _sent(self, msg: Message) -> None:
        """The child's latest message (its create, then each update) is re-sent once after a quiet
        period, so a replica that lost it still gets it (tail retransmission, DECISIONS.md)."""
        if self._tail is None:
            syncher = self.parent.syncher
            self._tail = Tail(syncher.sandbox, syncher.runtime.timers.tail,
                              lambda: not self.closed and not self.parent.closed)
        self._tail.sent(msg)

    def _changed(self, events: list[ch.ChangeEvent]) -> None:
        for event in events:
            for handler in self._handlers:
                self.parent._call(handler, event)

    def _apply(self, b: dict[str, Any], versioned: bool = True) -> bool:
        """Apply a received child update; False when it must be healed by a parent resync. A reTHINK
        child update carries the parent's version: it is applied as it comes (`versioned=False`)."""
        version = b.get("version") if versioned else self.version + 1
        if not isinstance(version, int) or isinstance(version, bool) or version <= self.version:
            return True
        if version != self.version + 1:
            return False
        try:
            if "attribute" in b or "patch" in b:
                ops = ch.apply_update(self.data, b)
            elif "value" in b and isinstance(b["value"], dict):
                self.data = ch.copy_json(b["value"])
                ops = [{"op": "replace", "path": "", "value": b["value"]}]
            else:
                ops = []
        except ch.ChangeError:
            return False
        self.version = version
        self._changed(ch.update_events(b, ops, self.data))
        return True

    def _replace(self, value: dict[str, Any]) -> None:
        """A fresh value read from the child's reporter (newer or equal versions only)."""
        version = value.get("version")
        data = value.get("data")
        if isinstance(version, int) and not isinstance(version, bool) and version >= self.version \
                and isinstance(data, dict):
            self.data = ch.copy_json(data)
            self.version = version
            self._changed([ch.ChangeEvent("update", "object", "", self.data)])

    async def delete(self) -> None:
        """Delete the child (its reporter or the parent's reporter, PROTOCOL §3.7 #4)."""
        syncher = self.parent.syncher
        if syncher.url not in (self.reporter, self.parent._metadata.get("reporter")):
            raise SyncError(403, "only the child's or the parent's reporter may delete it")
        syncher.sandbox.post({"type": "delete", "from": syncher.url, "to": self.channel,
                              "body": {"resource": self.child_id}})
        self.closed = True
        self.parent.children.pop(self.child_id, None)
