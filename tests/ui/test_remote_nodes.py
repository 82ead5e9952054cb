"""The console attached to live Message Nodes (issue 7 item 5): two real NodeServers on 127.0.0.1,
real runtimes working over WebSocket, and the console watching both nodes through `mn:/monitor`
at once; a node that stops and comes back on its port; a wrong token; saved connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, SignalInstance
from PySide6.QtWidgets import QApplication

from core.lab import Lab
from core.monitor import Monitor, TraceEvent
from core.net.websocket import NodeServer, WebSocketConnector
from core.node.node import MessageNode
from core.protocol import address as addr
from core.runtime.catalogue import Catalogue
from core.runtime.runtime import Runtime
from core.schemas import COMM_SCHEMA
from tests.conftest import FAST
from ui.dialogs.connect import ConnectDialog
from ui.main_window import MainWindow
from ui.models.log_row import SENDER, TO, WHERE
from ui.models.routing import RoutingModel
from ui.node_connections import NodeConnection, saved_connections
from ui.remote import WatchState

A, B = "a.example", "b.example"
TOKENS = {A: "token-of-a", B: "token-of-b"}


async def wait_for(signal: SignalInstance, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `predicate()` holds, looked at again each time `signal` fires (no polling)."""
    done = asyncio.get_running_loop().create_future()

    def look(*_: Any) -> None:
        if not done.done() and predicate():
            done.set_result(None)

    signal.connect(look)
    try:
        look()
        await asyncio.wait_for(done, timeout)
    finally:
        signal.disconnect(look)


class Nodes:
    """Two Message Nodes served on 127.0.0.1 (port 0), and runtimes connected to them over WebSocket."""

    def __init__(self) -> None:
        self.nodes = {d: MessageNode(d, monitor_token=TOKENS[d]) for d in (A, B)}
        self.servers: dict[str, NodeServer] = {}
        self.urls: dict[str, str] = {}
        self.runtimes: list[Runtime] = []
        self.connectors: list[WebSocketConnector] = []
        self.catalogue = Catalogue()

    async def serve(self, domain: str, port: int = 0) -> NodeServer:
        server = self.servers[domain] = NodeServer(self.nodes[domain], port=port)
        await server.start()
        self.urls[domain] = server.url
        return server

    async def runtime(self, domain: str, ident: str) -> Runtime:
        connector = WebSocketConnector(self.urls)
        self.connectors.append(connector)
        runtime = Runtime(addr.runtime_url(domain, ident), connector=connector, monitor=Monitor(), timers=FAST,
                          catalogue=self.catalogue)
        self.runtimes.append(runtime)
        await runtime.start()
        return runtime

    async def close(self) -> None:
        for runtime in self.runtimes:
            await runtime.close()
        for connector in self.connectors:
            await connector.close()
        for server in self.servers.values():
            await server.close()
        for node in self.nodes.values():
            node.close()


@pytest.fixture
async def nodes() -> AsyncIterator[Nodes]:
    world = Nodes()
    for domain in (A, B):
        await world.serve(domain)
    yield world
    await world.close()


@pytest.fixture
async def console(lab: Lab, qapp: QApplication) -> AsyncIterator[MainWindow]:
    window = MainWindow(lab)
    window.remote.first_retry, window.remote.max_retry = 0.05, 0.2
    window.show()
    yield window
    await window.remote.aclose()
    window.close()


async def connect(window: MainWindow, url: str, token: str, name: str) -> ConnectDialog:
    """File → Connect to node, filled in and run; returns the dialog once the node answered."""
    action = next(a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "Connect to node…")
    action.trigger()
    dialog = window.dialogs[-1]
    assert isinstance(dialog, ConnectDialog)
    dialog.url.setText(url)
    dialog.token.setText(token)
    dialog.name.setText(name)
    task = dialog.submit()
    assert task is not None, dialog.answer_text
    await task
    return dialog


def routing_rows(window: MainWindow, where: str) -> set[tuple[str, str, str]]:
    """(kind, address, owner or sessions) of the routing rows of one node, as the table holds them."""
    return {(v[RoutingModel.KIND], v[RoutingModel.ADDRESS], v[RoutingModel.OWNER])
            for v in window.routing.values if v[RoutingModel.WHERE] == where}


def log_rows(window: MainWindow, where: str) -> list[tuple[str, str, str, str]]:
    """(dir, type, from, to) of the message log rows of one node, as displayed."""
    log = window.log
    return [(log.display(r, 2), log.display(r, 3), r[SENDER], r[TO]) for r in log.rows if r[WHERE] == where]


def messages_at(node: MessageNode) -> list[tuple[str, str, str, str]]:
    """Starts recording what a node's trace says of its messages, as the log shows them."""
    seen: list[tuple[str, str, str, str]] = []

    def record(event: TraceEvent) -> None:
        if event.kind == "message" and event.where == node.url and event.message is not None:
            seen.append((str(event.direction), event.message["type"], event.message["from"], event.message["to"]))

    node.monitor.subscribe(record)
    return seen


async def test_the_console_watches_two_live_nodes_at_once(console: MainWindow, nodes: Nodes) -> None:
    window, remote = console, console.remote
    traced = {d: messages_at(nodes.nodes[d]) for d in (A, B)}
    dialog_a = await connect(window, nodes.urls[A], TOKENS[A], "A")
    dialog_b = await connect(window, nodes.urls[B], TOKENS[B], "B")
    assert dialog_a.answer_text == "200 ok: watching domain://msg-node.a.example as A"
    assert dialog_b.answer_text == "200 ok: watching domain://msg-node.b.example as B"
    where_a, where_b = "domain://msg-node.a.example@A", "domain://msg-node.b.example@B"
    watch_a, watch_b = remote.watches["A"], remote.watches["B"]

    # A reporter behind node A; an observer behind node B, visiting node A (PROTOCOL §1.4).
    rt1, rt2 = await nodes.runtime(A, "rt1"), await nodes.runtime(B, "rt2")
    alice, bob = await rt1.hyperty("alice"), await rt2.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"participants": {}}, observers=[bob.url])
    observed = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    chat.data["participants"]["bob"] = {"status": "online"}
    await wait_for(window.feed.flushed, lambda: observed.version == 1 and traced[A][-1] in log_rows(window, where_a))

    # Subscriptions and ownerships of each node in the routing dock, marked by node.
    o, r1, r2 = chat.url, rt1.url, rt2.url
    assert routing_rows(window, where_a) == {
        ("owner", alice.url, r1), ("owner", o, r1),
        ("MNS", o, r1), ("MNS", o + "/subscription", r1), ("MNS", o + "/changes", r2),
        ("MNS", o + "/children/messages", f"{r1}, {r2}"), ("MNS", o + "/children/resources", f"{r1}, {r2}")}
    assert routing_rows(window, where_b) == {("owner", bob.url, r2)}
    assert window.routing.text(window.routing.row_of(("owner", where_b, bob.url)), RoutingModel.WHERE,
                               where_b) == "node b.example@B"
    # Every message of each node in the message log, once, in order, marked by node.
    assert log_rows(window, where_a) == traced[A] and log_rows(window, where_b) == traced[B]
    assert ("in", "update", o, o + "/changes") in traced[A]
    assert {window.log.display(row, 1) for row in window.log.rows} == {"node a.example@A", "node b.example@B"}
    # Sessions in the live nodes dock.
    model = window.nodes_dock.model
    assert model.rows("A") == [
        ("A", "● live", f"domain://msg-node.a.example · 2 sessions · 7 subscriptions · 2 owned · {watch_a.events} "
                        "events"),
        (watch_a.monitor_name, "● open", "s1 · monitor (this console)"),
        ("a.example/rt1", "● open", "s2 · home · 4 subscriptions · owns 2"),
        ("b.example/rt2", "● open", "s3 · visiting · 3 subscriptions")]
    assert model.rows("B") == [
        ("B", "● live", f"domain://msg-node.b.example · 2 sessions · 0 subscriptions · 1 owned · {watch_b.events} "
                        "events"),
        (watch_b.monitor_name, "● open", "s1 · monitor (this console)"),
        ("b.example/rt2", "● open", "s2 · home · owns 1"),
        ("a.example/rt1", "● open", "s3 · visiting")]

    # Node B stops: shown, not fatal; node A goes on being watched.
    port_b = nodes.servers[B].port
    await nodes.servers[B].close()
    await wait_for(remote.changed, lambda: watch_b.state is WatchState.DOWN)
    assert watch_b.problem == "closed by the node (1001 node shutting down)"
    assert window.statusBar().currentMessage().startswith(
        "node B: closed by the node (1001 node shutting down); reconnecting in ")
    assert model.rows("B")[0][:2] == ("B", "× down")
    assert model.rows("B")[0][2].startswith("closed by the node (1001 node shutting down) · retry in ")
    chat.data["participants"]["bob"] = {"status": "away"}
    await wait_for(window.feed.flushed, lambda: observed.version == 2 and traced[A][-1] in log_rows(window, where_a)
                   and log_rows(window, where_a) == traced[A])
    assert watch_a.state is WatchState.LIVE and watch_a.opens == 1

    # Node B comes back on its port: the console reconnects, and gets what it missed from the replay.
    await nodes.serve(B, port_b)
    await wait_for(remote.changed, lambda: watch_b.state is WatchState.LIVE)
    assert watch_b.opens == 2 and window.statusBar().currentMessage() == (
        "node B: watching domain://msg-node.b.example again")

    node_b = nodes.nodes[B]
    gone = "closed: link closed (1001 node shutting down)"

    def expected_b() -> list[tuple[str, str, str]]:
        return [(watch_b.monitor_name, "× closed", f"s1 · monitor · {gone}"),
                ("b.example/rt2", "× closed", f"s2 · home · {gone}"),
                ("a.example/rt1", "× closed", f"s3 · visiting · {gone}"),
                *sorted([(watch_b.monitor_name, "● open", f"{watch_b.session} · monitor (this console)"),
                         ("b.example/rt2", "● open", f"{node_b.sessions[r2].id} · home · owns 1"),
                         ("a.example/rt1", "● open", f"{node_b.sessions[r1].id} · visiting")])]

    def back() -> bool:
        rows = model.rows("B")
        return (r1 in node_b.sessions and r2 in node_b.sessions and rows[1:4] + sorted(rows[4:]) == expected_b()
                and log_rows(window, where_b) == traced[B])

    await wait_for(window.feed.flushed, back)
    assert model.rows("B")[0] == (
        "B", "● live", f"domain://msg-node.b.example · 2 sessions · 0 subscriptions · 1 owned · {watch_b.events} "
                       "events · reconnected 1×")
    assert routing_rows(window, where_b) == {("owner", bob.url, r2)}
    assert watch_a.opens == 1 and watch_b.lost == watch_a.lost == 0


def _session_of(node: MessageNode, runtime: str) -> str:
    return node.sessions[runtime].id


async def test_a_wrong_token_is_refused_in_words_then_a_right_one_connects(console: MainWindow,
                                                                            nodes: Nodes) -> None:
    window = console
    refused = await connect(window, nodes.urls[A], "guess", "A")
    assert refused.ok is False and refused.answer_text == "403 forbidden: wrong monitor token"
    assert window.nodes_dock.model.rows("A") == [
        ("A", "⊘ refused", f"403 forbidden: wrong monitor token · {nodes.urls[A]}")]
    assert window.statusBar().currentMessage() == "node A: 403 forbidden: wrong monitor token"
    assert window.remote.saved() == []                       # a refused connection is not saved
    # Input checked before anything is sent.
    for url, token, name, problem in (
            ("", "t", "", "URL: give the node's address, e.g. ws://127.0.0.1:9000/"),
            ("http://127.0.0.1:1/", "t", "", "URL: a node's URL starts with ws:// or wss:// (e.g. ws://127.0.0.1:9000/)"),
            ("ws://127.0.0.1:99999/", "t", "", "URL: not a URL: Port out of range 0-65535"),
            (nodes.urls[A], "", "", "Monitor token: the node prints it when it starts (--monitor-token)"),
            (nodes.urls[A], "t", "x/y", "Name: up to 40 characters, no '/' or '@', not starting with a space")):
        dialog = window.nodes_dock.open_connect_dialog()
        assert isinstance(dialog, ConnectDialog)
        dialog.url.setText(url)
        dialog.token.setText(token)
        dialog.name.setText(name)
        assert dialog.submit() is None and dialog.answer_text == problem
    # The same name again, with the right token: the refused watch is replaced.
    accepted = await connect(window, nodes.urls[A], TOKENS[A], "A")
    assert accepted.ok is True and window.remote.watches["A"].state is WatchState.LIVE
    assert window.nodes_dock.model.rows("A")[0][:2] == ("A", "● live")
    again = window.nodes_dock.open_connect_dialog()
    assert isinstance(again, ConnectDialog)
    again.url.setText(nodes.urls[A])
    again.token.setText(TOKENS[A])
    assert again.submit() is None and again.answer_text == "URL: already watched as 'A'"


async def test_saved_connections_persist_between_runs(lab: Lab, qapp: QApplication, nodes: Nodes,
                                                      tmp_path: Path) -> None:
    path = str(tmp_path / "console.ini")
    first = MainWindow(lab, settings=QSettings(path, QSettings.Format.IniFormat))
    dialog = first.nodes_dock.open_connect_dialog()
    assert isinstance(dialog, ConnectDialog)
    dialog.url.setText(nodes.urls[A])
    dialog.token.setText(TOKENS[A])
    dialog.autoconnect.setChecked(True)
    task = dialog.submit()
    assert task is not None
    await task
    port_b = nodes.urls[B].rsplit(":", 1)[1].rstrip("/")
    first.remote.save(NodeConnection("B", nodes.urls[B], TOKENS[B]), remember_token=False)
    await first.remote.aclose()
    first.close()

    # The next run reads them back: A (named host:port) connects at start, B waits, without its token.
    settings = QSettings(path, QSettings.Format.IniFormat)
    name_a = nodes.urls[A][len("ws://"):].rstrip("/")
    assert saved_connections(settings) == [NodeConnection(name_a, nodes.urls[A], TOKENS[A], autoconnect=True),
                                           NodeConnection("B", nodes.urls[B], "", autoconnect=False)]
    second = MainWindow(lab, settings=settings)
    try:
        watch = second.remote.watches[name_a]
        assert list(second.remote.watches) == [name_a]
        assert await watch.outcome() is WatchState.LIVE
        chooser = second.nodes_dock.open_connect_dialog()
        assert isinstance(chooser, ConnectDialog)
        assert [chooser.saved.itemText(i) for i in range(chooser.saved.count())] == ["— new connection —", name_a, "B"]
        chooser.saved.setCurrentText("B")
        assert (chooser.url.text(), chooser.token.text(), chooser.name.text()) == (nodes.urls[B], "", "B")
        assert chooser.url.text().endswith(f":{port_b}/")
        second.remote.forget("B")
        assert [c.name for c in saved_connections(QSettings(path, QSettings.Format.IniFormat))] == [name_a]
    finally:
        await second.remote.aclose()
        second.close()


async def test_a_node_not_up_yet_is_retried_and_the_dock_disconnects_reconnects_and_removes(
        console: MainWindow, nodes: Nodes) -> None:
    window, remote, model = console, console.remote, console.nodes_dock.model
    port_b = nodes.servers[B].port
    await nodes.servers[B].close()
    waiting = await connect(window, nodes.urls[B], TOKENS[B], "B")
    assert waiting.ok is True and waiting.answer_text.startswith("not reachable yet (unreachable: ")
    watch = remote.watches["B"]
    assert watch.state is WatchState.DOWN and model.rows("B")[0][:2] == ("B", "× down")
    assert [c.name for c in remote.saved()] == ["B"]         # kept: the node may just be down
    await nodes.serve(B, port_b)
    await wait_for(remote.changed, lambda: watch.state is WatchState.LIVE)
    assert watch.opens == 1 and watch.attempts == 0
    traced = messages_at(nodes.nodes[B])
    await nodes.runtime(B, "rt9")
    where = "domain://msg-node.b.example@B"
    await wait_for(window.feed.flushed, lambda: bool(traced) and log_rows(window, where) == traced)

    dock = window.nodes_dock
    assert dock.menu_actions(model.nodes[0]) == ["Reconnect now", "Disconnect", "Remove"]
    closes: list[str] = []
    nodes.nodes[B].monitor.subscribe(lambda e: closes.append(str(e.detail.get("reason")))
                                     if e.kind == "session" and e.detail.get("action") == "close" else None)
    dock.request("Disconnect", "B")
    await wait_for(remote.changed, lambda: watch.state is WatchState.STOPPED)
    await wait_for(window.feed.flushed, lambda: not dock.tasks)
    assert model.rows("B")[0] == ("B", "– stopped", f"disconnected · {nodes.urls[B]}")
    assert closes == ["closed by monitor"]                   # a `close` (TRANSPORT §4), answered, then the link
    assert dock.menu_actions(model.nodes[0]) == ["Reconnect now", "Remove"]
    dock.request("Reconnect now", "B")
    again = remote.watches["B"]
    await wait_for(remote.changed, lambda: again.state is WatchState.LIVE)
    assert again is not watch and len(model.nodes) == 1 and model.rows("B")[0][:2] == ("B", "● live")
    # The node replays its history to the new watch: what the docks have already is not added twice.
    await wait_for(window.feed.flushed, lambda: (again.monitor_name, "● open", f"{again.session} · monitor "
                                                 "(this console)") in model.rows("B"))
    assert log_rows(window, where) == traced and len(traced) == 2
    dock.request("Remove", "B")
    await wait_for(remote.removed, lambda: "B" not in remote.watches)
    assert model.nodes == [] and again.state is WatchState.STOPPED
    assert dock.hint.text() == "No live node watched. File → Connect to node… (Ctrl+K)"


async def test_a_restarted_node_shows_what_may_have_ended_meanwhile(console: MainWindow, nodes: Nodes) -> None:
    window, remote, model = console, console.remote, console.nodes_dock.model
    await connect(window, nodes.urls[B], TOKENS[B], "B")
    watch = remote.watches["B"]
    back, gone = await nodes.runtime(B, "rt5"), await nodes.runtime(B, "rt6")
    await wait_for(window.feed.flushed, lambda: model.rows("B")[0][2].startswith(
        "domain://msg-node.b.example · 2 sessions"))
    # The node's process ends; one runtime ends too while it is down. A new process takes the port:
    # its replay does not reach back to what the console saw last.
    port = nodes.servers[B].port
    await nodes.servers[B].close()
    await wait_for(remote.changed, lambda: watch.state is WatchState.DOWN)
    await gone.crash()
    old, nodes.nodes[B] = nodes.nodes[B], MessageNode(B, monitor_token=TOKENS[B])
    old.close()
    await nodes.serve(B, port)
    fresh = nodes.nodes[B]

    def shown() -> bool:
        rows = model.rows("B")
        return (back.url in fresh.sessions and watch.state is WatchState.LIVE and rows[1:4] == [
            (watch.monitor_name, "× closed", "s1 · monitor · this console's link was lost"),
            ("b.example/rt5", "× closed", "s2 · home · gone: a newer session opened"),
            ("b.example/rt6", "? unknown", "s3 · home · not heard of since events were missed")]
            and sorted(rows[4:]) == sorted([
                (watch.monitor_name, "● open", f"{watch.session} · monitor (this console)"),
                ("b.example/rt5", "● open", f"{fresh.sessions[back.url].id} · home")]))

    await wait_for(window.feed.flushed, shown)
    assert model.rows("B")[0] == ("B", "● live", f"domain://msg-node.b.example · 1 session · 0 subscriptions · "
                                                 f"0 owned · {watch.events} events · reconnected 1× · "
                                                 "events missed while down (1×)")


async def test_a_watch_replaced_by_reconnect_now_still_closes_its_session_before_the_console_quits(
        console: MainWindow, nodes: Nodes) -> None:
    window, remote, dock = console, console.remote, console.nodes_dock
    await connect(window, nodes.urls[B], TOKENS[B], "B")
    old = remote.watches["B"]
    assert old.state is WatchState.LIVE
    closes: list[str] = []
    nodes.nodes[B].monitor.subscribe(lambda e: closes.append(str(e.detail.get("reason")))
                                     if e.kind == "session" and e.detail.get("action") == "close" else None)
    dock.request("Reconnect now", "B")            # on a live watch: the old one closes its session meanwhile
    assert remote.watches["B"] is not old and not old.finished
    await remote.aclose()                          # the console quits at once: it waits for both
    assert old.finished and remote.watches["B"].finished
    assert closes == ["closed by monitor"]         # the old session ended with a `close`, not a lost link
