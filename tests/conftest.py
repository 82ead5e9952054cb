"""Shared fixtures: a real Lab with short timers and a trace recorder."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.lab import Lab
from core.monitor import TraceEvent
from core.timers import Timers

#: Short protocol timers so timeouts and resyncs happen within a test's time.
FAST = Timers(request=2.0, long=3.0, subscription=2.0, child=1.0, gap_grace=0.05, standby=2.0,
              resync_max_backoff=0.2, retry_503_every=0.05, resync_read=1.0, reconnect_first=0.02,
              reconnect_max=0.2)


#: Even shorter request timers for tests that lose requests on purpose.
SHORT = Timers(request=0.25, long=0.5, subscription=0.25, child=0.25, gap_grace=0.02, standby=0.5,
               resync_max_backoff=0.05, retry_503_every=0.02, resync_read=0.25, reconnect_first=0.01,
              reconnect_max=0.05)


class Trace:
    """Every monitor event of a lab, in order."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []

    def __call__(self, event: TraceEvent) -> None:
        self.events.append(event)

    def clear(self) -> None:
        self.events.clear()

    def messages(self, where: str | None = None, direction: str | None = None) -> list[dict]:
        return [e.message for e in self.events if e.kind == "message" and e.message is not None
                and (where is None or e.where == where) and (direction is None or e.direction == direction)]

    def of_kind(self, kind: str) -> list[TraceEvent]:
        return [e for e in self.events if e.kind == kind]


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    async with Lab(storage_dir=tmp_path, timers=FAST) as lab:
        yield lab


@pytest.fixture
async def short_lab(tmp_path: Path) -> AsyncIterator[Lab]:
    async with Lab(storage_dir=tmp_path, timers=SHORT) as lab:
        yield lab


@pytest.fixture
def trace(lab: Lab) -> Trace:
    recorder = Trace()
    lab.monitor.subscribe(recorder)
    return recorder
