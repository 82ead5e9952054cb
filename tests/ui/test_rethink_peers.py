"""reTHINK runtimes in the console (issue 13 item 3): added from the console as a reTHINK-flavoured
runtime, they show as reTHINK runtimes in the topology, and their hyperties, objects, subscriptions and
messages appear in every dock like any other."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from console.demo import Demo
from core.lab import Lab
from core.net.websocket import WebSocketConnector
from core.runtime.runtime import Runtime
from core.schemas import COMM_SCHEMA
from tests.conftest import FAST
from tests.ui.test_remote_nodes import TOKENS, A, Nodes, connect, console, nodes, routing_rows, wait_for  # noqa: F401
from ui.dialogs.base import ActionDialog
from ui.main_window import MainWindow
from ui.models.log_row import SENDER, WHERE
from ui.models.objects import ObjectsModel
from ui.models.subscriptions import SubscriptionsModel


async def run(dialog: ActionDialog, lab: Lab, window: MainWindow) -> str:
    task = dialog.submit()
    assert task is not None, dialog.answer_text
    await task
    await lab.settle()
    window.flush()
    return dialog.answer_text


async def test_a_rethink_runtime_is_shown_as_one_in_every_dock(qtbot: QtBot, lab: Lab, window: MainWindow,
                                                                demo: Demo) -> None:
    add_runtime = window.open_action("Add runtime…")
    add_runtime.domain.setCurrentText("a.example")
    add_runtime.flavour.setCurrentIndex(add_runtime.flavour.findText("reTHINK (runtime://)"))
    answer = await run(add_runtime, lab, window)
    rt = lab.runtimes[-1]
    assert rt.url.startswith("runtime://a.example/") and answer == f"200 ok: {rt.url} opened its session"
    ident = rt.url.rsplit("/", 1)[-1]
    # topology: labelled as a reTHINK runtime
    row = window.topology.find("runtime", rt.url)
    assert window.topology.data(row) == f"reTHINK {ident}"
    assert window.topology.data(row.siblingAtColumn(2)).startswith("reTHINK runtime · 0 hyperties")

    add_hyperty = window.open_action("Add hyperty…")
    add_hyperty.runtime.setCurrentIndex(add_hyperty.runtime.findData(rt.url))
    add_hyperty.name.setText("rita")
    answer = await run(add_hyperty, lab, window)
    rita = rt.hyperties["rita"]
    assert answer == f"200 ok: allocated {rita.url}"           # minted and claimed (INTEROP §2)
    assert window.topology.find("hyperty", rita.url).isValid()

    create = window.open_action("New object…")
    create.reporter.select(rita.url)
    create.schema.setCurrentText("Communication")
    create.name.setText("rethink chat")
    create.data.setPlainText('{"participants": {}}')
    answer = await run(create, lab, window)
    url = create.created_url
    assert answer == f"200 ok: created {url} at v0"
    # objects dock: the reTHINK reporter's object, with its reporter hyperty
    values = window.objects.values[window.objects.row_of(url)]
    assert (values[ObjectsModel.NAME], values[ObjectsModel.REPORTER]) == ("rethink chat", "rita")
    # a runtime address is never taken for an object
    assert not [key for key in window.objects.keys if str(key).startswith("runtime://")]

    bob = demo.observers[1]
    rita.syncher.reporters[url].on_subscription(lambda event: event.accept())
    window.select_object(url)
    subscribe = window.open_action("Subscribe…")
    subscribe.hyperty.select(bob.url)
    assert (await run(subscribe, lab, window)).startswith("200 ok: bob observes")
    # subscriptions dock: a SyncScope observer of the reTHINK reporter's object
    sub = window.subscriptions.values[window.subscriptions.row_of((url, bob.url))]
    assert sub[SubscriptionsModel.STATE] == "live"

    edit = window.open_action("Edit…")
    edit.path.setText("participants.hyperty://a.example/x.y")
    edit.value.setPlainText('{"status": "online"}')
    assert await run(edit, lab, window) == "update v1 sent to the observers"
    assert bob.syncher.observers[url].data == {"participants": {"hyperty://a.example/x.y": {"status": "online"}}}

    # message log: its messages, from and at the reTHINK runtime, named as such
    log = window.log
    mine = [r for r in log.rows if str(r[WHERE]).startswith(rt.url)]
    assert mine and log.display(mine[0], 1) == f"reTHINK {ident}"
    sm = [r for r in log.rows if r[SENDER] == rt.url + "/sm"]
    assert sm and log.display(sm[0], 4) == f"reTHINK {ident}/sm"
    # the sequence chart names its lifelines so too: the flow of that update
    update = next(i for i, r in enumerate(log.rows) if r[SENDER] == url and str(r[WHERE]) == rt.url)
    dock = window.messages_dock
    dock.tabs.setCurrentIndex(0)
    index = dock.view_index(update)
    dock.view.scrollTo(index)
    qtbot.mouseClick(dock.view.viewport(), Qt.MouseButton.LeftButton, pos=dock.view.visualRect(index).center())
    window.flush()
    names = dict(dock.chart.chart.lifelines).values()
    assert f"reTHINK {ident} bus" in names and "rita" in names


async def test_a_watched_node_lists_a_rethink_session_as_a_rethink_runtime(
        console: MainWindow, nodes: Nodes) -> None:  # noqa: F811  (the fixtures of test_remote_nodes)
    window = console
    await connect(window, nodes.urls[A], TOKENS[A], "A")
    connector = WebSocketConnector(nodes.urls)
    nodes.connectors.append(connector)
    rt = Runtime(f"runtime://{A}/7f3e2a10-5b6c-4d8e-9f01-a2b3c4d5e6f7", connector=connector, timers=FAST,
                 catalogue=nodes.catalogue)
    nodes.runtimes.append(rt)
    await rt.start()
    rita = await rt.hyperty("rita")
    chat = await rita.syncher.create(COMM_SCHEMA, data={"a": 1})
    node = nodes.nodes[A]
    session = node.sessions[rt.url].id
    model = window.nodes_dock.model
    expected = ("a.example/reTHINK 7f3e2a10…", "● open",
                f"{session} · home · reTHINK runtime · 5 subscriptions · owns 2")   # its hyperty's claim, O, 3 channels
    await wait_for(window.feed.flushed, lambda: expected in model.rows("A"))
    # its addresses in the routing dock, with the runtime named as a reTHINK one
    where = "domain://msg-node.a.example@A"
    assert ("owner", chat.url, rt.url) in routing_rows(window, where)
    assert ("owner", rita.url, rt.url) in routing_rows(window, where)
    assert window.index.short(rt.url) == "reTHINK 7f3e2a10…"
