"""Partitions are real link losses (TRANSPORT §2): the node ends the session, the runtime queues at
most 1,000 messages and reconnects once healed, re-subscribes object by object and resyncs; a resync
answered 404 "unknown object" is a delete with its notification, 404 "no route" is kept and retried
(PROTOCOL §1.5 rule 4, §5 rule 4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.lab import Lab
from core.protocol import address as addr
from core.runtime.runtime import Runtime
from core.runtime.stub import MAX_QUEUE, StubState
from core.schemas import COMM_SCHEMA
from core.sync.observer import DataObjectObserver
from core.sync.reporter import DataObjectReporter
from core.timers import Timers
from tests.conftest import Trace

#: For cuts that must outlast every timer: short resync and reconnection timers, but request timers
#: long enough that a loaded machine never turns a local request into a 408.
LONG_CUT = Timers(request=1.0, long=1.5, subscription=1.0, child=0.5, gap_grace=0.02, standby=0.5,
                  resync_max_backoff=0.05, retry_503_every=0.02, resync_read=0.5, reconnect_first=0.01,
                  reconnect_max=0.05, tail=0.5)


@pytest.fixture
async def long_cut_lab(tmp_path: Path) -> AsyncIterator[Lab]:
    async with Lab(storage_dir=tmp_path, timers=LONG_CUT) as lab:
        yield lab


@dataclass
class World:
    rt_a: Runtime
    rt_b: Runtime
    rt_c: Runtime
    alice: Any
    bob: Any
    carol: Any
    objects: list[DataObjectReporter]
    notes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def replicas(self, hyperty: Any) -> dict[str, DataObjectObserver]:
        return dict(hyperty.syncher.observers)


def watch(w: World, who: Any) -> None:
    """Record `who`'s notifications (again after a restart: its Syncher is new)."""
    notes = w.notes.setdefault(who.url, [])
    who.syncher.on_notification(lambda e: notes.append((e.type, e.url)) if e.type != "create" else e.ack())


async def world(lab: Lab, n: int = 3) -> World:
    """alice (a.example) reports `n` objects; bob (b.example, storing) and carol (c.example) observe all."""
    rt_a, rt_b, rt_c = await lab.runtime("a.example"), await lab.runtime("b.example"), await lab.runtime("c.example")
    alice, bob, carol = await rt_a.hyperty("alice"), await rt_b.hyperty("bob"), await rt_c.hyperty("carol")
    w = World(rt_a, rt_b, rt_c, alice, bob, carol, [])
    for who in (bob, carol):
        watch(w, who)
    for i in range(n):
        w.objects.append(await alice.syncher.create(COMM_SCHEMA, data={"i": i, "n": 0}, observers=[bob.url, carol.url]))
    for obj in w.objects:
        await bob.syncher.subscribe(obj.url, COMM_SCHEMA, store=True)
        await carol.syncher.subscribe(obj.url, COMM_SCHEMA)
    await lab.settle()
    return w


def assert_converged(w: World, deleted: tuple[str, ...] = ()) -> None:
    """Every replica equals its reporter (data and version), bob's stored records too; a deleted
    object is gone from every observer, which got exactly one `delete` notification for it."""
    live = [o for o in w.objects if o.url not in deleted]
    for who, rt in ((w.bob, w.rt_b), (w.carol, w.rt_c)):
        replicas = w.replicas(who)
        assert sorted(replicas) == sorted(o.url for o in live)
        for obj in live:
            replica = replicas[obj.url]
            assert (replica.data, replica.version, replica.status) == (obj.data, obj.version, "live")
        assert sorted(rt.sm.observers) == sorted(o.url for o in live)
        assert w.notes[who.url] == [("delete", url) for url in deleted]
    for obj in live:
        record = w.rt_b.stored_record("observer", obj.url)
        assert record is not None and (record["data"], record["version"]) == (obj.data, obj.version)
    for url in deleted:
        assert w.rt_b.stored_record("observer", url) is None


async def outlast(lab: Lab, timers: Timers) -> None:
    """Let a partition last longer than every retransmission and resync timer of `timers`, waiting on
    the engine's own activity (its reconnection attempts emit events) instead of sleeping."""
    loop = asyncio.get_running_loop()
    longest = max(timers.request, timers.long, timers.subscription, timers.child, timers.gap_grace,
                  timers.standby, timers.resync_max_backoff, timers.resync_read, timers.tail,
                  timers.reconnect_max) * 2
    until = loop.time() + longest
    await lab.until(lambda: loop.time() >= until, timeout=longest * 10)


def node_subscribers(lab: Lab, address: str) -> list[str]:
    return sorted(lab.nodes[addr.authority(address)].subscriptions.table().get(address, []))


async def test_partition_ends_the_session_at_both_ends(long_cut_lab: Lab) -> None:
    lab = long_cut_lab
    trace = Trace()
    lab.monitor.subscribe(trace)
    w = await world(lab, 1)
    (obj,) = w.objects
    assert node_subscribers(lab, addr.changes(obj.url)) == sorted([w.rt_b.url, w.rt_c.url])
    lab.partition(w.rt_b)
    await lab.settle()
    # The nodes saw the session's link go: the session and its node subscriptions ended.
    assert w.rt_b.url not in lab.nodes["a.example"].sessions and w.rt_b.url not in lab.nodes["b.example"].sessions
    assert node_subscribers(lab, addr.changes(obj.url)) == [w.rt_c.url]
    # Requests to its addresses are answered 404 "no route".
    answer = await w.rt_a.bus.request({"type": "read", "from": w.alice.url, "to": w.bob.url, "body": {}})
    assert (answer["body"]["code"], answer["body"]["description"]) == (404, "no route")
    # The runtime saw its links lost (1006), and its reconnection attempts fail until healed.
    closes = [e.detail for e in trace.of_kind("session") if e.where == w.rt_b.url and e.detail.get("action") == "close"]
    assert sorted((d["domain"], d["code"]) for d in closes) == [("a.example", 1006), ("b.example", 1006)]
    assert {s.state for s in w.rt_b.stubs.values()} == {StubState.DOWN}
    await lab.until(lambda: w.rt_b.stubs["b.example"].attempts >= 2)
    lab.heal(w.rt_b)
    await lab.settle()
    assert {s.state for s in w.rt_b.stubs.values()} == {StubState.OPEN}
    assert node_subscribers(lab, addr.changes(obj.url)) == sorted([w.rt_b.url, w.rt_c.url])


async def test_queue_while_down_holds_at_most_1000_messages(long_cut_lab: Lab) -> None:
    lab = long_cut_lab
    trace = Trace()
    lab.monitor.subscribe(trace)
    w = await world(lab, 1)
    (obj,) = w.objects
    lab.partition(w.rt_a)
    for k in range(1, MAX_QUEUE + 6):
        obj.data["n"] = k
    stub = w.rt_a.stubs["a.example"]
    assert len(stub.queue) == MAX_QUEUE
    full = [e.message["body"]["version"] for e in trace.of_kind("drop") if e.detail.get("reason") == "stub queue full"]
    assert full == [1, 2, 3, 4, 5]                   # the oldest went
    lab.heal(w.rt_a)
    await lab.settle()
    assert_converged(w)                               # the gap of v1–v5 healed by a resync
    assert obj.version == MAX_QUEUE + 5


async def test_short_partition_of_the_reporter_runtime(lab: Lab) -> None:
    w = await world(lab)
    first, second, third = w.objects
    lab.partition(w.rt_a)
    first.data["n"] = 1
    second.data["topic"] = "while cut off"
    await third.delete()
    lab.heal(w.rt_a)
    await lab.settle()
    assert_converged(w, deleted=(third.url,))
    first.data["n"] = 2                               # routes are back: the next edit reaches everyone
    await lab.settle()
    assert_converged(w, deleted=(third.url,))
    assert node_subscribers(lab, first.url) == [w.rt_a.url]


async def test_long_partition_of_the_reporter_runtime(long_cut_lab: Lab) -> None:
    lab = long_cut_lab
    trace = Trace()
    lab.monitor.subscribe(trace)
    w = await world(lab)
    first, second, third = w.objects
    lab.partition(w.rt_a)
    first.data["n"] = 1
    await third.delete()                              # the node steps of the delete go unanswered
    second.data["topic"] = "while cut off"
    await outlast(lab, lab.timers)
    first.data["n"] = 2
    owed = [e for e in trace.of_kind("object") if e.detail.get("action") == "delete owed"]
    assert len(owed) >= 2 and {e.detail["object"] for e in owed} == {third.url}   # its requests timed out (408)
    lab.heal(w.rt_a)
    await lab.settle()
    assert_converged(w, deleted=(third.url,))
    node = lab.nodes["a.example"]
    assert third.url not in node.allocator.owner and third.url not in node.registry.objects
    assert any(e.detail.get("action") == "deleted at the node" for e in trace.of_kind("object"))
    second.data["n"] = 5
    await lab.settle()
    assert_converged(w, deleted=(third.url,))


async def test_short_partition_of_an_observer_runtime(lab: Lab) -> None:
    w = await world(lab)
    first, second, third = w.objects
    lab.partition(w.rt_b)
    first.data["n"] = 1
    second.data["topic"] = "while bob was cut off"
    await third.delete()
    await lab.settle()
    lab.heal(w.rt_b)
    await lab.settle()
    assert_converged(w, deleted=(third.url,))
    first.data["n"] = 2
    second.data["n"] = 2
    await lab.settle()
    assert_converged(w, deleted=(third.url,))


async def test_long_partition_of_an_observer_runtime(long_cut_lab: Lab) -> None:
    lab = long_cut_lab
    w = await world(lab)
    first, second, third = w.objects
    lab.partition(w.rt_c)
    first.data["n"] = 1
    await third.delete()
    await outlast(lab, lab.timers)
    second.data["topic"] = "while carol was cut off"
    lab.heal(w.rt_c)
    await lab.settle()
    assert_converged(w, deleted=(third.url,))
    first.data["n"] = 2
    second.data["n"] = 2
    await lab.settle()
    assert_converged(w, deleted=(third.url,))


async def test_resubscription_is_per_object(lab: Lab) -> None:
    """One observed object deleted while the link was down: the node refuses it, the other two are
    re-subscribed and keep updating; the refusal is traced and acted on (deleted, notified once)."""
    trace = Trace()
    lab.monitor.subscribe(trace)
    w = await world(lab)
    first, second, third = w.objects
    lab.partition(w.rt_b)
    await second.delete()
    await lab.settle()
    lab.heal(w.rt_b)
    await lab.settle()
    refused = [e.detail for e in trace.of_kind("subscription") if e.where == w.rt_b.url
               and e.detail.get("state") == "refused"]
    assert [(d["object"], d["code"], d["description"], d["outcome"]) for d in refused] == [
        (second.url, 404, "unknown object", "deleted")]
    for obj in (first, third):
        assert node_subscribers(lab, addr.changes(obj.url)) == sorted([w.rt_b.url, w.rt_c.url])
    assert node_subscribers(lab, addr.changes(second.url)) == []
    for k in (1, 2, 3):
        first.data["n"] = k
        third.data["n"] = k
    await lab.settle()
    replicas = w.replicas(w.bob)
    assert [(replicas[o.url].data, replicas[o.url].version) for o in (first, third)] == [
        ({"i": 0, "n": 3}, 3), ({"i": 2, "n": 3}, 3)]
    assert_converged(w, deleted=(second.url,))


async def test_resync_answered_no_route_keeps_the_replica_and_its_record(long_cut_lab: Lab) -> None:
    lab = long_cut_lab
    trace = Trace()
    lab.monitor.subscribe(trace)
    w = await world(lab, 1)
    (obj,) = w.objects
    obj.data["n"] = 1
    await lab.settle()
    lab.partition(w.rt_a)
    replica = w.replicas(w.bob)[obj.url]
    replica.resync_soon()
    await lab.until(lambda: replica.resyncs >= 3)
    failed = [e.detail for e in trace.of_kind("object") if e.detail.get("action") == "resync failed"
              and e.detail.get("hyperty") == w.bob.url]
    assert len(failed) >= 2 and {(d["code"], d["description"]) for d in failed} == {(404, "no route")}
    assert (replica.closed, replica.data, replica.version) == (False, {"i": 0, "n": 1}, 1)
    record = w.rt_b.stored_record("observer", obj.url)
    assert record is not None and (record["data"], record["version"]) == ({"i": 0, "n": 1}, 1)
    obj.data["n"] = 2
    lab.heal(w.rt_a)
    await lab.settle()
    assert_converged(w)


async def test_resync_answered_unknown_object_notifies_the_delete(lab: Lab) -> None:
    w = await world(lab, 2)
    kept, gone = w.objects
    lab.partition(w.rt_b)
    await gone.delete()
    await lab.settle()
    replica = w.replicas(w.bob)[gone.url]
    replica.resync_soon()                            # read queued while down, answered after the reopen
    lab.heal(w.rt_b)
    await lab.settle()
    assert (replica.status, replica.closed) == ("deleted", True)
    assert_converged(w, deleted=(gone.url,))


async def test_delete_missed_while_down_is_notified_after_resume(lab: Lab) -> None:
    """The observer runtime restarts before its links reopen: the resume learns of the delete (the
    node refuses the object's subscription), lists it anyway, and its resync read notifies it."""
    w = await world(lab, 2)
    kept, gone = w.objects
    lab.partition(w.rt_b)
    await gone.delete()
    await lab.settle()
    lab.heal(w.rt_b)
    await w.rt_b.restart()
    watch(w, w.bob)
    await lab.settle()
    assert_converged(w, deleted=(gone.url,))
    kept.data["n"] = 1
    await lab.settle()
    assert_converged(w, deleted=(gone.url,))


async def test_resubscription_refused_403_is_a_revocation(lab: Lab) -> None:
    """The node will not let bob's runtime follow one object any more (a policy of the node): after
    the reopen that object alone is refused, revoked with its notification (PROTOCOL §3.5); the others
    keep updating."""
    trace = Trace()
    lab.monitor.subscribe(trace)
    w = await world(lab)
    first, second, third = w.objects
    lab.partition(w.rt_b)
    blocked = addr.changes(second.url)
    lab.nodes["a.example"].policy.deny_rules.append(
        lambda action, msg: action == "route" and msg["type"] == "subscribe" and msg["from"] == w.rt_b.sm_url
        and blocked in msg.get("body", {}).get("resources", []))
    lab.heal(w.rt_b)
    await lab.until(lambda: second.url not in w.bob.syncher.observers and second.url not in w.rt_b.sm.observers)
    await lab.settle()
    refused = [e.detail for e in trace.of_kind("subscription") if e.where == w.rt_b.url
               and e.detail.get("state") == "refused"]
    assert [(d["object"], d["code"], d["description"], d["outcome"]) for d in refused] == [
        (second.url, 403, "Blocked by policy", "revoked")]
    assert w.notes[w.bob.url] == [("unsubscribe", second.url)]
    assert second.url not in w.bob.syncher.observers and second.url not in w.rt_b.sm.observers
    assert w.rt_b.stored_record("observer", second.url) is None
    assert w.bob.url not in second.subscriptions and w.carol.url in second.subscriptions
    for k in (1, 2):
        first.data["n"] = k
        third.data["n"] = k
    await lab.settle()
    replicas = w.replicas(w.bob)
    assert sorted(replicas) == sorted([first.url, third.url])
    assert [(replicas[o.url].data, replicas[o.url].version) for o in (first, third)] == [
        (first.data, 2), (third.data, 2)]
