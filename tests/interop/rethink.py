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


async def expect(client: RawClient, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
    """The next frame matching `pred`; frames before it are skipped (a peer hears more than a test asks)."""
    while True:
        msg = await client.recv(timeout)
        if pred(msg):
            return msg


async def claim_object(client: RawClient, domain: str, reporter: str, scheme: str = "comm") -> str:
    """INTEROP §2: the reporter runtime's subscribe claims a locally minted ObjectURL, then `O/children/`."""
    obj = minted(scheme, domain)
    answer = await client.request("subscribe", client.runtime + "/sm", addr.mn_sm(domain),
                                  {"resources": [obj, obj + "/subscription"], "source": reporter})
    assert answer["body"]["code"] == 200, answer
    answer = await client.request("subscribe", client.runtime + "/sm", addr.mn_sm(domain),
                                  {"resources": [obj + "/children/"], "source": reporter})
    assert answer["body"]["code"] == 200, answer
    return obj


async def observe(client: RawClient, obj: str, observer: str) -> dict[str, Any]:
    """A reTHINK observer runtime subscribes O: node channels first, then `subscriber` to O/subscription;
    returns the reporter side's final answer."""
    domain = addr.authority(obj)
    answer = await client.request("subscribe", client.runtime + "/sm", addr.mn_sm(domain),
                                  {"resources": [obj + "/changes", obj + "/children/"], "source": observer})
    assert answer["body"]["code"] == 200, answer
    ident = client.next_id()
    await client.send({"id": ident, "type": "subscribe", "from": client.runtime + "/sm", "to": obj + "/subscription",
                       "body": {"subscriber": observer}})
    return await expect(client, lambda m: m["type"] == "response" and m["id"] == ident
                        and m["body"]["code"] >= 200)


# reTHINK's receiving rule, written here from INTEROP §4 (not imported from the engine) ---------------

def rethink_split(path: str) -> list[str]:
    """reTHINK's `parseAttributes`: dots, except a URL key from the first `<scheme>://` on (ended
    before `.identity`), empty segments dropped."""
    if not isinstance(path, str):
        raise TypeError("path.split is not a function")   # what reTHINK's observer throws on a list
    start, marker = -1, path.find("://")
    while marker >= 0 and start < 0:   # the first `://` with a scheme before it
        start = marker
        while start > 0 and (path[start - 1].isascii() and (path[start - 1].isalnum() or path[start - 1] in "-_")):
            start -= 1
        while start < marker and not (path[start].isascii() and path[start].isalnum()):
            start += 1
        if start == marker:
            start, marker = -1, path.find("://", marker + 1)
    if start < 0:
        return [s for s in path.split(".") if s]
    head, url = path[:start], path[start:]
    rest: list[str] = []
    if ".identity." in url or url.endswith(".identity"):
        cut = url.find(".identity")
        url, rest = url[:cut], ["identity", *[s for s in url[cut + len(".identity"):].split(".") if s]]
    return [*[s for s in head.split(".") if s], url, *rest]


def rethink_apply(doc: dict[str, Any], body: dict[str, Any]) -> None:
    """What reTHINK's DataObject does with one update body (INTEROP §4): string attributes only."""
    if "attribute" not in body:
        raise TypeError("no attribute: reTHINK cannot apply this update")
    keys = rethink_split(body["attribute"])
    parent: Any = doc
    for key in keys[:-1]:
        parent = parent[int(key)] if isinstance(parent, list) else parent.setdefault(key, {})
    last = keys[-1]
    if body.get("attributeType") == "array":
        index = int(last)
        if body.get("operation") == "add":
            value = body["value"]
            parent[index:index] = value if isinstance(value, list) else [value]
        elif body.get("operation") == "remove":
            del parent[index:index + int(body.get("value", 1))]
        else:
            parent[index] = body["value"]
    elif "value" in body:
        if isinstance(parent, list):
            parent[int(last)] = body["value"]
        else:
            parent[last] = body["value"]
    elif isinstance(parent, list):
        del parent[int(last)]
    else:
        parent.pop(last, None)
