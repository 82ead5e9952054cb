"""Responses are matched to their requests by who answers (PROTOCOL §2.3), over real WebSocket
nodes: a hostile session spraying forged answers at a pending subscribe plants nothing."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from core.lab import Lab
from core.monitor import TraceEvent
from core.protocol import address as addr
from core.schemas import COMM_SCHEMA
from core.sync.events import SubscriptionEvent
from tests.conftest import FAST
from tests.net.conftest import RawClient
from tests.net.netlab import NetLab

DROPPED = "response not from the request's destination"


#: The subscribe stays pending while the spray lands: its timers must outlast a loaded machine.
PATIENT = dataclasses.replace(FAST, request=30.0, long=30.0, subscription=30.0)


@pytest.fixture
async def netlab(tmp_path: Path) -> AsyncIterator[NetLab]:
    async with NetLab(storage_dir=tmp_path, timers=PATIENT) as lab:
        yield lab


async def hostile(lab: NetLab, domain: str, name: str) -> RawClient:
    conn = await connect(lab.servers[domain].url, compression=None, proxy=None, close_timeout=0.2)
    client = RawClient(conn)
    answer = await client.open(addr.runtime_url(domain, name))
    assert answer["body"]["code"] == 200
    return client


def forged(ident: int, frm: str, to: str, url: str) -> dict[str, Any]:
    value = {"url": url, "reporter": frm, "schema": COMM_SCHEMA, "data": {"planted": True}, "version": 999,
             "childrenObjects": {}}
    return {"id": ident, "type": "response", "from": frm, "to": to,
            "body": {"code": 200, "resource": url, "schema": COMM_SCHEMA, "value": value, "reporter": frm}}


async def test_forged_answers_to_a_pending_subscribe_are_dropped(netlab: NetLab) -> None:
    lab = netlab
    events: list[TraceEvent] = []
    lab.monitor.subscribe(events.append)
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 1})      # not invited: alice must decide
    asked: list[SubscriptionEvent] = []
    chat.on_subscription(asked.append)                    # alice decides later: the subscribe stays pending
    home = await hostile(lab, "b.example", "evil")        # on the victim's own node
    away = await hostile(lab, "a.example", "evil")        # on the node the victim visits for the object
    evil_hyperty = await home.allocate_hyperty()
    subscribing = asyncio.ensure_future(bob.syncher.subscribe(chat.url, COMM_SCHEMA))
    await lab.until(lambda: bool(asked), 5.0)

    def sent(frm: str, to: str) -> int:
        return next(int(e.message["id"]) for e in events if e.kind == "message" and e.where == rt_b.url
                    and e.message is not None and e.message["type"] == "subscribe"
                    and e.message["from"] == frm and e.message["to"] == to)

    pending = {bob.url: sent(bob.url, rt_b.sm_url), rt_b.sm_url: sent(rt_b.sm_url, addr.subscription(chat.url))}
    spray = [(home, home.runtime), (home, evil_hyperty), (away, away.runtime),
             (home, rt_b.sm_url), (away, addr.subscription(chat.url))]      # the last two: refused by the nodes
    for client, frm in spray:
        for to, ident in pending.items():
            for guess in sorted({*range(1, 60), ident}):
                await client.send(forged(guess, frm, to, chat.url))
    delivered = 3 * len(pending)                          # the node refuses a `from` the session does not own

    def drops() -> list[TraceEvent]:
        return [e for e in events if e.kind == "drop" and e.where == rt_b.url and e.detail.get("reason") == DROPPED]

    await lab.until(lambda: len(drops()) >= delivered or subscribing.done(), 20.0)
    assert not subscribing.done(), f"a forged answer resolved the subscribe: {subscribing.result()!r}"
    assert sorted((e.message["from"], e.message["to"]) for e in drops()) == sorted(
        (frm, to) for _c, frm in spray[:3] for to in pending)
    asked[0].accept()
    obs = await subscribing
    assert (obs.data, obs.version, obs.reporter) == ({"n": 1}, 0, alice.url)
    oo = rt_b.sm.observers[chat.url]
    assert (oo.version, oo.reporter) == (0, alice.url)
    chat.data["n"] = 2
    await lab.until(lambda: obs.version == 1, 5.0)
    assert obs.data == {"n": 2}


async def test_an_answer_counts_only_from_the_link_that_can_carry_it(lab: Lab) -> None:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    await lab.runtime("c.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 1}, observers=[bob.url])
    request = {"id": 4242, "type": "subscribe", "from": rt_b.sm_url, "to": addr.subscription(chat.url)}
    node = addr.mn_sm("a.example")
    cases = [  # (from, link it came in on, accepted)
        (addr.subscription(chat.url), "a.example", True),   # the node the request went to
        (addr.subscription(chat.url), "b.example", True),   # the node of the requester's address
        (addr.subscription(chat.url), "c.example", False),  # any other node
        (addr.subscription(chat.url), None, True),          # a local answer
        (node, "a.example", True),                          # the carrying node answers for what it routes
        ("mn:/session", "a.example", True),
        (addr.registry("a.example"), "a.example", True),
        (node, "b.example", False),                         # ... only on its own link
        (addr.mn_sm("b.example"), "a.example", False),      # another node's address on that link
        (node, None, False),
        (rt_a.url, "a.example", False),                     # anyone else
        (alice.url, "b.example", False),
    ]
    got = [rt_b.bus.answered_by(request, {"from": frm}, via) for frm, via, _ok in cases]
    assert got == [ok for _f, _v, ok in cases]
    own = {"id": 7, "type": "read", "from": bob.url, "to": rt_b.sm_url}
    assert [rt_b.bus.answered_by(own, {"from": rt_b.sm_url}, via) for via in (None, "b.example")] == [True, False]
