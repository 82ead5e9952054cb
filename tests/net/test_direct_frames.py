"""The node cuts what it reads into frames itself and hands whole text frames to the node as they
come (core.net.direct_frames, issue 16); any other frame is websockets' to handle, in order. Frames
split anywhere across reads, mixed with pings, binary and fragmented frames, all arrive whole and
in order; what websockets refused before it still refuses."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from websockets.frames import Frame, Opcode

from core.protocol import address as addr
from tests.net.conftest import Net, RawSocket, body

A = "a.example"
RT = addr.runtime_url(A, "one")


def allocation(ident: int) -> bytes:
    return orjson.dumps({"id": ident, "type": "create", "from": RT + "/address-allocation",
                         "to": addr.object_allocation(A), "body": {"scheme": "comm", "value": {"number": 1}}})


async def opened(net: Net) -> RawSocket:
    sock = await net.socket(A)
    await sock.send_json({"id": 1, "type": "open", "from": RT, "to": addr.SESSION})
    assert body(await sock.read_json())["code"] == 200
    return sock


async def dribble(sock: RawSocket, data: bytes, step: int) -> None:
    """Write `data` `step` bytes at a time, each its own segment (TCP_NODELAY is the default)."""
    for at in range(0, len(data), step):
        sock.writer.write(data[at:at + step])
        await sock.writer.drain()
        await asyncio.sleep(0.001)   # pacing the input, so the server's reads see the splits (not a wait for it)


@pytest.mark.parametrize("step", [3, 13, 200])
async def test_frames_split_anywhere_and_mixed_with_others_arrive_whole_and_in_order(net: Net, step: int) -> None:
    server = await net.node(A)
    sock = await opened(net)
    protocol = sock.protocol
    protocol.send_text(allocation(2))
    protocol.send_ping(b"are you there")
    protocol.send_text(allocation(3))
    fragmented = allocation(4)
    protocol.send_text(fragmented[:7], fin=False)
    protocol.send_continuation(fragmented[7:], fin=True)
    protocol.send_binary(allocation(5))
    for ident in range(6, 12):
        protocol.send_text(allocation(ident))
    stream = b"".join(protocol.data_to_send())
    direct = server.frames_direct
    await dribble(sock, stream, step)    # frames split over several reads, anywhere
    answers = [await sock.read_json() for _ in range(10)]
    assert [(a["id"], body(a)["code"]) for a in answers] == [(2, 200), (3, 200), (4, 200), (5, 400)] + [
        (i, 200) for i in range(6, 12)]
    pong = next(f for f in sock.pending if f.opcode is Opcode.PONG) if sock.pending else None
    assert pong is None or pong.data == b"are you there"
    # The whole text frames before the fragmented one went straight to the node, and so did those
    # after the binary one once the link's reader had taken what waited in websockets' queue.
    assert server.frames_direct - direct >= 3
    owners = server.node.allocator.owner
    assert all(owners[body(a)["value"]["allocated"][0]] == RT for a in answers if body(a)["code"] == 200)


async def test_a_frame_over_the_limit_closes_1009_unread_even_amid_whole_frames(net: Net) -> None:
    await net.node(A, node_options={"max_message": 1000})
    sock = await opened(net)
    # A whole frame, then in the same write a text frame's header declaring 4,001 bytes (over 4× the
    # node's message limit) and nothing of its payload.
    sock.writer.write(Frame(Opcode.TEXT, allocation(2)).serialize(mask=True) + b"\x81\xfe" + (4001).to_bytes(2, "big"))
    await sock.writer.drain()
    code, _ = await sock.read_close()
    assert code == 1009


async def test_a_control_frame_too_long_is_refused_by_websockets_as_before(net: Net) -> None:
    await net.node(A)
    sock = await opened(net)
    # A masked ping of 126 bytes (control frames take at most 125, RFC 6455 §5.5) after a whole frame.
    long_ping = b"\x89\xfe" + (126).to_bytes(2, "big") + b"\x00\x00\x00\x00" + b"p" * 126
    sock.writer.write(Frame(Opcode.TEXT, allocation(2)).serialize(mask=True) + long_ping)
    await sock.writer.drain()
    code, _ = await sock.read_close()
    assert code == 1002
