"""Non-blocking, bounded sending on a WebSocket connection (TRANSPORT §5), shared by both link ends:
`Outbox` holds what one connection has to write, `Flusher` writes every outbox once per loop turn."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import OPEN, Side

from core.tasks import TaskSet

#: TRANSPORT §5: messages, and bytes, a link may have waiting to be written (framed or not, in the
#: socket's buffer included); past either the link is closed (1013) and the peer recovers as from a
#: lost link. Protects the node from a peer that stops reading.
MAX_OUTGOING = 10_000
MAX_OUTGOING_BYTES = 64 << 20
#: Bytes a paced sender (the monitor feed) writes to one link per loop turn.
PACED_TURN = 64 * 1024
#: Bytes the socket's write buffer may hold before further sends wait in the link's backlog.
WRITE_HIGH_WATER = 256 * 1024

#: The header of an unmasked, final text frame of n < 126 bytes (RFC 6455 §5.2), by n.
_SHORT_TEXT = [bytes((0x81, n)) for n in range(126)]


def _text_header(n: int) -> bytes:
    """The header of an unmasked, final text frame of `n` bytes (RFC 6455 §5.2)."""
    if n < 126:
        return _SHORT_TEXT[n]
    if n < 1 << 16:
        return b"\x81\x7e" + n.to_bytes(2, "big")
    return b"\x81\x7f" + n.to_bytes(8, "big")


class Flusher:
    """Writes, once per loop turn, what each outbox framed during the turn: a burst of frames for
    one peer (answers to pipelined requests, a relayed stream) costs one socket write, not one each.

    `before_write` runs before anything reaches a socket (the node's state commit)."""

    def __init__(self, before_write: Callable[[], None] | None = None) -> None:
        self.dirty: list[Outbox] = []
        self.scheduled = False
        self.before_write = before_write

    def add(self, outbox: Outbox) -> None:
        self.dirty.append(outbox)
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self.scheduled = False
        dirty, self.dirty = self.dirty, []
        if self.before_write is not None:
            self.before_write()
        for outbox in dirty:
            outbox.write()


class Outbox:
    """Sends on one connection without awaiting (node routing and the runtime bus are synchronous).

    While the socket's write buffer is under `high_water`, frames wait in `pending` until the
    `Flusher` writes them at the end of the loop turn, all in one write. They are framed only then,
    never earlier: websockets writes whatever is framed whenever it answers a ping, and a frame must
    not leave before `Flusher.before_write` (the node's state commit). Past `high_water`, frames
    wait in order in a backlog drained by one owned writer task. Everything held for the peer
    (pending, backlog and the socket's buffer) is bounded by `max_backlog` frames and `max_bytes`
    bytes (TRANSPORT §5): past either, `on_overflow` is called instead of growing.
    """

    def __init__(self, conn: Connection, tasks: TaskSet, flusher: Flusher, on_overflow: Callable[[], None], *,
                 max_backlog: int = MAX_OUTGOING, max_bytes: int = MAX_OUTGOING_BYTES,
                 high_water: int = WRITE_HIGH_WATER) -> None:
        self.conn = conn
        self.tasks = tasks
        self.flusher = flusher
        self.on_overflow = on_overflow
        self.max_backlog = max_backlog
        self.max_bytes = max_bytes
        self.high_water = high_water
        self.pending: list[bytes] = []
        self.backlog: deque[bytes] = deque()
        self.queued_bytes = 0   # bytes in `pending` and `backlog`
        self.pending_bytes = 0
        #: Called once the link takes more after `ready()` said no (the monitor feed resumes from it).
        self.on_ready: object = None
        self._writer: asyncio.Task[None] | None = None
        self._waiter: asyncio.Task[None] | None = None
        #: A server's frames are not masked and, without extensions, are a header and the bytes:
        #: framed here (issue 16: websockets' framing was a tenth of the node's time per message).
        self.plain = conn.protocol.side is Side.SERVER and not conn.protocol.extensions

    def ready(self) -> bool:
        """True while a frame sent now would reach the socket this turn without queueing behind others:
        a paced sender (the monitor feed) writes at most about `PACED_TURN` bytes per turn, and nothing
        while the socket's buffer is over its high-water mark."""
        return not self.backlog and not self.conn.paused and self.pending_bytes < PACED_TURN

    def notify_ready(self) -> None:
        """Call `on_ready` once the link takes more (after this turn's write and the socket's drain)."""
        if self._writer is None and self._waiter is None:
            self._waiter = self.tasks.spawn(self._await_room(), "ws room")

    async def _await_room(self) -> None:
        try:
            await asyncio.sleep(0)   # this turn's frames are written first (the Flusher runs before us)
            await self.conn.drain()
        except ConnectionClosed:
            return
        finally:
            self._waiter = None
        callback = self.on_ready
        if callable(callback):
            callback()

    def held(self) -> int:
        """Bytes waiting for the peer: queued here and in the socket's write buffer."""
        return self.queued_bytes + self.conn.transport.get_write_buffer_size()

    def send(self, data: bytes) -> None:
        if (len(self.pending) + len(self.backlog) >= self.max_backlog
                or self.held() + len(data) > self.max_bytes):
            self.pending.clear()
            self.backlog.clear()
            self.queued_bytes = self.pending_bytes = 0
            self.on_overflow()
            return
        self.queued_bytes += len(data)
        if self.backlog or self.conn.transport.get_write_buffer_size() > self.high_water:
            # Held until the peer reads: a copy of exactly its length (orjson's results keep spare
            # capacity), so that what the budget counts is what memory holds.
            self.backlog.append(bytes(memoryview(data)))
            if self._writer is None:
                self._writer = self.tasks.spawn(self._drain(), "ws writer")
            return
        self.pending.append(data)
        self.pending_bytes += len(data)
        if len(self.pending) == 1:
            self.flusher.add(self)

    def write_now(self) -> None:
        """Write what is pending without waiting for the end of the turn (the state commit first)."""
        if self.pending:
            if self.flusher.before_write is not None:
                self.flusher.before_write()
            self.write()

    def write(self) -> None:
        """Frame what is pending and hand it to the socket in one write (the Flusher calls this)."""
        pending, self.pending = self.pending, []
        self.queued_bytes -= self.pending_bytes
        self.pending_bytes = 0
        protocol, transport = self.conn.protocol, self.conn.transport
        if protocol.state is not OPEN or transport.is_closing():
            return  # closing: what is not sent now never will be
        if self.plain and not protocol.expect_continuation_frame:
            framed = protocol.data_to_send()   # what websockets framed meanwhile (if anything) goes first
            for data in pending:
                framed.append(_text_header(len(data)))
                framed.append(data)
            transport.write(b"".join(framed))
            return
        for data in pending:
            protocol.send_text(data)
        chunks = protocol.data_to_send()
        if not chunks:
            return
        if all(chunks):
            transport.write(b"".join(chunks))
            return
        for chunk in chunks:  # an empty chunk is end-of-stream after a close frame
            if chunk:
                transport.write(chunk)
            elif transport.can_write_eof():
                transport.write_eof()
            else:
                transport.close()

    async def _drain(self) -> None:
        try:
            while self.backlog:
                if self.flusher.before_write is not None:
                    self.flusher.before_write()
                data = self.backlog[0]
                await self.conn.send(data, text=True)  # waits for the socket to take it
                if self.backlog and self.backlog[0] is data:
                    self.backlog.popleft()
                    self.queued_bytes -= len(data)
        except ConnectionClosed:
            self.backlog.clear()
            self.queued_bytes = self.pending_bytes
            return
        finally:
            self._writer = None
        callback = self.on_ready
        if callable(callback):
            callback()

    async def flush(self) -> None:
        """Write everything waiting (before a close that must follow the last answer)."""
        if self.pending:
            if self.flusher.before_write is not None:
                self.flusher.before_write()
            self.write()
        writer = self._writer
        if writer is not None:
            await asyncio.wait({writer})

    def stop(self) -> None:
        self.pending.clear()
        self.backlog.clear()
        self.queued_bytes = self.pending_bytes = 0
        for task in (self._writer, self._waiter):
            if task is not None:
                task.cancel()
