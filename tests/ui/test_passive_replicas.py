"""Live deployments show data (issue 14 item 3): the console keeps passive replicas of a watched
node's objects, built only from what its monitor feed shows, so Data objects, Subscriptions,
History and Side by side work for remote objects, marked as seen at the node.

A real Message Node served on 127.0.0.1 (port 0) with real runtimes over WebSocket, watched through
File → Connect to node; the views are read as the user sees them, after clicking the object's row.
The last test does it with a real `syncscope node` and two `syncscope runtime` processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.lab import Lab
from core.schemas import COMM_SCHEMA
from tests.net.test_cli import Process, syncscope
from tests.ui.test_remote_nodes import TOKENS, Nodes, connect, wait_for
from ui.main_window import MainWindow

A = "a.example"


@pytest.fixture
async def node_a() -> AsyncIterator[Nodes]:
    world = Nodes()
    await world.serve(A)
    yield world
    await world.close()


@pytest.fixture
async def console(lab: Lab, qapp: QApplication) -> AsyncIterator[MainWindow]:
    window = MainWindow(lab)
    window.show()
    yield window
    await window.shutdown()
    window.close()


def click_object(qtbot: QtBot, window: MainWindow, url: str) -> None:
    dock = window.objects_dock
    index = dock.proxy.mapFromSource(window.objects.index(window.objects.row_of(url), 0))
    dock.table.scrollTo(index)
    qtbot.mouseClick(dock.table.viewport(), Qt.MouseButton.LeftButton, pos=dock.table.visualRect(index).center())
    assert window.selected_object == url


async def test_a_live_nodes_objects_have_data_versions_history_and_replicas(qtbot: QtBot, console: MainWindow,
                                                                            node_a: Nodes) -> None:
    window = console
    await connect(window, node_a.urls[A], TOKENS[A], "A")
    rt1, rt2 = await node_a.runtime(A, "rt1"), await node_a.runtime(A, "rt2")
    alice, bob = await rt1.hyperty("alice"), await rt2.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"topic": "net", "participants": {}}, observers=[bob.url],
                                      name="network chat")
    chat.on_subscription(lambda event: event.accept())
    observed = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    for n in range(1, 6):
        chat.data["participants"][f"p{n}"] = {"status": "online", "n": n}
    await observed.add_child("messages", {"text": "hello"})
    index = window.index

    def caught_up() -> bool:
        reporter, seen = index.reporter(chat.url), index.observer_replicas(chat.url)
        return (observed.version == chat.version == 5 and reporter is not None and reporter.obj.version == 5
                and len(seen) == 1 and seen[0].obj.version == 5 and len(seen[0].obj.children) == 1)

    await wait_for(window.feed.flushed, caught_up)
    reporter, (replica,) = index.reporter(chat.url), index.observer_replicas(chat.url)
    assert (reporter.seen_at, replica.seen_at) == ("A", "A")
    assert reporter.obj.data == chat.data and replica.obj.data == observed.data
    assert [c.data for c in replica.obj.children.values()] == [{"text": "hello"}]
    assert replica.label == "bob (observer, seen at A)"   # named by the identity its subscribe carried
    assert replica.hyperty.runtime.url == rt2.url

    objects = window.objects
    row = objects.values[objects.row_of(chat.url)]
    assert row[objects.NAME:objects.REPORTER] == ("network chat", "Communication")
    assert row[objects.REPORTER].endswith(" @ A")
    assert row[objects.VERSION:objects.CHILDREN + 1] == (5, 1, 1)
    assert row[objects.STATE:] == ("live", 0)
    subs = window.subscriptions
    assert subs.values[subs.row_of((chat.url, bob.url))] == (chat.url, "bob @ A", rt2.url, "live", 5, 0)

    click_object(qtbot, window, chat.url)
    dock = window.objects_dock
    assert [dock.left_box.itemText(i) for i in range(dock.left_box.count())] == [
        reporter.label, "bob (observer, seen at A)"]
    assert dock.right_box.currentText() == "bob (observer, seen at A)"
    assert dock.compare_label.text() == "v5 vs v5 · identical"
    assert dock.tree_label.text() == "v5 · live"
    assert [dock.history_model.version_at(r) for r in range(dock.history_model.rowCount())] == [1, 2, 3, 4, 5]
    assert window.history.log(chat.url).document_at(5) == chat.data

    # It follows: an edit reaches both passive replicas; a remote replica is never edited from here.
    chat.data["topic"] = "still net"
    await wait_for(window.feed.flushed, lambda: replica.obj.version == 6 and reporter.obj.version == 6)
    assert replica.obj.data["topic"] == reporter.obj.data["topic"] == "still net"
    assert window.index.local_reporter(chat.url) is None and window.index.reporter_urls() == []
    assert dock.compare_label.text() == "v6 vs v6 · identical"
    assert [dock.history_model.version_at(r) for r in range(dock.history_model.rowCount())] == [1, 2, 3, 4, 5, 6]

    # Unsubscribed, then deleted: the replicas go as the node saw them go.
    await observed.unsubscribe()
    await wait_for(window.feed.flushed, lambda: index.observer_replicas(chat.url) == [])
    assert subs.row_of((chat.url, bob.url)) == -1
    await chat.delete()
    await wait_for(window.feed.flushed, lambda: index.reporter(chat.url) is None)
    assert objects.row_of(chat.url) == -1


REPORTER_SCRIPT = {
    "name": "passive: reporter", "hyperties": ["alice"],
    "steps": [
        {"do": "create", "hyperty": "alice", "schema": "Communication", "name": "network chat", "as": "chat",
         "data": {"topic": "over the network", "participants": {}, "counter": 0}},
        {"do": "wait_subscribers", "object": "chat", "count": 1, "timeout": 30},
        {"do": "edit", "object": "chat", "path": "counter", "count": 30, "rate": 200},
        {"do": "add_child", "object": "chat", "name": "messages", "data": {"text": "hello from alice"}},
        {"do": "set", "object": "chat", "path": "topic", "value": "done"},
        {"do": "sleep", "seconds": 60}]}
OBSERVER_SCRIPT = {
    "name": "passive: observer", "hyperties": ["bob"],
    "steps": [
        {"do": "find", "domain": A, "name": "network chat", "as": "chat", "timeout": 30},
        {"do": "subscribe", "hyperty": "bob", "object": "chat", "schema": "Communication"},
        {"do": "wait", "object": "chat", "path": "topic", "equals": "done", "timeout": 30},
        {"do": "sleep", "seconds": 60}]}


async def test_remote_objects_of_syncscope_processes_appear_with_data_and_follow(console: MainWindow,
                                                                                 tmp_path: Path) -> None:
    """A real `syncscope node` and two `syncscope runtime` processes (reporter, observer) on 127.0.0.1."""
    window = console
    scripts = {}
    for name, script in (("reporter", REPORTER_SCRIPT), ("observer", OBSERVER_SCRIPT)):
        scripts[name] = tmp_path / f"{name}.json"
        scripts[name].write_bytes(orjson.dumps(script))
    processes: list[Process] = []
    try:
        node = await syncscope("node", "--domain", A, "--port", "0", "--monitor-token", TOKENS[A], "--quiet")
        processes.append(node)
        url = (await node.line()).split()[-1]
        await connect(window, url, TOKENS[A], "A")
        for name in ("reporter", "observer"):
            processes.append(await syncscope("runtime", "--node", url, "--domain", A, "--script", str(scripts[name])))
        index = window.index

        def chat() -> str:
            return next((u for u, r in index.reporters.items() if r.obj.metadata.get("name") == "network chat"), "")

        def done() -> bool:
            url = chat()
            reporter, seen = index.reporter(url), index.observer_replicas(url)
            return (reporter is not None and reporter.obj.data.get("topic") == "done" and len(seen) == 1
                    and seen[0].obj.version == reporter.obj.version and len(seen[0].obj.children) == 1)

        await wait_for(window.feed.flushed, done, timeout=60)
        url = chat()
        reporter, (replica,) = index.reporter(url), index.observer_replicas(url)
        expected = {"topic": "done", "participants": {}, "counter": 30}
        assert (reporter.obj.version, reporter.obj.data) == (31, expected)
        assert (replica.obj.version, replica.obj.data) == (31, expected)
        assert [c.data for c in replica.obj.children.values()] == [{"text": "hello from alice"}]
        assert [c.data for c in reporter.obj.children.values()] == [{"text": "hello from alice"}]
        assert replica.label == "bob (observer, seen at A)"
        objects = window.objects
        row = objects.values[objects.row_of(url)]
        assert row[objects.NAME:objects.REPORTER] == ("network chat", "Communication")
        assert row[objects.VERSION:objects.CHILDREN + 1] == (31, 1, 1)
        subs = window.subscriptions
        assert subs.values[subs.row_of((url, replica.hyperty.url))][subs.OBSERVER:] == (
            "bob @ A", replica.hyperty.runtime.url, "live", 31, 0)
        log = window.history.log(url)
        assert log is not None and log.versions() == list(range(1, 32))   # it followed every update
        assert log.document_at(31) == expected
    finally:
        for process in processes:
            if process.proc.returncode is None:
                process.proc.kill()
                await process.proc.wait()
