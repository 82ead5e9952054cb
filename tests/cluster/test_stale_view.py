"""A node whose view of the clustered domain lags behind a delete routes a request for the deleted
object to the runtime that held it; that runtime's node, through which the deletion came, answers
"gone" instead of handing it to the runtime, whose answer from an address it no longer owns would be
refused and the request left to time out (DECISIONS 88)."""

from __future__ import annotations

from typing import Any

import orjson

from core.node.cluster.router import Delivery
from core.node.cluster.view import NodeView
from core.node.node import MessageNode
from core.node.session import Session
from core.protocol import address as addr
from tests.node.helpers import Wire

D = "a.example"
RT = addr.runtime_url(D, "one")
READER = "hyperty://a.example/reader"


def ask(node: MessageNode, session: Session, mtype: str, frm: str, to: str, body: dict[str, Any]) -> dict[str, Any]:
    node.receive(session, orjson.dumps({"id": 1, "type": mtype, "from": frm, "to": to, "body": body}))
    wire = session.transport
    assert isinstance(wire, Wire)
    return dict(wire.sent.pop()["body"])


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
