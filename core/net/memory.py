"""The in-memory link of the embedded lab: every message crosses as `orjson` bytes, delivered on
the loop in order (unless faults say otherwise). Runtimes never share a mutable Python object: the
one thing they share is a publication decoded once for all its receivers, read-only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from core.monitor import Monitor
from core.net.faults import Delay, FaultHandle, FaultSet, Probability
from core.net.link import CloseHandler, FrameHandler
from core.node.node import MessageNode
from core.protocol.address import CHANGES
from core.protocol.frozen import freeze
from core.protocol.message import Message

#: Frames whose decoding `InFlight.received` keeps between loop turns (faults deliver outside them).
MAX_SHARED = 4096
#: Longest a drain delivers before the loop gets a turn (the rest follows in the next): a fan-out of
#: thousands of frames does not hold the loop, and so a console sharing it, for its whole length.
DRAIN_SECONDS = 0.002


class InFlight:
    """Messages scheduled on in-memory links and not yet delivered (what `lab.settle()` waits for).

    Frames of links without faults wait in one queue for the whole lab and are delivered by one loop
    callback per turn: a fan-out to a thousand links costs one callback, not a thousand handles
    (issue 16). The callback hands each link end all its frames of the turn, in the order they were
    sent, then goes on to the next end (ends in the order their first frame came): a socket keeps
    its own frames in order, and nothing orders frames of different sockets; a runtime process
    reads what its socket holds at once, and so keeps its own state hot for it. Frames sent while
    a turn's frames are being delivered wait for the next callback, as `call_soon` would have them.
    A callback delivers for at most `DRAIN_SECONDS`; what it leaves goes first in the next one, so
    whatever else waits on the loop (a console's repaint, a timer) runs in between."""

    __slots__ = ("_due", "_frames", "_rest", "_shared", "count")

    def __init__(self) -> None:
        self.count = 0
        # flat (deliver, frame) pairs: no tuple per frame, so the queue adds nothing for the collector
        self._frames: list[Any] = []
        # the frames a drain stopped before (DRAIN_SECONDS), in order: delivered before any sent since
        self._rest: Iterator[tuple[Callable[[bytes], None], bytes]] | None = None
        self._due = False  # a drain is scheduled
        # id → (frame, its shared decoding if it is a publication) of the frames lately received by
        # runtimes; the entry holds the frame, so no other frame can take its identity meanwhile
        self._shared: dict[int, tuple[bytes, Message | None]] = {}

    def received(self, data: bytes) -> bytes | Message:
        """What a runtime's stub is handed for frame `data` from its node.

        The node encodes a publication once for all its subscribers (PROTOCOL §1.5 rule 4), so the
        receivers of one fan-out get the same frame object, in the same turn. An update on
        `O/changes` is decoded once into read-only containers (`core.protocol.frozen`) shared by
        them all: none can change what another reads, and each still checks the envelope (its
        verdict is computed once, from a content that cannot change). Any other frame is decoded
        by each receiver for itself; the first gets the decoding made here to tell."""
        shared = self._shared
        seen = shared.get(id(data))
        if seen is not None and seen[0] is data:
            msg = seen[1]
            return data if msg is None else msg
        if len(shared) >= MAX_SHARED:
            shared.clear()
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            shared[id(data)] = (data, None)
            return data
        if isinstance(msg, dict) and msg.get("type") == "update":
            to = msg.get("to")
            if isinstance(to, str) and to.endswith(CHANGES):
                frozen: Message = freeze(msg)
                shared[id(data)] = (data, frozen)
                return frozen
        shared[id(data)] = (data, None)
        return msg

    def post(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[bytes], None], data: bytes) -> None:
        """Deliver `data` by `deliver(data)` at the next turn, after the frames posted before it."""
        if not self._due:
            self._due = True
            loop.call_soon(self._drain, loop)
        frames = self._frames
        frames.append(deliver)
        frames.append(data)
        self.count += 1

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        self._due = False
        deadline = time.perf_counter() + DRAIN_SECONDS
        rest = self._rest
        if rest is not None:                     # what the last drain left goes before what came since
            self._rest = None
            if self._deliver(loop, rest, deadline):
                return
        frames = self._frames
        self._frames = []
        it = iter(frames)
        by_end: dict[Callable[[bytes], None], list[bytes]] = {}
        for deliver in it:
            data = next(it)
            queue = by_end.get(deliver)
            if queue is None:
                by_end[deliver] = [data]
            else:
                queue.append(data)
        if not self._deliver(loop, ((end, data) for end, datas in by_end.items() for data in datas), deadline):
            self._shared.clear()

    def _deliver(self, loop: asyncio.AbstractEventLoop, frames: Iterator[tuple[Callable[[bytes], None], bytes]],
                 deadline: float) -> bool:
        """Deliver `frames` in order until `deadline`; True if it stopped there, leaving the rest for a drain
        after what waits on the loop (as a process reading a busy socket would)."""
        for deliver, data in frames:
            self.count -= 1
            try:
                deliver(data)
            except Exception as exc:  # as the loop reports a failed callback, and goes on with the rest
                loop.call_exception_handler({"message": f"Exception delivering a frame to {deliver!r}",
                                             "exception": exc})
            if time.perf_counter() > deadline:
                self._rest = frames
                if not self._due:
                    self._due = True
                    loop.call_soon(self._drain, loop)
                return True
        return False


class _NodeSide:
    """The node's view of the link (a `core.node.session.Transport`)."""

    def __init__(self, link: MemoryLink) -> None:
        self.link = link

    def send(self, data: bytes) -> None:
        self.link._schedule(self.link._deliver_to_runtime, data, toward_node=False)

    def close(self, code: int, reason: str) -> None:
        self.link._closed_by_node(code, reason)


class MemoryLink:
    """One runtime ↔ node link. `state` is `up` or `down` (closed by either end, or lost)."""

    def __init__(self, node: MessageNode, runtime_url: str, on_frame: FrameHandler, on_close: CloseHandler,
                 inflight: InFlight, monitor: Monitor) -> None:
        self.node = node
        self.runtime_url = runtime_url
        self.on_frame = on_frame
        self.on_close = on_close
        self.inflight = inflight
        self.monitor = monitor
        self.state = "up"
        self.fault_sets: list[FaultSet] = []
        self.sent = 0
        self.session = node.connect(_NodeSide(self))
        self._loop = asyncio.get_running_loop()
        # made once: a bound method per frame would be one more object per frame for the collector
        self._deliver_to_node: Callable[[bytes], None] = self._to_node
        self._deliver_to_runtime: Callable[[bytes], None] = self._to_runtime

    @property
    def name(self) -> str:
        return f"{self.runtime_url} ↔ {self.node.url}"

    def faults(self, drop: Probability = 0.0, duplicate: Probability = 0.0, delay: Delay = 0.0,
               reorder: bool = False, seed: int | None = None) -> FaultHandle:
        """Faults on this link only; the handle removes them when closed (or as a context manager)."""
        return FaultHandle([self], FaultSet(drop, duplicate, delay, reorder, seed))

    # runtime → node
    def send(self, msg: Message) -> None:
        if self.state == "down":
            raise ConnectionError(f"link {self.name} is down")
        self._schedule(self._deliver_to_node, orjson.dumps(msg), toward_node=True)

    def close(self) -> None:
        if self.state != "down":
            self.state = "down"
            self.node.disconnect(self.session, "link closed by runtime")

    def lose(self, reason: str = "link lost") -> None:
        """The link drops as a lost connection does: both ends learn it, nothing in flight arrives.
        The node ends the session (its node subscriptions go, its addresses get 404 "no route"); the
        runtime sees close code 1006 and reconnects by itself (TRANSPORT §2)."""
        if self.state == "down":
            return
        self.state = "down"
        self.node.disconnect(self.session, reason)
        self.inflight.count += 1
        self._loop.call_soon(self._deliver_close, 1006, reason)

    def _to_node(self, data: bytes) -> None:
        if self.state == "up":
            self.node.receive(self.session, data)
        else:
            self._drop(self.runtime_url, data, "link down")

    def _to_runtime(self, data: bytes) -> None:
        if self.state == "up":
            self.on_frame(self.inflight.received(data))
        else:
            self._drop(self.node.url, data, "link down")

    def _closed_by_node(self, code: int, reason: str) -> None:
        if self.state == "down":
            return
        self.state = "down"
        self.inflight.count += 1
        self._loop.call_soon(self._deliver_close, code, reason)

    def _deliver_close(self, code: int, reason: str) -> None:
        self.inflight.count -= 1
        self.on_close(code, reason)

    def _schedule(self, deliver: Callable[[bytes], None], data: bytes, toward_node: bool) -> None:
        self.sent += 1
        if not self.fault_sets:   # a link without faults: delivered next, as a socket would
            self.inflight.post(self._loop, deliver, data)
            return
        where = self.runtime_url if toward_node else self.node.url
        delays: list[float] = [0.0]
        for faults in self.fault_sets:
            delays = faults.apply(data, delays)
            if not delays:
                self._drop(where, data, faults.label)
                return
        if self.monitor.active and (len(delays) > 1 or any(d > 0 for d in delays)):
            fault = "duplicate" if len(delays) > 1 else "delay"
            self.monitor.emit("message", where, direction="fault", message=orjson.loads(data), fault=fault,
                              delays=[round(d, 4) for d in delays], link=self.name)
        for delay in delays:
            self.inflight.count += 1
            if delay > 0:
                self._loop.call_later(delay, self._deliver, deliver, data)
            else:
                self._loop.call_soon(self._deliver, deliver, data)

    def _deliver(self, deliver: Callable[[bytes], None], data: bytes) -> None:
        self.inflight.count -= 1
        deliver(data)

    def _drop(self, where: str, data: bytes, reason: str) -> None:
        if self.monitor.active:
            message: Any = orjson.loads(data)
            self.monitor.emit("drop", where, reason=f"link fault: {reason}", message=message, link=self.name)
