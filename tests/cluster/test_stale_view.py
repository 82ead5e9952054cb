"""A node whose view of the clustered domain lags behind a delete routes a request for the deleted
object to the runtime that held it; that runtime's node, through which the deletion came, answers
"gone" instead of handing it to the runtime, whose answer from an address it no longer owns would be
refused and the request left to time out (DECISIONS 88)."""

from __future__ import annotations

import orjson

from core.node.cluster.router import Delivery
from core.node.cluster.view import NodeView
from core.node.node import MessageNode
from core.protocol import address as addr
from tests.cluster.conftest import Nats, until
from tests.cluster.inprocess import Answers, answer_to, asked, clustered
from tests.node.helpers import Wire, ask

D = "a.example"
RT = addr.runtime_url(D, "one")
READER = "hyperty://a.example/reader"


def read_of(url: str) -> bytes:
    return orjson.dumps({"id": 7, "type": "read", "from": READER, "to": url, "body": {}})


def test_a_request_for_an_object_deleted_through_this_node_is_answered_gone() -> None:
    node = MessageNode(D)
    session = node.connect(Wire())
    assert ask(node, session, "open", RT, addr.SESSION, {})["code"] == 200
    kept, deleted = ask(node, session, "create", RT + "/address-allocation", addr.object_allocation(D),
                        {"scheme": "comm", "value": {"number": 2}})["value"]["allocated"]
    assert ask(node, session, "delete", RT + "/address-allocation", addr.object_allocation(D),
               {"resource": deleted}) == {"code": 200}
    view = NodeView(node)
    wire = session.transport
    assert isinstance(wire, Wire)

    assert view.deliver_to_runtime(RT, read_of(deleted)) is Delivery.GONE
    assert wire.sent == []                                   # the runtime never sees it
    assert view.deliver_to_runtime(RT, read_of(kept)) is Delivery.DELIVERED
    assert [(m["type"], m["to"]) for m in wire.sent] == [("read", kept)]
    # publications and responses are never answered: delivered as they come
    update = {"id": 8, "type": "update", "from": deleted, "to": deleted, "body": {"version": 2}}
    assert view.deliver_to_runtime(RT, orjson.dumps(update)) is Delivery.DELIVERED
    assert view.deliver_to_runtime(addr.runtime_url(D, "elsewhere"), read_of(kept)) is Delivery.REFUSED
    # one this node has not heard of may have been allocated through another node a moment ago
    unheard = "comm://a.example/allocated-elsewhere"
    assert view.deliver_to_runtime(RT, read_of(unheard)) is Delivery.DELIVERED
    assert [m["to"] for m in wire.sent][-1] == unheard


async def test_a_read_routed_by_a_view_that_lags_behind_a_delete_gets_unknown_object(nats_server: Nats) -> None:
    """Two nodes in one process on a real NATS server: the delete goes through n2 and n1 routes a read
    in the same loop turn, before JetStream could bring its view up to date."""
    async with clustered(D, [nats_server.url, nats_server.url]) as (n1, n2):
        reader_rt, holder_rt = addr.runtime_url(D, "reader"), addr.runtime_url(D, "holder")
        reader, holder = n1.connect(Answers()), n2.connect(Answers())
        assert (await asked(n1, reader, "open", reader_rt, addr.SESSION, {}, 1))["code"] == 200
        assert (await asked(n2, holder, "open", holder_rt, addr.SESSION, {}, 1))["code"] == 200
        hyperty = (await asked(n1, reader, "create", reader_rt + "/address-allocation", addr.hyperty_allocation(D),
                               {"value": {"number": 1}}, 2))["value"]["allocated"][0]
        obj = (await asked(n2, holder, "create", holder_rt + "/address-allocation", addr.object_allocation(D),
                           {"scheme": "comm", "value": {"number": 1}}, 2))["value"]["allocated"][0]
        assert n2.cluster is not None
        router2 = n2.cluster.router
        assert router2 is not None
        await until(lambda: n1.allocator.owner.get(obj) == holder_rt
                    and router2._runtime_subs.get(holder_rt) is not None)
        await router2.nc.flush()

        n2.receive(holder, orjson.dumps({"id": 3, "type": "delete", "from": holder_rt + "/address-allocation",
                                         "to": addr.object_allocation(D), "body": {"resource": obj}}))
        n1.receive(reader, orjson.dumps({"id": 4, "type": "read", "from": hyperty, "to": obj, "body": {}}))
        assert n1.allocator.owner.get(obj) == holder_rt          # n1 routed it by what it still believed
        assert await answer_to(reader, 4) == {"code": 404, "description": "unknown object"}
        holder_wire = holder.transport
        assert isinstance(holder_wire, Wire)
        assert [m["type"] for m in holder_wire.sent if m["type"] != "response"] == []   # never handed the read
