"""INTEROP §1 (sessions) and §2 (addresses) against a real WebSocket node, one test per row, with
literal reTHINK-shaped messages sent by hand."""

from __future__ import annotations

from core.bus import MessageBus
from core.monitor import Monitor
from core.protocol import address as addr
from core.timers import Timers
from tests.interop.rethink import claim_hyperty, minted, rethink_client, rethink_runtime
from tests.net.conftest import Net, RawClient, body

A = "a.example"
B = "b.example"
RT_OURS = addr.runtime_url(A, "ours")


async def ours(net: Net, runtime: str = RT_OURS) -> tuple[RawClient, str]:
    """A SyncScope peer (hand-driven) with an allocated hyperty."""
    client = await net.client(A)
    assert body(await client.open(runtime))["code"] == 200
    return client, await client.allocate_hyperty()


# §1 Sessions ------------------------------------------------------------------------------------------

async def test_row_1_1_runtime_scheme_is_accepted_everywhere_a_runtime_url_is(net: Net) -> None:
    server = await net.node(A)
    rt_client, answer = await rethink_client(net, A)
    rt = rt_client.runtime
    assert body(answer)["code"] == 200 and body(answer)["value"]["visiting"] is False
    assert server.node.sessions[rt] is not None
    # …/sm: an MN subscription from the runtime's Sync Manager
    sub = await rt_client.request("subscribe", rt + "/sm", addr.mn_sm(A), {"resources": ["comm://b.example/x/changes"],
                                                                           "source": rt})
    assert body(sub) == {"code": 200}
    # …/address-allocation: allocation from the runtime's allocation address (alias of the OAM, §2)
    alloc = await rt_client.request("create", rt + "/address-allocation", f"domain://msg-node.{A}/address-allocation",
                                    {"scheme": "comm", "value": {"number": 1}})
    obj = body(alloc)["value"]["allocated"][0]
    assert body(alloc)["code"] == 200 and server.node.allocator.owner[obj] == rt
    # …/registry: the registry takes the owner's registration
    reg = await rt_client.request("create", rt + "/registry", addr.registry(A), {"value": {"url": obj, "name": "n"}})
    assert body(reg) == {"code": 200}
    # routing: a message to an address under the runtime URL reaches its session
    peer, hyperty = await ours(net)
    msg = {"id": 9, "type": "read", "from": hyperty, "to": rt + "/sm", "body": {"resource": obj}}
    await peer.send(msg)
    assert await rt_client.recv() == msg
    # ownership: addresses under another runtime URL of either scheme are not its own
    spoof = await rt_client.request("execute", RT_OURS + "/sm", hyperty, {"method": "x"})
    assert body(spoof) == {"code": 403, "description": "not owned by this session", "desc": "not owned by this session"}


async def test_row_1_2_open_without_body_is_200_and_every_reason_comes_as_desc_too(net: Net) -> None:
    await net.node(A)
    rt_client, answer = await rethink_client(net, A)
    assert body(answer)["code"] == 200 and "description" not in body(answer) and "desc" not in body(answer)
    # the node's own refusals
    missing = await rt_client.request("read", rt_client.runtime + "/sm", "comm://a.example/never")
    assert body(missing) == {"code": 404, "description": "unknown object", "desc": "unknown object"}
    await rt_client.send({"id": 50, "type": "subscribe", "from": rt_client.runtime + "/sm", "to": addr.mn_sm(A),
                          "body": {}})
    missing_resources = body(await rt_client.recv())
    assert missing_resources == {"code": 400, "description": "missing resources", "desc": "missing resources"}
    await rt_client.send(b'{"id": 51, "type": "bogus", "from": "x", "to": "y"}'.decode())
    assert body(await rt_client.recv()) == {"code": 400, "description": "unknown type", "desc": "unknown type"}
    # a SyncScope peer's answer relayed to the reTHINK runtime carries `desc` as well
    hyperty = await claim_hyperty(rt_client, A)
    peer, ours_hyperty = await ours(net)
    await rt_client.send({"id": 52, "type": "execute", "from": hyperty, "to": ours_hyperty, "body": {"method": "m"}})
    request = await peer.recv()
    await peer.send({"id": request["id"], "type": "response", "from": ours_hyperty, "to": hyperty,
                     "body": {"code": 401, "description": "unauthorized"}})
    relayed = await rt_client.recv()
    assert relayed["id"] == 52 and body(relayed) == {"code": 401, "description": "unauthorized", "desc": "unauthorized"}
    # what SyncScope peers see of each other is unchanged: no `desc` added between them
    again = await peer.request("read", RT_OURS + "/sm", "comm://a.example/never")
    assert body(again) == {"code": 404, "description": "unknown object"}


async def test_row_1_3_runtime_token_re_open_and_close_from_runtime_url_slash_token(net: Net) -> None:
    server = await net.node(A)
    first, answer = await rethink_client(net, A)
    rt = first.runtime
    token = body(answer)["runtimeToken"]
    assert token == body(answer)["value"]["token"] and len(token) == 32
    hyperty = await claim_hyperty(first, A)
    # SyncScope runtimes are not told a runtimeToken (they keep `value.token`)
    peer, ours_hyperty = await ours(net)
    assert "runtimeToken" not in body(await (await net.client(A)).open(addr.runtime_url(A, "third")))
    # a bare open or re-open of the bound URL without the token stays 403, while its link is live…
    intruder = await net.client(A)
    assert body(await intruder.request("open", rt, addr.SESSION))["code"] == 403
    assert body(await intruder.request("re-open", rt, addr.SESSION)) == {
        "code": 403, "description": "runtime URL already bound", "desc": "runtime URL already bound"}
    assert body(await intruder.request("re-open", f"{rt}/{'0' * 32}", addr.SESSION))["code"] == 403
    # …and after it is lost
    await first.conn.close()
    await net.watch.state(lambda: rt not in server.node.sessions)
    assert body(await intruder.request("open", rt, addr.SESSION))["code"] == 403
    # the runtime proves its token: re-open from `<runtimeURL>/<runtimeToken>` rebinds what it owns
    second = await net.client(A)
    reopened = await second.request("re-open", f"{rt}/{token}", addr.SESSION)
    assert body(reopened)["code"] == 200 and body(reopened)["runtimeToken"] == token
    assert server.node.sessions[rt] is not None and server.node.allocator.owner[hyperty] == rt
    msg = {"id": 7, "type": "execute", "from": ours_hyperty, "to": hyperty, "body": {"method": "ping"}}
    await peer.send(msg)
    assert await second.recv() == msg
    # close from the same URL: answered (harmless, §1 row 4), the link closes, ownership stays
    closed = await second.request("close", f"{rt}/{token}", addr.SESSION)
    assert body(closed) == {"code": 200}
    assert (await second.closed())[0] == 1000
    assert rt not in server.node.sessions and server.node.allocator.owner[hyperty] == rt


async def test_row_1_4_close_expects_no_answer_and_gets_a_harmless_200(net: Net) -> None:
    server = await net.node(A)
    client, _ = await rethink_client(net, A)
    await client.send({"id": 3, "type": "close", "from": client.runtime, "to": addr.SESSION})
    answer = await client.recv()
    assert answer == {"id": 3, "type": "response", "from": addr.SESSION, "to": client.runtime, "body": {"code": 200}}
    assert (await client.closed())[0] == 1000 and client.runtime not in server.node.sessions


async def test_row_1_5_via_is_carried_and_ignored(net: Net) -> None:
    await net.node(A)
    client, _ = await rethink_client(net, A)
    hyperty = await claim_hyperty(client, A)
    peer, ours_hyperty = await ours(net)
    msg = {"id": 4, "type": "execute", "from": hyperty, "to": ours_hyperty,
           "body": {"method": "m", "via": "runtime://a.example/stub"}}
    await client.send(msg)
    assert await peer.recv() == msg


# §2 Addresses -----------------------------------------------------------------------------------------

async def test_row_2_1_a_minted_hyperty_url_is_bound_by_subscribe_to_its_home_session(net: Net) -> None:
    server = await net.node(A)
    await net.node(B)
    client, _ = await rethink_client(net, A)
    hyperty = await claim_hyperty(client, A)
    assert server.node.allocator.owner[hyperty] == client.runtime
    claimed = [e.detail for e in net.watch.of("ownership", server.node.url)]
    assert claimed == [{"address": hyperty, "runtime": client.runtime, "action": "claimed", "session": client.runtime}]
    # it now speaks as the hyperty and is reached at it
    peer, ours_hyperty = await ours(net)
    await client.send({"id": 5, "type": "execute", "from": hyperty, "to": ours_hyperty, "body": {"method": "m"}})
    assert (await peer.recv())["from"] == hyperty
    # a URL owned by another session stays 403, for a claim and for messages from it
    other, _ = await rethink_client(net, A)
    taken = await other.request("subscribe", other.runtime + "/address-allocation", addr.mn_sm(A),
                                {"resources": [hyperty], "source": other.runtime + "/address-allocation"})
    assert body(taken) == {"code": 403, "description": "not the owner", "desc": "not the owner"}
    spoof = await other.request("execute", hyperty, ours_hyperty, {"method": "m"})
    assert body(spoof)["code"] == 403
    # a visiting session claims nothing in this domain
    visitor, _ = await rethink_client(net, A, rethink_runtime(B))
    refused = await visitor.request("subscribe", visitor.runtime + "/address-allocation", addr.mn_sm(A),
                                    {"resources": [minted("hyperty", A)]})
    assert body(refused)["code"] == 403
    assert body(refused)["description"] == "visiting sessions may not allocate addresses"
    # the per-runtime quota holds, however addresses arrive
    server.node.allocator.max_owned = 2
    await claim_hyperty(client, A)
    over = await client.request("subscribe", client.runtime + "/address-allocation", addr.mn_sm(A),
                                {"resources": [minted("hyperty", A)]})
    assert body(over)["code"] == 429
    assert len(server.node.allocator.owned_by(client.runtime)) == 2


async def test_row_2_2_a_minted_object_url_is_bound_by_the_reporter_subscribe(net: Net) -> None:
    server = await net.node(A)
    client, _ = await rethink_client(net, A)
    rt = client.runtime
    obj = minted("comm", A)
    answer = await client.request("subscribe", rt + "/sm", addr.mn_sm(A),
                                  {"resources": [obj, obj + "/subscription"], "source": rt})
    assert body(answer) == {"code": 200}
    assert server.node.allocator.owner[obj] == rt
    assert set(server.node.subscriptions.table()) == {obj, obj + "/subscription"}
    # another runtime cannot take it over
    other, _ = await rethink_client(net, A)
    taken = await other.request("subscribe", other.runtime + "/sm", addr.mn_sm(A), {"resources": [obj]})
    assert body(taken)["code"] == 403
    # a SyncScope runtime still gets PROTOCOL §1.2's 404 for an object nobody allocated
    peer, _ = await ours(net)
    unknown = minted("comm", A)
    refused = await peer.request("subscribe", RT_OURS + "/sm", addr.mn_sm(A), {"resources": [unknown]})
    assert body(refused)["code"] == 404
    # older versions allocate at `…/address-allocation`: an alias of `…/object-address-allocation`
    alloc = await client.request("create", rt + "/address-allocation", f"domain://msg-node.{A}/address-allocation",
                                 {"scheme": "connection", "value": {"number": 2}})
    allocated = body(alloc)["value"]["allocated"]
    assert body(alloc)["code"] == 200 and len(allocated) == 2
    assert all(url.startswith(f"connection://{A}/") and server.node.allocator.owner[url] == rt for url in allocated)
    dealloc = await client.request("delete", rt + "/address-allocation", f"domain://msg-node.{A}/address-allocation",
                                   {"resource": allocated[0]})
    assert body(dealloc) == {"code": 200} and allocated[0] not in server.node.allocator.owner


async def test_row_2_3_a_children_slash_subscription_matches_every_child_channel(net: Net) -> None:
    await net.node(A)
    reporter, _ = await rethink_client(net, A)
    obj = minted("comm", A)
    claimed = await reporter.request("subscribe", reporter.runtime + "/sm", addr.mn_sm(A),
                                     {"resources": [obj, obj + "/subscription"], "source": reporter.runtime})
    assert body(claimed)["code"] == 200
    observer, _ = await rethink_client(net, A)
    assert body(await observer.request("subscribe", observer.runtime + "/sm", addr.mn_sm(A),
                                       {"resources": [obj + "/changes", obj + "/children/"],
                                        "source": observer.runtime}))["code"] == 200
    for name in ("chat", "files"):
        msg = {"id": 10, "type": "create", "from": obj, "to": f"{obj}/children/{name}",
               "body": {"resource": f"{obj}#1", "value": {"text": name}}}
        await reporter.send(msg)
        # handed on the channel it holds: reTHINK's newest runtime hears only `O/children/` (DECISIONS.md)
        assert await observer.recv() == {**msg, "to": f"{obj}/children/"}
    # no double delivery to a session subscribed to both the prefix and the exact channel
    await observer.request("subscribe", observer.runtime + "/sm", addr.mn_sm(A),
                           {"resources": [obj + "/children/chat"]})
    await reporter.send({"id": 11, "type": "update", "from": obj, "to": f"{obj}/children/chat", "body": {"version": 1}})
    await reporter.send({"id": 12, "type": "update", "from": obj, "to": f"{obj}/changes", "body": {"version": 1}})
    assert [(await observer.recv())["id"], (await observer.recv())["id"]] == [11, 12]


async def test_row_2_3_the_runtime_bus_matches_children_slash_too() -> None:
    bus = MessageBus("hyperty-runtime://a.example/rt", Monitor(), Timers())
    got: list[str] = []
    bus.add_listener("comm://a.example/o/children/", lambda m: got.append(m["to"]))
    bus.add_listener("comm://a.example/o/children/chat", lambda m: got.append("exact"))
    bus.ingress({"id": 1, "type": "update", "from": "comm://a.example/o", "to": "comm://a.example/o/children/chat",
                 "body": {}})
    bus.ingress({"id": 2, "type": "update", "from": "comm://a.example/o", "to": "comm://a.example/o/children/files",
                 "body": {}})
    bus.ingress({"id": 3, "type": "update", "from": "comm://a.example/o", "to": "comm://a.example/o2/children/chat",
                 "body": {}})
    assert got == ["exact", "comm://a.example/o/children/chat", "comm://a.example/o/children/files"]


async def test_row_2_4_unsubscribe_with_resource_and_resources_is_their_union_on_any_node(net: Net) -> None:
    server_a = await net.node(A)
    server_b = await net.node(B)
    reporter, _ = await rethink_client(net, A)
    obj = minted("comm", A)
    await reporter.request("subscribe", reporter.runtime + "/sm", addr.mn_sm(A),
                           {"resources": [obj, obj + "/subscription"], "source": reporter.runtime})
    observer_b = rethink_runtime(B)
    at_a, _ = await rethink_client(net, A, observer_b)
    at_b, _ = await rethink_client(net, B, observer_b)
    channels = [obj + "/changes", obj + "/children/"]
    await at_a.request("subscribe", observer_b + "/sm", addr.mn_sm(A), {"resources": channels, "source": observer_b})
    await at_b.request("subscribe", observer_b + "/sm", addr.mn_sm(B), {"resources": channels, "source": observer_b})
    assert server_a.node.sessions[observer_b].subscriptions == set(channels)
    gone = await at_a.request("unsubscribe", observer_b + "/sm", addr.mn_sm(A),
                              {"resource": obj, "resources": [obj + "/children/"]})
    assert body(gone) == {"code": 200}
    assert server_a.node.sessions[observer_b].subscriptions == set()   # `resource: O` took O/changes along
    # sent to the hyperty's domain node (B): the same union there
    at_b_answer = await at_b.request("unsubscribe", observer_b + "/sm", addr.mn_sm(B),
                                     {"resource": obj, "resources": [obj + "/children/"]})
    assert body(at_b_answer) == {"code": 200} and server_b.node.sessions[observer_b].subscriptions == set()
    # updates no longer reach it
    await reporter.send({"id": 20, "type": "update", "from": obj, "to": obj + "/changes", "body": {"version": 1}})
    await reporter.send({"id": 21, "type": "read", "from": obj, "to": observer_b + "/sm", "body": {}})
    assert (await at_a.recv())["id"] == 21
    # two list forms at once stay a 400 (PROTOCOL §1.5)
    both = await at_a.request("unsubscribe", observer_b + "/sm", addr.mn_sm(A),
                              {"resources": [obj + "/changes"], "unsubscribe": [obj + "/changes"]})
    assert body(both)["code"] == 400
