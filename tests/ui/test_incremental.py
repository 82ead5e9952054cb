"""The console follows the monitor instead of rescanning the lab: each flush reads again only the
rows its events concerned, sends one `dataChanged` per contiguous run, changes the routing table
one listener at a time, and keeps its logs bounded in forms the garbage collector does not walk."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Hashable
from typing import Any

import pytest
from PySide6.QtCore import Qt

from console.demo import Demo
from core.lab import Lab
from core.monitor import TraceEvent
from ui import workload
from ui.index import EngineIndex
from ui.main_window import MainWindow
from ui.models import message_log
from ui.models.log_row import concerns
from ui.models.message_log import MessageLogModel
from ui.models.objects import ObjectsModel
from ui.models.ranges import runs
from ui.models.subscriptions import SubscriptionsModel
from ui.models.table import KeyedTableModel


class Signals:
    """The structural and value signals a model sent."""

    def __init__(self, model: Any) -> None:
        self.changed: list[tuple[int, int]] = []
        self.inserted = self.removed = self.resets = 0
        model.dataChanged.connect(lambda top, bottom, *_: self.changed.append((top.row(), bottom.row())))
        model.rowsInserted.connect(lambda *_: setattr(self, "inserted", self.inserted + 1))
        model.rowsRemoved.connect(lambda *_: setattr(self, "removed", self.removed + 1))
        model.modelReset.connect(lambda: setattr(self, "resets", self.resets + 1))


async def stress_objects(lab: Lab, window: MainWindow, demo: Demo, count: int) -> list[Any]:
    objects = await workload.create_objects(demo.reporter, count, [demo.observers[-1]])
    await lab.settle()
    window.flush()
    return objects


async def test_a_flush_reads_only_the_touched_rows_and_sends_one_signal_per_run(
        lab: Lab, window: MainWindow, demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    objects = await stress_objects(lab, window, demo, 60)
    window.feed._timer.stop()  # one batch for the whole burst: flushed below
    model = window.objects
    by_row = sorted(objects, key=lambda o: model.row_of(o.url))
    edited = by_row[10:30] + by_row[40:45]           # two runs of rows
    before = {url: model.values[model.row_of(url)] for url in model.keys}
    read: list[str] = []
    original = ObjectsModel._row
    monkeypatch.setattr(ObjectsModel, "_row", lambda self, url, now: read.append(url) or original(self, url, now))
    signals = Signals(model)
    for obj in edited:
        obj.data["seq"] = 1
    await lab.settle()
    window.flush()
    assert sorted(read) == sorted(o.url for o in edited)
    rows = sorted(model.row_of(o.url) for o in edited)
    assert signals.changed == runs(rows) and len(signals.changed) == 2
    assert (signals.inserted, signals.removed, signals.resets) == (0, 0, 0)
    for url, values in before.items():
        if url not in {o.url for o in edited}:
            assert model.values[model.row_of(url)] is values  # untouched rows are not even rebuilt
    for obj in edited:
        assert model.values[model.row_of(obj.url)][ObjectsModel.VERSION] == obj.version == 1
    subs = window.subscriptions
    carol = demo.observers[-1].url
    for obj in objects:
        assert subs.values[subs.row_of((obj.url, carol))][SubscriptionsModel.LAG] == 0


async def test_the_index_follows_held_and_released_objects_without_rescanning(
        lab: Lab, window: MainWindow, demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    scans: list[str] = []
    original = EngineIndex._read_runtime

    def spy(self: EngineIndex, runtime: Any, replicas: bool = True) -> None:
        scans.append(runtime.url)
        original(self, runtime, replicas)

    monkeypatch.setattr(EngineIndex, "_read_runtime", spy)
    objects = await stress_objects(lab, window, demo, 30)
    assert scans == []  # creating objects and subscribing are `held` events, not rescans
    index = window.index
    carol = demo.observers[-1]
    for obj in objects:
        assert index.reporter(obj.url).obj is obj
        assert [r.hyperty for r in index.observer_replicas(obj.url)] == [carol]
    assert index.observer_count == sum(len(h.syncher.observers) for rt in lab.runtimes for h in rt.hyperties.values())
    gone = objects[0]
    await carol.syncher.observers[gone.url].unsubscribe()
    await gone.delete()
    await lab.settle()
    window.flush()
    assert index.reporter(gone.url) is None and index.observer_replicas(gone.url) == []
    assert window.objects.row_of(gone.url) == -1
    assert window.status.objects == len(index.reporters) == 2 + 29


async def test_routing_changes_one_listener_at_a_time(lab: Lab, window: MainWindow, demo: Demo,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    routing = window.routing
    batches: list[dict[Hashable, Any]] = []
    original = KeyedTableModel.update_rows

    def spy(self: KeyedTableModel, changes: dict[Hashable, Any]) -> None:
        if self is routing:
            batches.append(dict(changes))
        original(self, changes)

    monkeypatch.setattr(KeyedTableModel, "update_rows", spy)
    window.feed._timer.stop()
    signals = Signals(routing)
    rows_before = len(routing.keys)
    erin = await demo.observers[-1].runtime.hyperty("erin")
    await erin.syncher.subscribe(demo.chat.url)
    await lab.settle()
    window.flush()
    changed = {key for batch in batches for key in batch}
    assert 0 < len(changed) < rows_before  # only what the subscription added, not the table
    assert signals.resets == 0 and len(routing.keys) > rows_before
    for runtime in lab.runtimes:
        found = list(runtime.bus.listeners())
        for hyperty in runtime.hyperties.values():
            found.extend(hyperty.sandbox.listeners())
        assert sorted(routing.bus_listeners(runtime.url)) == sorted(found)


async def test_many_objects_agree_with_the_engine_after_updates(lab: Lab, window: MainWindow, demo: Demo) -> None:
    objects = await stress_objects(lab, window, demo, 200)
    for round_ in range(1, 11):  # about 1,000 updates over half the objects, the timer flushing meanwhile
        for obj in objects[round_ % 7::2]:
            obj.data["seq"] = round_
        await asyncio.sleep(0)
    await lab.settle()
    window.flush()
    carol = demo.observers[-1]
    for obj in objects:
        assert window.objects.values[window.objects.row_of(obj.url)][ObjectsModel.VERSION] == obj.version
        replica = carol.syncher.observers[obj.url]
        row = window.subscriptions.values[window.subscriptions.row_of((obj.url, carol.url))]
        assert (row[SubscriptionsModel.VERSION], row[SubscriptionsModel.LAG]) == (replica.version, 0)
    assert window.status.behind == 0 and window.status.subscriptions == window.index.observer_count


async def test_history_keeps_a_shared_budget_and_all_of_the_object_on_show(lab: Lab, window: MainWindow,
                                                                          demo: Demo) -> None:
    history = window.history
    history.max_total = 100
    objects = await stress_objects(lab, window, demo, 10)
    window.select_object(objects[0].url)  # pinned: keeps its own 1,000
    for round_ in range(40):
        for obj in objects:
            obj.data["seq"] = round_ + 1
        await lab.settle()
        window.flush()
    shown = history.log(objects[0].url)
    assert shown is not None and len(shown.entries) == 40
    assert history.total <= 100
    assert sum(len(history.log(o.url).entries) for o in objects[1:]) <= 100  # type: ignore[union-attr]
    assert shown.document_at(objects[0].version - 20)["seq"] == 20
    window.select_object(objects[1].url)  # the old pin joins the budget again, oldest first
    window.flush()
    assert history.total <= 100
    gc.collect()
    assert all(not gc.is_tracked(entry) for entry in history.log(objects[2].url).entries)  # type: ignore[union-attr]


def update_event(number: int) -> TraceEvent:
    return TraceEvent("message", "hyperty-runtime://a.example/rt1", float(number), "out",
                      {"id": number, "type": "update", "from": "comm://a.example/x", "to": "comm://a.example/x/changes",
                       "body": {"version": number, "attribute": "seq", "value": number}})


def test_log_rows_are_untracked_and_heavy_traffic_joins_the_table_in_steps(qapp: object,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    log = MessageLogModel(max_rows=1_000)
    log.ingest([update_event(n) for n in range(10)])
    assert len(log.rows) == 10  # light traffic shows at once
    gc.collect()
    assert not any(gc.is_tracked(row) for row in log.rows)
    monkeypatch.setattr(message_log, "APPEND_EVERY", 3600.0)
    log.ingest([update_event(n) for n in range(10, 10 + message_log.BUSY_ROWS)])
    assert len(log.rows) == 10  # heavy traffic waits for its turn
    log.catch_up()
    assert len(log.rows) == 10 + message_log.BUSY_ROWS
    log.ingest([update_event(n) for n in range(5_000, 7_000)])
    log.catch_up()
    assert len(log.rows) <= 1_000 and log.rows[-1][0] == 6_999.0  # bounded, newest kept


async def test_a_batch_is_flushed_in_slices_and_flush_finishes_it(lab: Lab, window: MainWindow, demo: Demo,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import feed as feed_module
    monkeypatch.setattr(feed_module, "SLICE_SECONDS", 0.0)  # one step per turn
    feed = window.feed
    flushed: list[int] = []
    feed.flushed.connect(lambda: flushed.append(len(feed.flush_times)))
    demo.chat.data["topic"] = "sliced"
    await lab.settle()
    feed._tick()
    assert feed._batch is not None and feed._step == 1  # the index saw the batch; the sinks wait
    window.flush()  # finishes the batch under way, then flushes what came since
    assert feed._batch is None and flushed[-2:] == [len(feed.flush_times) - 1, len(feed.flush_times)]
    assert window.objects.values[window.objects.row_of(demo.chat.url)][ObjectsModel.VERSION] == demo.chat.version


async def test_selecting_an_object_shades_its_rows_without_a_data_change(lab: Lab, window: MainWindow,
                                                                         demo: Demo) -> None:
    log, routing = window.log, window.routing
    log_signals, routing_signals = Signals(log), Signals(routing)
    repaints: list[str] = []
    log.shadingChanged.connect(lambda: repaints.append("log"))
    routing.shadingChanged.connect(lambda: repaints.append("routing"))
    window.select_object(demo.context.url)
    assert (log_signals.changed, routing_signals.changed) == ([], []) and sorted(repaints) == ["log", "routing"]
    background = Qt.ItemDataRole.BackgroundRole
    log.clock = lambda: float("inf")   # past the flash of new rows: only the selection's shade is left
    shaded = [row for row in range(log.rowCount()) if log.data(log.index(row, 0), background) is not None]
    assert shaded and all(concerns(log.rows[row], demo.context.url) for row in shaded)
    assert any(routing.data(routing.index(row, 0), background) is not None for row in range(routing.rowCount()))
