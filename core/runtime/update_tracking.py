"""Update tracking of the runtime Sync Manager (PROTOCOL §3.3): the reporter's version and stored copy,
each observed object's versions (rule 3 and rule 7) and stored copy, and the children store listener."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.protocol import address as addr
from core.protocol.changes import ChangeError, apply_update, copy_json
from core.protocol.message import Message
from core.protocol.versions import Verdict
from core.runtime.observer_object import ObserverObject
from core.runtime.reporter_object import ReporterObject

if TYPE_CHECKING:
    from core.runtime.deletion import Deletion
    from core.runtime.runtime import Runtime


class UpdateTracking:
    """The part of `SyncManager` that follows updates and children messages on the runtime bus."""

    runtime: Runtime
    deletion: Deletion

    def _track_reporter(self, ro: ReporterObject, msg: Message) -> None:
        if msg["type"] != "update" or msg["from"] != ro.url:
            return
        b = msg.get("body", {})
        version = b.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version <= ro.version:
            return
        ro.version = version
        ro.last_modified = str(b.get("lastModified", ro.last_modified))
        ops = None
        if ro.store and ro.data is not None and ("attribute" in b or "patch" in b):
            try:
                ops = apply_update(ro.document(), b)
            except ChangeError:  # the reporter's own edit: its replica is the truth, rewrite the record
                self.runtime.persist_reporter(ro)
                return
        if "reporter" in b and "attribute" not in b:
            ro.metadata["reporter"] = b["reporter"]
            self.runtime.persist_reporter(ro)
            return
        self.runtime.persist_change("reporter", ro, ops, ro.last_modified)

    def _track_observer(self, oo: ObserverObject, msg: Message) -> None:
        mtype = msg["type"]
        if mtype == "delete":
            if msg["from"] == addr.subscription(oo.url):
                self.deletion.observer_deleted(oo, msg)
            return
        if mtype != "update" or msg["from"] != oo.url:
            return
        b = msg.get("body", {})
        version = b.get("version")
        tracker = oo.tracker
        if (type(version) is int and version == tracker.version + 1 and not tracker.buffer and oo.confirmed
                and not oo.store and ("attribute" in b or "patch" in b or "reporter" not in b)):
            # the usual case, as `_offer` takes it: the next version (rule 3b), nothing buffered to
            # drain, no data kept here, not a change of reporter
            tracker.version = version
            self.runtime.persist_change("observer", oo, None)
            return
        if not isinstance(version, int) or isinstance(version, bool):
            return
        self._observed(oo, version, msg)

    def _observed(self, oo: ObserverObject, version: int, msg: Message) -> None:
        """A version of an observed object: kept until the 200 (PROTOCOL §5 rule 7), then offered."""
        if not oo.confirmed:  # between the 100 and the 200
            if len(oo.early) < oo.tracker.max_buffer:
                oo.early[version] = msg
            return
        self._offer(oo, version, msg)

    def _offer(self, oo: ObserverObject, version: int, msg: Message) -> None:
        verdict = oo.tracker.offer(version, msg)
        if verdict is Verdict.APPLY:
            rewrite = self._apply_observed(oo, msg)
            while (nxt := oo.tracker.next_buffered()) is not None:
                rewrite = self._apply_observed(oo, nxt) or rewrite
            if rewrite:
                self.runtime.persist_observer(oo)
        elif verdict in (Verdict.GAP, Verdict.OVERFLOW) and oo.store and not oo.stale:
            oo.stale = True  # PROTOCOL §5 rule 5: until the Syncher's snapshot update
            self.runtime.persist_observer(oo)

    def _apply_observed(self, oo: ObserverObject, msg: Message) -> bool:
        """Apply one update to the SM's copy; True when the record must be rewritten whole."""
        b = msg.get("body", {})
        oo.tracker.applied(b["version"])
        if msg["to"] != oo.changes:   # a counted child edit (see _store_child)
            self._child_changed(oo, msg)
            return True
        if "reporter" in b and "attribute" not in b and "patch" not in b:
            oo.reporter = str(b["reporter"])
            oo.metadata["reporter"] = oo.reporter
            return True
        ops = None
        if oo.store and ("attribute" in b or "patch" in b):
            oo.loaded()
            if oo.data is not None:
                try:
                    ops = apply_update(oo.data, b)
                except ChangeError:
                    oo.stale = True
                    return True
        self.runtime.persist_change("observer", oo, ops)
        return False

    def _store_child(self, obj: ReporterObject | ObserverObject, msg: Message) -> None:
        """Children store listener (PROTOCOL §3.7): kept only when the record stores data. A child edit
        of the parent's reporter sent from O (reTHINK's form, INTEROP §4) counts as a parent version."""
        if msg["type"] == "response":
            return
        b = msg.get("body", {})
        version = b.get("version")
        if msg["type"] == "update" and msg["from"] == obj.url and isinstance(version, int) \
                and not isinstance(version, bool) and isinstance(b.get("resource"), str):
            if isinstance(obj, ReporterObject) and b.get("source") == obj.owner:
                if version > obj.version:
                    obj.version = version
                    obj.last_modified = str(b.get("lastModified", obj.last_modified))
                    self._child_changed(obj, msg)
                    self.runtime.persist_reporter(obj)
                return
            if isinstance(obj, ObserverObject) and b.get("source") == obj.reporter:
                self._observed(obj, version, msg)
                return
        if self._child_changed(obj, msg):
            if isinstance(obj, ReporterObject):
                self.runtime.persist_reporter(obj)
            else:
                self.runtime.persist_observer(obj)

    def _child_changed(self, obj: ReporterObject | ObserverObject, msg: Message) -> bool:
        """Apply a child message to the record's `childrenObjects`; False when the record is unchanged."""
        if isinstance(obj, ObserverObject):
            obj.loaded()
        if obj.data is None:
            return False
        children = obj.children_objects
        b = msg.get("body", {})
        cid = b.get("resource")
        if not isinstance(cid, str):
            return False
        if msg["type"] == "create" and isinstance(b.get("value"), dict) and cid not in children:
            children[cid] = {"value": copy_json(b["value"]), **({"identity": b["identity"]} if "identity" in b else {})}
        elif msg["type"] == "update" and cid in children:
            value = children[cid]["value"]
            try:
                if "attribute" in b:
                    apply_update(value.setdefault("data", {}), b)
                elif "value" in b:
                    value["data"] = copy_json(b["value"])
                if msg["from"] == obj.url:   # from O: reTHINK's form, with the parent's counter (INTEROP §4)
                    known = value.get("version")
                    value["version"] = known + 1 if isinstance(known, int) and not isinstance(known, bool) else 1
                elif isinstance(b.get("version"), int):
                    value["version"] = b["version"]
            except ChangeError:
                pass
        elif msg["type"] == "delete":
            children.pop(cid, None)
        else:
            return False
        return True
