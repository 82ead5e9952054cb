"""Refusals a clustered node's view may have caused, handled once more after the view caught up
(DECISIONS 90).

Each node follows the domain's shared state a moment behind the node that stored a change. A request
that one node could not refuse (an owner query, a subscription to or a read of an object just
allocated through another node, a transfer whose acceptance another node stored) may meet a view that
has not seen it yet. Such a refusal is held: once the view holds everything JetStream had stored when
the refusal was made (`ClusterState.caught_up`), the message is handled again, and its answer, a refusal
again or not, is final. The session's later frames wait behind it, so its link keeps its order, and are
handled after it with their refusals final too: they came during the catch-up, whose view is as fresh as
they can ask for, and a peer that sends nothing but misses gets one catch-up per burst, not per message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.protocol.message import Message

if TYPE_CHECKING:
    from core.node.cluster.shared_state import ClusterState
    from core.node.node import MessageNode
    from core.node.session import Session
    from core.tasks import TaskSet

#: The refusals that a view lagging behind another node's change can cause.
VIEW_REFUSALS = frozenset({
    (404, "unknown object"),
    (403, "not owned by this session"),
    (403, "not the owner"),
    (403, "only the reporter runtime may publish changes"),
    (403, "the target runtime has not accepted this transfer"),
})
#: Refusals held at once on a node; past it a refusal is answered as it stands (a peer that sends
#: nothing but misses makes one catch-up at a time, not one JetStream round trip per message).
MAX_HELD = 1000
#: Frames a held session may send before they are handled without waiting (its order then lost).
MAX_QUEUED = 1000


class Again(dict):  # type: ignore[type-arg]
    """A message handled once more after a catch-up: its refusal now stands."""


class CatchUp:
    def __init__(self, node: MessageNode, state: ClusterState, tasks: TaskSet) -> None:
        self.node = node
        self.state = state
        self.tasks = tasks
        self.waiting: list[tuple[Session, Message, int, str | None, dict[str, Any]]] = []
        self.running = False
        self.final = False   # handling what a catch-up let go: whatever it refuses now stands
        self.caught_up = 0   # catch-ups completed

    def holds(self, s: Session, msg: Message, code: int, description: str | None, fields: dict[str, Any]) -> bool:
        """Hold this refusal for a catch-up (True), or let it be answered now."""
        if (code, description) not in VIEW_REFUSALS or type(msg) is Again or msg.get("type") == "response" \
                or self.final or len(self.waiting) >= MAX_HELD or not s.live:
            return False
        self.waiting.append((s, msg, code, description, fields))
        if s.held is None:
            s.held = []
        if not self.running:
            self.running = True
            self.tasks.spawn(self._run(), "cluster catch-up")
        return True

    def queued(self, s: Session, frame: bytes | str | Message) -> bool:
        """Keep `frame` behind the session's held message (True), or let it be handled now."""
        held = s.held
        if held is None or len(held) >= MAX_QUEUED:
            return False
        held.append(frame)
        return True

    async def _run(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, []
                ok = await self.state.caught_up()
                self.caught_up += 1
                self._let_go(batch, ok)
        finally:
            self.running = False

    def _let_go(self, batch: list[tuple[Session, Message, int, str | None, dict[str, Any]]], ok: bool) -> None:
        """Handle the held messages once more (or answer their refusals, when the view could not catch up),
        then the frames their sessions sent meanwhile, in order."""
        node = self.node
        self.final = True
        try:
            for s, msg, code, description, fields in batch:
                if not s.live:
                    continue
                if ok:
                    node._route(s, Again(msg))   # `Again`: a refusal it meets later (from NATS) stands too
                else:
                    node._send_answer(s, msg, code, description, fields)
            for s in dict.fromkeys(s for s, *_ in batch):   # each once, in the order they were held
                frames, s.held = s.held or [], None
                for frame in frames:
                    node.receive(s, frame)
        finally:
            self.final = False
