"""The reporter's side of a subscription in the runtime Sync Manager: the listener `L(O/subscription)`
(PROTOCOL §3.2 #5–#9, §3.5 #2–#4) deciding subscribe requests with the reporter hyperty, taking
unsubscribes, and handing a delegation candidate's check to the delegation part (§4 #4)."""

from __future__ import annotations

import time
from typing import Any

from core.protocol import address as addr
from core.protocol.dialect import is_rethink
from core.protocol.identity import user_of
from core.protocol.message import Message, code_of, description_of
from core.runtime.refusal import Refusal
from core.runtime.reporter_object import ObjectState, ReporterObject
from core.runtime.sm_part import SmPart


class Subscribers(SmPart):
    def on_message(self, ro: ReporterObject, msg: Message) -> None:
        mtype = msg["type"]
        if mtype == "response":
            return  # late responses are ignored
        b = msg.get("body", {})
        if mtype == "create" and "delegate" in b:
            self.sm.delegations.candidate_check(ro, msg)       # PROTOCOL §4 #4
            return
        if mtype not in ("subscribe", "unsubscribe"):
            self.bus.reply(msg, 400, f"{mtype} is not handled by {addr.subscription(ro.url)}")
            return
        source = b.get("source", b.get("subscriber"))
        if not isinstance(source, str) or not source:
            self.bus.reply(msg, 400, "missing source")
            return
        if ro.state is ObjectState.STANDBY and self.sm.delegations.queue(ro, msg):
            return
        if ro.state is not ObjectState.LIVE:
            self.bus.reply(msg, 503, "object in delegation")
            return
        if mtype == "unsubscribe":
            self._left(ro, msg, source)
            return
        self.runtime.tasks.spawn(self.sm._guarded(lambda m: self._decide(ro, m, source), msg),
                                 "reporter subscription")

    async def _decide(self, ro: ReporterObject, msg: Message, hyperty: str) -> None:
        b = msg.get("body", {})
        self.bus.reply(msg, 100)
        forward: dict[str, Any] = {"type": "subscribe", "from": hyperty, "to": ro.url,
                                   "preauthorised": hyperty in ro.preauthorised or hyperty in ro.subscriptions}
        runtime = addr.runtime_of(msg["from"])
        if runtime:   # the observer's runtime: its dialect decides the update forms (INTEROP §4)
            forward["runtime"] = runtime
        if "identity" in b:
            forward["identity"] = b["identity"]
        answer = await self.bus.request({"type": "forward", "from": ro.url, "to": ro.owner, "body": forward},
                                        timeout=self.timers.subscription)
        if self.sm.reporters.get(ro.url) is not ro:
            raise Refusal(404, "unknown object")
        code = code_of(answer)
        if code != 200:
            self.bus.reply(msg, code, description_of(answer) or "subscription rejected")
            return
        user = user_of(b.get("identity"))
        ro.subscriptions[hyperty] = {"status": "live", "userURL": user, "since": time.time()}
        if is_rethink(msg["from"]):
            ro.subscriptions[hyperty]["rethink"] = True
        if user and user not in ro.subscriber_users:
            ro.subscriber_users.append(user)
        self.runtime.persist_reporter(ro)
        self.monitor.emit("subscription", self.runtime.url, object=ro.url, hyperty=hyperty, state="live",
                          side="reporter")
        ab = answer.get("body", {})
        self.bus.reply(msg, 200, schema=ro.schema, value=ab.get("value"), reporter=ro.owner)

    def _left(self, ro: ReporterObject, msg: Message, hyperty: str) -> None:
        if hyperty not in ro.subscriptions:
            self.bus.reply(msg, 404, "not subscribed")
            return
        del ro.subscriptions[hyperty]
        self.runtime.persist_reporter(ro)
        self.monitor.emit("subscription", self.runtime.url, object=ro.url, hyperty=hyperty, state="removed",
                          side="reporter")
        forward: dict[str, Any] = {"type": "unsubscribe", "from": hyperty, "to": ro.url}
        if "identity" in msg.get("body", {}):
            forward["identity"] = msg["body"]["identity"]
        self.bus.post({"type": "forward", "from": ro.url, "to": ro.owner, "body": forward})
        self.bus.reply(msg, 200)
