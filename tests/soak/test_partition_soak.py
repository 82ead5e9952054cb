"""Partition soak (issue 11, slow tier: `make soak`, `make slow`): 200 replicas over six runtimes in
three domains while random runtimes are cut off the network (short cuts and cuts that outlast every
timer) and healed, objects are edited, deleted and replaced, and runtimes crash and resume. At the
end every replica equals its reporter (data and version, stored records too) and every observer of a
deleted object got exactly one `delete` notification and holds nothing of it.

`SOAK_SECONDS` (default 600) sets how long the load runs, `SOAK_SEED` (default 11) the random seed.
The figures are printed as one JSON line (docs/SOAK.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.lab import Lab
from core.monitor import TraceEvent
from core.protocol.message import SyncError
from core.runtime.hyperty import Hyperty
from core.runtime.runtime import Runtime
from core.runtime.stub import StubState
from core.schemas import COMM_SCHEMA
from core.sync.observer import DataObjectObserver
from core.timers import Timers

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
SEED = int(os.environ.get("SOAK_SEED", "11"))
REPLICAS = 200
OBSERVERS_PER_OBJECT = 5
#: Short enough that long cuts outlast every one of them, long enough for a loaded 2-core machine.
TIMERS = Timers(request=1.0, long=2.0, subscription=1.0, child=0.5, gap_grace=0.05, standby=1.0,
                resync_max_backoff=0.5, retry_503_every=0.05, resync_read=0.5, reconnect_first=0.05,
                reconnect_max=0.5, tail=0.5)
LONGEST_TIMER = 2.0
MAX_CUT = 2          # runtimes cut off at once


@dataclass
class Model:
    """What the soak did, so the end state can be checked against it."""

    hyperties: list[Hyperty]
    reporter_of: dict[str, Hyperty] = field(default_factory=dict)      # live object → its reporter
    observers_of: dict[str, list[Hyperty]] = field(default_factory=dict)
    deleted: dict[str, list[Hyperty]] = field(default_factory=dict)    # deleted object → who observed it
    notes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    heal_at: dict[str, float] = field(default_factory=dict)            # cut runtime → when it heals
    figures: Counter[str] = field(default_factory=Counter)

    def watch(self, hyperty: Hyperty) -> None:
        """Record notifications (a restart gives the hyperty a new Syncher: watch it again)."""
        notes = self.notes.setdefault(hyperty.url, [])

        def on_notification(event: Any) -> None:
            if event.type == "create":
                event.ack()        # an invitation: accepting makes the subscribe pre-authorised
            else:
                notes.append((event.type, event.url))

        hyperty.syncher.on_notification(on_notification)


def trail_of_deletes(trail: dict[str, list[str]]) -> Any:
    """What happened to each object around its deletion, to explain a missing notification."""
    def on_event(event: TraceEvent) -> None:
        d = event.detail
        what = d.get("action") or d.get("state")
        if event.kind in ("object", "subscription") and what in (
                "deleted", "refused", "held", "released", "removed", "delete owed", "deleted at the node"):
            url = str(d.get("object", ""))
            trail.setdefault(url, []).append(f"{event.ts:.3f} {event.where} {event.kind} {what} "
                                             f"{d.get('hyperty', '')} {d.get('outcome', '')}")
    return on_event


def count_events(figures: Counter[str]) -> Any:
    interesting = {("object", "resynced"), ("object", "resync failed"), ("object", "delete owed"),
                   ("object", "deleted at the node"), ("session", "close"), ("session", "open"),
                   ("subscription", "refused")}

    def on_event(event: TraceEvent) -> None:
        key = (event.kind, event.detail.get("action") or event.detail.get("state"))
        if key in interesting:
            figures[f"{key[0]} {key[1]}"] += 1
        elif event.kind == "error":
            figures["errors"] += 1
            figures[f"error: {str(event.detail.get('error'))[:80]}"] += 1

    return on_event


async def create_object(lab: Lab, model: Model, rng: random.Random, runtimes: list[Runtime]) -> bool:
    """A new object reported by a reachable hyperty, observed by five reachable others (invited)."""
    reachable = [h for h in model.hyperties if h.runtime.url not in model.heal_at and h.runtime.running]
    if len(reachable) <= OBSERVERS_PER_OBJECT:
        return False
    reporter = rng.choice(reachable)
    observers = rng.sample([h for h in reachable if h is not reporter], OBSERVERS_PER_OBJECT)
    try:
        obj = await reporter.syncher.create(COMM_SCHEMA, data={"n": 0, "by": reporter.name},
                                            observers=[h.url for h in observers], store=True)
    except SyncError:
        model.figures["create refused"] += 1
        return False
    model.reporter_of[obj.url] = reporter
    model.observers_of[obj.url] = []
    model.figures["objects created"] += 1
    for h in observers:
        if h.runtime.url in model.heal_at:       # cut off meanwhile: it would only time out
            continue
        try:
            await h.syncher.subscribe(obj.url, COMM_SCHEMA, store=rng.random() < 0.5)
        except SyncError as exc:
            model.figures[f"subscribe refused {exc.code} {exc.description}"[:60]] += 1
            continue
        model.observers_of[obj.url].append(h)
    return True


def reporter_handle(model: Model, url: str) -> Any:
    return model.reporter_of[url].syncher.reporters.get(url)


async def quiet(lab: Lab, rt: Runtime, timeout: float) -> bool:
    """The runtime's links are open, nothing is queued, no delete is owed by the node, its SM is not in
    the middle of a request and nothing is in flight (a crash then loses nothing that only a later
    update could reveal: see docs/SOAK.md). Observers healing a gap may be under way: a resume
    resyncs them again."""
    def is_quiet() -> bool:
        sm_busy = any(t.get_name().startswith("sm ") for t in rt.tasks._tasks)   # a request mid-way
        return (all(s.state is StubState.OPEN and not s.queue for s in rt.stubs.values()) and not sm_busy
                and all(isinstance(x, DataObjectObserver) for x in rt.healing) and lab.inflight.count == 0)
    try:
        await lab.until(is_quiet, timeout)
    except TimeoutError:
        return False
    return True


async def test_partition_soak(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    async with Lab(storage_dir=tmp_path, timers=TIMERS) as lab:
        figures: Counter[str] = Counter()
        lab.monitor.subscribe(count_events(figures))
        trail: dict[str, list[str]] = {}
        lab.monitor.subscribe(trail_of_deletes(trail))
        runtimes = [await lab.runtime(d) for d in ("a.example", "b.example", "c.example") for _ in range(2)]
        hyperties = [await rt.hyperty(name) for rt in runtimes for name in ("h1", "h2")]
        model = Model(hyperties, figures=figures)
        for h in hyperties:
            model.watch(h)
        while sum(len(o) for o in model.observers_of.values()) < REPLICAS:
            await create_object(lab, model, rng, runtimes)
        await lab.settle()
        figures["replicas at start"] = sum(len(o) for o in model.observers_of.values())

        loop = asyncio.get_running_loop()
        started = time.monotonic()
        end = loop.time() + SECONDS
        edits = 0
        while loop.time() < end:
            now = loop.time()
            for url, at in list(model.heal_at.items()):
                if now >= at:
                    del model.heal_at[url]
                    lab.heal(next(rt for rt in runtimes if rt.url == url))
                    figures["heals"] += 1
            roll = rng.random()
            if roll < 0.86:
                url = rng.choice(list(model.reporter_of))
                obj = reporter_handle(model, url)
                if obj is not None and not obj.closed:
                    edits += 1
                    if rng.random() < 0.8:
                        obj.data["n"] = edits
                    else:
                        obj.data[f"k{rng.randrange(8)}"] = {"edit": edits, "at": round(now, 3)}
                    figures["edits"] += 1
            elif roll < 0.89:
                url = rng.choice(list(model.reporter_of))
                obj = reporter_handle(model, url)
                if obj is not None and not obj.closed:
                    await obj.delete()
                    model.deleted[url] = model.observers_of.pop(url)
                    del model.reporter_of[url]
                    figures["deletes"] += 1
                    figures["deletes while the reporter was cut off"] += obj.syncher.runtime.url in model.heal_at
                    while sum(len(o) for o in model.observers_of.values()) < REPLICAS:
                        if not await create_object(lab, model, rng, runtimes):
                            break
            elif roll < 0.95:
                if len(model.heal_at) < MAX_CUT:
                    rt = rng.choice([rt for rt in runtimes if rt.url not in model.heal_at])
                    long_cut = rng.random() < 0.4
                    duration = rng.uniform(LONGEST_TIMER * 2, LONGEST_TIMER * 4) if long_cut else rng.uniform(0.05, 0.5)
                    lab.partition(rt)
                    model.heal_at[rt.url] = now + duration
                    figures["long partitions" if long_cut else "short partitions"] += 1
            elif roll < 0.965:
                candidates = [rt for rt in runtimes if rt.url not in model.heal_at]
                rt = rng.choice(candidates)
                if await quiet(lab, rt, 5.0):
                    # as rt.restart() does, but each new Syncher is watched before any resume starts:
                    # one hyperty's resyncs run (and may notify) while the next one resumes
                    await rt.restart(resume=False)
                    for h in rt.hyperties.values():
                        model.watch(h)
                    for h in list(rt.hyperties.values()):
                        await h.syncher.resume()
                    figures["restarts"] += 1
                else:
                    figures["restarts skipped (not quiet)"] += 1
            await asyncio.sleep(rng.uniform(0.002, 0.02))   # the load's own pace, not a wait for the engine

        for url in list(model.heal_at):
            lab.heal(next(rt for rt in runtimes if rt.url == url))
        model.heal_at.clear()
        healed = loop.time()
        await lab.settle(timeout=300)
        figures["seconds to converge after the last heal"] = round(loop.time() - healed, 2)  # type: ignore[assignment]
        figures["soak seconds"] = round(time.monotonic() - started)

        # every replica equals its reporter, data and version, stored records too
        lagging = []
        for url, observers in model.observers_of.items():
            reporter = reporter_handle(model, url)
            assert reporter is not None, url
            for h in observers:
                replica = h.syncher.observers.get(url)
                if replica is None or (replica.data, replica.version) != (reporter.data, reporter.version):
                    lagging.append((url, h.url, None if replica is None else replica.version, reporter.version))
                    continue
                record = h.runtime.stored_record("observer", url)
                assert record is not None, (url, h.url)
                if record.get("store"):   # a stored copy follows its replica (PROTOCOL §5 rule 5)
                    assert (record["data"], record["version"]) == (reporter.data, reporter.version), (url, h.url)
                    figures["stored replicas checked"] += 1
        figures["replicas at end"] = sum(len(o) for o in model.observers_of.values())
        figures["objects deleted"] = len(model.deleted)
        print("SOAK " + json.dumps(dict(sorted(figures.items())), sort_keys=False))
        for url, h_url, version, reporter_version in lagging:   # what a failure needs to be looked into
            h = next(x for x in model.hyperties if x.url == h_url)
            print("LAGGING", url, h_url, version, reporter_version, [n for n in model.notes[h_url] if n[1] == url],
                  url in h.runtime.sm.observers, h.runtime.stored_record("observer", url) is not None)
        assert lagging == []
        # every deleted object: gone from each of its observers, each notified exactly once
        unnotified = [(url, h.url) for url, observers in model.deleted.items() for h in observers
                      if model.notes[h.url].count(("delete", url)) != 1]
        for url, h_url in unnotified:
            print("UNNOTIFIED", url, h_url, [n for n in model.notes[h_url] if n[1] == url], *trail.get(url, []),
                  sep="\n  ")
        for url, observers in model.deleted.items():
            for h in observers:
                assert url not in h.syncher.observers, (url, h.url)
                assert h.runtime.stored_record("observer", url) is None, (url, h.url)
                assert model.notes[h.url].count(("delete", url)) == 1, (url, h.url, model.notes[h.url])
        assert figures["errors"] == 0
