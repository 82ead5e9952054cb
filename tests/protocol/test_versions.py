"""VersionTracker: PROTOCOL §5 rules 3a–3c (duplicates, next version, gap buffer) and rule 4 reset."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.protocol.versions import MAX_BUFFER, Verdict, VersionTracker


def test_defaults() -> None:
    t = VersionTracker()
    assert (t.version, t.max_buffer, t.buffer, t.has_gap) == (0, MAX_BUFFER, {}, False)
    assert MAX_BUFFER == 1000


def test_rule_3a_duplicate_and_older_are_stale() -> None:
    t = VersionTracker(5)
    assert t.offer(5, "dup") is Verdict.STALE
    assert t.offer(1, "old") is Verdict.STALE
    assert t.offer(0, "zero") is Verdict.STALE
    assert (t.version, t.buffer) == (5, {})


def test_rule_3b_next_version_applies_and_is_not_buffered() -> None:
    t = VersionTracker(5)
    assert t.offer(6, "u6") is Verdict.APPLY
    assert t.buffer == {}
    assert t.version == 5  # unchanged until the caller applied it
    t.applied(6)
    assert t.version == 6
    assert t.offer(6, "u6 again") is Verdict.STALE


def test_rule_3c_gap_buffers_by_version() -> None:
    t = VersionTracker(0)
    assert t.offer(3, "u3") is Verdict.GAP
    assert t.offer(2, "u2") is Verdict.GAP
    assert t.buffer == {3: "u3", 2: "u2"}
    assert t.has_gap is True
    assert t.next_buffered() is None  # 1 is missing
    assert t.offer(1, "u1") is Verdict.APPLY
    t.applied(1)
    drained = []
    while (item := t.next_buffered()) is not None:
        drained.append(item)
        t.applied(t.version + 1)
    assert drained == ["u2", "u3"]
    assert (t.version, t.buffer, t.has_gap) == (3, {}, False)


def test_drain_stops_at_the_next_hole() -> None:
    t = VersionTracker(0)
    for v in (2, 3, 5, 6):
        assert t.offer(v, f"u{v}") is Verdict.GAP
    assert t.offer(1, "u1") is Verdict.APPLY
    t.applied(1)
    drained = []
    while (item := t.next_buffered()) is not None:
        drained.append(item)
        t.applied(t.version + 1)
    assert drained == ["u2", "u3"]
    assert (t.version, t.buffer, t.has_gap) == (3, {5: "u5", 6: "u6"}, True)


def test_applied_removes_that_version_from_the_buffer() -> None:
    t = VersionTracker(0)
    t.offer(2, "u2")
    t.applied(1)
    t.applied(2)
    assert (t.version, t.buffer) == (2, {})


def test_rebuffering_a_version_keeps_one_entry() -> None:
    t = VersionTracker(0, max_buffer=2)
    assert t.offer(3, "a") is Verdict.GAP
    assert t.offer(4, "b") is Verdict.GAP
    assert t.offer(3, "a'") is Verdict.GAP  # already buffered: no overflow
    assert len(t.buffer) == 2


def test_overflow_at_max_buffer_clears_the_buffer() -> None:
    t = VersionTracker(10, max_buffer=3)
    for v in (12, 13, 14):
        assert t.offer(v, v) is Verdict.GAP
    assert t.offer(15, 15) is Verdict.OVERFLOW
    assert (t.version, t.buffer, t.has_gap) == (10, {}, False)
    # the next version still applies after an overflow
    assert t.offer(11, 11) is Verdict.APPLY


def test_default_limit_overflows_on_the_1001st_buffered_update() -> None:
    t = VersionTracker()
    verdicts = [t.offer(v, v) for v in range(2, 2 + MAX_BUFFER)]
    assert verdicts == [Verdict.GAP] * MAX_BUFFER
    assert t.offer(5000, 5000) is Verdict.OVERFLOW
    assert t.buffer == {}


def test_reset_replaces_version_and_drops_older_buffered() -> None:
    t = VersionTracker(1)
    for v in (3, 4, 6, 7):
        t.offer(v, f"u{v}")
    t.reset(5)
    assert (t.version, t.buffer) == (5, {6: "u6", 7: "u7"})
    assert t.next_buffered() == "u6"


def test_reset_to_a_buffered_version_drops_it() -> None:
    t = VersionTracker(1)
    t.offer(3, "u3")
    t.reset(3)
    assert (t.version, t.buffer, t.has_gap) == (3, {}, False)


@settings(deadline=None, max_examples=200)
@given(st.lists(st.integers(1, 40), max_size=80), st.integers(1, 8))
def test_any_arrival_order_applies_each_version_once_in_order(arrivals: list[int], limit: int) -> None:
    """Whatever arrives (duplicates, reordering), applied versions are consecutive and never repeat."""
    t = VersionTracker(0, max_buffer=limit)
    applied: list[int] = []
    for v in arrivals:
        verdict = t.offer(v, v)
        if verdict is Verdict.APPLY:
            applied.append(v)
            t.applied(v)
            while (nxt := t.next_buffered()) is not None:
                applied.append(nxt)
                t.applied(nxt)
        assert all(b > t.version + 1 for b in t.buffer)
        assert len(t.buffer) <= limit
    assert applied == list(range(1, t.version + 1))
