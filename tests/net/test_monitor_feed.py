"""The monitor feed `mn:/monitor` (TRANSPORT §4), watched with a plain websockets client."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from core.protocol import address as addr
from tests.net.conftest import Net, RawClient, body

A = "a.example"
TOKEN = "s3cret-monitor-token"
RT1 = addr.runtime_url(A, "one")
RT2 = addr.runtime_url(A, "two")


async def monitor_open(net: Net, token: Any = TOKEN, replay: int | None = None, **client: Any) -> tuple[RawClient,
                                                                                                       dict[str, Any]]:
    c = await net.client(A, **client)
    open_body: dict[str, Any] = {"token": token}
    if replay is not None:
        open_body["replay"] = replay
    answer = await c.request("open", "monitor://console", addr.MONITOR, open_body)
    return c, answer


async def events_until(c: RawClient, pred: Any, limit: int = 500) -> list[dict[str, Any]]:
    """Events as they arrive, up to and including the first that matches `pred`."""
    seen = []
    for _ in range(limit):
        frame = await c.recv()
        assert frame["type"] == "event" and frame["from"] == addr.MONITOR and frame["to"] == "monitor://console"
        seen.append(frame["body"])
        if pred(frame["body"]):
            return seen
    raise AssertionError(f"no matching event in {limit}")


async def test_wrong_or_missing_token_is_refused_403_and_nothing_streams(net: Net) -> None:
    server = await net.node(A, node_options={"monitor_token": TOKEN})
    c, answer = await monitor_open(net, token="guess")
    assert answer["to"] == "monitor://console" and answer["from"] == addr.MONITOR
    assert body(answer) == {"code": 403, "description": "wrong monitor token"}
    _, answer = await monitor_open(net, token=None)
    assert body(answer) == {"code": 403, "description": "wrong monitor token"}
    runtime = await net.client(A)
    await runtime.open(RT1)            # an event the refused monitor must not see
    await c.send({"id": 9, "type": "open", "from": "monitor://console", "to": addr.MONITOR,
                  "body": {"token": TOKEN}})
    later = await c.recv()             # the next frame is the answer to its retry, not an event
    assert later["type"] == "response" and body(later)["code"] == 200
    refused = [e for e in net.watch.of("session", server.node.url, action="refused")]
    assert [e.detail["code"] for e in refused] == [403, 403]


async def test_a_node_without_token_has_no_feed(net: Net) -> None:
    await net.node(A)
    _, answer = await monitor_open(net)
    assert body(answer) == {"code": 403, "description": "this node has no monitor feed"}


async def test_replay_then_live_events_with_tokens_redacted(net: Net) -> None:
    server = await net.node(A, node_options={"monitor_token": TOKEN})
    early = await net.client(A)
    await early.open(RT1)
    hyperty = await early.allocate_hyperty()
    c, answer = await monitor_open(net, replay=3)
    assert body(answer) == {"code": 200, "value": {"session": "s2", "domain": A, "node": server.node.url}}
    # The three last events before it: allocation request in, ownership, answer out.
    replayed = [await c.recv() for _ in range(3)]
    kinds = [(e["body"]["kind"], e["body"].get("direction"), e["body"].get("action")) for e in replayed]
    assert kinds == [("message", "in", None), ("ownership", None, "allocated"), ("message", "out", None)]
    assert replayed[1]["body"]["address"] == hyperty and replayed[1]["body"]["runtime"] == RT1
    assert all(e["body"]["where"] == server.node.url and isinstance(e["body"]["ts"], float) for e in replayed)
    own = await c.recv()
    assert own["body"]["kind"] == "session" and own["body"]["action"] == "monitor"
    assert own["body"]["monitor"] == "monitor://console"
    late = await net.client(A)
    await late.open(RT2)
    await late.request("subscribe", RT2 + "/sm", addr.mn_sm(A), {"resources": [hyperty + "/news"]})
    live = await events_until(c, lambda e: e["kind"] == "subscription")
    assert [(e["kind"], e.get("direction"), e.get("action")) for e in live] == [
        ("message", "in", None), ("session", None, "open"), ("message", "out", None),
        ("message", "in", None), ("subscription", None, "added")]
    opened, answered = live[0]["message"], live[2]["message"]
    assert opened["type"] == "open" and answered["body"]["value"]["token"] == "<redacted>"
    assert live[1]["runtime"] == RT2 and live[1]["visiting"] is False
    assert live[4] == {**live[4], "address": hyperty + "/news", "session": RT2}
    assert all("lost" not in e for e in [r["body"] for r in replayed] + live)
    assert late.token not in orjson.dumps([e["body"] for e in replayed] + live).decode()


async def test_monitors_send_nothing_but_close(net: Net) -> None:
    server = await net.node(A, node_options={"monitor_token": TOKEN})
    c, _ = await monitor_open(net)
    answer = await c.request("subscribe", "monitor://console", addr.mn_sm(A), {"resources": ["x://a.example/1"]},
                             skip_events=True)
    assert body(answer) == {"code": 400, "description": "monitors send nothing but close"}
    assert server.node.subscriptions.table() == {}
    answer = await c.request("close", "monitor://console", addr.MONITOR, skip_events=True)
    assert body(answer) == {"code": 200}
    assert await c.closed() == (1000, "closed")
    assert [e.detail["action"] for e in net.watch.of("session", server.node.url)] == ["monitor", "close"]


async def test_a_slow_monitor_loses_events_without_slowing_routing(net: Net) -> None:
    queue = 50
    server = await net.node(A, node_options={"monitor_token": TOKEN, "monitor_queue": queue, "replay": 0})
    # The client stops taking frames after one: the socket fills, the node's writes back up.
    monitor, _ = await monitor_open(net, max_queue=1)
    sender, receiver = await net.client(A), await net.client(A)
    await sender.open(RT1)
    await receiver.open(RT2)
    h1, h2 = await sender.allocate_hyperty(), await receiver.allocate_hyperty()
    feed = server.node.feed
    assert feed is not None
    watcher = next(iter(server.links.values()))  # the monitor's link: the first session
    assert watcher.session is not None and watcher.session.monitor_name == "monitor://console"
    pad = "z" * 16384
    n = 600

    async def pump() -> None:
        for i in range(n):
            await sender.send({"id": sender.next_id(), "type": "execute", "from": h1, "to": h2,
                               "body": {"n": i, "pad": pad}})

    async def take() -> list[int]:
        got = []
        for _ in range(n):
            got.append((await receiver.recv())["body"]["n"])
        return got

    _, received = await asyncio.gather(pump(), take())
    assert received == list(range(n))                       # routing went on, in order
    assert feed.queued(watcher.session) <= queue           # the feed never held more than its bound
    assert len(watcher.outbox.backlog) <= 1                 # nor did the monitor's link
    # Now it reads again. What it lost is told in the next event the feed could queue, so traffic
    # goes on meanwhile, one routed message per 20 frames read.
    lost, read = 0, 0
    while lost == 0:
        frame = await monitor.recv()
        lost = frame["body"].get("lost", 0)
        read += 1
        if read % 20 == 0:
            await sender.send({"id": sender.next_id(), "type": "execute", "from": h1, "to": h2, "body": {"n": -1}})
            assert (await receiver.recv())["body"]["n"] == -1
    assert lost > 0
    assert read < 2 * n + 100  # it got the backlog and then the note, not a flood
