"""The node's outbox frames its text frames itself (issue 16): the bytes on the wire are those
websockets would have written, at each length form of RFC 6455 §5.2, and a peer reads them back."""

from __future__ import annotations

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode

from core.net.outbox import _text_header
from core.protocol import address as addr
from tests.net.conftest import Net

A = "a.example"


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 1 << 20])
def test_a_server_text_frame_is_framed_as_websockets_frames_it(length: int) -> None:
    data = b"x" * length
    assert _text_header(length) + data == Frame(Opcode.TEXT, data).serialize(mask=False)


async def test_answers_of_every_length_form_reach_a_peer_whole(net: Net) -> None:
    server = await net.node(A)
    runtime = addr.runtime_url(A, "one")
    async with connect(server.url, proxy=None, max_size=None) as conn:
        await conn.send(orjson.dumps({"id": 1, "type": "open", "from": runtime, "to": addr.SESSION}).decode())
        assert orjson.loads(await conn.recv())["body"]["code"] == 200
        # Messages between two hyperties of this runtime come back to it: short, 16-bit and 64-bit lengths.
        lengths = []
        for ident, pad in enumerate((0, 200, 70_000), start=2):
            sent = orjson.dumps({"id": ident, "type": "execute", "from": runtime + "/a", "to": runtime + "/b",
                                 "body": {"pad": "p" * pad} if pad else {}})
            lengths.append(len(sent))
            await conn.send(sent.decode())
            assert await conn.recv(decode=False) == sent
        assert lengths[0] < 126 <= lengths[1] < 65536 <= lengths[2] and server.frames_out == 4
