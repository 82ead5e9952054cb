"""The status line: messages per second, objects, subscriptions, replicas out of date, and the median
time an update takes from the reporter's runtime to an observer's. Counts are kept per object and
updated for the objects each batch concerned."""

from __future__ import annotations

import statistics
import time
from collections import OrderedDict, deque
from collections.abc import Iterable

from core.monitor import TraceEvent
from ui.index import EngineIndex

#: Propagation samples kept for the median.
SAMPLES = 1_000
#: Updates remembered while waiting for their arrival at observer runtimes.
PENDING_UPDATES = 10_000
RUNTIME_PREFIX = ("hyperty-runtime://", "runtime://")   # ours and reTHINK's (INTEROP.md)


class StatusTracker:
    def __init__(self, index: EngineIndex) -> None:
        self.index = index
        self.window: deque[tuple[float, int]] = deque()
        self.sent: OrderedDict[tuple[str, int], float] = OrderedDict()
        self.samples: deque[float] = deque(maxlen=SAMPLES)
        self.rate = 0.0
        self.objects = self.subscriptions = self.behind = 0
        self._behind_of: dict[str, int] = {}
        self._count(index.object_urls())

    def ingest(self, events: Iterable[TraceEvent]) -> None:
        count = 0
        sent = self.sent
        for event in events:
            if event.kind != "message":
                continue
            direction = event.direction
            if direction == "out":
                count += 1
            msg = event.message
            if msg is None or msg.get("type") != "update" or not event.where.startswith(RUNTIME_PREFIX):
                continue
            body = msg.get("body")
            version = body.get("version") if isinstance(body, dict) else None
            if not isinstance(version, int):
                continue
            key = (str(msg.get("to")), version)
            if direction == "out":
                sent[key] = event.ts
                if len(sent) > PENDING_UPDATES:
                    sent.popitem(last=False)
            elif direction == "in":
                at = sent.get(key)
                if at is not None:
                    self.samples.append(event.ts - at)
        now = time.time()
        self.window.append((now, count))
        while self.window and self.window[0][0] <= now - 1.0:
            self.window.popleft()
        self.rate = float(sum(c for _, c in self.window))
        self._count(self.index.touched)

    def _count(self, urls: Iterable[str]) -> None:
        index = self.index
        self.objects = len(index.reporters)
        self.subscriptions = index.observer_count
        for url in urls:
            behind = index.behind(url)
            self.behind += behind - self._behind_of.get(url, 0)
            if behind:
                self._behind_of[url] = behind
            else:
                self._behind_of.pop(url, None)

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.samples) * 1000 if self.samples else None

    def text(self) -> str:
        median = self.median_ms
        p50 = f"{median:.2f} ms" if median is not None else "–"
        return (f"{self.rate:,.0f} msg/s · {self.objects:,} objects · {self.subscriptions:,} subscriptions · "
                f"{self.behind:,} replica{'s' * (self.behind != 1)} behind · propagation p50 {p50}")
