"""Delete (PROTOCOL §3.6) in the runtime Sync Manager: the reporter's side (#1–#6, with the node's
steps retried while the node cannot hear us) and an observing runtime's side (#3 to each local subscriber)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from core.protocol import address as addr
from core.protocol.message import Message, code_of
from core.runtime.observer_object import ObserverObject
from core.runtime.sm_part import SmPart


class Deletion(SmPart):
    async def delete(self, msg: Message) -> None:
        b = msg.get("body", {})
        url = self.sm._field(b, "resource")
        ro = self.sm._reporter_of(msg, url)
        self.sm._allowed("delete", msg)
        self.bus.post({"type": "delete", "from": addr.subscription(url), "to": addr.changes(url),
                       "body": {"resource": url, "version": ro.version}})
        self.sm._detach_reporter(ro)
        owed = _NodeDelete(url, self.runtime.routing.release(ro.mns), ro.registered)
        if not self.runtime.link_open(addr.authority(url)) or not await self._at_node(owed):
            # The node cannot hear us now (the link is down): until it has these steps it routes O to
            # us and answers "no route" instead of "unknown object", so observers that missed the
            # delete could never tell it happened. They are owed, retried until the node has them.
            self.runtime.tasks.spawn(self._retry_at_node(owed), f"delete {url} at the node")
        self.runtime.forget_reporter(url)
        self.monitor.emit("object", self.runtime.url, action="deleted", role="reporter", object=url,
                          version=ro.version)
        self.bus.reply(msg, 200)

    async def _at_node(self, owed: _NodeDelete) -> bool:
        """#5, unregister, #6 in order, each done once answered; False while one goes unanswered."""
        if owed.mns:
            if _unanswered(await self.runtime.routing.node_unsubscribe(owed.mns)):
                return False
            owed.mns = []
        if owed.registered:  # before #6: the registry checks ownership, which ends with the deallocation
            if _unanswered(await self.sm._registry("delete", resource=owed.url)):
                return False
            owed.registered = False
        return not _unanswered(await self.sm._deallocate(owed.url))

    async def _retry_at_node(self, owed: _NodeDelete) -> None:
        delay = self.timers.reconnect_first
        self.runtime.healing.add(owed)
        try:
            while True:
                self.monitor.emit("object", self.runtime.url, action="delete owed", role="reporter",
                                  object=owed.url, retry=round(delay, 3))
                await asyncio.sleep(delay)
                if await self._at_node(owed):
                    self.monitor.emit("object", self.runtime.url, action="deleted at the node", role="reporter",
                                      object=owed.url)
                    return
                delay = min(delay * 2, self.timers.reconnect_max)
        finally:
            self.runtime.healing.discard(owed)

    def observer_deleted(self, oo: ObserverObject, msg: Message) -> None:
        """SM_B on the reporter's delete (#3 to each local subscriber, then everything of O goes)."""
        for hyperty in list(oo.subscriptions):
            self.bus.post({"type": "delete", "from": addr.subscription(oo.url), "to": hyperty,
                           "body": {"resource": oo.url}}, lambda _answer: None)
            self.sm._drop_subscription(oo, hyperty)
        mns, oo.mns = oo.mns, []
        if mns:
            self.runtime.tasks.spawn(self.runtime.routing.unsubscribe(mns), "release MNS")
        if oo.dormant:
            # Local hyperties that have not resumed yet learn of it when they do: the object stays as a
            # tombstone (no listeners, no node subscription) and its record lists only them.
            self.sm._unwire(oo)
            oo.deleted = True
            self.runtime.persist_observer(oo)
        else:
            self.sm._release_observed(oo)
            self.runtime.forget_observer(oo.url)
        self.monitor.emit("object", self.runtime.url, action="deleted", role="observer", object=oo.url,
                          version=msg.get("body", {}).get("version"))


@dataclass(eq=False)
class _NodeDelete:
    """What the node still owes us of a delete (PROTOCOL §3.6 #5, unregistration, #6)."""

    url: str
    mns: list[str]
    registered: bool


def _unanswered(reply: Message) -> bool:
    """No answer from the node (408, or a 5xx on the way): worth asking again later."""
    return code_of(reply) == 408 or code_of(reply) >= 500
