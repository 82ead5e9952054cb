"""The node's log guard (TRANSPORT §5): peer strings clipped, every line bounded, and lines of one kind
rate-limited with the count held back reported on the next one that passes."""

from __future__ import annotations

import io
import logging

from core.net.log_guard import LogGuard, clip


def guarded() -> tuple[logging.Logger, io.StringIO, LogGuard]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    guard = LogGuard(burst=3, window=10.0, max_line=100)
    handler.addFilter(guard)
    logger = logging.getLogger(f"test.guard.{id(out)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger, out, guard


def test_clip_keeps_a_prefix_and_says_how_much_is_left_out() -> None:
    assert clip("short") == "short"
    assert clip("u" * 900_000, 10) == "uuuuuuuuuu…(+899990 chars)"


def test_lines_are_bounded_and_repeats_are_held_back_then_counted() -> None:
    logger, out, guard = guarded()
    logger.info("open %s", "x" * 10_000)
    for i in range(10):
        logger.info("refused %d", i)
    lines = out.getvalue().splitlines()
    assert len(lines[0]) < 130 and lines[0].startswith("open xxx") and "(+" in lines[0]
    assert lines[1:] == ["refused 0", "refused 1", "refused 2"]   # 3 of a kind per window
    assert guard.suppressed == 7
    guard.clock = lambda: 1e12                              # the window is over
    logger.info("refused %d", 99)
    assert out.getvalue().splitlines()[-1] == "refused 99 [7 similar lines held back]"
