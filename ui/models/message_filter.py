"""What the message log shows: message types, an address pattern with `*` wildcards, free text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import orjson

from core.monitor import TraceEvent


def address_pattern(pattern: str) -> re.Pattern[str] | None:
    """`comm://a.example/3f*` as a regex matching whole addresses; '' matches everything (None)."""
    pattern = pattern.strip()
    if not pattern:
        return None
    if "*" not in pattern:
        pattern += "*"  # a bare prefix is what people type
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def envelope_text(event: TraceEvent) -> str:
    return orjson.dumps(event.to_dict()).decode().lower()


@dataclass
class MessageFilter:
    """An empty filter accepts every row."""

    types: frozenset[str] = field(default_factory=frozenset)
    address: str = ""
    text: str = ""

    def __post_init__(self) -> None:
        self._address = address_pattern(self.address)
        self._text = self.text.strip().lower()

    @property
    def empty(self) -> bool:
        return not self.types and self._address is None and not self._text

    def accepts(self, event: TraceEvent) -> bool:
        msg = event.message or {}
        if self.types and str(msg.get("type", "")) not in self.types:
            return False
        if self._address is not None:
            candidates = [str(msg.get("from", "")), str(msg.get("to", ""))]
            body = msg.get("body")
            if isinstance(body, dict) and isinstance(body.get("resource"), str):
                candidates.append(body["resource"])
            if not any(self._address.match(c) for c in candidates):
                return False
        return not self._text or self._text in envelope_text(event)
