"""Wire details of reTHINK's real runtimes that INTEROP.md left out, found by running them against
`syncscope node` (/work/notes/interop-findings.md), each with the exact shape seen there."""

from __future__ import annotations

from core.protocol import address as addr
from core.schemas import COMM_SCHEMA
from tests.interop.rethink import claim_hyperty, observe, rethink_client
from tests.interop.test_runtime_rows import A, rethink_reporter, subscribe_ours
from tests.net.conftest import Net, body


async def test_a_rethink_delete_after_its_deallocation_still_reaches_the_observers(net: Net) -> None:
    server = await net.node(A)
    client, reporter, obj = await rethink_reporter(net)
    rt, obs, _ = await subscribe_ours(net, client, reporter, obj, {"a": 1})
    watcher, _ = await rethink_client(net, A)
    observer = await claim_hyperty(watcher, A)
    await watcher.request("subscribe", watcher.runtime + "/sm", addr.mn_sm(A),
                          {"resources": [obj + "/changes", obj + "/children/"], "source": observer})
    # reTHINK's order on the wire: deallocation, node unsubscribe, and only then the delete
    dealloc = await client.request("delete", client.runtime + "/address-allocation", addr.object_allocation(A),
                                   {"resource": obj, "childrenResources": ["resources"]})
    assert body(dealloc) == {"code": 200} and obj not in server.node.allocator.owner
    await client.request("unsubscribe", client.runtime + "/sm", addr.mn_sm(A),
                         {"resources": [obj], "source": reporter})
    delete = {"id": 90, "type": "delete", "from": obj + "/subscription", "to": obj + "/changes",
              "body": {"identity": {"userProfile": {}}}}
    await client.send(delete)
    assert await watcher.recv() == delete
    await net.watch.state(lambda: obs.closed and obj not in rt.sm.observers)
    # its observers unsubscribe after the delete: 200, not 404 "unknown object"
    late = await watcher.request("unsubscribe", watcher.runtime + "/sm", obj + "/subscription",
                                 {"source": observer})
    assert body(late) == {"code": 200}
    # anyone else's delete of it is still refused
    other, _ = await rethink_client(net, A)
    await other.send({**delete, "id": 91})
    assert body(await other.recv())["code"] == 403


async def test_a_rethink_observer_unsubscribes_with_source_and_the_syncscope_reporter_drops_it(net: Net) -> None:
    # a reTHINK observer's unsubscribe says `source` (not `subscriber`): the reporter drops it
    await net.node(A)
    ours = await net.runtime(A)
    alice = await ours.hyperty("alice")
    chat = await alice.syncher.create(COMM_SCHEMA, data={})
    chat.on_subscription(lambda e: e.accept())
    client, _ = await rethink_client(net, A)
    observer = await claim_hyperty(client, A)
    assert body(await observe(client, chat.url, observer))["code"] == 200
    gone = await client.request("unsubscribe", client.runtime + "/sm", chat.url + "/subscription",
                                {"source": observer, "identity": {"userProfile": {}}})
    assert body(gone) == {"code": 200}
    await net.watch.state(lambda: observer not in chat.subscriptions)


async def test_a_re_open_takes_over_the_node_subscriptions_of_the_lost_link(net: Net) -> None:
    server = await net.node(A)
    client, reporter, obj = await rethink_reporter(net)
    watcher, answer = await rethink_client(net, A)
    token = body(answer)["runtimeToken"]
    observer = await claim_hyperty(watcher, A)
    channels = [obj + "/changes", obj + "/children/"]
    await watcher.request("subscribe", watcher.runtime + "/sm", addr.mn_sm(A), {"resources": channels,
                                                                               "source": observer})
    rt = watcher.runtime
    held = set(server.node.sessions[rt].subscriptions)
    await watcher.conn.close()
    await net.watch.state(lambda: rt not in server.node.sessions)
    # reTHINK's stub re-opens and never re-sends its node subscriptions: the node keeps them for it
    again = await net.client(A)
    reopened = await again.request("re-open", f"{rt}/{token}", addr.SESSION)
    assert body(reopened)["code"] == 200
    assert server.node.sessions[rt].subscriptions == held
    update = {"id": 70, "type": "update", "from": obj, "to": obj + "/changes",
              "body": {"version": 1, "source": reporter, "attribute": "a", "value": 1}}
    await client.send(update)
    assert await again.recv() == update
