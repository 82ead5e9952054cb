"""The sync protocol with every party on a different node of one clustered domain (issue 15):
subscribe, update, children, read, delegation and delete, then convergence."""

from __future__ import annotations

from core import SyncError
from core.schemas import COMM_SCHEMA
from tests.cluster.conftest import Nats, start_cluster_node
from tests.cluster.world import World
from tests.net.test_cli import Process


async def test_subscribe_update_children_read_delegate_delete_on_three_nodes(
        processes: list[Process], nats_server: Nats, world: World) -> None:
    urls = [(await start_cluster_node(processes, nats_server, "a.example", f"n{i}"))[1] for i in (1, 2, 3)]
    rt_a, rt_b, rt_c = [await world.runtime(url) for url in urls]
    alice, bob, carol = await rt_a.hyperty("alice"), await rt_b.hyperty("bob"), await rt_c.hyperty("carol")
    bob.syncher.on_notification(lambda e: e.accept() if e.type == "delegate" else e.ack())
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0, "participants": {}}, observers=[bob.url, carol.url])
    bob_obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    carol_obs = await carol.syncher.subscribe(chat.url, COMM_SCHEMA)
    for i in range(1, 21):
        chat.data["n"] = i
    chat.data["participants"]["carol"] = {"status": "online"}
    child = await carol_obs.add_child("messages", {"text": "hi from n3"})
    await world.until(lambda: bob_obs.version == carol_obs.version == chat.version == 21
                      and bob_obs.data == carol_obs.data == chat.data and len(bob_obs.children) == 1)
    assert [c.data for c in bob_obs.children.values()] == [{"text": "hi from n3"}]
    await world.until(lambda: child.child_id in chat.children)
    value = await carol.syncher.read(chat.url)
    assert value["data"] == chat.data and value["version"] == 21
    await chat.delegate(bob.url)                       # the transfer commits on n1, bob's session is on n2
    new = bob.syncher.reporters[chat.url]
    assert chat.closed and new.metadata["reporter"] == bob.url
    new.data["n"] = 99
    await world.until(lambda: carol_obs.version == new.version == 23 and carol_obs.data == new.data)
    assert carol_obs.reporter == bob.url
    notified: list[str] = []
    carol.syncher.on_notification(lambda e: notified.append(e.type))
    await new.delete()
    await world.until(lambda: carol_obs.closed and notified == ["delete"])
    # n2 ends its interest in O as the delete goes: a read on its way there is still answered (DECISIONS 87)
    try:
        await alice.syncher.read(chat.url)
    except SyncError as exc:
        assert (exc.code, exc.description) == (404, "unknown object")
    else:
        raise AssertionError("a deleted object was read")
