"""The console under load: a backlog of trace events goes in bounded batches and none is lost, a
change of rows off screen repaints nothing (Qt repainted a whole table for a run of more than about
twenty changed rows, seen or not: ten times a second under a stress run) while a changed row on
screen is repainted, and heavy traffic joins the log in a step of its own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject, QRect
from PySide6.QtWidgets import QApplication, QWidget

from console.demo import Demo
from core.lab import Lab
from core.monitor import TraceEvent
from ui import feed as feed_module
from ui import workload
from ui.main_window import MainWindow
from ui.models import message_log
from ui.models.message_log import LOGGED_KINDS
from ui.models.table import KEY_ROLE


class Paints(QObject):
    """The rectangles a widget was asked to paint."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.rects: list[QRect] = []
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.rects.append(QRect(event.rect()))  # type: ignore[attr-defined]
        return False


def logged(events: list[TraceEvent]) -> int:
    return sum(1 for e in events if e.kind in LOGGED_KINDS and e.message is not None)


async def test_a_backlog_goes_in_batches_of_at_most_max_batch_and_none_is_lost(
        lab: Lab, window: MainWindow, demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed_module, "MAX_BATCH", 8)
    feed = window.feed
    feed._timer.stop()  # the backlog builds up as behind a held-up loop
    seen: list[TraceEvent] = []
    lab.monitor.subscribe(seen.append)
    rows = len(window.log.rows)
    for number in range(6):
        demo.chat.data["topic"] = f"backlog {number}"
    await lab.settle()
    queued = feed.pending
    assert queued == len(seen) and queued > 2 * 8
    feed.batch_sizes.clear()
    window.flush()
    assert list(feed.batch_sizes) == [8] * (queued // 8) + ([queued % 8] if queued % 8 else [])
    assert len(window.log.rows) - rows == logged(seen)
    version = demo.chat.version
    assert window.objects.values[window.objects.row_of(demo.chat.url)][window.objects.VERSION] == version

    # On the timer: a batch that leaves a backlog behind it starts the next one at once (after the
    # loop's due timers), down to less than a batch, which waits for the next tick as usual.
    seen.clear()
    rows = len(window.log.rows)
    for number in range(6):
        demo.chat.data["topic"] = f"again {number}"
    await lab.settle()
    queued = feed.pending
    feed.batch_sizes.clear()
    done = asyncio.Event()
    feed.flushed.connect(done.set)
    feed._tick()
    while feed._batch is not None:
        done.clear()
        await asyncio.wait_for(done.wait(), 10)
    assert list(feed.batch_sizes) == [8] * (queued // 8) and feed.pending == queued % 8
    window.flush()
    assert len(window.log.rows) - rows == logged(seen)


def shown_rows(view: Any) -> range:
    last = view.rowAt(view.viewport().height() - 1)
    return range(view.rowAt(0), (last if last >= 0 else view.model().rowCount() - 1) + 1)


async def test_a_change_of_rows_off_screen_repaints_nothing_and_a_row_on_screen_is_repainted(
        lab: Lab, window: MainWindow, demo: Demo) -> None:
    objects = await workload.create_objects(demo.reporter, 120, [demo.observers[-1]])
    await lab.settle()
    window.flush()
    dock = window.objects_dock
    dock._ages.stop()  # its once-a-second repaint of the ages is not what is looked at here
    view = dock.table
    QApplication.processEvents()
    on_screen = shown_rows(view)
    assert on_screen.start == 0

    def url_at(row: int) -> str:
        return str(view.model().index(row, 0).data(KEY_ROLE))

    by_url = {o.url: o for o in objects}
    rows = view.model().rowCount()
    below = [by_url[url_at(row)] for row in range(rows - 40, rows)]  # one run of 40 rows, off screen
    assert on_screen.stop < rows - 40
    shown = next(by_url[url_at(row)] for row in on_screen if url_at(row) in by_url)
    paints = Paints(view.viewport())
    dock.fade.stop()
    QApplication.processEvents()
    paints.rects.clear()

    window.feed._timer.stop()  # the batches are flushed here, not on the feed's timer meanwhile
    for obj in below:
        obj.data["seq"] = 1
    await lab.settle()
    QApplication.processEvents()
    paints.rects.clear()
    window.flush()
    assert window.objects.last_signals == 1
    dock.fade.stop()  # the end of the flash repaints the view once, later: not this change's paint
    QApplication.processEvents()
    assert paints.rects == []

    shown.data["seq"] = 1
    await lab.settle()
    QApplication.processEvents()
    paints.rects.clear()
    window.flush()
    dock.fade.stop()
    QApplication.processEvents()
    row = next(r for r in on_screen if url_at(r) == shown.url)
    band = QRect(0, view.rowViewportPosition(row), view.viewport().width(), view.rowHeight(row))
    assert any(rect.contains(band) for rect in paints.rects)  # the changed row on screen is repainted


async def test_heavy_traffic_joins_the_log_in_a_step_of_its_own(lab: Lab, window: MainWindow, demo: Demo,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed_module, "SLICE_SECONDS", 0.0)  # one step per turn
    monkeypatch.setattr(message_log, "BUSY_ROWS", 1)        # every batch is heavy traffic…
    monkeypatch.setattr(message_log, "APPEND_EVERY", 0.0)   # …whose turn has come
    feed, log = window.feed, window.log
    feed._timer.stop()
    rows = len(log.rows)
    demo.chat.data["topic"] = "heavy"
    await lab.settle()
    log_step = 1 + feed.sinks.index(log)
    feed._tick()
    while feed._step <= log_step:
        feed._work(0.0)
    assert len(log.rows) == rows and log._waiting  # the rows are made; the table has not changed
    feed._work(0.0)
    assert len(log.rows) > rows and not log._waiting and feed._step == log_step + 1  # shown; no sink further
    window.flush()
    assert window.objects.values[window.objects.row_of(demo.chat.url)][window.objects.VERSION] == demo.chat.version
