"""Session control of the Message Node (TRANSPORT §2): `open` and `re-open` of a runtime's session (its
token, the home secret, a takeover), a monitor's `open`, and `close`."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from core.monitor import Monitor
from core.node.home_secret import home_refusal
from core.node.limits import Limits, token_error
from core.node.monitor_feed import MonitorFeed
from core.node.session import TAKEOVER, Session, SessionState
from core.node.state import MemoryState
from core.node.subscription_manager import SubscriptionManager
from core.protocol import address as addr
from core.protocol.dialect import is_rethink
from core.protocol.message import Message

if TYPE_CHECKING:
    from core.node.cluster.cluster import Cluster


class SessionControl:
    """The part of `MessageNode` that opens, re-opens and closes sessions."""

    url: str
    domain: str
    home_secret: str | None
    limits: Limits
    monitor: Monitor
    state: MemoryState
    subscriptions: SubscriptionManager
    tokens: dict[str, str]
    lost_subscriptions: OrderedDict[str, list[str]]
    sessions: dict[str, Session]
    cluster: Cluster | None
    feed: MonitorFeed | None

    def _answer(self, s: Session, request: Message, code: int, description: str | None = None,
                **fields: Any) -> None:
        raise NotImplementedError

    def _bad_frame(self, s: Session, msg: dict[str, Any] | None, code: int, problem: str, size: int = 0) -> None:
        raise NotImplementedError

    def _session_event(self, action: str, session: Session, **detail: Any) -> None:
        raise NotImplementedError

    def disconnect(self, session: Session, reason: str = "link closed") -> None:
        raise NotImplementedError

    def _open(self, session: Session, msg: Message) -> None:
        """`open` (or reTHINK's `re-open`) from the runtime URL, with the token in the body, or from
        `<runtimeURL>/<token>`: the runtime proving its token (INTEROP §1)."""
        claimed = msg["from"]
        runtime = addr.runtime_of(claimed)
        proof = claimed[len(runtime) + 1:] if runtime and claimed != runtime else None
        if msg["to"] != addr.SESSION or not runtime or (proof is not None and (not proof or "/" in proof)):
            self._answer(session, msg, 400, "open needs a runtime URL and mn:/session")
            return
        if session.state is not SessionState.NEW:
            self._answer(session, msg, 400, "session already open")
            return
        token = msg.get("body", {}).get("token") if proof is None else proof
        problem = token_error(self.limits, token)
        if problem is not None:
            self._answer(session, msg, 400, problem)
            return
        refused = None if addr.authority(runtime) != self.domain else home_refusal(
            self.home_secret, msg.get("body", {}))
        if refused is not None:
            self._session_event("refused", session, claimed=runtime, code=refused[0])
            self._answer(session, msg, *refused)
            return
        known = self.tokens.get(runtime)
        if proof is not None and known is None and msg["type"] == "open":
            self._answer(session, msg, 400, "open needs a runtime URL and mn:/session")
            return
        if known is not None and token != known:
            self._session_event("refused", session, claimed=runtime, code=403)
            self._answer(session, msg, 403, "runtime URL already bound")
            return
        if known is None:
            known = self.tokens[runtime] = secrets.token_hex(16)
            self.state.token(runtime, known)
        older = self.sessions.get(runtime)
        session.runtime = runtime
        session.visiting = addr.authority(runtime) != self.domain
        session.state = SessionState.OPEN
        self.sessions[runtime] = session
        if older is not None and older is not session:
            self.disconnect(older, "taken over")
            older.transport.close(*TAKEOVER)
        self._session_event("takeover" if older else "open", session, visiting=session.visiting)
        if self.cluster is not None and self.cluster.router is not None:
            self.cluster.router.runtime_opened(runtime)
        kept = self.lost_subscriptions.pop(runtime, [])
        if kept and msg["type"] == "re-open":
            self._restore_subscriptions(session, kept)
        # A reTHINK stub re-opens as `<runtimeURL>/<runtimeToken>` only when told its token (INTEROP §1).
        extra = {"runtimeToken": known} if is_rethink(runtime) else {}
        self._answer(session, msg, 200, None, value={"session": session.id, "token": known,
                                                      "domain": self.domain, "visiting": session.visiting}, **extra)

    def _restore_subscriptions(self, session: Session, addresses: list[str]) -> None:
        """A reTHINK runtime's re-open takes over the node subscriptions of its lost link (it never
        re-sends them, INTEROP §1); within the session's limits, as any subscribe."""
        if self.subscriptions.refusal(session, addresses) is not None:
            return
        added = self.subscriptions.add(session, addresses)
        if self.monitor.active:
            for address in added:
                self.monitor.emit("subscription", self.url, action="added", address=address, session=session.runtime)

    def _monitor_control(self, s: Session, msg: Message) -> None:
        """TRANSPORT §4: a monitor opens with the monitor token, then sends nothing but `close`."""
        mtype = msg["type"]
        if s.state is SessionState.MONITOR:
            if mtype == "close" and msg["to"] in (addr.MONITOR, addr.SESSION):
                self._answer(s, msg, 200)
                self.disconnect(s, "closed by monitor")
                s.transport.close(1000, "closed")
            else:
                self._bad_frame(s, msg, 400, "monitors send nothing but close")
            return
        if mtype != "open":
            self._bad_frame(s, msg, 400, "mn:/monitor takes open and close from monitors only")
            return
        if s.state is not SessionState.NEW:
            self._answer(s, msg, 400, "session already open")
            return
        name = msg["from"]
        if not name.startswith("monitor://") or len(name) == len("monitor://"):
            self._answer(s, msg, 400, "a monitor opens as monitor://<name>")
            return
        if self.feed is None:
            self._answer(s, msg, 403, "this node has no monitor feed")
            return
        body = msg.get("body", {})
        problem = token_error(self.limits, body.get("token"))
        refusal = (400, problem) if problem is not None else self.feed.refusal(body)
        if refusal is None and "secret" in body and home_refusal(self.home_secret, body) is not None:
            refusal = 403, "wrong home secret"   # a console checks the domain secret it was given (ours)
        if refusal is not None:
            self._session_event("refused", s, claimed=name, code=refusal[0])
            self._answer(s, msg, *refusal)
            return
        s.monitor_name = name
        s.state = SessionState.MONITOR
        value: dict[str, Any] = {"session": s.id, "domain": self.domain, "node": self.url}
        if "secret" in body or self.home_secret is not None:   # how home sessions open, for a console
            value["home"] = "first come" if self.home_secret is None else "secret"
        if self.cluster is not None:   # which member of the domain this is, and who the others are
            value["cluster"] = self.cluster.describe()
        self._answer(s, msg, 200, value=value)
        self.feed.attach(s, body.get("replay", 0))
        self._session_event("monitor", s, monitor=name)  # after the replay: its own open comes live

    def _session_control(self, session: Session, msg: Message) -> None:
        if msg["type"] == "close":
            self._answer(session, msg, 200)
            self.disconnect(session, "closed by runtime")
            session.transport.close(1000, "closed")
        else:
            self._answer(session, msg, 400, "mn:/session takes open and close only")
