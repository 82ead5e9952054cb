"""The Qt application and the event loop the engine and the console share.

`SharedLoop` is qasync's `QEventLoop` (Qt runs the loop; asyncio coroutines and widgets share one
thread) with asyncio's own bookkeeping of callbacks in place of qasync's. qasync gives every
`call_soon` and `call_later` a Qt timer of its own, and a cancelled handle keeps its timer until it
would have fired. The engine arms a timeout for every request and cancels it when the answer comes
(PROTOCOL §2.5: 15 s, 75 s after a 1xx), so after creating 2,000 objects Qt holds some 20,000
timers, and starting or killing one walks that list: every callback then costs tens of
microseconds, and the cancelled timeouts, expiring in waves, stalled the loop 100–300 ms with no
Python code running at all (measured; see docs/BENCHMARKS.md, "console").

Here, as in asyncio's `BaseEventLoop`, ready callbacks wait in a FIFO and delayed ones in a heap (of
`(when, sequence, handle)`: compared in C, where handles compare through a Python `__lt__`, a call
for each of the heap's ~15 levels at every push and pop under a stress run; the sequence keeps
timers due at the same time in the order they were set);
Qt holds two timers in all: a zero-interval one that runs ready callbacks (and those they make
ready) for a slice of at most `SLICE_SECONDS` each time Qt has processed its own events, and a
single-shot one armed for the earliest deadline.
A cancelled handle is dropped when it reaches the top of the heap, or with all the others once
they are more than half of it.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import sys
from collections import deque
from collections.abc import Callable
from contextvars import Context
from typing import Any

import qasync  # type: ignore[import-untyped]
from PySide6.QtCore import QMessageLogContext, Qt, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from ui.collector import CollectorPacing

#: Longest run of ready callbacks before Qt gets a turn (its events, paints, timers), in seconds.
SLICE_SECONDS = 0.008
#: A heap with fewer handles than this is never swept for cancelled ones.
SWEEP_MIN = 100


#: Qt warnings of the offscreen platform about what it cannot do by design (there is no window
#: manager to hint): not a problem of the console, so not printed.
OFFSCREEN_NOISE = ("This plugin does not support propagateSizeHints()", "This plugin does not support raise()",
                   "This plugin does not support grabbing the keyboard")


def application() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
        app.setOrganizationName("SyncScope")
        app.setApplicationName("SyncScope")
        # The shared loop is stopped by the code that runs it, after the engine is shut down, never
        # by Qt when the last window closes (that left coroutines and links half-closed).
        app.setQuitOnLastWindowClosed(False)
        if app.platformName() == "offscreen":
            qInstallMessageHandler(_offscreen_messages)
    return app


def _offscreen_messages(_kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    if message not in OFFSCREEN_NOISE:
        sys.stderr.write(message + "\n")


class SharedLoop(qasync.QEventLoop):  # type: ignore[misc]
    """An asyncio loop run by Qt: callbacks are scheduled as asyncio schedules them (see the module)."""

    def __init__(self, app: QApplication | None = None) -> None:
        super().__init__(app)
        self._fifo: deque[asyncio.Handle] = deque()
        self._heap: list[tuple[float, int, asyncio.TimerHandle]] = []
        self._sequence = 0
        self._cancelled_in_heap = 0
        self._ticker = QTimer()
        self._ticker.setInterval(0)
        self._ticker.timeout.connect(self._tick)
        self._alarm = QTimer()
        self._alarm.setSingleShot(True)
        self._alarm.setTimerType(Qt.TimerType.PreciseTimer)
        self._alarm.timeout.connect(self._tick)
        self._alarm_at = math.inf
        self.pacing: CollectorPacing | None = None

    # scheduling (asyncio's API) ------------------------------------------------------------------

    def call_soon(self, callback: Callable[..., Any], *args: Any, context: Context | None = None) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context)
        self._fifo.append(handle)
        if not self._ticker.isActive():
            self._ticker.start()
        return handle

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any,
                   context: Context | None = None) -> asyncio.TimerHandle:
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any,
                context: Context | None = None) -> asyncio.TimerHandle:
        timer = asyncio.TimerHandle(when, callback, args, self, context)
        self._sequence += 1
        heapq.heappush(self._heap, (when, self._sequence, timer))
        timer._scheduled = True  # type: ignore[attr-defined]  # asyncio's own flag: in the heap
        if when < self._alarm_at and not self._ticker.isActive():
            self._arm()
        return timer

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        if not handle._scheduled:  # type: ignore[attr-defined]
            return
        self._cancelled_in_heap += 1
        if len(self._heap) > SWEEP_MIN and 2 * self._cancelled_in_heap > len(self._heap):
            kept = []
            for entry in self._heap:
                if entry[2]._cancelled:
                    entry[2]._scheduled = False  # type: ignore[attr-defined]
                else:
                    kept.append(entry)
            heapq.heapify(kept)
            self._heap = kept
            self._cancelled_in_heap = 0

    # running -------------------------------------------------------------------------------------

    def _tick(self) -> None:
        """Move due timers to the FIFO, then run ready callbacks, in order, for at most SLICE_SECONDS."""
        self._alarm_at = math.inf
        now = self.time()
        heap = self._heap
        while heap and (heap[0][0] <= now or heap[0][2]._cancelled):
            timer = heapq.heappop(heap)[2]
            timer._scheduled = False  # type: ignore[attr-defined]
            if timer._cancelled:
                self._cancelled_in_heap -= 1
            else:
                self._fifo.append(timer)
        fifo = self._fifo
        deadline = now + SLICE_SECONDS
        while fifo:  # what the callbacks make ready runs in the same slice (a sleep's timer, then its task)
            handle = fifo.popleft()
            if not handle._cancelled:
                handle._run()
            if self.time() > deadline:
                break
        if fifo:
            if not self._ticker.isActive():
                self._ticker.start()
        else:
            self._ticker.stop()
            self._arm()

    def _arm(self) -> None:
        """Set the single-shot timer for the earliest deadline (none when the heap is empty)."""
        if not self._heap:
            self._alarm.stop()
            self._alarm_at = math.inf
            return
        when = self._heap[0][0]
        self._alarm_at = when
        self._alarm.start(max(0, math.ceil((when - self.time()) * 1000)))

    def close(self) -> None:
        if self.pacing is not None:
            self.pacing.stop()
            self.pacing = None
        self._ticker.stop()
        self._alarm.stop()
        self._fifo.clear()
        self._heap.clear()
        super().close()


def shared_loop(app: QApplication) -> SharedLoop:
    """The application's loop: a Qt event loop that is also the asyncio loop (engine coroutines and
    widgets run on one thread), with the garbage collector paced (`ui.collector`)."""
    loop = SharedLoop(app)
    loop.pacing = CollectorPacing()
    asyncio.set_event_loop(loop)
    return loop
