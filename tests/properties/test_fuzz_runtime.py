"""Malformed envelopes and bodies thrown at a runtime's bus, Sync Manager, an object's subscription
address and a Syncher: every answerable request gets one final 4xx with a description (500 only for
an unknown schema, as PROTOCOL §3.1 step 2 says), nothing raises, and no replica, listener, node
subscription or subscription record changes."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.lab import Lab
from core.protocol import address as addr
from core.protocol.message import envelope_error
from core.schemas import COMM_SCHEMA
from tests.conftest import FAST, Trace

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**60, 2**60), st.text(max_size=8),
              st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=5)
FIELDS = ["schema", "value", "resource", "resources", "source", "subscriber", "authorise", "method", "params",
          "attribute", "version", "store", "resume", "delegate", "delegationToken", "identity", "type", "from", "to",
          "code"]
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5)
TYPES = ["create", "read", "update", "delete", "subscribe", "unsubscribe", "forward", "execute", "response",
         "open", "event", "CREATE", "frobnicate"]


class World:
    async def build(self, lab: Lab) -> World:
        self.lab = lab
        self.rt_a = await lab.runtime("a.example")
        self.rt_b = await lab.runtime("b.example")
        self.alice = await self.rt_a.hyperty("alice")
        self.dave = await self.rt_a.hyperty("dave")
        self.bob = await self.rt_b.hyperty("bob")
        self.chat = await self.alice.syncher.create(COMM_SCHEMA, data={"n": 0}, observers=[self.bob.url])
        self.obs = await self.bob.syncher.subscribe(self.chat.url, COMM_SCHEMA)
        child = await self.obs.add_child("messages", {"m": 1})
        child.data["m"] = 2
        await lab.settle()
        return self

    def snapshot(self) -> Any:
        o = self.chat.url
        ro = self.rt_a.sm.reporters[o]
        return (sorted(self.rt_a.bus.listeners()), sorted(self.rt_b.bus.listeners()),
                sorted(self.alice.sandbox.listeners()), sorted(self.bob.sandbox.listeners()),
                {a: sorted(r) for a, r in self.lab.nodes["a.example"].subscriptions.table().items()},
                sorted(ro.subscriptions), sorted(ro.preauthorised), ro.version,
                self.chat.version, self.obs.version, dict(self.obs.data),
                {c: (x.version, x.data) for c, x in self.chat.children.items()},
                sorted(self.rt_a.sm.reporters), sorted(self.rt_a.sm.observers), sorted(self.rt_b.sm.observers))


def targets(w: World) -> list[str]:
    o = w.chat.url
    return [w.rt_a.sm_url, addr.subscription(o), o, w.alice.url, w.dave.url, addr.changes(o),
            addr.children(o, "messages"), w.rt_a.url + "/nothing"]


def senders(w: World) -> list[str]:
    return [w.dave.url, w.alice.url, w.rt_b.sm_url, "hyperty://b.example/stranger", w.chat.url + "/x",
            "hyperty-runtime://c.example/rt9/sm"]


async def fuzz(draw: Any) -> None:
    async with Lab(timers=FAST) as lab:
        w = await World().build(lab)
        trace = Trace()
        lab.monitor.subscribe(trace)
        before = w.snapshot()
        sent: list[dict[str, Any]] = []
        for n in range(draw(st.integers(1, 6))):
            msg: Any = {"id": 10_000 + n, "type": draw(st.sampled_from(TYPES)),
                        "from": draw(st.sampled_from(senders(w))), "to": draw(st.sampled_from(targets(w))),
                        "body": draw(bodies)}
            mutation = draw(st.sampled_from(["none", "drop", "retype", "garbage"]))
            if mutation == "drop":
                del msg[draw(st.sampled_from(["id", "type", "from", "to", "body"]))]
            elif mutation == "retype":
                msg[draw(st.sampled_from(["id", "type", "from", "to", "body"]))] = draw(json_values)
            elif mutation == "garbage":
                msg = draw(json_values)
            if isinstance(msg, dict) and msg.get("type") == "create" and str(msg.get("from", "")).endswith(
                    "/subscription"):
                continue  # a well-formed invitation is legitimate traffic, not bad input
            if isinstance(msg, dict) and msg.get("type") == "update" and msg.get("to") == addr.changes(w.chat.url):
                msg["from"] = w.dave.url  # never a real change from the object itself
            sent.append(msg)
            w.rt_a.bus.ingress(msg)
        await lab.settle()
        assert [e.detail for e in trace.of_kind("error")] == []
        assert w.snapshot() == before
        for msg in sent:
            if not answerable(msg):
                continue
            answers = [m for m in trace.messages(w.rt_a.url) if m["type"] == "response" and m["to"] == msg["from"]
                       and str(m["id"]) == str(msg["id"])]
            finals = [a for a in answers if a["body"].get("code", 0) >= 200]
            problem = envelope_error(msg)
            if problem is not None:
                assert [a["body"] for a in finals] == [{"code": 400, "description": problem}], msg
                continue
            if dropped_by_ingress_rule(msg) or msg["to"] in (addr.changes(w.chat.url),
                                                              addr.children(w.chat.url, "messages")):
                assert finals == [], msg   # pub/sub channels and local-only messages get no answer
                continue
            if msg["type"] in ("update", "delete") and not finals:
                continue   # a publication that reaches no listener is dropped unanswered (DECISIONS.md)
            assert len(finals) == 1, (msg, answers)
            body = finals[0]["body"]
            code, description = body["code"], body.get("description", "")
            assert 400 <= code < 500 or (code == 500 and description.startswith("unknown schema")), (msg, body)
            assert isinstance(description, str) and description, (msg, body)


def answerable(msg: Any) -> bool:
    """A request whose sender and id can be read (what PROTOCOL §6 can answer)."""
    return (isinstance(msg, dict) and isinstance(msg.get("from"), str) and bool(msg.get("from"))
            and isinstance(msg.get("id"), int) and not isinstance(msg.get("id"), bool) and 0 < msg["id"] <= 2**53
            and msg.get("type") != "response")


def dropped_by_ingress_rule(msg: dict[str, Any]) -> bool:
    return msg.get("type") in ("forward", "delete") and addr.is_hyperty(str(msg.get("to")))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_malformed_requests_get_4xx_and_change_nothing(data: st.DataObject) -> None:
    asyncio.run(fuzz(data.draw))
