"""The console's Live nodes dock on a clustered domain (issue 15): attached to one member with
`--monitor-scope domain`, it shows the cluster's members and which member holds each session."""

from __future__ import annotations

import orjson
from websockets.asyncio.client import connect as ws_connect

from core.protocol import address as addr

# the cluster tests' fixtures: a real NATS server and the node processes started on it
from tests.cluster.conftest import Nats, nats_server, processes, start_cluster_node  # noqa: F401
from tests.cluster.test_cross_node import request
from tests.net.test_cli import Process
from tests.ui.test_remote_nodes import connect, console, wait_for  # noqa: F401 - `console`: the fixture
from ui.main_window import MainWindow


async def test_live_nodes_shows_the_members_and_which_member_holds_each_session(
        processes: list[Process], nats_server: Nats, console: MainWindow) -> None:  # noqa: F811
    _, url1 = await start_cluster_node(processes, nats_server, "a.example", "n1", "--monitor-scope", "domain")
    _, url2 = await start_cluster_node(processes, nats_server, "a.example", "n2")
    dialog = await connect(console, url1, "watch", "A")
    assert dialog.answer_text == "200 ok: watching domain://msg-node.a.example as A"
    model = console.nodes_dock.model
    await wait_for(console.remote.changed, lambda: "a 2-node cluster (n1, n2)" in model.rows("A")[0][2])
    assert model.rows("A")[0][2].startswith("domain://msg-node.a.example · member n1 of a 2-node cluster (n1, n2)"
                                            " · feed: whole domain · ")
    runtime = addr.runtime_url("a.example", "on-n2")
    async with ws_connect(url2, proxy=None) as conn:
        opened = await request(conn, {"id": 1, "type": "open", "from": runtime, "to": addr.SESSION})
        session = opened["body"]["value"]["session"]  # type: ignore[index]

        def shown() -> bool:
            return any(r[0] == "a.example/on-n2" and r[1] == "● open" and r[2] == f"{session} on n2 · home"
                       for r in model.rows("A"))

        await wait_for(console.feed.flushed, shown)
        await conn.send(orjson.dumps({"id": 2, "type": "close", "from": runtime, "to": addr.SESSION}).decode())
        await wait_for(console.feed.flushed, lambda: any(
            r[0] == "a.example/on-n2" and r[1] == "× closed" and r[2].startswith(f"{session} on n2 · home")
            for r in model.rows("A")))
