"""What the message log shows: message types, an address pattern with `*` wildcards, free text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ui.models.log_row import RAW, RESOURCE, SENDER, TO, TYPE, LogRow, identity


def address_pattern(pattern: str) -> re.Pattern[str] | None:
    """`comm://a.example/3f*` as a regex matching whole addresses; '' matches everything (None)."""
    pattern = pattern.strip()
    if not pattern:
        return None
    if "*" not in pattern:
        pattern += "*"  # a bare prefix is what people type
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


@dataclass
class MessageFilter:
    """An empty filter accepts every row."""

    types: frozenset[str] = field(default_factory=frozenset)
    address: str = ""
    text: str = ""
    #: Identities (`ui.flow.identity`) of the messages of one flow; None: any message.
    flow: frozenset[tuple[Any, ...]] | None = None

    def __post_init__(self) -> None:
        self._address = address_pattern(self.address)
        self._text = self.text.strip().lower()
        #: True when the filter accepts every row (asked for every row the log takes in).
        self.empty = not self.types and self._address is None and not self._text and self.flow is None

    def accepts(self, row: LogRow) -> bool:
        if self.flow is not None and identity(row) not in self.flow:
            return False
        if self.types and row[TYPE] not in self.types:
            return False
        if self._address is not None:
            match = self._address.match
            if not (match(row[SENDER]) or match(row[TO]) or (row[RESOURCE] and match(row[RESOURCE]))):
                return False
        return not self._text or self._text in row[RAW].lower()
