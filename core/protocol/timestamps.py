"""Timestamps the protocol writes (`created`, `lastModified`: ISO 8601, UTC, to the second)."""

from __future__ import annotations

import time

_last: tuple[int, str] = (-1, "")


def iso_now() -> str:
    """The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`; formatted once a second (an update stamps every
    change it sends, thousands a second under load)."""
    global _last
    now = time.time()
    second = int(now)
    if second != _last[0]:
        _last = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)))
    return _last[1]
