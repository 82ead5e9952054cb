"""Sessions over real sockets (TRANSPORT §2) and every bad peer of issue 7 (TRANSPORT §1, §5):
each gets the TRANSPORT answer, its session or the node goes on, and no other session notices."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from core.protocol import address as addr
from tests.net.conftest import Net, RawClient, RawSocket, body

A = "a.example"
RT1 = addr.runtime_url(A, "one")
RT2 = addr.runtime_url(A, "two")
FOREIGN = addr.runtime_url("b.example", "far")


async def pair(net: Net) -> tuple[RawClient, str, RawClient, str]:
    """Two open sessions of domain A, each with an allocated hyperty."""
    c1, c2 = await net.client(A), await net.client(A)
    await c1.open(RT1)
    await c2.open(RT2)
    return c1, await c1.allocate_hyperty(), c2, await c2.allocate_hyperty()


async def still_routes(sender: RawClient, frm: str, receiver: RawClient, to: str) -> None:
    """A message from `frm` to hyperty `to` arrives unchanged: the session and the node go on."""
    ident = sender.next_id()
    msg = {"id": ident, "type": "execute", "from": frm, "to": to, "body": {"method": "ping"}}
    await sender.send(msg)
    assert await receiver.recv() == msg


async def test_open_answers_session_token_domain_and_visiting(net: Net) -> None:
    await net.node(A)
    home, visitor = await net.client(A), await net.client(A)
    answer = await home.open(RT1)
    assert answer["from"] == addr.SESSION and answer["to"] == RT1 and answer["id"] == 1
    value = body(answer)["value"]
    assert body(answer)["code"] == 200 and value["domain"] == A and value["visiting"] is False
    assert value["session"] and len(value["token"]) == 32
    assert body(await visitor.open(FOREIGN))["value"]["visiting"] is True
    refused = await visitor.request("create", FOREIGN + "/address-allocation", addr.hyperty_allocation(A),
                                    {"value": {"number": 1}})
    assert body(refused) == {"code": 403, "description": "visiting sessions may not allocate addresses"}


async def test_reopen_without_token_is_refused_and_the_bound_session_goes_on(net: Net) -> None:
    await net.node(A)
    c1, h1, c2, h2 = await pair(net)
    intruder = await net.client(A)
    answer = await intruder.open(RT1)
    assert body(answer) == {"code": 403, "description": "runtime URL already bound"}
    answer = await intruder.open(RT1, token="0" * 32)
    assert body(answer) == {"code": 403, "description": "runtime URL already bound"}
    # Still not open: anything else is refused as before `open`.
    early = await intruder.request("execute", RT1, h2, {"method": "x"})
    assert body(early) == {"code": 400, "description": "session not open"}
    await still_routes(c2, h2, c1, h1)
    await still_routes(c1, h1, c2, h2)


async def test_reopen_with_token_takes_over_the_url_and_what_it_owns(net: Net) -> None:
    server = await net.node(A)
    c1, h1, c2, h2 = await pair(net)
    successor = await net.client(A)
    answer = await successor.open(RT1, token=c1.token)
    assert body(answer)["code"] == 200 and body(answer)["value"]["token"] == c1.token
    assert await c1.closed() == (1000, "session taken over")
    assert server.node.sessions[RT1] is not None and server.node.allocator.owner[h1] == RT1
    await still_routes(c2, h2, successor, h1)   # h1 is now reached through the new link
    await still_routes(successor, h1, c2, h2)
    actions = [e.detail["action"] for e in net.watch.of("session", server.node.url) if e.detail.get("runtime") == RT1]
    assert actions == ["open", "close", "takeover"]


async def test_message_before_open_is_refused(net: Net) -> None:
    await net.node(A)
    c = await net.client(A)
    answer = await c.request("subscribe", RT1 + "/sm", addr.mn_sm(A), {"resources": ["x://a.example/1"]})
    assert body(answer) == {"code": 400, "description": "session not open"}
    assert body(await c.open(RT1))["code"] == 200


async def test_non_json_and_non_object_frames_are_dropped_and_the_session_goes_on(net: Net) -> None:
    server = await net.node(A)
    c1, h1, c2, h2 = await pair(net)
    await c1.send("{not json")
    await c1.send("[1, 2, 3]")
    await c1.send('"a string"')
    await still_routes(c1, h1, c2, h2)  # frames are handled in order: the drops came first
    drops = [e.detail["reason"] for e in last_drops(net, 3)]
    assert drops == ["message is not JSON", "message is not a JSON object", "message is not a JSON object"]
    assert len(server.node.sessions) == 2


def last_drops(net: Net, n: int) -> list:
    return [e for e in net.watch.events if e.kind == "drop"][-n:]


async def test_binary_frame_is_answered_400_when_it_says_who_and_dropped_otherwise(net: Net) -> None:
    await net.node(A)
    c1, h1, c2, h2 = await pair(net)
    ident = c1.next_id()
    await c1.send(orjson.dumps({"id": ident, "type": "execute", "from": h1, "to": h2, "body": {}}))
    answer = await c1.recv()
    assert answer == {"id": ident, "type": "response", "from": h2, "to": h1,
                      "body": {"code": 400, "description": "binary frames are not accepted; send JSON text"}}
    await c1.send(b"\x00\x01\x02")
    await still_routes(c1, h1, c2, h2)
    assert [e.detail["reason"] for e in last_drops(net, 2)] == ["binary frames are not accepted; send JSON text"] * 2


async def test_oversize_message_gets_413_and_four_times_the_limit_closes_1009(net: Net) -> None:
    await net.node(A, node_options={"max_message": 1024})
    c1, h1, c2, h2 = await pair(net)
    ident = c1.next_id()
    await c1.send({"id": ident, "type": "execute", "from": h1, "to": h2, "body": {"pad": "x" * 2000}})
    answer = await c1.recv()
    assert answer["id"] == ident and answer["to"] == h1
    assert body(answer) == {"code": 413, "description": "message larger than 1024 bytes"}
    await still_routes(c1, h1, c2, h2)
    await c1.send({"id": c1.next_id(), "type": "execute", "from": h1, "to": h2, "body": {"pad": "x" * 4200}})
    code, _ = await c1.closed()
    assert code == 1009
    await still_routes(c2, h2, c2, h2)
    third = await net.client(A)
    assert body(await third.open(addr.runtime_url(A, "three")))["code"] == 200


async def test_multibyte_text_is_measured_in_bytes(net: Net) -> None:
    await net.node(A, node_options={"max_message": 1024})
    c1, h1, c2, h2 = await pair(net)
    ident = c1.next_id()
    await c1.send({"id": ident, "type": "execute", "from": h1, "to": h2, "body": {"pad": "é" * 500}})
    assert body(await c1.recv())["code"] == 413  # 500 characters, over 1,000 bytes


async def test_spoofed_from_and_source_are_refused_403(net: Net) -> None:
    await net.node(A)
    c1, h1, c2, h2 = await pair(net)
    answer = await c1.request("execute", h2, h1, {"method": "x"})
    assert body(answer) == {"code": 403, "description": "not owned by this session"}
    answer = await c1.request("execute", h1, h2, {"source": h2})
    assert body(answer) == {"code": 403, "description": "not owned by this session"}
    answer = await c1.request("execute", RT2 + "/sm", h2)
    assert body(answer) == {"code": 403, "description": "not owned by this session"}
    await still_routes(c2, h2, c1, h1)


async def test_twenty_bad_frames_in_ten_seconds_close_1008_and_others_go_on(net: Net) -> None:
    server = await net.node(A)
    c1, h1, c2, h2 = await pair(net)
    for _ in range(19):
        await c1.send("junk")
    await still_routes(c1, h1, c2, h2)  # 19 are tolerated
    await c1.send("junk")
    assert await c1.closed() == (1008, "too many bad messages")
    assert RT1 not in server.node.sessions
    await still_routes(c2, h2, c2, h2)


async def test_floods_past_the_per_session_limits_get_429_and_the_session_goes_on(net: Net) -> None:
    server = await net.node(A, node_options={"max_subscriptions": 5})
    c1, h1, c2, h2 = await pair(net)
    many = [f"{h2}/x{i}" for i in range(6)]
    answer = await c1.request("subscribe", RT1 + "/sm", addr.mn_sm(A), {"resources": many})
    assert body(answer) == {"code": 429, "description": "at most 5 node subscriptions"}
    assert server.node.subscriptions.table() == {}
    answer = await c1.request("create", RT1 + "/address-allocation", addr.object_allocation(A),
                              {"scheme": "comm", "value": {"number": 1001}})
    assert body(answer) == {"code": 429, "description": "between 1 and 1000 addresses per request"}
    answer = await c1.request("subscribe", RT1 + "/sm", addr.mn_sm(A), {"resources": many[:5]})
    assert body(answer) == {"code": 200}
    await still_routes(c1, h1, c2, h2)


async def test_a_peer_that_stops_reading_is_closed_1013_and_others_go_on(net: Net) -> None:
    server = await net.node(A, max_outgoing=20)
    c1, h1, c2, h2 = await pair(net)
    stalled = await stalled_session(await net.socket(A), addr.runtime_url(A, "slow"))
    closed = asyncio.ensure_future(net.watch.until(
        lambda e: e.kind == "session" and e.detail.get("action") == "close"
        and e.detail.get("runtime") == stalled.runtime))
    payload = "y" * 65536
    for i in range(400):
        if closed.done():
            break
        await c1.send({"id": c1.next_id(), "type": "execute", "from": h1, "to": stalled.hyperty,
                       "body": {"pad": payload, "n": i}})
        await asyncio.sleep(0)  # a turn for the node to route it (not a wait for time)
    event = await closed
    assert event.detail["reason"] == "outgoing queue full"
    assert stalled.runtime not in server.node.sessions
    await still_routes(c1, h1, c2, h2)


class Stalled:
    def __init__(self, runtime: str, hyperty: str, sock: RawSocket) -> None:
        self.runtime, self.hyperty, self.sock = runtime, hyperty, sock


async def stalled_session(sock: RawSocket, runtime: str) -> Stalled:
    """A runtime session on a raw socket that opens, allocates a hyperty, then never reads again."""
    await sock.send_json({"id": 1, "type": "open", "from": runtime, "to": addr.SESSION, "body": {}})
    assert (await sock.read_json())["body"]["code"] == 200
    await sock.send_json({"id": 2, "type": "create", "from": runtime + "/address-allocation",
                          "to": addr.hyperty_allocation(A), "body": {"value": {"number": 1}}})
    answer = await sock.read_json()
    return Stalled(runtime, answer["body"]["value"]["allocated"][0], sock)


async def test_silent_peer_is_closed_after_the_idle_timeout(net: Net) -> None:
    await net.node(A, idle_timeout=0.3, close_timeout=0.2)
    c1, h1, c2, h2 = await pair(net)
    sock = await net.socket(A)
    sock.silent = True  # never answers a ping: the node gives up within the idle timeout
    assert await sock.read_close() == (1011, "keepalive ping timeout")
    await still_routes(c1, h1, c2, h2)  # live peers answer pings and stay


async def test_text_that_is_not_utf8_closes_1007_and_others_go_on(net: Net) -> None:
    await net.node(A)
    c1, h1, c2, h2 = await pair(net)
    sock = await net.socket(A)
    await sock.send_text(b"\xff\xfe{}")
    code, _ = await sock.read_close()
    assert code == 1007
    await still_routes(c1, h1, c2, h2)


async def test_close_is_answered_then_the_link_closes(net: Net) -> None:
    server = await net.node(A)
    c1, h1, c2, h2 = await pair(net)
    await c1.request("subscribe", RT1 + "/sm", addr.mn_sm(A), {"resources": [h2 + "/topic"]})
    answer = await c1.request("close", RT1, addr.SESSION)
    assert body(answer) == {"code": 200}
    assert await c1.closed() == (1000, "closed")
    assert server.node.subscriptions.table() == {} and server.node.allocator.owner[h1] == RT1


@pytest.mark.parametrize(("frame", "answer"), [
    ("{}", None),
    ('{"id": 7}', None),
    ('{"id": 7, "type": "open", "from": "x", "to": "mn:/session"}', "open needs a runtime URL and mn:/session"),
    ('{"id": 7, "type": "open", "from": "hyperty-runtime://a.example/one/sm", "to": "mn:/session"}',
     "open needs a runtime URL and mn:/session"),
    ('{"id": 7, "type": "open", "from": "hyperty-runtime://a.example/one", "to": "domain://msg-node.a.example/sm"}',
     "open needs a runtime URL and mn:/session"),
])
async def test_malformed_opens_do_not_open(net: Net, frame: str, answer: str | None) -> None:
    server = await net.node(A)
    c = await net.client(A)
    await c.send(frame)
    if answer is not None:
        reply = await c.recv()
        assert reply["id"] == 7 and body(reply) == {"code": 400, "description": answer}
    assert not server.node.sessions
    assert body(await c.open(RT1))["code"] == 200


def _allocation(ident: int) -> bytes:
    return orjson.dumps({"id": ident, "type": "create", "from": RT1 + "/address-allocation",
                         "to": addr.object_allocation(A), "body": {"scheme": "comm", "value": {"number": 1}}})


async def test_frames_read_with_a_fragmented_or_binary_one_are_handled_in_order(net: Net) -> None:
    """Whole text frames go to the node as they are read; a fragmented message, a binary frame and
    everything read after them wait for the link's reader, in order (issue 16)."""
    server = await net.node(A)
    sock = await net.socket(A)
    await sock.send_json({"id": 1, "type": "open", "from": RT1, "to": addr.SESSION})
    assert body(await sock.read_json())["code"] == 200
    direct = server.frames_direct
    protocol, second = sock.protocol, _allocation(2)
    protocol.send_text(second[:10], fin=False)            # all of it in one write: one read at the node
    protocol.send_continuation(second[10:], fin=True)
    protocol.send_text(_allocation(3))
    protocol.send_binary(_allocation(4))
    protocol.send_text(_allocation(5))
    sock._flush()
    answers = [await sock.read_json() for _ in range(4)]
    assert [(a["id"], body(a)["code"]) for a in answers] == [(2, 200), (3, 200), (4, 400), (5, 200)]
    assert body(answers[2])["description"] == "binary frames are not accepted; send JSON text"
    assert server.frames_direct == direct                  # all four waited behind the fragmented one
    await sock.send_text(_allocation(6))
    assert (await sock.read_json())["id"] == 6
    assert server.frames_direct == direct + 1              # the reader took them all: read as it comes
    allocated = [body(a)["value"]["allocated"][0] for a in answers if body(a)["code"] == 200]
    assert all(server.node.allocator.owner[url] == RT1 for url in allocated)


async def test_a_node_failure_on_a_frame_closes_that_link_1011_and_others_go_on(net: Net) -> None:
    server = await net.node(A)
    c1, h1, c2, h2 = await pair(net)
    errors: list[dict[str, object]] = []
    server.node.monitor.subscribe(lambda e: errors.append(e.detail) if e.kind == "error" else None)

    def broken(action: str, msg: dict[str, object]) -> bool:   # a policy rule with a bug in it
        if msg.get("from") == RT1 + "/broken":
            raise RuntimeError("a bug in a policy rule")
        return False

    server.node.policy.deny_rules.append(broken)
    await c1.send({"id": 9, "type": "execute", "from": RT1 + "/broken", "to": h2, "body": {}})
    assert await c1.closed() == (1011, "internal error")
    assert RT1 not in server.node.sessions
    assert errors == [{"error": "RuntimeError: a bug in a policy rule", "session": "s1"}]
    c3 = await net.client(A)
    await c3.open(addr.runtime_url(A, "three"))
    await still_routes(c2, h2, c3, await c3.allocate_hyperty())
