"""Version bookkeeping of PROTOCOL §5 rules 3a–3c and 7: duplicates, gaps and the gap buffer."""

from __future__ import annotations

from enum import Enum
from typing import Any

#: PROTOCOL §5 rule 3c: buffered out-of-order updates per object before the buffer is cleared.
MAX_BUFFER = 1000


class Verdict(Enum):
    STALE = "stale"          # rule 3a: duplicate or older, discard
    APPLY = "apply"          # rule 3b: next version, apply (then drain)
    GAP = "gap"              # rule 3c: buffered, waiting for the missing versions
    OVERFLOW = "overflow"    # rule 3c: buffer full, cleared: resync at once


class VersionTracker:
    """Local version `L` of one replica plus its buffer of future updates."""

    __slots__ = ("buffer", "max_buffer", "version")

    def __init__(self, version: int = 0, max_buffer: int = MAX_BUFFER) -> None:
        self.version = version
        self.max_buffer = max_buffer
        self.buffer: dict[int, Any] = {}

    def offer(self, version: int, item: Any) -> Verdict:
        """Classify update `version`; a gap buffers `item`. Call `applied()` after an APPLY."""
        if version <= self.version:
            return Verdict.STALE
        if version == self.version + 1:
            return Verdict.APPLY
        if len(self.buffer) >= self.max_buffer and version not in self.buffer:
            self.buffer.clear()
            return Verdict.OVERFLOW
        self.buffer[version] = item
        return Verdict.GAP

    def applied(self, version: int) -> None:
        self.version = version
        self.buffer.pop(version, None)

    def next_buffered(self) -> Any | None:
        """The buffered update for `L + 1`, removed from the buffer, or None (rule 3b drain)."""
        return self.buffer.pop(self.version + 1, None)

    def reset(self, version: int) -> None:
        """Rule 4: a resync value at `version` replaces the replica; older buffered items go."""
        self.version = version
        for v in [v for v in self.buffer if v <= version]:
            del self.buffer[v]

    @property
    def has_gap(self) -> bool:
        return bool(self.buffer)
