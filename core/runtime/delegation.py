"""Reporter delegation (PROTOCOL §4) [OUR DESIGN]: the reporter role of an object moves to another
hyperty; the Message Node's ownership transfer (#8) is the single commit point.

SM_A side (old reporter's runtime): #1 request, #2 offer, #4/#5 candidate check, #7, #8 commit or
abort (fenced owner query when #8 is unanswered), #9, #12. SM_B side (candidate's runtime): #3, #4,
standby object, #9 go-live (or "aborted" / T_standby → fenced owner query), #10.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.protocol import address as addr
from core.protocol.changes import own_containers
from core.protocol.message import Message, code_of, description_of
from core.runtime.observer_object import SubscriptionState
from core.runtime.refusal import Refusal
from core.runtime.reporter_object import ObjectState, ReporterObject
from core.runtime.sm_part import SmPart

if TYPE_CHECKING:
    from core.runtime.sync_manager import SyncManager

#: PROTOCOL §4: requests queued at a standby object before they are answered 503.
MAX_STANDBY_QUEUE = 1000


def _subscriptions(ab: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The subscriptions a delegation hands over, each still marked when a reTHINK runtime holds it:
    the new reporter must keep to the update forms those subscribers can apply (INTEROP §4)."""
    def names(key: str) -> list[str]:
        given = ab.get(key)
        return [h for h in given if isinstance(h, str)] if isinstance(given, list) else []
    marked = set(names("rethinkSubscribers"))
    return {h: {"status": "live", **({"rethink": True} if h in marked else {})} for h in names("subscriptions")}


@dataclass(eq=False)
class PendingDelegation:
    """SM_A: at most one per object (409 otherwise). Invariant: `candidate_sm` is set once #4 passed."""

    candidate: str
    token: str
    snapshot: dict[str, Any]
    request: Message
    candidate_sm: str = ""
    runtime: str = ""


@dataclass(eq=False)
class Standby:
    """SM_B: the candidate's object between #5 and the commit (#9) or abort."""

    ro: ReporterObject
    token: str
    peer_sm: str
    queue: list[Message] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class Delegations(SmPart):
    def __init__(self, sm: SyncManager) -> None:
        super().__init__(sm)
        self.pending: dict[str, PendingDelegation] = {}   # SM_A, by object
        self.standby: dict[str, Standby] = {}             # SM_B, by object

    # SM_A: #1 ----------------------------------------------------------------------------------------

    async def request(self, msg: Message) -> None:
        """#1 R1 → SM_A : create {resource, delegate: R2, value: snapshot}."""
        b = msg.get("body", {})
        url, candidate = b.get("resource"), b.get("delegate")
        ro = self.sm.reporters.get(url) if isinstance(url, str) else None
        if ro is None:
            raise Refusal(404, "unknown object")
        if msg["from"] != ro.owner:
            raise Refusal(403, "not the reporter")
        if ro.state is ObjectState.DELEGATING or url in self.pending:
            raise Refusal(409, "delegation pending")
        if ro.state is not ObjectState.LIVE:
            raise Refusal(503, "object in delegation")
        if not isinstance(b.get("value"), dict):
            raise Refusal(400, "missing value")
        if not isinstance(candidate, str) or candidate == ro.owner or (
                candidate not in ro.subscriptions and candidate not in ro.preauthorised):
            raise Refusal(403, "candidate not authorised")
        self.sm._allowed("delegate", msg)
        pending = PendingDelegation(candidate, secrets.token_hex(16), b["value"], msg)
        self.pending[ro.url] = pending
        ro.state = ObjectState.DELEGATING
        self._trace(ro.url, "delegating", candidate=candidate)
        offer = {"resource": ro.url, "delegate": candidate, "source": ro.owner, "schema": ro.schema,
                 # (shown to the candidate's application: not this SM's lists)
                 "value": own_containers({k: v for k, v in ro.metadata.items() if k != "data"}),
                 "delegationToken": pending.token}
        answer = await self.bus.request({"type": "create", "from": self.sm.url, "to": candidate, "body": offer},
                                        timeout=self.timers.long)        # #2
        if self.pending.get(ro.url) is not pending:
            return
        if code_of(answer) != 200:                                         # rejected or silent
            await self._abort(ro, pending, code_of(answer), description_of(answer) or "delegation refused")
            return
        await self._commit_at_node(ro, pending)

    async def _commit_at_node(self, ro: ReporterObject, pending: PendingDelegation) -> None:
        """#8, the commit point; an unanswered #8 is settled by the fenced owner query."""
        if pending.runtime == self.runtime.url or not pending.runtime:
            await self._committed(ro, pending)
            return
        oam = addr.object_allocation(ro.domain)
        answer = await self.bus.request({"type": "update", "from": self.sm.url, "to": oam,
                                         "body": {"resource": ro.url, "value": {"runtime": pending.runtime},
                                                  "delegationToken": pending.token}})
        code = code_of(answer)
        if code == 408 or code >= 500:
            owner = await self.owner_query(ro.url, pending.token)
            code = 200 if owner == pending.runtime else 403
        if code == 200:
            await self._committed(ro, pending)
        else:
            await self._abort(ro, pending, code, description_of(answer) or "transfer refused")

    async def owner_query(self, url: str, token: str) -> str:
        """The fenced owner query of PROTOCOL §1.2 step 6, retried until the node answers."""
        delay = 0.05
        while True:
            answer = await self.bus.request({"type": "read", "from": self.sm.url,
                                             "to": addr.object_allocation(addr.authority(url)),
                                             "body": {"resource": url, "delegationToken": token}})
            if code_of(answer) == 200:
                return str(answer["body"].get("value", {}).get("runtime", ""))
            if code_of(answer) == 404:
                return ""
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _committed(self, ro: ReporterObject, pending: PendingDelegation) -> None:
        """After the commit: SM_A lets go of O (#9, #12); same runtime: re-point to R2 in place."""
        del self.pending[ro.url]
        old = ro.owner
        if pending.candidate_sm == self.sm.url:
            ro.owner = pending.candidate
            ro.metadata.update(reporter=pending.candidate)
            ro.subscriptions.pop(pending.candidate, None)
            ro.preauthorised.add(old)
            for listener in list(ro.listeners):
                if listener.kind == "FWD":
                    ro.listeners.remove(listener)
                    ro.listeners.append(self.runtime.forward(listener.addresses, pending.candidate))
                    listener.remove()
            ro.state = ObjectState.LIVE
            await self._go_live(ro, drop_observer=True)
        else:
            self.sm._detach_reporter(ro)
            moved = [ro.url, addr.subscription(ro.url)]
            self.runtime.routing.forget(moved)                       # moved by the node at #8
            children = [a for a in ro.mns if a not in moved]
            if children:
                await self.runtime.routing.unsubscribe(children)
            self.runtime.forget_reporter(ro.url)
            await self.bus.request({"type": "update", "from": self.sm.url, "to": pending.candidate_sm,
                                    "body": {"resource": ro.url, "delegate": pending.candidate,
                                             "status": "committed"}})   # #9 (its answer does not matter)
        self._trace(ro.url, "delegated", reporter=pending.candidate)
        self.bus.reply(pending.request, 200, resource=ro.url, reporter=pending.candidate)   # #12

    async def _abort(self, ro: ReporterObject, pending: PendingDelegation, code: int, description: str) -> None:
        self.pending.pop(ro.url, None)
        ro.state = ObjectState.LIVE
        if pending.candidate_sm and pending.candidate_sm != self.sm.url:
            self.bus.post({"type": "update", "from": self.sm.url, "to": pending.candidate_sm,
                           "body": {"resource": ro.url, "delegate": pending.candidate, "status": "aborted"}},
                          lambda _answer: None)
        elif pending.candidate_sm == self.sm.url:
            self._tell_candidate(ro.url, pending.candidate, "aborted")
        self._trace(ro.url, "delegation aborted", code=code, description=description)
        self.bus.reply(pending.request, code if code >= 300 else 500, description)

    # SM_A: #4 at L(O/subscription) -------------------------------------------------------------------

    def candidate_check(self, ro: ReporterObject, msg: Message) -> None:
        """#4/#5: the candidate's SM confirms with token and runtime; the snapshot goes back."""
        b = msg.get("body", {})
        pending = self.pending.get(ro.url)
        runtime = b.get("runtime")
        if (pending is None or b.get("delegate") != pending.candidate or b.get("delegationToken") != pending.token
                or not isinstance(runtime, str) or msg["from"] != addr.sm_of(runtime)):
            self.bus.reply(msg, 403, "bad delegation")
            return
        pending.candidate_sm, pending.runtime = msg["from"], runtime
        self.bus.reply(msg, 200, value=pending.snapshot,
                       subscriptions=sorted(h for h in ro.subscriptions if h != pending.candidate),
                       rethinkSubscribers=sorted(h for h, entry in ro.subscriptions.items()
                                                 if entry.get("rethink") and h != pending.candidate),
                       preAuthorised=sorted({*ro.preauthorised, ro.owner} - {pending.candidate}),
                       childrenResources=list(ro.childrens), runtime=self.runtime.url)

    # SM_B: #3 ----------------------------------------------------------------------------------------

    async def accept(self, msg: Message) -> None:
        """#3 R2 → SM_B : create {resource, delegate: R2, delegationToken, schema, store?}."""
        b = msg.get("body", {})
        candidate = self.sm._local_hyperty(msg)
        url, token = b.get("resource"), b.get("delegationToken")
        if not isinstance(url, str) or not addr.is_object_url(url):
            raise Refusal(400, "missing resource")
        if b.get("delegate") != candidate or not isinstance(token, str):
            raise Refusal(403, "bad delegation")
        answer = await self.bus.request({"type": "create", "from": self.sm.url, "to": addr.subscription(url),
                                         "body": {"resource": url, "delegate": candidate, "delegationToken": token,
                                                  "runtime": self.runtime.url}})          # #4
        if code_of(answer) != 200:
            raise Refusal(code_of(answer), description_of(answer) or "delegation refused")
        ab = answer["body"]
        snapshot = ab.get("value") if isinstance(ab.get("value"), dict) else {}
        if ab.get("runtime") != self.runtime.url:
            self._stand_by(url, candidate, token, snapshot, ab, b)
        handed = _subscriptions(ab)
        self.bus.reply(msg, 200, resource=url, value=snapshot, childrenResources=ab.get("childrenResources", []),
                       subscriptions=list(handed),
                       rethinkSubscribers=[h for h, entry in handed.items() if entry.get("rethink")])

    def _stand_by(self, url: str, candidate: str, token: str, snapshot: dict[str, Any], ab: dict[str, Any],
                  b: dict[str, Any]) -> None:
        """#5 at SM_B: a standby ReporterObject with local listeners and no MNS (PROTOCOL §4)."""
        version = snapshot.get("version", 0)
        metadata = {k: v for k, v in snapshot.items() if k not in ("data", "version", "childrenObjects")}
        metadata["reporter"] = candidate
        metadata["runtime"] = self.runtime.url
        ro = ReporterObject(url, candidate, str(snapshot.get("schema", b.get("schema", ""))),
                            tuple(ab.get("childrenResources", [])), metadata, store=bool(b.get("store")),
                            version=version if isinstance(version, int) else 0, state=ObjectState.STANDBY,
                            preauthorised=set(ab.get("preAuthorised", [])),
                            subscriptions=_subscriptions(ab),
                            data=snapshot.get("data", {}) if b.get("store") else None)
        peer = addr.sm_of(str(ab.get("runtime", "")))
        ro.delegation_token = token
        standby = Standby(ro, token, peer)
        self.standby[url] = standby
        self.sm._attach_reporter(ro)
        self.runtime.persist_reporter(ro)
        standby.timer = asyncio.get_running_loop().call_later(
            self.timers.standby, lambda: self.runtime.tasks.spawn(self._standby_expired(url), "standby expired"))

    def queue(self, ro: ReporterObject, msg: Message) -> bool:
        """Requests reaching a standby object's L(O/subscription) wait for the commit (≤ 1000)."""
        standby = self.standby.get(ro.url)
        if standby is None or standby.ro is not ro:
            return False
        if len(standby.queue) >= MAX_STANDBY_QUEUE:
            self.bus.reply(msg, 503, "object in delegation")
        else:
            standby.queue.append(msg)
        return True

    async def peer_update(self, msg: Message) -> None:
        """#9 (committed) or aborted, from the recorded peer SM only (PROTOCOL §6)."""
        b = msg.get("body", {})
        standby = self.standby.get(str(b.get("resource")))
        if standby is None or msg["from"] != standby.peer_sm:
            raise Refusal(403, "not a local hyperty")
        status = b.get("status")
        if status == "committed":
            await self._standby_live(standby)
            self.bus.reply(msg, 200)
        elif status == "aborted":
            self.bus.reply(msg, 200)
            await self._standby_settle(standby)
        else:
            raise Refusal(400, "missing status")

    async def _standby_expired(self, url: str) -> None:
        standby = self.standby.get(url)
        if standby is not None:
            await self._standby_settle(standby)

    async def _standby_settle(self, standby: Standby) -> None:
        """Lost commit or abort: the node's owner decides (fenced query, never a guess)."""
        owner = await self.owner_query(standby.ro.url, standby.token)
        if self.standby.get(standby.ro.url) is not standby:
            return
        if owner == self.runtime.url:
            await self._standby_live(standby)
            return
        self._drop_standby(standby)
        for queued in standby.queue:
            self.bus.reply(queued, 503, "object in delegation")
        self._tell_candidate(standby.ro.url, standby.ro.owner, "aborted")

    def _drop_standby(self, standby: Standby) -> None:
        if standby.timer is not None:
            standby.timer.cancel()
        self.standby.pop(standby.ro.url, None)
        self.sm._detach_reporter(standby.ro)
        self.runtime.forget_reporter(standby.ro.url)

    async def _standby_live(self, standby: Standby) -> None:
        """#9 at SM_B: live, node subscriptions taken over, queue processed, #10 to R2."""
        if standby.timer is not None:
            standby.timer.cancel()
        self.standby.pop(standby.ro.url, None)
        ro = standby.ro
        ro.state = ObjectState.LIVE
        ro.delegation_token = ""
        reply = await self.runtime.routing.subscribe(ro.node_addresses(), retries=self.timers.mn_retries)
        if code_of(reply) == 200:
            ro.mns = ro.node_addresses()
        await self._go_live(ro, drop_observer=True)
        for queued in standby.queue:
            self.sm.subscribers.on_message(ro, queued)

    async def _go_live(self, ro: ReporterObject, drop_observer: bool) -> None:
        """Common end of a commit at the new reporter's SM: its own observer subscription goes (through
        the counters), O is re-registered with R2, the record persisted, then #10."""
        oo = self.sm.observers.get(ro.url)
        if drop_observer and oo is not None and ro.owner in oo.subscriptions:
            live = oo.subscriptions[ro.owner].state is SubscriptionState.LIVE
            self.sm._drop_subscription(oo, ro.owner)
            if not oo.subscriptions:
                await self.sm._forget_observed(oo)
            elif live:
                self.runtime.persist_observer(oo)
        if ro.registered:
            await self.sm._registry("update", {"url": ro.url, "reporter": ro.owner, "runtime": self.runtime.url,
                                               "status": "live"})
        self.runtime.persist_reporter(ro)
        await self.bus.request({"type": "update", "from": self.sm.url, "to": ro.owner,
                                "body": {"resource": ro.url, "delegate": ro.owner, "status": "committed"}})  # #10

    def _tell_candidate(self, url: str, candidate: str, status: str) -> None:
        self.bus.post({"type": "update", "from": self.sm.url, "to": candidate,
                       "body": {"resource": url, "delegate": candidate, "status": status}}, lambda _answer: None)

    def _trace(self, url: str, action: str, **detail: Any) -> None:
        self.sm.monitor.emit("object", self.runtime.url, action=action, role="reporter", object=url, **detail)
