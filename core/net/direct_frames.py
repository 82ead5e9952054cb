"""A node's server connection that hands each whole text frame to the node as it is read (issue 16).

websockets queues every frame for a reader task that fetches it with `recv()`, after parsing it
with generators, one Python object per header field. For the frames a node mostly reads, whole
masked text frames of a peer in good standing, that was a third of its time per relayed message.
`DirectConnection` cuts the byte stream into frames itself and hands such a frame's text to
`direct` in the loop turn that read it. Every other frame (control frames, binary and fragmented
ones, text that is not UTF-8, anything over the size limit) is handed to websockets whole, in order,
to be handled exactly as before; so are the frames after one that waits in websockets' queue until
the reader has taken it, so the node sees every frame in the order it came (`queued` whole
messages, `fragmented` while one is incomplete). Peer-supplied sizes are checked before anything is
kept: a frame declared larger than websockets' limit goes to websockets unread, which closes the
link (1009) as it always did; a partial frame kept for the next read is never larger.
"""

from __future__ import annotations

from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.frames import DATA_OPCODES, Frame, Opcode
from websockets.protocol import OPEN, Event
from websockets.streams import StreamReader

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets without its C extension
    from websockets.utils import apply_mask

#: The parser of websockets waits for a frame's first byte here, with nothing of a frame in hand.
_AT_EOF = StreamReader.at_eof.__code__
#: Bytes of a frame not whole yet kept here for the next read; a larger one is websockets' to read.
MAX_PARTIAL = 64 * 1024
#: FIN, no RSV bit, text: the first byte of a whole text frame.
_WHOLE_TEXT = 0x81
_MASKED = 0x80


def at_frame_boundary(protocol: object) -> bool:
    """websockets holds no byte of a frame: its reader is empty and its parser waits for the next."""
    reader, inner = getattr(protocol, "reader", None), getattr(protocol, "parser", None)
    if reader is None or inner is None or len(getattr(reader, "buffer", b"?")) > 0:
        return False
    while getattr(inner, "gi_yieldfrom", None) is not None:
        inner = inner.gi_yieldfrom
    return getattr(inner, "gi_code", None) is _AT_EOF


class DirectConnection(ServerConnection):
    """A server connection that hands whole text frames to `direct` (see the module)."""

    direct: Callable[[str], None] | None = None
    queued = 0           # whole messages in websockets' queue, not yet taken by the reader
    fragmented = False   # a fragmented message is being queued
    _framing = False     # the stream is cut into frames here (from a frame boundary on)
    _partial = b""       # the start of a frame that is not whole yet

    def data_received(self, data: bytes) -> None:
        if not self._framing:
            limit = getattr(self.protocol, "max_message_size", None)
            if (self.direct is None or limit is None or self.protocol.state is not OPEN
                    or not at_frame_boundary(self.protocol)):
                super().data_received(data)
                return
            self._framing = True
        buffer = self._partial + data if self._partial else data
        self._partial = b""
        self._cut(buffer)

    def _cut(self, buffer: bytes) -> None:
        protocol = self.protocol
        limit: int = getattr(protocol, "max_message_size", None) or 0   # set: checked before framing
        size, at, given = len(buffer), 0, 0   # bytes before `given` are handled or handed over
        while size - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            length, head = second & 0x7F, 2
            if length == 126:
                if size - at < 4:
                    break
                length, head = int.from_bytes(buffer[at + 2:at + 4], "big"), 4
            elif length == 127:
                if size - at < 10:
                    break
                length, head = int.from_bytes(buffer[at + 2:at + 10], "big"), 10
            if second & _MASKED:
                head += 4
            end = at + head + length
            if length > limit or (first & 0x08 and length > 125) or (end > size and length > MAX_PARTIAL):
                # websockets refuses it from its header (1009, a control frame too long), or reads a
                # large frame as it comes: the rest is its, until it is back at a frame boundary
                self._handoff(buffer[given:])
                return
            if end > size:
                break
            if first == _WHOLE_TEXT and second & _MASKED and self.direct is not None:
                if given < at:
                    super().data_received(buffer[given:at])
                    given = at
                if protocol.state is not OPEN:
                    self._handoff(buffer[at:])
                    return
                if not self.queued and not self.fragmented and getattr(protocol, "current_size", None) is None:
                    try:
                        text = str(apply_mask(buffer[at + head:end], buffer[at + head - 4:at + head]), "utf-8")
                    except UnicodeDecodeError:
                        pass   # websockets gets it and closes the link (1007)
                    else:
                        given = end
                        self.direct(text)
                # otherwise it stays with those websockets gets next, behind what waits in its queue
            at = end
        if given < at:
            super().data_received(buffer[given:at])
        if protocol.state is not OPEN:
            self._handoff(buffer[at:])
            return
        self._partial = buffer[at:]

    def _handoff(self, rest: bytes) -> None:
        """websockets reads the stream from here on (until `data_received` finds it at a frame boundary)."""
        self._framing = False
        if rest:
            super().data_received(rest)

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame) and event.opcode in DATA_OPCODES:
            direct = self.direct
            if (direct is not None and event.fin and event.opcode is Opcode.TEXT and not self.queued
                    and not self.fragmented):
                try:
                    text = str(event.data, "utf-8")
                except UnicodeDecodeError:
                    pass   # the reader's `recv()` fails the link, as websockets does
                else:
                    direct(text)
                    return
            if event.fin:
                self.queued += 1
            self.fragmented = not event.fin
        super().process_event(event)
