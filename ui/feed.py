"""The monitor feed: trace events are queued by the engine's callback and flushed to the models in
batches on a Qt timer, so the engine never waits for the GUI and the GUI repaints at most ten times
a second however busy the engine is.

A batch (at most `MAX_BATCH` events) goes to the index first, then to each sink in order. On the
timer, that work is done in slices of about `SLICE_SECONDS` (a sink is never cut in two). Between
two slices Qt paints what the previous sinks changed and the shared loop runs the timers that fell
due meanwhile (the rest of the batch waits behind them), so a busy batch never holds the loop for
the sum of its sinks. A sink may hand back the rest of its work (the log: showing the rows it
made), which then is a step of its own.
`flush()` called directly does every queued event at once (tests and screenshots rely on that).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from core.lab import Lab
from core.monitor import TraceEvent
from ui.index import EngineIndex

#: Longest time between two flushes (ARCHITECTURE: at most every 100 ms).
FLUSH_INTERVAL_MS = 100
#: Flush durations kept for the status bar and the bench.
FLUSH_SAMPLES = 1_000
#: Longest run of flushing work before the loop gets a turn, in seconds.
SLICE_SECONDS = 0.006
#: Most events in one batch. When the loop was held up (a busy machine, a long paint) the queue
#: holds more than one interval's worth: it goes in batches of this size, one right after the
#: other, so neither a batch nor a step of one grows with the backlog. (About 800 events make
#: 100 ms of a stress run, 2,000 updates a second.)
MAX_BATCH = 1_500


class Sink(Protocol):
    def ingest(self, events: list[TraceEvent]) -> Callable[[], None] | None:
        """Take in a batch; may return the rest of its work, which the feed runs as a step of its own."""


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
        #: The thread's CPU time of each batch (what `flush_times` measures, less what other
        #: processes took meanwhile: the bench's figure on a busy machine).
        self.flush_cpu: deque[float] = deque(maxlen=FLUSH_SAMPLES)
        self.events_seen = 0
        self._batch: list[TraceEvent] | None = None   # the batch under way
        self._step = 0                                 # its next step (0: the index, then each sink)
        self._rest: Callable[[], None] | None = None   # what the last sink left to do, before the next
        self._spent = 0.0                              # time spent on it so far
        self._spent_cpu = 0.0                          # the thread's CPU time for it so far
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._resume = QTimer(self)
        self._resume.setSingleShot(True)
        self._resume.setInterval(0)
        self._resume.timeout.connect(lambda: self._work(SLICE_SECONDS))

    def _queue_event(self, event: TraceEvent) -> None:
        # Called synchronously by the engine: record only.
        self._queue.append(event)

    def push(self, event: TraceEvent) -> None:
        """Queue an event from outside the lab (a live node the console watches, `ui.remote`)."""
        self._queue.append(event)

    def add_sink(self, sink: Sink) -> None:
        self.sinks.append(sink)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def flush(self) -> None:
        """Hand every queued event to the sinks now, all before returning (tests and screenshots)."""
        if self._batch is not None:
            self._work(None)
        self._begin()
        self._work(None)
        while self._queue:
            self._begin()
            self._work(None)

    def _tick(self) -> None:
        if self._batch is None:
            self._begin()
        self._work(SLICE_SECONDS)

    def _begin(self) -> None:
        if len(self._queue) > MAX_BATCH:
            self._batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        else:
            self._batch, self._queue = self._queue, []
        self._step = 0
        self._rest = None
        self._spent = self._spent_cpu = 0.0
        self.events_seen += len(self._batch)

    def _work(self, budget: float | None) -> None:
        """Run the batch's next steps, stopping after `budget` seconds (None: to the end)."""
        events = self._batch
        if events is None:
            return
        started, cpu = time.perf_counter(), time.thread_time()
        steps = len(self.sinks) + 1
        while self._step < steps or self._rest is not None:
            if self._rest is not None:
                rest, self._rest = self._rest, None
                rest()
            elif self._step == 0:
                self.index.observe(events)
                self._step += 1
            else:
                self._rest = self.sinks[self._step - 1].ingest(events)
                self._step += 1
            if budget is not None and (self._step < steps or self._rest is not None) \
                    and time.perf_counter() - started > budget:
                self._spent += time.perf_counter() - started
                self._spent_cpu += time.thread_time() - cpu
                self._later()
                return
        self._spent += time.perf_counter() - started
        self._spent_cpu += time.thread_time() - cpu
        self._batch = None
        self.flush_times.append(self._spent)
        self.flush_cpu.append(self._spent_cpu)
        self.batch_sizes.append(len(events))
        self.flushed.emit()
        if budget is not None and len(self._queue) >= MAX_BATCH:  # a backlog: its next batch now
            self._begin()
            self._later()

    def _later(self) -> None:
        """Go on with the batch once the loop has run what fell due meanwhile: as a timer due now on
        the shared loop, it comes after every timer that fell due before it (a 10 ms sleep, an
        engine timeout). Without a running asyncio loop, on the next Qt turn."""
        try:
            asyncio.get_running_loop().call_later(0, self._work, SLICE_SECONDS)
        except RuntimeError:
            self._resume.start()

    def close(self) -> None:
        self._timer.stop()
        self._resume.stop()
        self._batch = None  # a slice still scheduled finds nothing to do
        self._unsubscribe()
