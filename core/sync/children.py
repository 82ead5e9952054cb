"""The children part of a Syncher (PROTOCOL §3.7): creating children, their messages on the children
channels, healing a child from its reporter, and the reTHINK forms of INTEROP §4 (DECISIONS 77, 80)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from core.protocol import address as addr
from core.protocol import changes as ch
from core.protocol.message import Message, SyncError, code_of
from core.protocol.timestamps import iso_now
from core.sync.child import DataObjectChild
from core.sync.data_object import DataObject
from core.sync.observer import DataObjectObserver
from core.sync.reporter import DataObjectReporter
from core.sync.syncher_part import SyncherPart

if TYPE_CHECKING:
    pass


class SyncherChildren(SyncherPart):
    """What a `Syncher` does for the children of the objects it reports or observes."""

    _child_counters: dict[str, int]
    _healing_children: set[str]

    def _load_children(self, parent: DataObject, children: dict[str, Any]) -> None:
        kept = {}
        for cid, entry in children.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("value"), dict):
                continue
            value = entry["value"]
            name = str(value.get("children", ""))
            kept[cid] = DataObjectChild(parent, name, {**value, "url": cid}, entry.get("identity"))
            self._count_child(parent.url, cid)
        parent.children = kept

    def _count_child(self, parent_url: str, cid: str) -> None:
        prefix = self.url + "#"
        if cid.startswith(prefix) and cid[len(prefix):].isdigit():
            n = int(cid[len(prefix):])
            if n > self._child_counters.get(parent_url, 0):
                self._child_counters[parent_url] = n

    async def _add_child(self, parent: DataObject, name: str, data: dict[str, Any]) -> DataObjectChild:
        if parent.closed:
            raise SyncError(404, "object deleted or released")
        if name not in parent.childrens:
            raise SyncError(400, f"{name!r} is not a children collection of {parent.url}")
        n = self._child_counters.get(parent.url, 0) + 1
        self._child_counters[parent.url] = n
        cid = f"{self.url}#{n}"
        now = iso_now()
        value = {"url": cid, "parent": parent.url, "children": name, "reporter": self.url,
                 "runtime": self.runtime.url, "schema": parent.schema, "created": now, "lastModified": now,
                 "version": 0, "data": ch.copy_json(data)}
        child = DataObjectChild(parent, name, value, self.hyperty.identity)
        parent.children[cid] = child
        msg = {"type": "create", "from": self.url, "to": addr.children(parent.url, name),
               "body": {"resource": cid, "value": value, "identity": self.hyperty.identity}}
        if isinstance(parent, DataObjectReporter):
            self.sandbox.post(msg)
            child._sent(msg)
            return child
        answer = await self._child_answer(parent, msg)
        if not child.closed and child._tail is None:
            child._sent(msg)
        code = code_of(answer)
        if code == 408:
            # Unconfirmed: the child stays local and is shared anyway (PROTOCOL §3.7). The create is
            # sent again in the background (a known childId is ignored), so a lost one still arrives.
            self.runtime.tasks.spawn(self._resend_create(parent, child, msg), f"resend child {cid}")
            return child
        if code >= 300:
            parent.children.pop(cid, None)
            child.closed = True
            raise SyncError(code, answer.get("body", {}).get("description", "child refused"), answer)
        return child

    async def _child_answer(self, parent: DataObject, msg: Message) -> Message:
        """The parent reporter's answer to a child create. reTHINK's answers with a 100 and nothing after
        (its own `share()` takes any code below 300 as done): from a reTHINK reporter that 100 is the
        answer (interop findings, DECISIONS.md)."""
        timeout = self.runtime.timers.child
        if not parent.rethink_observed:
            return await self.sandbox.request(msg, timeout=timeout)
        first: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

        def provisional(reply: Message) -> None:
            if not first.done():
                first.set_result(reply)
        final = asyncio.ensure_future(self.sandbox.request(msg, timeout=timeout, on_provisional=provisional))
        try:
            await asyncio.wait((first, final), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not final.done():
                final.cancel()
            first.cancel()
        return final.result() if final.done() and not final.cancelled() else first.result()

    async def _resend_create(self, parent: DataObject, child: DataObjectChild, msg: Message) -> None:
        for _ in range(3):
            if parent.closed or child.closed:
                return
            answer = await self.sandbox.request({k: v for k, v in msg.items() if k != "id"},
                                                timeout=self.runtime.timers.child)
            if code_of(answer) != 408:
                return

    def _on_children_msg(self, parent: DataObject, msg: Message) -> None:
        if msg["from"] == self.url or msg["type"] == "response" or parent.closed:
            return
        b = msg.get("body", {})
        cid = b.get("resource")
        if not isinstance(cid, str) or not cid:
            return
        if msg["from"] == parent.url and msg["type"] == "update":
            source = b.get("source")
            if source == self.url:   # our own child edit, counted as a version of the parent we report
                return
            if isinstance(parent, DataObjectObserver) and source == parent.reporter:
                # the reporter's child edit in reTHINK's form takes its place in the parent's versions (R7)
                parent._on_counted_child(msg)
                return
        name = addr.child_name(msg["to"])
        mtype = msg["type"]
        is_parent_reporter = isinstance(parent, DataObjectReporter)
        if mtype == "create":
            self._child_created(parent, msg, cid, name, is_parent_reporter)
            return
        child = parent.children.get(cid)
        if child is None:
            if mtype == "update" and cid.startswith(msg["from"] + "#"):   # its create was lost: fetch it
                self._heal_child(parent, cid, msg["from"], name)
            return
        if mtype == "update":
            if msg["from"] == parent.url:   # reTHINK: from the parent, with the parent's version (INTEROP §4)
                if b.get("source", child.reporter) in (child.reporter, parent._metadata.get("reporter")):
                    child._apply(b, versioned=False)
                return
            if msg["from"] != child.reporter:
                return
            if not child._apply(b):
                self._heal_child(parent, cid, child.reporter, name)
        elif mtype == "delete":
            if msg["from"] not in (child.reporter, parent._metadata.get("reporter")):
                return
            child.closed = True
            del parent.children[cid]
            for handler in parent._child_handlers:
                parent._call(handler, {"type": "delete", "url": parent.url, "childId": cid, "child": child})

    def _heal_child(self, parent: DataObject, cid: str, reporter: str, name: str) -> None:
        key = f"{parent.url} {cid}"
        if key not in self._healing_children:
            self._healing_children.add(key)
            self.runtime.tasks.spawn(self._read_child(parent, cid, reporter, name), f"read child {cid}")

    async def _read_child(self, parent: DataObject, cid: str, reporter: str, name: str) -> None:
        """A child gap (or an update of a child whose create was lost) heals by reading the child from
        its own reporter, the one source of truth for it: the parent's reporter may have missed the
        same message [OUR DESIGN, DECISIONS.md]. Retried with backoff on 408/5xx; 404 = deleted."""
        timers = self.runtime.timers
        backoff = timers.gap_grace
        try:
            while not parent.closed:
                answer = await self.sandbox.request({"type": "read", "from": self.url, "to": reporter,
                                                     "body": {"resource": cid}}, timeout=timers.resync_read)
                code, value = code_of(answer), answer.get("body", {}).get("value")
                if code == 200 and isinstance(value, dict):
                    child = parent.children.get(cid)
                    if child is None:
                        value = {**value, "url": cid, "reporter": reporter}
                        parent.children[cid] = DataObjectChild(parent, name, value)
                    else:
                        child._replace(value)
                    return
                if code == 404 and answer.get("body", {}).get("description") == "unknown child":
                    parent.children.pop(cid, None)
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, timers.resync_max_backoff)
        finally:
            self._healing_children.discard(f"{parent.url} {cid}")

    def _child_read(self, msg: Message) -> None:
        """A child's reporter answers a read of its child (the parent reporter healing a gap)."""
        cid = msg.get("body", {}).get("resource")
        for obj in (*self.reporters.values(), *self.observers.values()):
            child = obj.children.get(cid) if isinstance(cid, str) else None
            if child is not None and child.own:
                # Children channels are open to any session (PROTOCOL §6), so their reads are too.
                self._answer(msg, 200, value=child.value_entry()["value"])
                return
        self._answer(msg, 404, "unknown child")

    def _child_created(self, parent: DataObject, msg: Message, cid: str, name: str, answer: bool) -> None:
        b = msg.get("body", {})
        value = b.get("value")
        creator = msg["from"]
        if not isinstance(value, dict):
            if answer:
                self._answer(msg, 400, "missing value")
            return
        if answer and isinstance(parent, DataObjectReporter) and creator not in parent.subscriptions:
            self._answer(msg, 403, "not an accepted observer", source=self.url)
            self.sandbox.post({"type": "delete", "from": self.url, "to": msg["to"], "body": {"resource": cid}})
            return
        if cid in parent.children:
            if answer:
                self._answer(msg, 200, source=self.url)
            return
        child = DataObjectChild(parent, name, {**value, "url": cid, "reporter": creator}, b.get("identity"))
        parent.children[cid] = child
        if answer:
            self._answer(msg, 200, source=self.url)
        for handler in parent._child_handlers:
            parent._call(handler, {"type": "create", "from": creator, "url": parent.url, "childId": cid,
                                   "value": value, "identity": b.get("identity"), "child": child})
