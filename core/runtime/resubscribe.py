"""Re-sending a runtime's node subscriptions after a link to a node reopens (TRANSPORT §2), so that
one refused object never costs the others.

The node answers a subscribe list all or nothing (PROTOCOL §1.5), so the held addresses go out in as
few requests as before (one per `MAX_PER_REQUEST`), and a request refused with 403/404 is split in
halves by object until each refusal names one object, which is then acted on: an observed object the
node no longer knows (404 "unknown object") was deleted while the link was down (PROTOCOL §3.6, its
subscribers get the `delete` notification); one the node will not let us follow (401/403) is revoked
(§3.5). An object re-subscribed after a split is resynced, since the resync read made right after the
reopen may have been answered before its subscription was back. Any other failure (408, 429, 5xx) is
retried with backoff while the same session stays open; a later open re-sends everything anyway.
Every refusal is traced as a `subscription` event with `state="refused"` and what was done.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from core.protocol import address as addr
from core.protocol.message import Message, code_of, description_of
from core.runtime.routing import MAX_PER_REQUEST
from core.runtime.stub import Stub, StubState

if TYPE_CHECKING:
    from core.runtime.runtime import Runtime

#: A group: one object and its held addresses at one node.
Group = tuple[str, list[str]]


class Resubscriber:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def reopened(self, stub: Stub) -> None:
        """Post the re-subscriptions now: they must leave ahead of the resync reads and the queue."""
        groups: dict[str, list[str]] = {}
        for address in self.runtime.routing.node_subscriptions(stub.domain):
            groups.setdefault(addr.object_of(address) or address, []).append(address)
        chunk: list[Group] = []
        size = 0
        for group in groups.items():
            if chunk and size + len(group[1]) > MAX_PER_REQUEST:
                self._send(stub, stub.opens, chunk, split=False)
                chunk, size = [], 0
            chunk.append(group)
            size += len(group[1])
        if chunk:
            self._send(stub, stub.opens, chunk, split=False)

    def _send(self, stub: Stub, opens: int, groups: list[Group], split: bool, attempt: int = 0) -> None:
        held = self.runtime.routing.mns
        groups = [(obj, kept) for obj, addresses in groups if (kept := [a for a in addresses if a in held])]
        if not groups or not self._same_session(stub, opens):
            return
        runtime = self.runtime
        runtime.bus.post({"type": "subscribe", "from": runtime.sm_url, "to": addr.mn_sm(stub.domain),
                          "body": {"resources": [a for _, addresses in groups for a in addresses],
                                   "source": runtime.url}},
                         lambda answer: self._answered(stub, opens, groups, split, attempt, answer))

    @staticmethod
    def _same_session(stub: Stub, opens: int) -> bool:
        return stub.state is StubState.OPEN and stub.opens == opens

    def _answered(self, stub: Stub, opens: int, groups: list[Group], split: bool, attempt: int,
                  answer: Message) -> None:
        code = code_of(answer)
        if code == 200:
            if split:
                for obj, _ in groups:
                    self._resync(obj)
            return
        if not self._same_session(stub, opens):
            return   # the link went again: the next open re-sends whatever is held then
        if code in (401, 403, 404) and len(groups) > 1:
            half = len(groups) // 2
            self._send(stub, opens, groups[:half], split=True)
            self._send(stub, opens, groups[half:], split=True)
            return
        if code in (401, 403, 404) and len(groups) == 1:
            self._refused(groups[0][0], code, description_of(answer))
            return
        delay = min(self.runtime.timers.resync_max_backoff, self.runtime.timers.reconnect_first * 2 ** min(attempt, 20))
        self._trace(groups[0][0] if len(groups) == 1 else "", code, description_of(answer), "retry",
                    objects=len(groups), delay=round(delay, 3))
        self.runtime.tasks.spawn(self._retry(stub, opens, groups, split, attempt + 1, delay), "resubscribe")

    async def _retry(self, stub: Stub, opens: int, groups: list[Group], split: bool, attempt: int,
                     delay: float) -> None:
        await asyncio.sleep(delay)
        self._send(stub, opens, groups, split, attempt)

    def _refused(self, obj: str, code: int, description: str | None) -> None:
        """One object's re-subscription refused: act as its refusal says."""
        sm = self.runtime.sm
        oo = sm.observers.get(obj)
        if oo is None:
            # A reporter's own addresses (O, O/subscription): the node says O moved or went while we
            # were away; what the reporter does about it is outside the reconnection.
            self._trace(obj, code, description, "ignored", role="reporter" if obj in sm.reporters else "")
            return
        if code == 404 and description == "unknown object":
            self._trace(obj, code, description, "deleted", role="observer")
            sm.deletion.observer_deleted(oo, {"type": "delete", "from": addr.subscription(obj),
                                              "to": addr.changes(obj), "body": {"resource": obj}})
        elif code in (401, 403):
            self._trace(obj, code, description, "revoked", role="observer")
            for hyperty in list(oo.subscriptions):
                owner = self.runtime.hyperty_urls.get(hyperty)
                if owner is None:
                    continue
                observer = owner.syncher.observers.get(obj)
                if observer is not None and not observer.closed:
                    self.runtime.tasks.spawn(owner.syncher._revoked(observer), f"revoked {obj}")
        else:
            self._trace(obj, code, description, "ignored", role="observer")

    def _resync(self, obj: str) -> None:
        for hyperty in list(self.runtime.hyperties.values()):
            observer = hyperty.syncher.observers.get(obj)
            if observer is not None and not observer.closed:
                observer.resync_soon()

    def _trace(self, obj: str, code: int, description: str | None, outcome: str, **detail: Any) -> None:
        self.runtime.monitor.emit("subscription", self.runtime.url, object=obj, state="refused", side="node",
                                  code=code, description=description, outcome=outcome, **detail)
