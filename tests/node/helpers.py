"""What the sans-I/O node tests share."""

from __future__ import annotations

from typing import Any

import orjson

from core.node.node import MessageNode
from core.node.session import Session


class Wire:
    """A link end that keeps what the node sends (a `core.node.session.Transport`)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    def send(self, data: bytes) -> None:
        self.sent.append(orjson.loads(data))

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def ask(node: MessageNode, session: Session, mtype: str, frm: str, to: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body of the node's answer to a request `session` sends (a node of one process: answered at once)."""
    node.receive(session, orjson.dumps({"id": 1, "type": mtype, "from": frm, "to": to, "body": body}))
    wire = session.transport
    assert isinstance(wire, Wire)
    return dict(wire.sent.pop()["body"])
