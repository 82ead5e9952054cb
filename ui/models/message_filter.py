"""What the message log shows: a filter expression (`ui.models.filter_expression`), and the rows of
one flow. `address_pattern` is the `*` wildcard match other address filters share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ui.models.filter_expression import parse_filter
from ui.models.log_row import LogRow, identity
from ui.naming import Namer


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
    """An empty filter accepts every row; an expression that cannot be read raises FilterError."""

    expression: str = ""
    #: Identities (`ui.models.log_row.identity`) of the messages of one flow; None: any message.
    flow: frozenset[tuple[Any, ...]] | None = None
    namer: Namer | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self._test = parse_filter(self.expression, self.namer)
        #: True when the filter accepts every row (asked for every row the log takes in).
        self.empty = self._test is None and self.flow is None

    def accepts(self, row: LogRow) -> bool:
        if self.flow is not None and identity(row) not in self.flow:
            return False
        return self._test is None or self._test(row)
