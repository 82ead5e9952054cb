"""WebSocket links (TRANSPORT §1): a Message Node served over `websockets`, and the runtime's
`Connector` that reaches nodes by URL.

Both ends are thin: the node side feeds frames to the transport-agnostic `MessageNode` and the
runtime side hands frames to its stub, exactly as the in-memory link does. What this module adds is
what a socket needs: frame kinds and sizes, keepalive, non-blocking sends with a bounded backlog,
clean shutdown, and one log line per session event.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import ssl
from collections.abc import Coroutine, Mapping
from http import HTTPStatus
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.http11 import Request, Response

from core.monitor import Monitor
from core.net.direct_frames import DirectConnection
from core.net.link import CloseHandler, FrameHandler, LinkEnd
from core.net.log_guard import clip
from core.net.outbox import MAX_OUTGOING, MAX_OUTGOING_BYTES, WRITE_HIGH_WATER, Flusher, Outbox
from core.node.node import MAX_MESSAGE, MessageNode
from core.node.session import Session, SessionState
from core.protocol.message import Message
from core.tasks import TaskSet

log = logging.getLogger("syncscope.node")

#: TRANSPORT §1: seconds a link may stay without its `open` (or monitor `open`) before it is closed (1008).
OPEN_TIMEOUT = 10.0
#: TRANSPORT §1: seconds without traffic or pong after which either side closes a link.
IDLE_TIMEOUT = 60.0
#: TRANSPORT §1: a frame over this many times the message limit is not read at all (1009).
FRAME_FACTOR = 4
#: Seconds to wait for the peer's half of a closing handshake.
CLOSE_TIMEOUT = 2.0

#: Closed because the peer stopped reading (TRANSPORT §5).
TRY_AGAIN_LATER = 1013
#: Connections the node's listening socket queues, and accepts per loop turn (asyncio accepts up to its
#: backlog at once, and a connection is counted only three turns later, once its protocol is made):
#: file descriptors a burst may take before the link cap can refuse any of them.
ACCEPT_BACKLOG = 16
#: Accept batches in flight before the first of them is counted (and, past the cap, closed).
ACCEPT_TURNS = 4
#: Seconds a link refused with 503 is given to close its side before the node drops it.
REFUSED_LINGER = 0.2
#: File descriptors kept for the node's own files (state file, log, loop, listening sockets).
OWN_FDS = 32


def _ping_interval(idle_timeout: float) -> float:
    """A ping every third of the idle timeout, and up to two thirds more for its pong (`_pong_wait`):
    a silent peer is closed at most `idle_timeout` after it was last heard from (TRANSPORT §1)."""
    return idle_timeout / 3


def _pong_wait(idle_timeout: float) -> float:
    return 2 * idle_timeout / 3


# node side ---------------------------------------------------------------------------------------------


class _NodeLink:
    """The node's view of one WebSocket (a `core.node.session.PacedTransport`)."""

    def __init__(self, server: NodeServer, conn: ServerConnection) -> None:
        self.server = server
        self.conn = conn
        self.outbox = Outbox(conn, server.tasks, server.flusher, self._overflow, max_backlog=server.max_outgoing,
                             max_bytes=server.max_outgoing_bytes)
        self.session: Session | None = None
        self.closing = False

    @property
    def on_ready(self) -> object:
        return self.outbox.on_ready

    @on_ready.setter
    def on_ready(self, callback: object) -> None:
        self.outbox.on_ready = callback

    def ready(self) -> bool:
        return not self.closing and self.outbox.ready()

    def notify_ready(self) -> None:
        if not self.closing:
            self.outbox.notify_ready()

    def flush_now(self) -> None:
        if not self.closing:
            self.outbox.write_now()

    def send(self, data: bytes) -> None:
        if not self.closing:
            self.server.frames_out += 1
            self.outbox.send(data)

    def close(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            self.server.tasks.spawn(self._close(code, reason), "ws close")

    async def _close(self, code: int, reason: str) -> None:
        if code != TRY_AGAIN_LATER:
            await self.outbox.flush()  # the answer that preceded the close goes first (e.g. close → 200)
        await self.conn.close(code, reason)

    def _overflow(self) -> None:
        """TRANSPORT §5: a session whose outgoing queue passes the limit is closed with 1013."""
        if self.session is not None:
            self.server.node.disconnect(self.session, "outgoing queue full")
        self.close(TRY_AGAIN_LATER, "outgoing queue full")

    def open_overdue(self) -> None:
        """TRANSPORT §1: no `open` within the open timeout: the link is closed (1008)."""
        session = self.session
        if session is not None and session.state is SessionState.NEW and not self.closing:
            self.server.node.disconnect(session, "no open in time")
            self.close(1008, "no open in time")


class NodeServer:
    """`MessageNode` served on `ws://host:port/` (TRANSPORT §1), `wss://` when `ssl` is given.

    `port=0` picks a free port (read `port` / `url` after `start()`). Frames over
    `FRAME_FACTOR × node.max_message` bytes close the link with 1009 unread; smaller ones go to the
    node, which answers 413 above its limit. Links silent for `idle_timeout` are closed, and so are
    links without an `open` after `open_timeout` (1008). At most `max_links` connections are held
    (handshakes included; default `default_max_links()`): past it a new one is answered HTTP 503 at
    the handshake, so the process never runs out of file descriptors (TRANSPORT §5).
    """

    def __init__(self, node: MessageNode, host: str = "127.0.0.1", port: int = 0, *,
                 ssl_context: ssl.SSLContext | None = None, idle_timeout: float = IDLE_TIMEOUT,
                 max_outgoing: int = MAX_OUTGOING, max_outgoing_bytes: int = MAX_OUTGOING_BYTES,
                 close_timeout: float = CLOSE_TIMEOUT, open_timeout: float = OPEN_TIMEOUT,
                 max_links: int | None = None) -> None:
        self.node = node
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.idle_timeout = idle_timeout
        self.max_outgoing = max_outgoing
        self.max_outgoing_bytes = max_outgoing_bytes
        self.close_timeout = close_timeout
        self.open_timeout = open_timeout
        self.max_links = default_max_links() if max_links is None else max_links
        self.tasks = TaskSet(node.monitor, node.url)
        # Answers leave only after the state they report is committed (core.node.state, group commit).
        self.flusher = Flusher(node.state.commit)
        self.links: dict[str, _NodeLink] = {}   # session id → link
        self.frames_in = 0    # frames read and handed to the node
        self.frames_direct = 0   # of which handed over as they were read (`DirectConnection`)
        self.frames_out = 0   # frames the node sent (to live links)
        self.refused = 0      # connections refused (503 over `max_links`, dropped far over it)
        self.sockets = 0      # connections held, handshakes included
        self._server: Server | None = None
        node.session_hooks.append(self._log_session)

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://{self.host}:{self.port}/"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.node.feed is not None:
            self.node.feed.defer = loop.call_soon
            self.node.feed.later = loop.call_later
        self.node.state.deferred = True
        self._server = await serve(
            self._serve, self.host, self.port, ssl=self.ssl_context, compression=None,
            max_size=FRAME_FACTOR * self.node.max_message, write_limit=WRITE_HIGH_WATER,
            close_timeout=self.close_timeout, server_header=None, process_request=self._admit,
            open_timeout=self.open_timeout, backlog=ACCEPT_BACKLOG, create_connection=_counted(self),
            ping_interval=_ping_interval(self.idle_timeout), ping_timeout=_pong_wait(self.idle_timeout))
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("node %s listening on %s (at most %d links)", self.node.url, self.url, self.max_links)

    def _admit(self, conn: ServerConnection, _request: Request) -> Response | None:
        """TRANSPORT §5: past `max_links` connections, HTTP 503 at the handshake (then closed)."""
        if self.sockets > self.max_links:
            self.refused += 1
            log.warning("refused a link from %s: %d links held (at most %d)", _peer(conn), self.sockets - 1,
                        self.max_links)
            conn.close_timeout = min(self.close_timeout, REFUSED_LINGER)   # its descriptor back soon
            return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "too many links; try again later\n")
        return None

    async def close(self, code: int = 1001, reason: str = "node shutting down") -> None:
        """Close every link with `code` (1001 going away), then stop listening."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close(code=code, reason=reason)
        await server.wait_closed()
        await self.tasks.close()
        self.node.state.commit()
        self.node.state.deferred = False
        self.node.session_hooks.remove(self._log_session)
        log.info("node %s stopped", self.node.url)

    async def __aenter__(self) -> NodeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, conn: ServerConnection) -> None:
        link = _NodeLink(self, conn)
        session = link.session = self.node.connect(link)
        self.links[session.id] = link
        overdue = asyncio.get_running_loop().call_later(self.open_timeout, link.open_overdue)
        if isinstance(conn, DirectConnection):
            conn.direct = lambda frame: self._frame(conn, session, frame)
        try:
            await self._read(conn, session)
        finally:
            if isinstance(conn, DirectConnection):
                conn.direct = None
            overdue.cancel()
            link.outbox.stop()
            if session.state is SessionState.NEW:
                log.info("link %s from %s closed before open (%s)", session.id, _peer(conn), _closing(conn))
            self.node.disconnect(session, f"link closed ({_closing(conn)})")
            del self.links[session.id]

    async def _read(self, conn: ServerConnection, session: Session) -> None:
        """Every frame until the link is gone; once the node has closed the session, frames still
        in flight are read and ignored, so the close code the node chose is the one sent."""
        node = self.node
        try:
            while True:
                frame = await conn.recv()
                if isinstance(conn, DirectConnection):
                    conn.queued -= 1
                self.frames_in += 1
                try:
                    if isinstance(frame, str):
                        node.receive(session, frame)
                    else:
                        node.receive_binary(session, frame)
                except Exception as exc:  # a node bug must cost one link, not the server
                    self._internal_error(session, exc)
                    await conn.close(1011, "internal error")
        except ConnectionClosed:
            pass

    def _frame(self, conn: ServerConnection, session: Session, frame: str) -> None:
        """A whole text frame handed over as it is read (`DirectConnection`)."""
        self.frames_in += 1
        self.frames_direct += 1
        try:
            self.node.receive(session, frame)
        except Exception as exc:  # as in `_read`
            self._internal_error(session, exc)
            self.tasks.spawn(conn.close(1011, "internal error"), "ws close")

    def _internal_error(self, session: Session, exc: Exception) -> None:
        """A node bug costs one link, not the server."""
        node = self.node
        log.exception("session %s: internal error", session.id, exc_info=exc)
        node.monitor.emit("error", node.url, error=clip(f"{type(exc).__name__}: {exc}"), session=session.id)
        node.disconnect(session, "internal error")

    def _log_session(self, action: str, session: Session, detail: dict[str, Any]) -> None:
        link = self.links.get(session.id)
        peer = _peer(link.conn) if link is not None else "-"
        extra = " ".join(f"{k}={clip(str(v))}" for k, v in detail.items())
        name = session.name if session.state is not SessionState.NEW else str(detail.get("claimed", "-"))
        log.info("session %s %s %s from %s %s", session.id, action, clip(name), peer, extra)


def default_max_links() -> int:
    """Links a node holds by default: its file-descriptor limit less headroom for its own files and
    for the connections it accepts only to refuse them (503, or dropped unread when a burst has taken
    one more accept backlog, plus the batches accepted before any is counted), so that `accept`
    does not fail for lack of a descriptor."""
    try:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return 1000
    if soft == resource.RLIM_INFINITY or soft > 1 << 20:
        soft = 1 << 20
    return max(8, soft - (1 + ACCEPT_TURNS) * ACCEPT_BACKLOG - OWN_FDS)


def _counted(server: NodeServer) -> type[ServerConnection]:
    """Connections that count themselves in `server.sockets` from accept to close; one accepted while
    a whole backlog over the cap is dropped at once (a flood of bare TCP connections)."""

    class Counted(DirectConnection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            server.sockets += 1
            if server.sockets > server.max_links + ACCEPT_BACKLOG:
                server.refused += 1
                log.warning("dropped a connection: %d held (at most %d links)", server.sockets - 1, server.max_links)
                self.transport.abort()

        def connection_lost(self, exc: Exception | None) -> None:
            server.sockets -= 1
            super().connection_lost(exc)

    return Counted


def _peer(conn: Connection) -> str:
    address = conn.remote_address
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) and len(address) >= 2 else str(address)


def _closing(conn: Connection) -> str:
    code = conn.close_code
    return f"{code} {clip(conn.close_reason or '')}".strip() if code is not None else "open"


# runtime side ------------------------------------------------------------------------------------------


class WebSocketLink:
    """The runtime's end of a WebSocket link to a node (a `core.net.link.LinkEnd`)."""

    def __init__(self, connector: WebSocketConnector, conn: ClientConnection, on_frame: FrameHandler,
                 on_close: CloseHandler, where: str) -> None:
        self.connector = connector
        self.conn = conn
        self.on_frame = on_frame
        self.on_close = on_close
        self.where = where
        self.closed = False
        self.outbox = Outbox(conn, connector.tasks, connector.flusher, self._overflow,
                             max_backlog=connector.max_outgoing)
        self._reader = connector.tasks.spawn(self._read(), f"ws reader {where}")
        connector.links.add(self)

    def send(self, msg: Message) -> None:
        if self.closed:
            raise ConnectionError(f"link {self.where} is closed")
        self.connector.frames_out += 1
        self.outbox.send(orjson.dumps(msg))

    def close(self) -> None:
        """Close from the runtime's side: `on_close` is not called."""
        if not self.closed:
            self.closed = True
            self._reader.cancel()
            self.connector.links.discard(self)
            self.connector.close_link(self._close(1000, ""))

    async def _close(self, code: int, reason: str) -> None:
        if code != TRY_AGAIN_LATER:
            await self.outbox.flush()
        self.outbox.stop()
        await self.conn.close(code, reason)

    async def _read(self) -> None:
        conn = self.conn
        try:
            while True:
                data = await conn.recv(decode=False)
                self.connector.frames_in += 1
                try:
                    self.on_frame(data)
                except Exception as exc:  # an engine bug must not kill the link silently
                    self.connector.monitor.emit("error", self.where, error=f"{type(exc).__name__}: {exc}",
                                                link=self.where)
        except ConnectionClosed:
            pass
        if not self.closed:
            self.closed = True
            self.connector.links.discard(self)
            self.outbox.stop()
            self.on_close(conn.close_code or 1006, conn.close_reason or "")

    def _overflow(self) -> None:
        if not self.closed:
            self.closed = True
            self.connector.links.discard(self)
            self._reader.cancel()
            self.connector.close_link(self._close(TRY_AGAIN_LATER, "outgoing queue full"))
            self.on_close(TRY_AGAIN_LATER, "outgoing queue full")


class WebSocketConnector:
    """A `core.net.link.Connector` over WebSocket: `nodes` maps each domain to its node's URL.

    A domain missing from the map has no node (the stub answers 404 "no route"); a node in the map
    that cannot be reached raises ConnectionError, and the stub retries with backoff. The map is
    read at each connect, so domains added to it later are reachable.
    """

    def __init__(self, nodes: Mapping[str, str], *, ssl_context: ssl.SSLContext | None = None,
                 monitor: Monitor | None = None, max_message: int = MAX_MESSAGE,
                 idle_timeout: float = IDLE_TIMEOUT, open_timeout: float = 10.0,
                 max_outgoing: int = MAX_OUTGOING, close_timeout: float = CLOSE_TIMEOUT) -> None:
        self.nodes = nodes
        self.ssl_context = ssl_context
        self.monitor = monitor or Monitor()
        self.max_message = max_message
        self.idle_timeout = idle_timeout
        self.open_timeout = open_timeout
        self.max_outgoing = max_outgoing
        self.close_timeout = close_timeout
        self.tasks = TaskSet(self.monitor, "ws connector")
        self.flusher = Flusher()
        self.links: set[WebSocketLink] = set()
        self.closing: set[asyncio.Task[None]] = set()
        self.frames_in = 0    # frames read and handed to stubs, over all links
        self.frames_out = 0   # frames handed to links for writing
        self._last: dict[str, int] = {}   # domain → index of the node URL that last answered

    async def __call__(self, runtime_url: str, domain: str, on_frame: FrameHandler,
                       on_close: CloseHandler) -> LinkEnd | None:
        """A link to a node of `domain`. Several URLs (comma-separated) are the nodes of one clustered
        domain: each connect tries them in turn, starting from the one that last answered, so a
        runtime whose node died reopens on another (issue 15)."""
        entry = self.nodes.get(domain)
        if entry is None:
            return None
        urls = [u for u in (x.strip() for x in entry.split(",")) if u]
        start = self._last.get(domain, 0)
        failure: ConnectionError | None = None
        for i in range(len(urls)):
            at = (start + i) % len(urls)
            try:
                link = await self._connect(urls[at], runtime_url, domain, on_frame, on_close)
            except ConnectionError as exc:
                failure = exc
                continue
            self._last[domain] = at
            return link
        raise failure or ConnectionError(f"no node URL for {domain}")

    async def _connect(self, url: str, runtime_url: str, domain: str, on_frame: FrameHandler,
                       on_close: CloseHandler) -> LinkEnd:
        options: dict[str, Any] = {}
        if url.startswith("wss://") and self.ssl_context is not None:
            options["ssl"] = self.ssl_context
        try:
            conn = await connect(url, compression=None, proxy=None, max_size=FRAME_FACTOR * self.max_message,
                                 write_limit=WRITE_HIGH_WATER, open_timeout=self.open_timeout,
                                 close_timeout=self.close_timeout, user_agent_header=None,
                                 ping_interval=_ping_interval(self.idle_timeout),
                                 ping_timeout=_pong_wait(self.idle_timeout), **options)
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise ConnectionError(f"node of {domain} at {url} unreachable: {exc}") from exc
        return WebSocketLink(self, conn, on_frame, on_close, f"{runtime_url} → {url}")

    def close_link(self, handshake: Coroutine[Any, Any, None]) -> None:
        task = self.tasks.spawn(handshake, "ws close")
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    async def close(self) -> None:
        """Close every link still open, give the closing handshakes `close_timeout`, stop the rest."""
        for link in list(self.links):
            link.close()
        pending = {t for t in self.closing if not t.done()}
        self.closing.clear()
        if pending:
            await asyncio.wait(pending, timeout=self.close_timeout)
        await self.tasks.close()
