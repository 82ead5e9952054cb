"""Several Message Nodes serve one domain on a real NATS server (issue 15): the chat scenario with
its reporter and observer on different nodes, PROTOCOL §1.5 and §6 across nodes."""

from __future__ import annotations

import asyncio

import orjson
from websockets.asyncio.client import connect

from core.protocol import address as addr
from tests.cluster.conftest import WAIT, Nats, start_cluster_node
from tests.net.test_cli import SCENARIOS, Process, summary, syncscope


async def test_chat_scenario_with_reporter_and_observer_on_different_nodes(processes: list[Process],
                                                                          nats_server: Nats) -> None:
    _, url1 = await start_cluster_node(processes, nats_server, "a.example", "n1")
    _, url2 = await start_cluster_node(processes, nats_server, "a.example", "n2")
    reporter = await syncscope("runtime", "--node", url1, "--domain", "a.example",
                               "--script", str(SCENARIOS / "chat-reporter.json"))
    observer = await syncscope("runtime", "--node", url2, "--domain", "a.example",
                               "--script", str(SCENARIOS / "chat-observer.json"))
    processes += [reporter, observer]
    (rc_r, out_r, err_r), (rc_o, out_o, err_o) = await asyncio.gather(reporter.finish(), observer.finish())
    assert (rc_r, rc_o) == (0, 0), (err_r, err_o, out_r, out_o)
    r, o = summary(out_r), summary(out_o)
    assert r["ok"] and o["ok"] and r["edits_sent"] == 202
    assert o["objects"]["chat"]["url"] == r["objects"]["chat"]["url"]
    assert o["objects"]["chat"]["version"] == r["objects"]["chat"]["version"] == 202
    assert o["objects"]["chat"]["digest"] == r["objects"]["chat"]["digest"]


async def request(conn: object, msg: dict[str, object]) -> dict[str, object]:
    await conn.send(orjson.dumps(msg).decode())  # type: ignore[attr-defined]
    while True:
        got = orjson.loads(await asyncio.wait_for(conn.recv(), WAIT))  # type: ignore[attr-defined]
        if got.get("type") == "response" and got.get("id") == msg["id"] and got.get("to") == msg["from"]:
            return got  # type: ignore[no-any-return]


async def test_ownership_tokens_and_routing_hold_across_nodes(processes: list[Process], nats_server: Nats) -> None:
    _, url1 = await start_cluster_node(processes, nats_server, "a.example", "n1")
    _, url2 = await start_cluster_node(processes, nats_server, "a.example", "n2")
    alice, mallory = addr.runtime_url("a.example", "alice"), addr.runtime_url("a.example", "mallory")
    async with connect(url1, proxy=None) as a, connect(url2, proxy=None) as m:
        opened = await request(a, {"id": 1, "type": "open", "from": alice, "to": addr.SESSION})
        token = opened["body"]["value"]["token"]  # type: ignore[index]
        assert (await request(m, {"id": 1, "type": "open", "from": mallory, "to": addr.SESSION}))["body"]["code"] == 200  # type: ignore[index]
        allocated = await request(a, {"id": 2, "type": "create", "from": alice + "/address-allocation",
                                      "to": addr.object_allocation("a.example"),
                                      "body": {"scheme": "comm", "value": {"number": 3}}})
        objs = allocated["body"]["value"]["allocated"]  # type: ignore[index]
        assert len(objs) == 3
        # §6 at the other node: mallory may not speak for alice's object, and learns its owner there
        forged = await request(m, {"id": 2, "type": "update", "from": objs[0], "to": objs[0] + "/changes",
                                   "body": {"version": 1, "source": objs[0]}})
        assert forged["body"] == {"code": 403, "description": "not owned by this session"}
        owner = await request(m, {"id": 3, "type": "read", "from": mallory + "/sm",
                                  "to": addr.object_allocation("a.example"), "body": {"resource": objs[1]}})
        assert owner["body"] == {"code": 200, "value": {"runtime": alice}}
        # rule 1–3 across nodes: a request to an address alice owns reaches her session on n1 ...
        sent = {"id": 4, "type": "read", "from": mallory + "/sm", "to": objs[2], "body": {}}
        await m.send(orjson.dumps(sent).decode())
        arrived = orjson.loads(await asyncio.wait_for(a.recv(), WAIT))
        assert (arrived["type"], arrived["from"], arrived["to"], arrived["id"]) == ("read", mallory + "/sm", objs[2], 4)
        # ... and her answer comes back to mallory on n2
        await a.send(orjson.dumps({"id": 4, "type": "response", "from": objs[2], "to": mallory + "/sm",
                                   "body": {"code": 200, "value": {"x": 1}}}).decode())
        answer = orjson.loads(await asyncio.wait_for(m.recv(), WAIT))
        assert (answer["id"], answer["body"]) == (4, {"code": 200, "value": {"x": 1}})
        # a request nobody in the domain can take: the single node's answers
        gone = await request(m, {"id": 5, "type": "read", "from": mallory + "/sm",
                                 "to": "comm://a.example/never-allocated", "body": {}})
        assert gone["body"] == {"code": 404, "description": "unknown object"}
    # alice's token is the domain's, not n1's: n2 refuses a bare open and takes her with her token
    async with connect(url2, proxy=None) as again:
        refused = await request(again, {"id": 1, "type": "open", "from": alice, "to": addr.SESSION})
        assert refused["body"] == {"code": 403, "description": "runtime URL already bound"}
        back = await request(again, {"id": 2, "type": "open", "from": alice, "to": addr.SESSION,
                                     "body": {"token": token}})
        assert back["body"]["code"] == 200  # type: ignore[index]
        offline = await request(again, {"id": 3, "type": "read", "from": alice + "/sm",
                                        "to": mallory + "/sm", "body": {}})
        assert offline["body"] == {"code": 404, "description": "no route"}   # mallory's link is gone


async def test_a_domain_scope_monitor_sees_every_node_and_which_node_holds_each_session(
        processes: list[Process], nats_server: Nats) -> None:
    _, url1 = await start_cluster_node(processes, nats_server, "a.example", "n1", "--monitor-scope", "domain")
    _, url2 = await start_cluster_node(processes, nats_server, "a.example", "n2")
    _, url3 = await start_cluster_node(processes, nats_server, "a.example", "n3")
    async with connect(url1, proxy=None) as monitor:
        opened = await request(monitor, {"id": 1, "type": "open", "from": "monitor://ops", "to": addr.MONITOR,
                                         "body": {"token": "watch"}})
        assert opened["body"]["code"] == 200  # type: ignore[index]
        runtime = addr.runtime_url("a.example", "far")
        for attempt in range(1, 200):   # n2 learns of the domain-scope member from its next heartbeat
            async with connect(url2, proxy=None) as conn:
                await request(conn, {"id": 1, "type": "open", "from": runtime + str(attempt), "to": addr.SESSION})
            seen = []
            try:
                while True:
                    event = orjson.loads(await asyncio.wait_for(monitor.recv(), 0.2))["body"]
                    seen.append(event)
            except TimeoutError:
                pass
            opens = [e for e in seen if e["kind"] == "session" and e.get("action") == "open"]
            if opens:
                break
        assert opens[0]["node"] == "n2" and opens[0]["runtime"] == runtime + str(attempt)
    # a node-scope monitor (n3) sees its own events only
    async with connect(url3, proxy=None) as own:
        await request(own, {"id": 1, "type": "open", "from": "monitor://own", "to": addr.MONITOR,
                            "body": {"token": "watch", "replay": 100}})
        replayed = []
        try:
            while True:
                replayed.append(orjson.loads(await asyncio.wait_for(own.recv(), 0.3))["body"])
        except TimeoutError:
            pass
        assert not [e for e in replayed if e.get("node") not in (None, "n3")]
