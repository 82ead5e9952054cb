"""The monitor feed: trace events are queued by the engine's callback and flushed to the models in
batches on a Qt timer, so the engine never waits for the GUI and the GUI repaints at most ten times
a second however busy the engine is."""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from core.lab import Lab
from core.monitor import TraceEvent
from ui.index import EngineIndex

#: Longest time between two flushes (ARCHITECTURE: at most every 100 ms).
FLUSH_INTERVAL_MS = 100
#: Flush durations kept for the status bar and the bench.
FLUSH_SAMPLES = 1_000


class Sink(Protocol):
    def ingest(self, events: list[TraceEvent]) -> None: ...


class MonitorFeed(QObject):
    """Queues trace events from `lab.monitor` and hands each batch to every sink, in order."""

    flushed = Signal()

    def __init__(self, lab: Lab, interval_ms: int = FLUSH_INTERVAL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.lab = lab
        self.index = EngineIndex(lab)
        self.sinks: list[Sink] = []
        self._queue: list[TraceEvent] = []
        self._unsubscribe = lab.monitor.subscribe(self._queue_event)
        self.flush_times: deque[float] = deque(maxlen=FLUSH_SAMPLES)
        self.batch_sizes: deque[int] = deque(maxlen=FLUSH_SAMPLES)
        self.events_seen = 0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    def _queue_event(self, event: TraceEvent) -> None:
        # Called synchronously by the engine: record only.
        self._queue.append(event)

    def add_sink(self, sink: Sink) -> None:
        self.sinks.append(sink)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def flush(self) -> None:
        """Hand every queued event to the sinks now (the timer calls this; tests may too)."""
        started = time.perf_counter()
        events, self._queue = self._queue, []
        self.events_seen += len(events)
        self.index.observe(events)
        for sink in self.sinks:
            sink.ingest(events)
        self.flush_times.append(time.perf_counter() - started)
        self.batch_sizes.append(len(events))
        self.flushed.emit()

    def close(self) -> None:
        self._timer.stop()
        self._unsubscribe()
