"""The views agree with the engine: objects, subscriptions, routing, topology, the JSON tree."""

from __future__ import annotations

from collections import Counter

from console.demo import Demo
from core.lab import Lab
from ui.main_window import MainWindow
from ui.models.objects import ObjectsModel
from ui.models.subscriptions import SubscriptionsModel


def engine_listeners(runtime) -> Counter:  # type: ignore[no-untyped-def]
    found = list(runtime.bus.listeners())
    for hyperty in runtime.hyperties.values():
        found.extend(hyperty.sandbox.listeners())
    return Counter(found)


def check_agreement(lab: Lab, window: MainWindow, demo: Demo) -> None:
    objects = window.objects
    assert sorted(objects.keys) == sorted([demo.chat.url, demo.context.url])
    for url, obj in ((demo.chat.url, demo.chat), (demo.context.url, demo.context)):
        values = objects.values[objects.row_of(url)]
        assert values[ObjectsModel.VERSION] == obj.version
        assert values[ObjectsModel.OBSERVERS] == len(obj.subscriptions) == 3
        assert values[ObjectsModel.CHILDREN] == len(obj.children)
        assert values[ObjectsModel.STATE] == "live"
        assert values[ObjectsModel.BEHIND] == 0
    subs = window.subscriptions
    expected = {(r.url, r.syncher.url): r for r in demo.replicas}
    assert set(subs.keys) == set(expected)
    for key, replica in expected.items():
        values = subs.values[subs.row_of(key)]
        assert values[SubscriptionsModel.STATE] == "live"
        assert values[SubscriptionsModel.VERSION] == replica.version
        assert values[SubscriptionsModel.LAG] == 0
    for runtime in lab.runtimes:
        assert Counter(window.routing.bus_listeners(runtime.url)) == engine_listeners(runtime)
    for node in lab.nodes.values():
        mine = {address: sorted(sessions) for (where, address), sessions in window.routing.node_subscriptions.items()
                if where == node.url}
        assert mine == node.subscriptions.table()
        owners = {address: rt for (where, address), rt in window.routing.owners.items() if where == node.url}
        assert owners == node.allocator.owner


async def test_views_agree_after_a_burst_of_5000_updates(lab: Lab, window: MainWindow, demo: Demo) -> None:
    window.select_object(demo.chat.url)
    objects_dock = window.objects_dock
    carol = demo.observers[-1]
    objects_dock.choose(objects_dock.replica_box, carol.url)
    before = demo.chat.version
    for i in range(5_000):
        demo.edit_chat()
        if i % 500 == 0:
            await lab.settle()
            window.flush()
    await lab.settle()
    window.flush()
    check_agreement(lab, window, demo)
    assert demo.chat.version > before + 1_000
    replica = next(r for r in demo.replicas if r.url == demo.chat.url and r.syncher.url == carol.url)
    tree = objects_dock.tree_model
    for name, info in replica.data["participants"].items():
        assert tree.text_at(["participants", name, "status"]) == f'"{info["status"]}"'
        if "typing" in info:
            assert tree.text_at(["participants", name, "typing"]) == ("true" if info["typing"] else "false")
    assert objects_dock.tree_label.text() == f"v{replica.version} · live"
    assert window.feed.pending == 0


async def test_topology_shows_domains_runtimes_hyperties_and_links(lab: Lab, window: MainWindow, demo: Demo) -> None:
    model = window.topology
    domains = [model.data(model.index(r, 0)) for r in range(model.rowCount())]
    assert domains == ["a.example", "b.example"]
    for runtime in lab.runtimes:
        index = model.find("runtime", runtime.url)
        assert index.isValid()
        assert model.data(index.siblingAtColumn(1)) == "● up"
        names = {model.data(model.index(r, 0, index)) for r in range(model.rowCount(index))}
        assert set(runtime.hyperties) <= names
    carol_rt = demo.observers[-1].runtime
    lab.partition(carol_rt)
    window.flush()
    assert model.data(model.find("runtime", carol_rt.url).siblingAtColumn(1)) == "○ partitioned"
    lab.heal(carol_rt)
    await lab.settle()   # the runtime reconnects at its next attempt
    with lab.faults(drop=0.0, delay=0.001):
        window.flush()
        assert model.data(model.find("runtime", carol_rt.url).siblingAtColumn(1)) == "◐ faulty"
    window.flush()
    assert model.data(model.find("runtime", carol_rt.url).siblingAtColumn(1)) == "● up"


async def test_reporter_value_edited_in_place_is_a_protocol_update(lab: Lab, window: MainWindow, demo: Demo) -> None:
    window.select_object(demo.chat.url)
    tree = window.objects_dock.tree_model
    index = tree.find(["topic"]).siblingAtColumn(1)
    before = demo.chat.version
    assert tree.setData(index, '"edited in place"')
    await lab.settle()
    window.flush()
    assert demo.chat.version == before + 1
    assert all(r.data["topic"] == "edited in place" for r in demo.replicas if r.url == demo.chat.url)
    assert tree.text_at(["topic"]) == '"edited in place"'
    observer_side = window.objects_dock.compare_model  # right side is an observer: not editable
    assert not observer_side.flags(observer_side.find(["topic"]).siblingAtColumn(2)) & observer_side.flags(
        observer_side.find(["topic"]).siblingAtColumn(1)).ItemIsEditable
