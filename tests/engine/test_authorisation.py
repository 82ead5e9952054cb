"""PROTOCOL §6 rows for create, invite, subscribe, read, update, unsubscribe and delete: the exact
code and description, then the component goes on and nothing stored or routed has changed."""

from __future__ import annotations

from typing import Any

import pytest

from core import SyncError
from core.lab import Lab
from core.protocol import address as addr
from core.protocol.message import Message
from core.schemas import COMM_SCHEMA
from tests.conftest import Trace  # noqa: F401
from tests.engine.helpers import bus_listeners, node_subscriptions


class World:
    async def build(self, lab: Lab) -> World:
        self.lab = lab
        self.rt_a = await lab.runtime("a.example")
        self.rt_a2 = await lab.runtime("a.example")
        self.rt_b = await lab.runtime("b.example")
        self.alice = await self.rt_a.hyperty("alice")
        self.dave = await self.rt_a.hyperty("dave")
        self.bob = await self.rt_b.hyperty("bob")
        self.eve = await self.rt_b.hyperty("eve")
        self.chat = await self.alice.syncher.create(COMM_SCHEMA, data={"n": 0}, observers=[self.bob.url])
        self.obs = await self.bob.syncher.subscribe(self.chat.url, COMM_SCHEMA)
        await lab.settle()
        return self

    def snapshot(self) -> Any:
        o = self.chat.url
        return ({rt.url: bus_listeners(rt, o) for rt in (self.rt_a, self.rt_a2, self.rt_b)},
                node_subscriptions(self.lab, o), dict(self.rt_a.sm.reporters[o].subscriptions),
                set(self.rt_a.sm.reporters[o].preauthorised), self.lab.nodes["a.example"].allocator.owner.get(o))

    async def still_works(self, before: Any) -> None:
        await self.lab.settle()
        assert self.snapshot() == before
        self.chat.data["n"] += 1
        await self.lab.settle()
        assert self.obs.data == self.chat.data and self.obs.version == self.chat.version


async def ask(sandbox_owner: Any, msg: Message) -> tuple[int, str]:
    answer = await sandbox_owner.sandbox.request(msg)
    body = answer["body"]
    return body["code"], body.get("description")


@pytest.fixture
async def w(lab: Lab) -> World:
    return await World().build(lab)


async def test_sm_refuses_remote_hyperty(w: World) -> None:
    before = w.snapshot()
    msg = {"type": "create", "from": w.bob.url, "to": w.rt_a.sm_url, "body": {"schema": COMM_SCHEMA, "value": {}}}
    assert await ask(w.bob, msg) == (403, "not a local hyperty")
    await w.still_works(before)


@pytest.mark.parametrize(("mtype", "body", "expected"), [
    ("create", {"value": {}}, (400, "missing schema")),
    ("create", {"schema": COMM_SCHEMA}, (400, "missing value")),
    ("create", {"schema": COMM_SCHEMA, "value": "not an object"}, (400, "missing value")),
    ("subscribe", {"schema": COMM_SCHEMA}, (400, "missing resource")),
    ("subscribe", {"resource": "comm://a.example/x"}, (400, "missing schema")),
    ("unsubscribe", {}, (400, "missing resource")),
    ("delete", {}, (400, "missing resource")),
    ("read", {}, (400, "missing resource")),
    ("execute", {}, (400, "missing method")),
    ("forward", {}, (400, "forward is not handled by the Sync Manager")),
])
async def test_sm_mandatory_fields(w: World, mtype: str, body: dict[str, Any], expected: tuple[int, str]) -> None:
    before = w.snapshot()
    assert await ask(w.dave, {"type": mtype, "from": w.dave.url, "to": w.rt_a.sm_url, "body": body}) == expected
    await w.still_works(before)


async def test_policy_blocks_create_and_subscribe(w: World) -> None:
    before = w.snapshot()
    w.rt_a.policy.deny("create")
    with pytest.raises(SyncError) as refused:
        await w.alice.syncher.create(COMM_SCHEMA, data={})
    assert (refused.value.code, refused.value.description) == (403, "Blocked by policy")
    w.rt_b.policy.deny("subscribe", from_=w.eve.url)
    with pytest.raises(SyncError) as refused:
        await w.eve.syncher.subscribe(w.chat.url, COMM_SCHEMA)
    assert (refused.value.code, refused.value.description) == (403, "Blocked by policy")
    assert len(w.rt_a.sm.reporters) == 1
    await w.still_works(before)


async def test_only_the_reporter_invites_and_deletes(w: World) -> None:
    before = w.snapshot()
    o = w.chat.url
    invite = {"type": "create", "from": w.dave.url, "to": w.rt_a.sm_url,
              "body": {"resource": o, "authorise": [w.eve.url], "schema": COMM_SCHEMA, "value": {}}}
    assert await ask(w.dave, invite) == (403, "not the reporter")
    delete = {"type": "delete", "from": w.dave.url, "to": w.rt_a.sm_url, "body": {"resource": o}}
    assert await ask(w.dave, delete) == (403, "not the reporter")
    unknown = {"type": "delete", "from": w.alice.url, "to": w.rt_a.sm_url, "body": {"resource": "comm://a.example/nope"}}
    assert await ask(w.alice, unknown) == (404, "unknown object")
    invite_unknown = {"type": "create", "from": w.alice.url, "to": w.rt_a.sm_url,
                      "body": {"resource": "comm://a.example/nope", "authorise": [w.eve.url], "schema": COMM_SCHEMA,
                               "value": {}}}
    assert await ask(w.alice, invite_unknown) == (404, "unknown object")
    two = {"type": "create", "from": w.alice.url, "to": w.rt_a.sm_url,
           "body": {"resource": o, "authorise": [w.eve.url, w.dave.url], "schema": COMM_SCHEMA, "value": {}}}
    assert await ask(w.alice, two) == (400, "authorise must name exactly one hyperty")
    await w.still_works(before)


async def test_resource_reuse_without_record_is_refused(w: World) -> None:
    before = w.snapshot()
    reuse = {"type": "create", "from": w.alice.url, "to": w.rt_a.sm_url,
             "body": {"resource": "comm://a.example/someone-elses", "schema": COMM_SCHEMA, "value": {"data": {}}}}
    assert await ask(w.alice, reuse) == (403, "resource not reusable")
    await w.still_works(before)


async def test_subscription_rejected_or_unhandled(w: World) -> None:
    before = w.snapshot()
    with pytest.raises(SyncError) as refused:
        await w.eve.syncher.subscribe(w.chat.url, COMM_SCHEMA)  # eve is not invited, no handler
    assert (refused.value.code, refused.value.description) == (403, "no subscription handler")
    w.chat.on_subscription(lambda e: e.reject("members only"))
    with pytest.raises(SyncError) as refused:
        await w.eve.syncher.subscribe(w.chat.url, COMM_SCHEMA)
    assert (refused.value.code, refused.value.description) == (403, "members only")
    assert w.chat.url not in w.eve.syncher.observers
    await w.still_works(before)


async def test_unsubscribe_of_a_non_subscriber(w: World) -> None:
    before = w.snapshot()
    msg = {"type": "unsubscribe", "from": w.eve.url, "to": w.rt_b.sm_url, "body": {"resource": w.chat.url}}
    assert await ask(w.eve, msg) == (404, "not subscribed")
    at_reporter = {"type": "unsubscribe", "from": w.rt_b.sm_url, "to": addr.subscription(w.chat.url),
                   "body": {"source": w.eve.url}}
    answer = await w.rt_b.bus.request(at_reporter)
    assert (answer["body"]["code"], answer["body"]["description"]) == (404, "not subscribed")
    await w.still_works(before)


async def test_observers_ignore_updates_not_from_the_object_or_reporter(w: World) -> None:
    before = w.snapshot()
    o = w.chat.url
    forged_from = {"type": "update", "from": w.eve.url, "to": addr.changes(o),
                   "body": {"version": 1, "source": w.alice.url, "attribute": "n", "value": 666}}
    w.eve.sandbox.post(forged_from)
    forged_source = {"type": "update", "from": o, "to": addr.changes(o),
                     "body": {"version": 1, "source": w.eve.url, "attribute": "n", "value": 666}}
    w.eve.sandbox.post(forged_source)
    await w.lab.settle()
    assert w.obs.data == {"n": 0} and w.obs.version == 0
    await w.still_works(before)


async def test_node_checks(w: World) -> None:
    before = w.snapshot()
    o = w.chat.url
    node_sm = addr.mn_sm("a.example")

    async def node_answer(rt: Any, msg: Message) -> tuple[int, str]:
        answer = await rt.bus.request(msg)
        return answer["body"]["code"], answer["body"].get("description")

    spoofed = {"type": "subscribe", "from": w.alice.url, "to": node_sm, "body": {"resources": [addr.changes(o)]}}
    assert await node_answer(w.rt_b, spoofed) == (403, "not owned by this session")
    not_owner = {"type": "subscribe", "from": w.rt_a2.sm_url, "to": node_sm, "body": {"resources": [o]}}
    assert await node_answer(w.rt_a2, not_owner) == (403, "not the owner")
    not_owner_sub = {"type": "subscribe", "from": w.rt_a2.sm_url, "to": node_sm,
                     "body": {"resources": [addr.changes(o), addr.subscription(o)]}}
    assert await node_answer(w.rt_a2, not_owner_sub) == (403, "not the owner")
    unknown = {"type": "subscribe", "from": w.rt_a2.sm_url, "to": node_sm,
               "body": {"resources": ["comm://a.example/unknown/changes"]}}
    assert await node_answer(w.rt_a2, unknown) == (404, "unknown object")
    both = {"type": "subscribe", "from": w.rt_a2.sm_url, "to": node_sm,
            "body": {"resources": [addr.changes(o)], "subscribe": [addr.changes(o)]}}
    assert await node_answer(w.rt_a2, both) == (400, "give resources in one form only")
    none = {"type": "subscribe", "from": w.rt_a2.sm_url, "to": node_sm, "body": {}}
    assert await node_answer(w.rt_a2, none) == (400, "missing resources")
    dealloc = {"type": "delete", "from": w.rt_a2.allocation_url, "to": addr.object_allocation("a.example"),
               "body": {"resource": o}}
    assert await node_answer(w.rt_a2, dealloc) == (403, "not the owner")
    publish = {"type": "update", "from": w.rt_a2.sm_url, "to": addr.changes(o),
               "body": {"version": 1, "source": w.rt_a2.url, "attribute": "n", "value": 666}}
    w.rt_a2.bus.post(publish)
    await w.lab.settle()
    assert w.obs.data == {"n": 0}
    # Nothing partial: the all-or-nothing subscribe left rt_a2 without any subscription.
    assert w.lab.nodes["a.example"].sessions[w.rt_a2.url].subscriptions == set()
    await w.still_works(before)


async def test_node_refuses_publish_from_non_owner_with_403(w: World, trace: Any) -> None:
    o = w.chat.url
    trace.clear()
    publish = {"type": "update", "from": w.rt_a2.sm_url, "to": addr.changes(o),
               "body": {"version": 1, "source": w.rt_a2.url, "attribute": "n", "value": 666}}
    w.rt_a2.bus.post(publish)
    await w.lab.settle()
    answers = [m for m in trace.messages(w.lab.nodes["a.example"].url, "out") if m["type"] == "response"]
    assert [(m["to"], m["body"]) for m in answers] == [
        (w.rt_a2.sm_url, {"code": 403, "description": "only the reporter runtime may publish changes"})]


async def test_node_subscription_aliases(w: World) -> None:
    """PROTOCOL §1.5 / §7 #5: `subscribe`/`unsubscribe` lists and `resource` + `childrenResources`
    are aliases of `resources`."""
    o = w.chat.url
    node, sm = w.lab.nodes["a.example"], addr.mn_sm("a.example")
    session = node.sessions[w.rt_a2.url]

    async def ask_node(mtype: str, body: dict[str, Any]) -> int:
        answer = await w.rt_a2.bus.request({"type": mtype, "from": w.rt_a2.sm_url, "to": sm, "body": body})
        return int(answer["body"]["code"])

    assert await ask_node("subscribe", {"subscribe": [addr.changes(o)]}) == 200
    assert session.subscriptions == {addr.changes(o)}
    assert await ask_node("unsubscribe", {"unsubscribe": [addr.changes(o)]}) == 200
    assert session.subscriptions == set()
    assert await ask_node("subscribe", {"resource": addr.changes(o), "childrenResources": []}) == 200
    assert await ask_node("unsubscribe", {"resource": addr.changes(o)}) == 200
    assert session.subscriptions == set()
    # [O, O/children/messages]: O is only for its owner, so the expanded list is refused whole
    assert await ask_node("subscribe", {"resource": o, "childrenResources": ["messages"]}) == 403
    assert session.subscriptions == set()
