"""What the sans-I/O node tests share."""

from __future__ import annotations

from typing import Any

import orjson


class Wire:
    """A link end that keeps what the node sends (a `core.node.session.Transport`)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    def send(self, data: bytes) -> None:
        self.sent.append(orjson.loads(data))

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
