"""A Syncher as a delegation's candidate (PROTOCOL §4 #2, #3, #6, #7, #10): the offer put to the
application, a standby reporter from the snapshot once accepted, and going live (or not) when the
delegation commits (or aborts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from core.protocol import address as addr
from core.protocol.message import Message, code_of
from core.sync.data_object import DataObject
from core.sync.events import NotificationEvent
from core.sync.observer import DataObjectObserver, split_value
from core.sync.reporter import DataObjectReporter
from core.sync.syncher_part import SyncherPart

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.sync.syncher import Syncher


class DelegationCandidate(SyncherPart):
    """What a `Syncher` does when offered an object to report."""

    _standby: dict[str, DataObjectReporter]
    _stored: set[str]
    _on_notification: Callable[[NotificationEvent], Any] | None

    def _notify(self, event: NotificationEvent, default_code: int) -> None:
        raise NotImplementedError

    def _adopt(self, obj: DataObjectReporter | DataObjectObserver) -> None:
        raise NotImplementedError

    def _load_children(self, parent: DataObject, children: dict[str, Any]) -> None:
        raise NotImplementedError

    def _delegation_offered(self, msg: Message) -> None:
        """#2: the application accepts or rejects; no handler rejects "no delegation handler"."""
        b = msg.get("body", {})
        url = b.get("resource")
        if not isinstance(url, str) or b.get("delegate") != self.url or not addr.is_runtime_address(msg["from"]):
            self._answer(msg, 400, "bad delegation offer")
            return

        def answer(code: int, reason: str | None, _value: Any) -> None:
            if code == 200:
                self.runtime.tasks.spawn(self._accept_delegation(msg), f"accept delegation {url}")
            else:
                self._answer(msg, code, reason or "delegation rejected")

        event = NotificationEvent(answer, type="delegate", url=url, from_=str(b.get("source", "")),
                                  schema=str(b.get("schema", "")),
                                  value=b["value"] if isinstance(b.get("value"), dict) else {})
        if self._on_notification is None:
            event.reject("no delegation handler")
        else:
            self._notify(event, 403)

    async def _accept_delegation(self, offer: Message) -> None:
        """#3 to our SM, then a standby reporter at version V from the snapshot, then #7."""
        b = offer["body"]
        url = b["resource"]
        answer = await self.sandbox.request(
            {"type": "create", "from": self.url, "to": self.sm_url,
             "body": {"resource": url, "delegate": self.url, "delegationToken": b.get("delegationToken"),
                      "schema": b.get("schema", ""), "store": url in self._stored}},
            timeout=self.runtime.timers.long)
        value = answer.get("body", {}).get("value")
        if code_of(answer) != 200 or not isinstance(value, dict):
            self._answer(offer, code_of(answer) if code_of(answer) >= 300 else 500,
                         answer.get("body", {}).get("description", "delegation failed"))
            return
        metadata, data, version, children = split_value(value, copy=False)
        metadata.update(reporter=self.url, runtime=self.runtime.url)
        syncher = cast("Syncher", self)   # the part of a Syncher this is
        reporter = DataObjectReporter(syncher, url, str(value.get("schema", b.get("schema", ""))), metadata, data,
                                      version, list(answer["body"].get("childrenResources", [])))
        reporter.status = "standby"
        reporter.subscriptions = {h: {"status": "live"} for h in answer["body"].get("subscriptions", [])}
        reporter.rethink = frozenset(h for h in answer["body"].get("rethinkSubscribers", [])
                                     if h in reporter.subscriptions)
        self._load_children(reporter, children)
        self._standby[url] = reporter
        reporter._attach()
        self._answer(offer, 200, source=self.url)                                       # #7

    def _delegation_status(self, msg: Message) -> None:
        """#10 committed: go live, replace our observer of O, announce V+1 first; or aborted."""
        b = msg.get("body", {})
        url = str(b.get("resource", ""))
        reporter = self._standby.pop(url, None)
        if reporter is None or b.get("delegate") != self.url or not addr.is_runtime_address(msg["from"]):
            self._answer(msg, 404, "no delegation pending")
            return
        if b.get("status") != "committed":
            reporter._release()
            self._answer(msg, 200)
            return
        observer = self.observers.get(url)
        if observer is not None:
            observer._release()
        reporter.status = "live"
        self._adopt(reporter)
        reporter._publish({"reporter": self.url, "runtime": self.runtime.url}, [])      # #11
        self._answer(msg, 200)
