"""DataObjectReporter: the only writer of an object (PROTOCOL §3.1, §3.2, §3.3, §3.4, §3.5, §3.6)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from core.protocol import address as addr
from core.protocol import changes as ch
from core.protocol.changes import Op
from core.protocol.dialect import is_rethink, nested_children, rethink_bodies
from core.protocol.encoded import Encoded
from core.protocol.message import Message, SyncError, code_of, response
from core.protocol.timestamps import iso_now
from core.sync.data_object import DataObject
from core.sync.events import ExecuteEvent, ReadEvent, SubscriptionEvent
from core.sync.sandbox import SandboxListener
from core.sync.tail import Tail
from core.sync.tracked import TrackedList, wrap

if TYPE_CHECKING:
    from core.sync.syncher import Syncher


class DataObjectReporter(DataObject):
    """`status` is `live`, `delegating` (frozen for a delegation) or `standby` (candidate)."""

    def __init__(self, syncher: Syncher, url: str, schema: str, metadata: dict[str, Any],
                 data: dict[str, Any] | Encoded, version: int, childrens: list[str]) -> None:
        self._tracked: dict[str, Any] | None = None
        # the base by name, not `super()` (no proxy object per object: a resume makes thousands)
        DataObject.__init__(self, syncher, url, schema, metadata, version, childrens)
        self.status = "live"
        self.subscriptions: dict[str, dict[str, Any]] = {}
        #: subscribers in reTHINK runtimes: while there is one, updates take forms reTHINK applies (INTEROP §4)
        self.rethink: frozenset[str] = frozenset()   # (the empty one is shared: a resume makes thousands)
        self._batch: list[Op] | None = None
        self._batch_depth = 0
        self._suspended = False
        self._on_subscription: Callable[[SubscriptionEvent], Any] | None = None
        self._on_read: Callable[[ReadEvent], Any] | None = None
        self._on_execute: Callable[[ExecuteEvent], Any] | None = None
        self._raw: dict[str, Any] | Encoded = data   # the attribute, not the setter: `_tracked` is None already
        self._listeners: list[SandboxListener] = []
        self._tail: Tail | None = None   # made on the first send (a resume of thousands sends nothing)

    @property
    def data(self) -> dict[str, Any]:
        """The tracked document; wrapped on first use (a resume of thousands of objects wraps none, nor
        decodes the stored text a resumed one starts from)."""
        if self._tracked is None:
            raw = self._raw
            # new containers: `_raw` is not shared
            self._tracked = wrap(raw.decode() if isinstance(raw, Encoded) else raw, None, None, self)
            self._raw = {}
        return self._tracked

    @data.setter
    def data(self, value: dict[str, Any] | Encoded) -> None:
        self._raw, self._tracked = value, None

    def _sent(self, msg: Message) -> None:
        """Its latest update is re-sent after a quiet period (tail retransmission, DECISIONS.md)."""
        if self._tail is None:
            self._tail = Tail(self.syncher.sandbox, self.syncher.runtime.timers.tail,
                              lambda: not self.closed and self.status == "live")
        self._tail.sent(msg)

    # wiring --------------------------------------------------------------------------------------

    def _attach(self) -> None:
        """SB(O) and SB(O/children/n) on the hyperty's sandbox (PROTOCOL §3.1, Appendix A): one listener
        filed under each (a resume attaches thousands)."""
        url = self.url
        # `addr.children(url, name)` of each name, joined in C
        channels = map((url + addr.CHILDREN).__add__, self.childrens)
        self._listeners = [self.syncher.sandbox.add((url, *channels), self._on_sandbox_msg)]

    def _on_sandbox_msg(self, msg: Message) -> None:
        if msg["to"] == self.url:
            self._on_object_msg(msg)
        else:
            self.syncher._on_children_msg(self, msg)

    def _release(self) -> None:
        if self._tail is not None:
            self._tail.cancel()
        for listener in self._listeners:
            listener.remove()
        self._listeners = []
        self._close()
        if self.syncher.reporters.get(self.url) is self:
            del self.syncher.reporters[self.url]

    # callbacks -----------------------------------------------------------------------------------

    def on_subscription(self, handler: Callable[[SubscriptionEvent], Any]) -> None:
        self._on_subscription = handler

    def on_read(self, handler: Callable[[ReadEvent], Any]) -> None:
        self._on_read = handler

    def on_execute(self, handler: Callable[[ExecuteEvent], Any]) -> None:
        self._on_execute = handler

    # edits (PROTOCOL §3.3.2) ---------------------------------------------------------------------

    def guard(self) -> None:
        if self.closed:
            raise SyncError(404, "object deleted or released: edits are no longer possible")
        if self.status != "live":
            raise SyncError(503, "object in delegation")

    @property
    def rethink_observed(self) -> bool:
        return bool(self.rethink) or self.syncher.runtime.rethink

    def counts_children(self) -> bool:
        # reTHINK observers take a child update's version as the parent's next one (interop findings R7)
        return self.rethink_observed

    def guard_child_edit(self) -> None:
        if self.counts_children():
            self.guard()

    def send_child_update(self, child_id: str, channel: str, body: dict[str, Any]) -> None:
        """A child edit of ours in reTHINK's form: from O, with the parent's next version (INTEROP §4)."""
        self.version += 1
        now = iso_now()
        self._metadata["lastModified"] = now
        msg = {"type": "update", "from": self.url, "to": channel,
               "body": {"resource": child_id, "version": self.version, "source": self.syncher.url,
                        "lastModified": now, **body}}
        self.syncher.sandbox.post(msg)
        self._sent(msg)

    def record(self, body: dict[str, Any], ops: list[Op]) -> None:
        if self._suspended:
            return
        if self._batch is not None:
            self._batch.extend(ops)
            return
        self._publish(body, ops)

    def _publish(self, body: dict[str, Any], ops: list[Op]) -> None:
        forms = rethink_bodies(body, self.data) if self.rethink_observed else None
        for form in forms or (body,):   # none reTHINK can address: ours still get it (DECISIONS.md)
            self._send(form)
        if self._change_handlers:
            self._changed(ch.update_events(body, ops, self.data))

    def _send(self, body: dict[str, Any]) -> None:
        self.version += 1
        now = iso_now()
        self._metadata["lastModified"] = now
        msg = {"type": "update", "from": self.url, "to": addr.changes(self.url),
               "body": {"version": self.version, "source": self.syncher.url, "lastModified": now, **body}}
        self.syncher.sandbox.post(msg)
        self._sent(msg)

    @contextmanager
    def batch(self) -> Iterator[DataObjectReporter]:
        """Edits made inside go as one Patch update, one version (PROTOCOL §3.3.1 Patch)."""
        self.guard()
        if self._batch is None:
            self._batch = []
        self._batch_depth += 1
        try:
            yield self
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                ops, self._batch = self._batch, None
                if ops and not self.closed:
                    self._publish({"patch": [_plain_op(op) for op in ops]}, ops)

    def _container(self, segments: list[str]) -> Any:
        node: Any = self.data
        for seg in segments:
            if isinstance(node, list):
                node = node[int(seg)]
            elif isinstance(node, dict) and seg in node:
                node = node[seg]
            else:
                raise KeyError(f"path segment {seg!r} does not resolve")
        return node

    def set(self, path: str | list[str], value: Any) -> None:
        """Set `path` to `value`; missing intermediate objects are created in the same update."""
        segments = ch.parse_attribute(path)
        node: Any = self.data
        for depth, seg in enumerate(segments[:-1]):
            if isinstance(node, dict) and not isinstance(node.get(seg), (dict, list)):
                for name in reversed(segments[depth + 1:]):
                    value = {name: value}
                segments = segments[: depth + 1]
                break
            node = node[int(seg)] if isinstance(node, list) else node[seg]
        parent = self._container(segments[:-1])
        if isinstance(parent, list):
            index = int(segments[-1])
            if index == len(parent):
                parent.append(value)
            else:
                parent[index] = value
        else:
            parent[segments[-1]] = value

    def remove(self, path: str | list[str]) -> None:
        segments = ch.parse_attribute(path)
        parent = self._container(segments[:-1])
        del parent[int(segments[-1]) if isinstance(parent, list) else segments[-1]]

    def insert(self, path: str | list[str], index: int, *items: Any) -> None:
        target = self._container(ch.parse_attribute(path))
        if not isinstance(target, TrackedList):
            raise TypeError(f"{path!r} is not a list")
        target._insert_items(index, list(items))

    def apply_patch(self, ops: list[Op]) -> None:
        """Apply RFC 6902 `ops` as one update, all or none (an undo log rolls a failing patch back)."""
        self.guard()
        self._suspended = True
        try:
            ch.apply_ops(self.data, ops)
        except ch.ChangeError as exc:
            raise SyncError(400, f"patch does not apply: {exc}") from exc
        finally:
            self._suspended = False
        if self._batch is not None:
            self._batch.extend(ops)
        else:
            self._publish({"patch": [_plain_op(op) for op in ops]}, ops)

    # the object's own address: read, execute (PROTOCOL §3.4) ------------------------------------------

    def _on_object_msg(self, msg: Message) -> None:
        mtype = msg["type"]
        if mtype == "read":
            self._read(msg)
        elif mtype == "execute":
            self._execute(msg)
        elif mtype != "response":
            self._answer(msg, 400, f"{mtype} is not handled by {self.url}")

    def _answer(self, msg: Message, code: int, description: str | None = None, **fields: Any) -> None:
        if msg.get("type") != "response":
            self.syncher.sandbox.post(response(msg, code, description, **fields))

    def _read(self, msg: Message) -> None:
        reader = msg["from"]
        if reader in self.subscriptions or self._metadata.get("publicObservation") is True:
            self._answer(msg, 200, value=self.value())
            return
        if self._on_read is None:
            self._answer(msg, 401, "unauthorized")
            return

        def answer(code: int, reason: str | None, _value: Any) -> None:
            if code == 200:
                self._answer(msg, 200, value=self.value())
            else:
                self._answer(msg, code, reason or "unauthorized")

        self._call(self._on_read, ReadEvent(answer, url=reader))

    def _execute(self, msg: Message) -> None:
        b = msg.get("body", {})
        method = b.get("method")
        params = b.get("params", [])
        if not isinstance(method, str) or not method:
            self._answer(msg, 400, "missing method")
            return
        if not isinstance(params, list):
            self._answer(msg, 400, "params must be a list")
            return
        if self._on_execute is None:
            self._answer(msg, 401, "unauthorized")
            return

        def answer(code: int, reason: str | None, value: Any) -> None:
            if code == 200:
                self._answer(msg, 200, **({"value": value} if value is not None else {}))
            else:
                self._answer(msg, code, reason or "unauthorized")

        self._call(self._on_execute, ExecuteEvent(answer, url=msg["from"], method=method, params=params))

    # subscriptions (PROTOCOL §3.2 #7–#8, §3.5 #3) ---------------------------------------------------

    def _on_forward(self, msg: Message) -> None:
        b = msg.get("body", {})
        kind, hyperty = b.get("type"), b.get("from")
        if not isinstance(hyperty, str) or not hyperty:
            self._answer(msg, 400, "missing from")
            return
        if kind == "unsubscribe":
            self.subscriptions.pop(hyperty, None)
            if hyperty in self.rethink:
                self.rethink = self.rethink - {hyperty}
            if self._on_subscription is not None:
                self._call(self._on_subscription, SubscriptionEvent(lambda *_: None, type="unsubscribe", url=hyperty,
                                                                    identity=b.get("identity")))
            return
        if kind != "subscribe":
            self._answer(msg, 400, f"unknown forward type {kind!r}")
            return
        preauthorised = b.get("preauthorised") is True

        def answer(code: int, reason: str | None, _value: Any) -> None:
            if code == 200 and not self.closed:
                self.subscriptions[hyperty] = {"status": "live", "identity": b.get("identity")}
                if is_rethink(str(b.get("runtime", ""))):
                    self.rethink = self.rethink | {hyperty}
                self._answer(msg, 200, schema=self.schema, value=self.value())
            else:
                self._answer(msg, 403 if code == 200 else code, reason or "subscription rejected")

        event = SubscriptionEvent(answer, type="subscribe", url=hyperty, identity=b.get("identity"),
                                  preauthorised=preauthorised)
        if preauthorised:
            event.accept()
            if self._on_subscription is not None:
                self._call(self._on_subscription, event)
        elif self._on_subscription is None:
            event.reject("no subscription handler")
        else:
            self._call(self._on_subscription, event)

    # protocol operations ---------------------------------------------------------------------------

    def value(self) -> dict[str, Any]:
        """The object value of PROTOCOL §3.0.5."""
        # its metadata's lists are not copied (nor a child's): a replica the value reaches makes them its
        # own on first use (DECISIONS 86), the Sync Manager copies what it keeps, and what an application
        # is handed is a copy (`Syncher.read`, the Sync Manager's delegation offer)
        children = {cid: child.value_entry() for cid, child in self.children.items()}
        return {**self._metadata, "data": ch.copy_json(self.data), "version": self.version,
                "childrenObjects": nested_children(children)}

    async def invite(self, *urls: str) -> dict[str, int]:
        """Invite each hyperty (PROTOCOL §3.1.1); `{url: final code}`, 408 included."""
        results: dict[str, int] = {}
        metadata = ch.own_containers({k: v for k, v in self._metadata.items() if k != "data"})
        for url in urls:
            answer = await self.syncher.sandbox.request(
                {"type": "create", "from": self.syncher.url, "to": self.syncher.sm_url,
                 "body": {"resource": self.url, "authorise": [url], "schema": self.schema, "value": metadata}})
            code = code_of(answer)
            if code >= 300 and "source" not in answer.get("body", {}) and code != 408:
                raise SyncError(code, answer["body"].get("description", ""), answer)
            results[url] = code
        return results

    async def revoke(self, url: str) -> None:
        """Reporter-initiated unsubscribe (PROTOCOL §3.5): the SM forgets H, then H is told."""
        await self.syncher.sandbox.call({"type": "unsubscribe", "from": self.syncher.url, "to": self.syncher.sm_url,
                                         "body": {"resource": self.url, "subscriber": url}})
        if self.subscriptions.pop(url, None) is None:
            return  # only pre-authorised: the SM dropped that, and there is no subscription to end at H
        await self.syncher.sandbox.request({"type": "unsubscribe", "from": self.syncher.url, "to": url,
                                            "body": {"resource": self.url}})

    async def delete(self) -> None:
        """Delete the object everywhere (PROTOCOL §3.6); later edits raise."""
        self.guard()
        await self.syncher.sandbox.call({"type": "delete", "from": self.syncher.url, "to": self.syncher.sm_url,
                                         "body": {"resource": self.url}})
        self._release()

    async def add_child(self, name: str, data: dict[str, Any]) -> Any:
        return await self.syncher._add_child(self, name, data)

    async def delegate(self, url: str) -> None:
        """Hand the reporter role to `url` (PROTOCOL §4). Frozen meanwhile; on success this object
        is released (the new reporter lives in the candidate's Syncher), on failure it resumes."""
        if self.status == "delegating" and not self.closed:
            raise SyncError(409, "delegation pending")   # PROTOCOL §6: one delegation at a time
        self.guard()
        self.status = "delegating"
        timers = self.syncher.runtime.timers
        try:
            await self.syncher.sandbox.call(
                {"type": "create", "from": self.syncher.url, "to": self.syncher.sm_url,
                 "body": {"resource": self.url, "delegate": url, "value": self.value()}},
                timeout=2 * timers.long + 4 * timers.request + timers.standby)   # #1 is always answered
        except BaseException:
            self.status = "live"
            raise
        self._release()


def _plain_op(op: Op) -> Op:
    if "value" in op and isinstance(op["value"], (dict, list)):
        return {**op, "value": ch.copy_json(op["value"])}
    return op
