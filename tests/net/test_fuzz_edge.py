"""Hypothesis at the WebSocket edge of a real `syncscope node` process (issue 12, slow tier): random
frames (text, binary, not JSON), random envelopes (types, addresses, bodies), random sizes (around
the 1 MiB limit and its 4×) and depths (up to past the codec's 1,024), 5,000 examples. The node
never crashes nor fails internally (no 1011, no `internal error` in its log), and an honest
reporter/observer pair syncing through it all along converges."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from core.protocol import address as addr
from tests.net.node_process import NodeProcess, Pair

pytestmark = pytest.mark.slow

A = "a.example"
#: At least 5,000 (issue 12); fewer only to try the test itself out (`SYNCSCOPE_FUZZ_EXAMPLES`).
EXAMPLES = int(os.environ.get("SYNCSCOPE_FUZZ_EXAMPLES", "5000"))
LIMIT = 1 << 20

addresses = st.sampled_from([
    addr.SESSION, addr.MONITOR, addr.mn_sm(A), addr.object_allocation(A), addr.hyperty_allocation(A),
    addr.registry(A), addr.runtime_url(A, "fuzz"), addr.runtime_url(A, "fuzz") + "/sm",
    addr.runtime_url("b.example", "guest"), "hyperty://a.example/x", "comm://a.example/obj",
    "comm://a.example/obj/changes", "comm://a.example/obj/subscription", "monitor://m", "", "x", "://",
    "hyperty-runtime://a.example/", "domain://msg-node.a.example/nothing",
]) | st.text(max_size=40)
scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=30)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10),
                                                                                          inner, max_size=4),
                      max_leaves=12)
types = st.sampled_from(["open", "close", "create", "read", "update", "delete", "subscribe", "unsubscribe",
                         "response", "execute", "forward", "event", "re-open"]) | st.text(max_size=12)
envelopes = st.fixed_dictionaries(
    {"id": st.integers(-5, 2**40) | st.text(max_size=8) | st.none(), "type": types, "from": addresses, "to": addresses},
    optional={"body": st.dictionaries(st.sampled_from(["token", "resources", "resource", "value", "scheme", "code",
                                                       "source", "replay", "secret", "delegationToken", "number"]),
                                      values | st.lists(addresses, max_size=5), max_size=4)})


@st.composite
def frames(draw: st.DrawFn) -> str | bytes:
    kind = draw(st.sampled_from(["envelope", "envelope", "envelope", "deep", "big", "text", "binary", "json"]))
    if kind == "envelope":
        return json.dumps(draw(envelopes))   # json: integers past 64 bits too
    if kind == "deep":   # nested past the node's 200, the codec's 254 and its 1,024 (TRANSPORT §5)
        depth = draw(st.integers(150, 1_100))
        inner = "[" * depth + "1" + "]" * depth
        head = orjson.dumps({"id": 7, "type": "create", "from": addr.runtime_url(A, "fuzz") + "/x",
                             "to": draw(addresses)}).decode()
        return f'{head[:-1]}, "body": {{"value": {inner}}}}}'
    if kind == "big":    # around the message limit and its 4× (413, then 1009)
        size = draw(st.sampled_from([LIMIT - 200, LIMIT + 1, 2 * LIMIT, 4 * LIMIT + 10]))
        return orjson.dumps({"id": 9, "type": "execute", "from": addr.runtime_url(A, "fuzz") + "/x",
                             "to": draw(addresses), "body": {"pad": "p" * size}}).decode()
    if kind == "binary":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(values))
    return draw(st.text(max_size=200))


class Edge:
    """One fuzzing link, reopened whenever the node closes it (1008, 1009, …); close codes seen."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: ClientConnection | None = None
        self.codes: list[int] = []

    async def send(self, frame: str | bytes) -> None:
        if self.conn is None:
            self.conn = await connect(self.url, proxy=None, max_size=None, close_timeout=0.2, max_queue=None)
        try:
            await self.conn.send(frame)
            while True:   # take what came back so far, without waiting for more
                await asyncio.wait_for(self.conn.recv(), 0.002)
        except TimeoutError:
            return
        except ConnectionClosed:
            rcvd = self.conn.protocol.close_rcvd
            self.codes.append(rcvd.code if rcvd is not None else 1006)
            self.conn = None
        except (OSError, AttributeError):
            # This client's own socket went while it wrote (the node closed 1009 under a 4 MiB frame;
            # asyncio then fails inside the client's abort). The node's side is what is checked.
            self.codes.append(1006)
            self.conn = None


def test_random_frames_at_the_edge_never_crash_the_node() -> None:
    loop = asyncio.new_event_loop()
    node = loop.run_until_complete(NodeProcess.start(A, "--monitor-token", "m", "--quiet"))
    pair = loop.run_until_complete(Pair(node.url, A).start())
    edge = Edge(node.url)
    seen = [0]

    async def edit(n: int) -> None:
        pair.edit(n)
        await asyncio.sleep(0)

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(st.lists(frames(), min_size=1, max_size=3))
    def hostile(batch: list[Any]) -> None:
        seen[0] += 1
        for frame in batch:
            try:
                loop.run_until_complete(edge.send(frame))
            except (OSError, InvalidHandshake) as exc:   # refused at the handshake would be a finding too
                raise AssertionError(f"node unreachable: {exc!r}") from exc
        if seen[0] % 200 == 0:
            loop.run_until_complete(edit(seen[0]))
        assert node.alive

    try:
        hostile()
        loop.run_until_complete(edit(-1))
        loop.run_until_complete(pair.converged())
        assert node.alive and seen[0] >= EXAMPLES
        assert 1011 not in edge.codes
    except BaseException:
        print(f"after {seen[0]} examples; node alive: {node.alive}; close codes seen: {sorted(set(edge.codes))}")
        print("node log (end):", bytes(node.stderr[-4000:]).decode(errors="replace"))
        raise
    finally:
        loop.run_until_complete(pair.close())
        if edge.conn is not None:
            loop.run_until_complete(edge.conn.close())
        loop.run_until_complete(node.stop())
        loop.close()
    assert "internal error" not in node.stderr.decode()
