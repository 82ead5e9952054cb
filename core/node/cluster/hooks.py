"""The part of a Message Node that serves a clustered domain (issue 15): answers held until the
shared state they report is stored, node subscriptions announced to the cluster, and what to do
when no node of the domain could deliver a message. A part of `MessageNode`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.node.session import Session
from core.protocol.message import UNANSWERED, Message

if TYPE_CHECKING:
    from core.node.cluster.cluster import Cluster


class ClusterSide:
    """What `MessageNode` does only when it has a `cluster` (`syncscope node --cluster`)."""

    cluster: Cluster | None
    _held: list[tuple[Session, Message, int, str | None, dict[str, Any]]] | None

    def _send_answer(self, s: Session, request: Message, code: int, description: str | None,
                     fields: dict[str, Any]) -> None:
        raise NotImplementedError   # the node's

    def _when_unrouted(self, s: Session, msg: Message, refuse: Callable[[], None]) -> Callable[[], None] | None:
        """What to do when no node of the domain could deliver `msg`: publications and responses are
        dropped unanswered (PROTOCOL §1.5), so they need no acknowledgement."""
        if msg["type"] in UNANSWERED:
            return None

        def unrouted() -> None:
            if s.live:
                refuse()

        return unrouted

    def _interest(self, address: str, on: bool) -> None:
        if self.cluster is not None and self.cluster.router is not None:
            self.cluster.router.interest(address, on)

    def _durably(self, handle: Callable[[Session, Message], None], s: Session, msg: Message) -> None:
        """Handle a request that may change shared state; on a clustered node its answers leave only
        once those changes are stored (a node that dies forgets nothing it answered), and become 409
        or 503 when another node changed the same thing first or NATS could not store it."""
        state = self.cluster.state if self.cluster is not None else None
        if state is None:
            handle(s, msg)
            return
        asked, self._held = state.asked, []
        try:
            handle(s, msg)
        finally:
            held, self._held = self._held, None
        if state.asked == asked:
            for answer in held:
                self._send_answer(*answer)
            return

        def release(failure: int) -> None:
            for session, request, code, description, fields in held:
                if failure and code < 300:
                    code, description, fields = failure, (
                        "another node of the domain changed it first; try again" if failure == 409
                        else "the domain's shared state could not be stored; try again"), {}
                self._send_answer(session, request, code, description, fields)

        state.after(release)
