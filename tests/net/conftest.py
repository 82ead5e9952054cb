"""Real WebSocket nodes on 127.0.0.1 (port 0), real runtimes and raw clients, shared by tests/net.

Nothing here sleeps to wait: `Watch` resolves futures from monitor events and re-checks
conditions on every event; raw clients await frames with timeouts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from core.monitor import Monitor, TraceEvent
from core.net.websocket import NodeServer, WebSocketConnector
from core.node.node import MessageNode
from core.node.state import MemoryState
from core.protocol import address as addr
from core.runtime.runtime import Runtime
from core.timers import Timers
from tests.conftest import FAST

#: Seconds any single awaited thing may take before a test fails.
WAIT = 5.0


class Watch:
    """Monitor events as awaitable conditions: `await watch.until(pred)` returns the first event
    (from the call on) matching `pred`; `await watch.state(check)` returns once `check()` holds,
    re-evaluated after every event."""

    def __init__(self, monitor: Monitor) -> None:
        self.events: list[TraceEvent] = []
        self._waiters: list[tuple[Callable[[TraceEvent], bool], asyncio.Future[TraceEvent]]] = []
        self._states: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        monitor.subscribe(self._event)

    def _event(self, event: TraceEvent) -> None:
        self.events.append(event)
        for pred, future in list(self._waiters):
            if not future.done() and pred(event):
                future.set_result(event)
        if self._states:
            # Events are emitted before their effect: look once it has happened.
            asyncio.get_running_loop().call_soon(self._recheck)

    def _recheck(self) -> None:
        for check, done in list(self._states):
            if not done.done() and check():
                done.set_result(None)

    def until(self, pred: Callable[[TraceEvent], bool], timeout: float = WAIT) -> Awaitable[TraceEvent]:
        """Starts watching at the call (not at the await), so an event between the two is not missed."""
        future: asyncio.Future[TraceEvent] = asyncio.get_running_loop().create_future()
        entry = (pred, future)
        self._waiters.append(entry)

        async def wait() -> TraceEvent:
            try:
                return await asyncio.wait_for(future, timeout)
            finally:
                self._waiters.remove(entry)
        return wait()

    async def state(self, check: Callable[[], bool], timeout: float = WAIT) -> None:
        if check():
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (check, done)
        self._states.append(entry)
        try:
            await asyncio.wait_for(done, timeout)
        finally:
            self._states.remove(entry)

    def of(self, kind: str, where: str | None = None, **detail: Any) -> list[TraceEvent]:
        return [e for e in self.events if e.kind == kind and (where is None or e.where == where)
                and all(e.detail.get(k) == v for k, v in detail.items())]


def session_event(action: str, **detail: Any) -> Callable[[TraceEvent], bool]:
    return lambda e: e.kind == "session" and e.detail.get("action") == action and all(
        e.detail.get(k) == v for k, v in detail.items())


class Net:
    """Nodes, runtimes and raw clients of one test, all closed at its end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.monitor = Monitor()
        self.watch = Watch(self.monitor)
        self.servers: dict[str, NodeServer] = {}
        self.runtimes: list[Runtime] = []
        self.connectors: list[WebSocketConnector] = []
        self.clients: list[RawClient] = []
        self.sockets: list[RawSocket] = []
        self.cuts: list[Cut] = []
        self._ids = 0

    @property
    def urls(self) -> dict[str, str]:
        return {domain: server.url for domain, server in self.servers.items()}

    async def node(self, domain: str, *, port: int = 0, state: MemoryState | None = None,
                   node_options: dict[str, Any] | None = None, node: MessageNode | None = None,
                   **server_options: Any) -> NodeServer:
        """Serve `node` (a new one of `domain` by default) on 127.0.0.1:`port`."""
        if node is None:
            node = MessageNode(domain, self.monitor, state=state, **(node_options or {}))
        server = NodeServer(node, "127.0.0.1", port, **server_options)
        await server.start()
        self.servers[domain] = server
        return server

    async def stop_node(self, domain: str, *, keep: bool = False) -> MessageNode:
        """Stop serving `domain`; the node itself is closed too unless `keep` (a server restart)."""
        server = self.servers.pop(domain)
        await server.close()
        if not keep:
            server.node.close()
        return server.node

    async def cut(self, domain: str) -> Cut:
        """A forwarder in front of `domain`'s node (give it to `runtime(via=…)`)."""
        cut = await Cut(self.servers[domain].url).start()
        self.cuts.append(cut)
        return cut

    async def runtime(self, domain: str, *, timers: Timers = FAST, start: bool = True,
                      via: dict[str, Cut] | None = None) -> Runtime:
        """A runtime of `domain` reaching every node directly, or through the forwarders of `via`."""
        self._ids += 1
        urls: Mapping[str, str] = self.urls
        if via:
            urls = {**self.urls, **{d: cut.url for d, cut in via.items()}}
        connector = WebSocketConnector(urls, monitor=self.monitor)
        self.connectors.append(connector)
        runtime = Runtime(addr.runtime_url(domain, f"rt{self._ids}"), connector=connector, monitor=self.monitor,
                          timers=timers)
        self.runtimes.append(runtime)
        if start:
            await runtime.start()
        return runtime

    async def client(self, domain: str, **options: Any) -> RawClient:
        options.setdefault("close_timeout", 0.2)  # some tests leave megabytes unread: do not wait on them
        conn = await connect(self.servers[domain].url, compression=None, proxy=None, **options)
        client = RawClient(conn)
        self.clients.append(client)
        return client

    async def socket(self, domain: str) -> RawSocket:
        sock = await RawSocket.connect(self.servers[domain].url)
        self.sockets.append(sock)
        return sock

    async def close(self) -> None:
        for runtime in self.runtimes:
            await runtime.close()
        for connector in self.connectors:
            await connector.close()
        for client in self.clients:
            await client.conn.close()
        for sock in self.sockets:
            sock.close()
        for cut in self.cuts:
            await cut.close()
        for domain in list(self.servers):
            await self.stop_node(domain)


class RawClient:
    """A plain `websockets` client speaking envelopes by hand."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self._ids = 0
        self.runtime = ""
        self.token = ""

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    async def send(self, msg: dict[str, Any] | str | bytes) -> None:
        await self.conn.send(orjson.dumps(msg).decode() if isinstance(msg, dict) else msg)

    async def recv(self, timeout: float = WAIT) -> dict[str, Any]:
        frame = await asyncio.wait_for(self.conn.recv(), timeout)
        msg = orjson.loads(frame)
        assert isinstance(msg, dict)
        return msg

    async def request(self, mtype: str, frm: str, to: str, body: dict[str, Any] | None = None, *,
                      skip_events: bool = False) -> dict[str, Any]:
        """Send a request and return its answer; other frames in between are an error, except
        monitor `event`s with `skip_events`."""
        ident = self.next_id()
        await self.send({"id": ident, "type": mtype, "from": frm, "to": to, "body": body or {}})
        answer = await self.recv()
        while skip_events and answer["type"] == "event":
            answer = await self.recv()
        assert answer["type"] == "response" and answer["id"] == ident, answer
        return answer

    async def open(self, runtime: str, token: str | None = None) -> dict[str, Any]:
        answer = await self.request("open", runtime, addr.SESSION, {"token": token} if token else {})
        if answer["body"]["code"] == 200:
            self.runtime, self.token = runtime, answer["body"]["value"]["token"]
        return answer

    async def allocate_hyperty(self) -> str:
        answer = await self.request("create", self.runtime + "/address-allocation",
                                    addr.hyperty_allocation(addr.authority(self.runtime)),
                                    {"value": {"number": 1}})
        assert answer["body"]["code"] == 200, answer
        return str(answer["body"]["value"]["allocated"][0])

    async def closed(self, timeout: float = WAIT) -> tuple[int | None, str | None]:
        """Wait until the node closes the link; returns (code, reason) of its close frame."""
        async def drain() -> None:
            try:
                while True:
                    await self.conn.recv()
            except ConnectionClosed:
                pass
        await asyncio.wait_for(drain(), timeout)
        rcvd = self.conn.protocol.close_rcvd
        return (rcvd.code, rcvd.reason) if rcvd is not None else (None, None)


class Cut:
    """A TCP forwarder on 127.0.0.1 in front of one server (a node's `ws://`, NATS's `nats://`): `cut()`
    drops every connection through it and refuses new ones until `heal()`; while `hold()`, what the
    server sends through it waits, and goes on in order at `release()` (a slow link, not a cut). A
    runtime reaching the node through it can be cut off while the node and every other runtime go on."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.scheme, self.host, self.target_port = parts.scheme, parts.hostname or "127.0.0.1", parts.port or 80
        self.cut_off = False
        self.open = asyncio.Event()
        self.open.set()
        self.pipes: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> Cut:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"{self.scheme}://127.0.0.1:{port}" + ("/" if self.scheme.startswith("ws") else "")
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        self.pipes |= {writer, up_writer}
        for src, dst, holdable in ((reader, up_writer, False), (up_reader, writer, True)):
            task = asyncio.get_running_loop().create_task(self._pipe(src, dst, holdable))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, holdable: bool) -> None:
        try:
            while data := await src.read(1 << 16):
                if holdable:
                    await self.open.wait()
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.transport.abort()
            self.pipes.discard(dst)

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self.pipes):
            writer.transport.abort()

    def heal(self) -> None:
        self.cut_off = False

    def hold(self) -> None:
        self.open.clear()

    def release(self) -> None:
        self.open.set()

    async def close(self) -> None:
        self.release()
        self.cut()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class RawSocket:
    """A WebSocket client on a plain socket, driven by websockets' sans-I/O `ClientProtocol`: it
    reads only when told to, so it can play a peer that stops reading or never answers pings."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, protocol: ClientProtocol) -> None:
        self.reader, self.writer, self.protocol = reader, writer, protocol
        self.pending: list[Frame] = []
        #: A silent socket reads but never answers: no pong, no close echo (a peer gone quiet).
        self.silent = False

    @classmethod
    async def connect(cls, url: str) -> RawSocket:
        uri = parse_uri(url)
        reader, writer = await asyncio.open_connection(uri.host, uri.port)
        protocol = ClientProtocol(uri)
        protocol.send_request(protocol.connect())
        sock = cls(reader, writer, protocol)
        sock._flush()
        while protocol.state is State.CONNECTING:
            await sock._read()
        assert protocol.state is State.OPEN, protocol.handshake_exc
        return sock

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.writer.write(data)

    async def _read(self) -> None:
        chunk = await asyncio.wait_for(self.reader.read(1 << 16), WAIT)
        if chunk:
            self.protocol.receive_data(chunk)
        else:
            self.protocol.receive_eof()
        if not self.silent:
            self._flush()  # automatic answers (pongs, the close echo) only go out when we read
        self.pending.extend(e for e in self.protocol.events_received() if isinstance(e, Frame))

    async def send_text(self, data: bytes) -> None:
        self.protocol.send_text(data)
        self._flush()
        await self.writer.drain()

    async def send_json(self, msg: dict[str, Any]) -> None:
        await self.send_text(orjson.dumps(msg))

    async def read_frame(self) -> Frame:
        while not self.pending:
            if self.protocol.state is State.CLOSED:
                raise ConnectionError("closed")
            await self._read()
        return self.pending.pop(0)

    async def read_json(self) -> dict[str, Any]:
        while True:
            frame = await self.read_frame()
            if frame.opcode is Opcode.TEXT:
                msg = orjson.loads(frame.data)
                assert isinstance(msg, dict)
                return msg

    async def read_close(self) -> tuple[int, str]:
        while True:
            frame = await self.read_frame()
            if frame.opcode is Opcode.CLOSE:
                close = Close.parse(frame.data)
                return close.code, close.reason

    def close(self) -> None:
        self.writer.close()


def body(msg: dict[str, Any]) -> dict[str, Any]:
    b = msg.get("body", {})
    assert isinstance(b, dict)
    return b


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[Net]:
    network = Net(tmp_path)
    try:
        yield network
    finally:
        await network.close()
