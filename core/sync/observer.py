"""DataObjectObserver: a read-only replica that owns its versioning (PROTOCOL §3.2, §3.3, §5).

Duplicates and stale updates are discarded, gaps are buffered and healed by a resync read after
`GAP_GRACE`; the resync retries with backoff on 408/5xx and 404 "no route", and treats 401/403 as a
revocation and 404 "unknown object" as a deletion (PROTOCOL §5 rule 4).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from core.protocol import address as addr
from core.protocol import changes as ch
from core.protocol import direct
from core.protocol.dialect import flat_children
from core.protocol.encoded import Encoded
from core.protocol.message import Message, SyncError, code_of, description_of
from core.protocol.versions import Verdict, VersionTracker
from core.sync.data_object import DataObject
from core.sync.resync_slots import Slot
from core.sync.sandbox import SandboxListener

if TYPE_CHECKING:
    from core.sync.syncher import Syncher

#: The node's answer for an object that is not (or no longer) allocated: deleted (PROTOCOL §1.5 rule 4).
UNKNOWN_OBJECT = "unknown object"


def split_value(value: dict[str, Any], copy: bool = True, own: bool = False
                ) -> tuple[dict[str, Any], dict[str, Any] | Encoded, int, dict[str, Any]]:
    """(metadata, data, version, childrenObjects) of an object value (PROTOCOL §3.0.5); the data is
    copied unless the caller copies it itself (a resume's may be left `Encoded`), and the value unless
    it is the caller's `own` to take apart (made for it alone and seen by nobody else: not traced)."""
    # a copy and three pops: several times faster than a filtering comprehension
    metadata = value if own else dict(value)
    data = metadata.pop("data", {})
    version = metadata.pop("version", 0)
    children = metadata.pop("childrenObjects", None)
    children = flat_children(children) if children else {}   # either form (INTEROP §5); most have none
    if type(data) is Encoded:
        if copy:
            data = data.decode()
    elif not isinstance(data, dict):
        data = {}
    elif copy:
        data = ch.copy_json(data)
    return (metadata, data,
            version if isinstance(version, int) and not isinstance(version, bool) else 0,
            children if isinstance(children, dict) else {})


class DataObjectObserver(DataObject):
    """`status`: `live`, `stale` (a gap is open), `resyncing` (a read is under way), `revoked`, `deleted`."""

    def __init__(self, syncher: Syncher, url: str, schema: str, value: dict[str, Any],
                 listeners: list[SandboxListener], copy: bool = True, own: bool = False) -> None:
        metadata, data, version, children = split_value(value, copy, own)
        # the base by name, not `super()` (no proxy object per object: a resume makes thousands); it
        # copies `childrens`
        DataObject.__init__(self, syncher, url, schema, metadata, version, metadata.get("childrens", []))
        self._data: dict[str, Any] | Encoded = data   # behind the `data` property
        self.tracker = VersionTracker(version)
        self.changes_url = addr.changes(url)
        self.status = "live"
        self._listeners = listeners
        self._gap_timer: asyncio.TimerHandle | None = None
        self._resync_task: asyncio.Task[Any] | None = None
        self._resync_queued = False                       # waiting for a resync slot (no task yet)
        self._turn: asyncio.Future[None] | None = None    # what `resync()` waits on meanwhile
        self.resyncs = 0
        if children:   # a fresh object's are empty already
            syncher._load_children(self, children)

    @property
    def data(self) -> dict[str, Any]:
        """The replica's document (a resumed replica's is decoded on first read)."""
        data = self._data
        if isinstance(data, Encoded):
            data = self._data = data.decode()
        return data

    @data.setter
    def data(self, value: dict[str, Any]) -> None:
        self._data = value

    @property
    def healing(self) -> bool:
        """A gap is waiting for its grace period or a resync is under way."""
        return self._gap_timer is not None or self._resync_task is not None or self._resync_queued

    @property
    def reporter(self) -> str:
        return str(self._metadata.get("reporter", ""))

    # updates (PROTOCOL §3.3, §5 rule 3) ----------------------------------------------------------------

    def _on_changes(self, msg: Message) -> None:
        if msg["type"] != "update" or msg["from"] != self.url or self.closed:
            return
        b = msg.get("body", {})
        plan = direct.plan_of(b)
        tracker = self.tracker
        if plan is not None:
            apply, segments, field, value, mutable, version, source, modified = plan
            if version == tracker.version + 1 and not tracker.buffer and source == self._metadata.get("reporter"):
                # the common case, as `_apply` below would take it: a set or remove from the reporter at
                # the next version with nothing buffered (rule 3b; nothing to drain), applied on the path
                try:
                    # the attribute, not the property, on this path of every replica (a type test is cheaper)
                    doc = self._data if type(self._data) is dict else self.data
                    ctype, otype, field, data = apply(doc, segments, field, value, mutable)
                except ch.ChangeError as exc:
                    self._not_applied(version, exc)
                else:
                    tracker.version = self.version = version
                    if modified is not direct.MISSING:
                        self._metadata["lastModified"] = modified
                    if self._change_handlers:
                        self._changed_one(ch.ChangeEvent(ctype, otype, field, data))
                if self.status == "stale" and not tracker.buffer:
                    self._gap_closed()
                return
        self._offer(msg)

    def _on_counted_child(self, msg: Message) -> None:
        """A child edit of the reporter that counts as one of this object's versions, as reTHINK's do
        (INTEROP §4): ordered with the object's updates, a gap like theirs."""
        if not self.closed:
            self._offer(msg)

    def _offer(self, msg: Message) -> None:
        version = msg.get("body", {}).get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            return
        verdict = self.tracker.offer(version, msg)
        if verdict is Verdict.APPLY:
            self._apply(msg)
            while not self.closed and (nxt := self.tracker.next_buffered()) is not None:
                self._apply(nxt)
            if not self.tracker.has_gap and self.status == "stale":
                self._gap_closed()
        elif verdict is Verdict.GAP:
            self._gap_opened()
        elif verdict is Verdict.OVERFLOW:
            self.resync_soon(0.0)

    def _apply(self, msg: Message) -> None:
        b = msg["body"]
        version = b["version"]
        if msg["to"] != self.changes_url:
            self._apply_counted_child(msg)
            return
        reporter_change = "attribute" not in b and "patch" not in b and "reporter" in b
        source = b["source"] if "source" in b else b.get("subscriber")
        if not reporter_change and source != self._metadata.get("reporter"):
            # PROTOCOL §6: only the current reporter's updates apply; the version stays a gap.
            self.tracker.buffer.pop(version, None)
            self._monitor("ignored update", version=version, source=b.get("source"))
            self._gap_opened()
            return
        if reporter_change:
            self._metadata["reporter"] = b["reporter"]
            if "runtime" in b:
                self._metadata["runtime"] = b["runtime"]
            events: list[ch.ChangeEvent] = []
        elif (plan := direct.plan_of(b)) is not None:
            # set/remove: applied straight on the path, its attribute parsed once per message
            try:
                ctype, otype, field, data = direct.apply_plan(self.data, plan)
            except ch.ChangeError as exc:
                self._not_applied(version, exc)
                return
            tracker = self.tracker
            tracker.version = version
            if tracker.buffer:
                tracker.buffer.pop(version, None)
            self.version = version
            if "lastModified" in b:
                self._metadata["lastModified"] = b["lastModified"]
            if self._change_handlers:
                self._changed_one(ch.ChangeEvent(ctype, otype, field, data))
            return
        else:
            try:
                ops = ch.apply_update(self.data, b)
            except ch.ChangeError as exc:
                self._not_applied(version, exc)
                return
            events = ch.update_events(b, ops, self.data) if self._change_handlers else []
        self.tracker.applied(version)
        self.version = version
        if "lastModified" in b:
            self._metadata["lastModified"] = b["lastModified"]
        self._changed(events)

    def _apply_counted_child(self, msg: Message) -> None:
        b = msg["body"]
        self.tracker.applied(b["version"])
        self.version = b["version"]
        if "lastModified" in b:
            self._metadata["lastModified"] = b["lastModified"]
        cid = b["resource"]
        child = self.children.get(cid)
        if child is not None:
            child._apply(b, versioned=False)
        else:   # its create was lost: fetch it from its reporter
            self.syncher._heal_child(self, cid, self.reporter, addr.child_name(msg["to"]))

    def _not_applied(self, version: int, exc: ch.ChangeError) -> None:
        """PROTOCOL §3.3.1: a path that does not resolve is a gap: resync at once."""
        self._monitor("update does not apply", version=version, error=str(exc))
        self.resync_soon(0.0)

    def _gap_opened(self) -> None:
        if self.status == "live":
            self.status = "stale"
        if self._gap_timer is None and self._resync_task is None:
            self._gap_timer = asyncio.get_running_loop().call_later(
                self.syncher.runtime.timers.gap_grace, self.resync_soon, 0.0)
            self.syncher.runtime.healing.add(self)

    def _gap_closed(self) -> None:
        self.status = "live"
        if self._gap_timer is not None:
            self._gap_timer.cancel()
            self._gap_timer = None
        self._healed()

    def _healed(self) -> None:
        if not self.healing:
            self.syncher.runtime.healing.discard(self)

    # resync (PROTOCOL §5 rule 4) ------------------------------------------------------------------------

    def resync_soon(self, delay: float = 0.0) -> None:
        if self._gap_timer is not None:
            self._gap_timer.cancel()
            self._gap_timer = None
        if self._resync_task is None and not self._resync_queued and not self.closed:
            # its read waits for a slot of the runtime's (after a resume thousands wait their turn);
            # the task that makes it is made when the slot is there
            self._resync_queued = True
            self.syncher.runtime.healing.add(self)
            self.syncher.runtime.resync_slots.when_free(self._start_resync)

    def _start_resync(self) -> bool:
        """Its turn: start the resync holding the slot (declined when released meanwhile)."""
        self._resync_queued = False
        turn, self._turn = self._turn, None
        if turn is not None and not turn.done():
            turn.set_result(None)
        if self.closed:
            return False
        slot = Slot(self.syncher.runtime.resync_slots)
        task = self._resync_task = self.syncher.runtime.tasks.spawn(self._resync_loop(slot), f"resync {self.url}")
        task.add_done_callback(lambda _task: slot.give_back())   # also when cancelled before it ran
        return True

    async def resync(self) -> None:
        """Force a resync read now and wait for it."""
        if self._resync_task is None:
            self.resync_soon()
        if self._resync_queued:
            turn = self._turn = self._turn or asyncio.get_running_loop().create_future()
            await turn
        task = self._resync_task
        if task is not None:
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not (task.cancelled() and self.closed):   # ended by a delete or revocation meanwhile
                    raise

    async def _resync_loop(self, slot: Slot) -> None:
        timers = self.syncher.runtime.timers
        backoff = min(1.0, timers.resync_max_backoff)
        try:
            while not self.closed and self.status != "revoked":   # a revocation under way ends it
                self.status = "resyncing"
                if not slot.held:                                 # a retry waits its turn again
                    await slot.slots.acquire()
                    slot.held = True
                try:
                    self.resyncs += 1
                    self._monitor("resync", version=self.version)
                    answer = await self.syncher.sandbox.request(
                        {"type": "read", "from": self.syncher.url, "to": self.url, "body": {}},
                        timeout=timers.resync_read)
                finally:
                    slot.give_back()
                if self.closed or self.status == "revoked":   # deleted, revoked or released meanwhile
                    return
                code = code_of(answer)
                if code == 200:
                    value = answer.get("body", {}).get("value")
                    if isinstance(value, dict) and self._replace(value):
                        return
                elif code in (401, 403):
                    await self.syncher._revoked(self)
                    return
                elif code == 404 and description_of(answer) == UNKNOWN_OBJECT:
                    self.syncher._deleted_while_away(self)   # PROTOCOL §5 rule 4: gone, as §3.6
                    return
                # 408, 5xx, 404 "no route" (the reporter's runtime is unreachable) or any other answer:
                # the replica and its stored record are kept; the read is retried with backoff.
                self._monitor("resync failed", version=self.version, code=code,
                              description=description_of(answer), retry=round(backoff, 3))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, timers.resync_max_backoff)
        finally:
            self._resync_task = None
            self._healed()

    def _replace(self, value: dict[str, Any]) -> bool:
        metadata, data, version, children = split_value(value)
        if version < self.version:
            return False
        self.metadata = metadata
        self._data = data
        self.version = version
        self.tracker.reset(version)
        self.syncher._load_children(self, children)
        while (nxt := self.tracker.next_buffered()) is not None:
            self._apply(nxt)
        self.status = "stale" if self.tracker.has_gap else "live"
        self._changed([ch.ChangeEvent("update", "object", "", self.data)])
        self._monitor("resynced", version=self.version)
        if self.tracker.has_gap:
            self._gap_opened()
        if value.get("store") or self.syncher._stores(self.url):
            self.syncher.runtime.tasks.spawn(self.syncher._snapshot_update(self, value), "snapshot update")
        return True

    # operations ---------------------------------------------------------------------------------------

    async def unsubscribe(self) -> None:
        """Observer-initiated unsubscribe (PROTOCOL §3.5)."""
        if self.closed:
            raise SyncError(404, "not subscribed")
        timers = self.syncher.runtime.timers
        # the SM waits out a reporter that never answers (INTEROP §3), then succeeds: wait longer than it
        await self.syncher.sandbox.call({"type": "unsubscribe", "from": self.syncher.url, "to": self.syncher.sm_url,
                                         "body": {"resource": self.url}}, timeout=timers.standby + 2 * timers.request)
        self._release()

    async def execute(self, method: str, *params: Any) -> Any:
        """Ask the reporter to perform `method` (PROTOCOL §3.4); returns its value."""
        body = await self.syncher.sandbox.call({"type": "execute", "from": self.syncher.url, "to": self.url,
                                                "body": {"method": method, "params": list(params)}})
        return body.get("value")

    async def add_child(self, name: str, data: dict[str, Any]) -> Any:
        return await self.syncher._add_child(self, name, data)

    def _release(self) -> None:
        for listener in self._listeners:
            listener.remove()
        # emptied, not replaced: the list is its `_Inbox`'s too, whose listeners' handlers lead back here;
        # emptied, the replica and its document are freed now, not left to the cyclic collector
        self._listeners.clear()
        if self._gap_timer is not None:
            self._gap_timer.cancel()
            self._gap_timer = None
        if self._resync_task is not None and self._resync_task is not asyncio.current_task():
            self._resync_task.cancel()
            self._resync_task = None
        if self._turn is not None and not self._turn.done():   # its turn will be declined: wait no more
            self._turn.set_result(None)
        self.syncher.runtime.healing.discard(self)
        self._close()
        if self.syncher.observers.get(self.url) is self:
            del self.syncher.observers[self.url]

    def _monitor(self, action: str, **detail: Any) -> None:
        runtime = self.syncher.runtime
        if runtime.monitor.active:
            runtime.monitor.emit("object", runtime.url, action=action, role="observer", object=self.url,
                                 hyperty=self.syncher.url, status=self.status, **detail)
