"""Literal reTHINK wire shapes (INTEROP.md), written by hand: a raw client that speaks as reTHINK's
Vert.x protostub and SyncherManager do. No reTHINK code: the shapes come from INTEROP.md."""

from __future__ import annotations

import uuid
from typing import Any

from core.protocol import address as addr
from tests.net.conftest import Net, RawClient


def rethink_runtime(domain: str) -> str:
    return f"runtime://{domain}/{uuid.uuid4()}"


def minted(scheme: str, domain: str) -> str:
    """An address a reTHINK runtime mints locally (`<scheme>://D/<guid>`, INTEROP §2)."""
    return f"{scheme}://{domain}/{uuid.uuid4()}"


async def rethink_client(net: Net, domain: str, runtime: str | None = None) -> tuple[RawClient, dict[str, Any]]:
    """A raw link opened as reTHINK's stub does: `open` with no body from a `runtime://` URL."""
    client = await net.client(domain)
    runtime = runtime or rethink_runtime(domain)
    answer = await client.request("open", runtime, addr.SESSION)
    if answer["body"]["code"] == 200:
        client.runtime, client.token = runtime, answer["body"]["value"]["token"]
    return client, answer


async def claim_hyperty(client: RawClient, domain: str) -> str:
    """INTEROP §2: a locally minted hyperty URL claimed by subscribe from `<rt>/address-allocation`."""
    hyperty = minted("hyperty", domain)
    answer = await client.request("subscribe", client.runtime + "/address-allocation", addr.mn_sm(domain),
                                  {"resources": [hyperty], "source": client.runtime + "/address-allocation"})
    assert answer["body"]["code"] == 200, answer
    return hyperty
