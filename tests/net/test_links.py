"""Runtimes over WebSocket links (TRANSPORT §2): reconnection with the kept token, re-subscription,
the bounded queue and its expiring requests, takeover, a node restart with and without `--state`,
and TLS."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from core import SyncError
from core.net.websocket import WebSocketConnector
from core.node.state import NodeState
from core.protocol import address as addr
from core.runtime.runtime import Runtime
from core.runtime.stub import MAX_QUEUE, StubState
from core.schemas import COMM_SCHEMA
from core.sync.observer import DataObjectObserver
from core.sync.reporter import DataObjectReporter
from tests.conftest import FAST
from tests.net.conftest import Net, session_event

A, B = "a.example", "b.example"


async def chat_between(net: Net, reporter_rt: Runtime, observer_rt: Runtime
                       ) -> tuple[DataObjectReporter, DataObjectObserver]:
    alice = await reporter_rt.hyperty("alice")
    bob = await observer_rt.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0}, observers=[bob.url])
    obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    chat.data["n"] = 1
    await converged(net, chat, obs)
    return chat, obs


async def converged(net: Net, chat: DataObjectReporter, obs: DataObjectObserver) -> None:
    await net.watch.state(lambda: (obs.version, obs.data) == (chat.version, chat.data) and obs.status == "live")


def reopened(runtime: Runtime, domain: str):  # type: ignore[no-untyped-def]
    return lambda e: (e.kind == "session" and e.where == runtime.url and e.detail.get("action") == "open"
                      and e.detail.get("domain") == domain and e.detail.get("reopen") is True)


@pytest.mark.parametrize("how", ["abort", "close 1012"])
async def test_runtime_reconnects_with_its_token_after_the_server_closes_its_socket(net: Net, how: str) -> None:
    server = await net.node(A)
    rt1, rt2 = await net.runtime(A), await net.runtime(A)
    chat, obs = await chat_between(net, rt1, rt2)
    node = server.node
    before = node.subscriptions.table()
    token = rt2.stubs[A].token
    old = node.sessions[rt2.url]
    back = net.watch.until(reopened(rt2, A))
    resynced = net.watch.until(lambda e: e.kind == "object" and e.detail.get("action") == "resynced")
    link = server.links[old.id]
    if how == "abort":
        link.conn.transport.abort()
    else:
        await link.conn.close(1012, "service restart")
    await back
    assert node.sessions[rt2.url] is not old and rt2.stubs[A].token == token
    await net.watch.state(lambda: node.subscriptions.table() == before)  # re-sent after the open
    await resynced                                                       # then the observed object read
    chat.data["n"] = 2
    await converged(net, chat, obs)
    assert rt2.stubs[A].opens == 2


async def test_node_restart_with_state_keeps_ownership_and_observers_resume(net: Net) -> None:
    path = net.tmp_path / "node-a.sqlite"
    server = await net.node(A, state=NodeState(path))
    await net.node(B)
    to_a = await net.cut(A)
    rt_a, rt_b = await net.runtime(A), await net.runtime(B, via={A: to_a})
    chat, obs = await chat_between(net, rt_a, rt_b)        # bob visits node A from domain B
    port, tokens = server.port, dict(server.node.tokens)
    assert server.node.sessions[rt_b.url].visiting
    # Bob comes back only once alice has: a read of an object whose owner has no live link is
    # answered 404 "no route" (PROTOCOL §1.5), which an observer takes for a deletion (§5.4).
    to_a.cut()
    old = await net.stop_node(A)
    chat.data["n"] = 2                                     # queued at rt_a while node A is away
    back_a = net.watch.until(reopened(rt_a, A))
    server = await net.node(A, port=port, state=NodeState(path))
    await back_a
    node = server.node
    assert node is not old and node.tokens == tokens
    assert node.allocator.owner[chat.url] == rt_a.url
    assert node.allocator.owner[chat.metadata["reporter"]] == rt_a.url   # alice's hyperty URL too
    assert chat.url in node.registry.objects
    back_b = net.watch.until(reopened(rt_b, A))
    to_a.heal()
    await back_b                                           # with its token, kept by the node's state
    await converged(net, chat, obs)                        # version 2 came by bob's resync after reopen
    assert (obs.data, obs.version) == ({"n": 2}, 2)
    chat.data["n"] = 3
    await converged(net, chat, obs)


async def test_node_restart_without_state_forgets_ownership(net: Net) -> None:
    server = await net.node(A)
    rt1, rt2 = await net.runtime(A), await net.runtime(A)
    chat, _ = await chat_between(net, rt1, rt2)
    port = server.port
    await net.stop_node(A)
    back = net.watch.until(reopened(rt1, A))
    answer = net.watch.until(lambda e: e.kind == "message" and e.direction == "in" and e.where == rt1.url
                             and e.message is not None and e.message["type"] == "response"
                             and e.message["from"] == addr.mn_sm(A))
    server = await net.node(A, port=port)
    await back
    refused = await answer                 # to the subscriptions rt1 re-sent after its open
    assert refused.message is not None
    assert refused.message["body"] == {"code": 404, "description": "unknown object"}
    assert chat.url not in server.node.allocator.owner


async def test_queued_requests_expire_408_and_are_not_sent_late(net: Net) -> None:
    short = replace(FAST, request=0.3)
    server = await net.node(A)
    rt = await net.runtime(A, timers=short)
    port = server.port
    node = await net.stop_node(A, keep=True)
    with pytest.raises(SyncError) as refused:
        await rt.hyperty("late")                              # queued, then answered 408 by the bus
    assert (refused.value.code, refused.value.description) == (408, "Response timeout!")
    back = net.watch.until(reopened(rt, A))
    server = await net.node(A, port=port, node=node)
    await back
    late = await rt.hyperty("now")
    assert late.url in server.node.allocator.owner
    allocations = [e for e in net.watch.of("message", server.node.url) if e.direction == "in"
                   and e.message is not None and e.message["to"] == addr.hyperty_allocation(A)]
    assert len(allocations) == 1                              # only "now": "late" was never sent
    expired = net.watch.of("drop", rt.url, reason="request expired while the link was down")
    assert len(expired) == 1


async def test_the_queue_keeps_the_last_thousand_and_the_observer_heals(net: Net) -> None:
    await net.node(A)
    to_a = await net.cut(A)
    rt1, rt2 = await net.runtime(A, via={A: to_a}), await net.runtime(A)
    chat, obs = await chat_between(net, rt1, rt2)
    down = net.watch.until(session_event("close", domain=A))
    to_a.cut()                                                # the reporter's runtime alone is cut off
    await down
    for i in range(MAX_QUEUE + 5):                            # versions 2 … 1006 while it is away
        chat.data["n"] = 10 + i
    stub = rt1.stubs[A]
    assert len(stub.queue) == MAX_QUEUE
    dropped = net.watch.of("drop", rt1.url, reason="stub queue full")
    assert [e.message["body"]["version"] for e in dropped if e.message] == [2, 3, 4, 5, 6]
    assert stub.queue[0][0]["body"]["version"] == 7
    back = net.watch.until(reopened(rt1, A))
    to_a.heal()
    await back
    await converged(net, chat, obs)                           # 7 … 1006 arrive; the gap before heals
    assert obs.version == chat.version == MAX_QUEUE + 6
    assert obs.resyncs >= 1


async def test_a_taken_over_runtime_does_not_fight_back(net: Net) -> None:
    server = await net.node(A)
    rt = await net.runtime(A)
    successor = await net.client(A)
    answer = await successor.open(rt.url, token=rt.stubs[A].token)
    assert answer["body"]["code"] == 200
    await net.watch.until(session_event("close", domain=A, code=1000, reason="session taken over"))
    stub = rt.stubs[A]
    assert stub.state is StubState.DOWN and stub._retry is None
    assert not net.watch.of("session", rt.url, action="reconnecting")
    assert server.node.sessions[rt.url].transport is server.links[server.node.sessions[rt.url].id]


async def test_runtime_over_tls(net: Net, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    server = await net.node(A, ssl_context=server_ctx)
    assert server.url.startswith("wss://127.0.0.1:")
    connector = WebSocketConnector(net.urls, ssl_context=ssl.create_default_context(cafile=str(cert)))
    net.connectors.append(connector)
    rt = Runtime(addr.runtime_url(A, "tls"), connector=connector, monitor=net.monitor, timers=FAST)
    net.runtimes.append(rt)
    await rt.start()
    hyperty = await rt.hyperty("secure")
    assert server.node.allocator.owner[hyperty.url] == rt.url
    untrusting = WebSocketConnector(net.urls)  # the default context does not trust a self-signed node
    net.connectors.append(untrusting)
    stranger = Runtime(addr.runtime_url(A, "stranger"), connector=untrusting, monitor=net.monitor, timers=FAST)
    net.runtimes.append(stranger)
    with pytest.raises(SyncError) as refused:
        await stranger.start()
    assert refused.value.code == 503
