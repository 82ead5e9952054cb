"""Logs a peer cannot flood (TRANSPORT §5): bounded prefixes of peer-supplied strings, and a filter
that bounds every line and rate-limits lines logged again and again from the same place."""

from __future__ import annotations

import errno
import logging
import time

#: Characters of a peer-supplied string a log line shows (then how many more there were).
CLIP = 120
#: Characters of any one log line, whatever it holds (tracebacks included).
MAX_LINE = 2_000
#: Lines of one kind (same logger, level and format string) per window; the rest are counted and
#: their number is logged once the window is over, with the next line of that kind.
BURST = 20
WINDOW = 10.0
#: Kinds tracked at once (format strings are code, so this is never reached in practice).
MAX_KINDS = 1_000


def clip(text: str, limit: int = CLIP) -> str:
    """`text`, or its first `limit` characters and how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…(+{len(text) - limit} chars)"


class LogGuard(logging.Filter):
    """Attach to a handler: at most `burst` lines of one kind per `window` seconds, each at most
    `max_line` characters; the count of lines held back is reported with the next line that passes."""

    def __init__(self, *, burst: int = BURST, window: float = WINDOW, max_line: int = MAX_LINE) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.max_line = max_line
        self.clock = time.monotonic
        self.kinds: dict[tuple[str, int, str], list[float]] = {}   # kind → [window start, lines, held back]
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg)[:200])
        now = self.clock()
        entry = self.kinds.get(key)
        if entry is None or now - entry[0] >= self.window:
            held = int(entry[2]) if entry is not None else 0
            if entry is None and len(self.kinds) >= MAX_KINDS:
                self.kinds.clear()
            entry = self.kinds[key] = [now, 0.0, 0.0]
            if held:
                self._bound(record, f" [{held} similar lines held back]")
        elif entry[1] >= self.burst:
            entry[2] += 1
            self.suppressed += 1
            return False
        entry[1] += 1
        self._bound(record, "")
        return True

    def _bound(self, record: logging.LogRecord, note: str) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            # Out of a system resource (asyncio's accept says so once a second while it lasts): one
            # line says which; a traceback would only repeat where asyncio's accept loop is.
            note = f" ({type(exc).__name__}: {exc}){note}"
            record.exc_info = None
            record.exc_text = None
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = clip(logging.Formatter().formatException(record.exc_info), self.max_line)
        if len(text) > self.max_line or note:
            record.msg = clip(text, self.max_line) + note
            record.args = None
