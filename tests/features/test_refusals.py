"""Refusals exactly as PROTOCOL §6 says them, and the object metadata `status` of §3.0.4."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from core import SyncError
from core.lab import Lab
from core.schemas import COMM_SCHEMA
from core.sync.events import NotificationEvent
from tests.conftest import FAST


async def codes(coro: Any) -> tuple[int, str]:
    with pytest.raises(SyncError) as refused:
        await coro
    return refused.value.code, refused.value.description


async def test_revoking_a_stranger_is_404_and_an_invitee_loses_its_preauthorisation(lab: Lab) -> None:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    carol = await rt_b.hyperty("carol")
    eve = await rt_b.hyperty("eve")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0}, observers=[bob.url, carol.url], store=True)
    obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    await lab.settle()
    ro = rt_a.sm.reporters[chat.url]
    assert await codes(chat.revoke(eve.url)) == (404, "not subscribed")       # neither subscribed nor invited
    assert (set(ro.subscriptions), ro.preauthorised) == ({bob.url}, {bob.url, carol.url})
    notes: list[str] = []
    carol.syncher.on_notification(lambda e: notes.append(e.type))
    await chat.revoke(carol.url)                                              # invited only: 200
    await lab.settle()
    assert (set(ro.subscriptions), ro.preauthorised) == ({bob.url}, {bob.url})
    assert rt_a.stored("reporter")[chat.url]["preAuthorised"] == [bob.url]
    assert notes == []                                                        # no subscription to end at carol
    assert await codes(carol.syncher.subscribe(chat.url, COMM_SCHEMA)) == (403, "no subscription handler")
    assert await codes(chat.revoke(carol.url)) == (404, "not subscribed")    # nothing left to revoke
    assert not obs.closed and obs.status == "live"


async def test_a_second_delegation_while_one_is_pending_is_409(tmp_path: Path) -> None:
    async with Lab(storage_dir=tmp_path, timers=dataclasses.replace(FAST, long=30.0)) as lab:   # bob takes his time
        await second_delegation(lab)


async def second_delegation(lab: Lab) -> None:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    offers: list[NotificationEvent] = []
    bob.syncher.on_notification(lambda e: offers.append(e) if e.type == "delegate" else e.ack())
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 1}, observers=[bob.url])
    await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    first = asyncio.ensure_future(chat.delegate(bob.url))
    await lab.until(lambda: bool(offers), 2.0)                                # bob has not decided yet
    assert await codes(chat.delegate(bob.url)) == (409, "delegation pending")
    assert chat.status == "delegating"                                        # the pending one is untouched
    answer = await alice.sandbox.request({"type": "create", "from": alice.url, "to": rt_a.sm_url,
                                          "body": {"resource": chat.url, "delegate": bob.url, "value": {}}})
    assert answer["body"] == {"code": 409, "description": "delegation pending"}
    offers[0].accept()
    await first
    await lab.settle()
    assert chat.closed and bob.syncher.reporters[chat.url].status == "live"


@pytest.mark.parametrize("schema", [None, ""])
async def test_create_without_a_schema_is_400(lab: Lab, schema: Any) -> None:
    rt = await lab.runtime("a.example")
    alice = await rt.hyperty("alice")
    assert await codes(alice.syncher.create(schema, data={"n": 1}, store=True)) == (400, "missing schema")
    assert alice.syncher.reporters == {} and rt.sm.reporters == {} and rt.stored("reporter") == {}
    owned = lab.nodes["a.example"].allocator.owner
    assert list(owned) == [alice.url]                                        # no object was allocated


async def test_metadata_carries_status_on_the_reporter_and_every_replica(lab: Lab) -> None:
    rt_a = await lab.runtime("a.example")
    rt_b = await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob = await rt_b.hyperty("bob")
    carol = await rt_b.hyperty("carol")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 1}, observers=[bob.url, carol.url], store=True)
    obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA, store=True)
    other = await carol.syncher.subscribe(chat.url, COMM_SCHEMA)
    await lab.settle()
    assert [o.metadata.get("status") for o in (chat, obs, other)] == ["live"] * 3
    assert (await bob.syncher.read(chat.url))["status"] == "live"
    assert rt_a.stored("reporter")[chat.url]["status"] == rt_b.stored("observer")[chat.url]["status"] == "live"
    await rt_a.restart()
    await rt_b.restart()
    await lab.settle()
    resumed = [alice.syncher.reporters[chat.url], bob.syncher.observers[chat.url], carol.syncher.observers[chat.url]]
    assert [o.metadata.get("status") for o in resumed] == ["live"] * 3
