"""`--state FILE` (core.node.state): what a node remembers across a restart, and a file it refuses."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from core.node.node import MessageNode
from core.node.session import Session
from core.node.state import SCHEMA_VERSION, NodeState, StateError
from core.protocol import address as addr
from tests.node.helpers import Wire, ask

D = "a.example"
RT = addr.runtime_url(D, "one")
OTHER = addr.runtime_url(D, "two")
FOREIGN = addr.runtime_url("b.example", "far")


def opened(node: MessageNode, runtime: str, token: str | None = None) -> tuple[Session, dict[str, Any]]:
    session = node.connect(Wire())
    return session, ask(node, session, "open", runtime, addr.SESSION, {"token": token} if token else {})


def test_tokens_ownership_fences_bindings_and_registrations_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    node = MessageNode(D, state=NodeState(path))
    s1, answer = opened(node, RT)
    token = answer["value"]["token"]
    s2, _ = opened(node, OTHER)
    visitor, _ = opened(node, FOREIGN)
    hyperty = ask(node, s1, "create", RT + "/address-allocation", addr.hyperty_allocation(D),
                  {"value": {"number": 1}})["value"]["allocated"][0]
    objs = ask(node, s1, "create", RT + "/address-allocation", addr.object_allocation(D),
               {"scheme": "comm", "value": {"number": 3}})["value"]["allocated"]
    assert ask(node, s1, "delete", RT + "/address-allocation", addr.object_allocation(D),
               {"resource": objs[2]}) == {"code": 200}
    ask(node, s1, "subscribe", RT + "/sm", addr.mn_sm(D), {"resources": [objs[1], addr.subscription(objs[1])]})
    node.receive(s2, orjson.dumps({"id": 9, "type": "create", "from": OTHER + "/sm", "to": addr.subscription(objs[1]),
                                   "body": {"resource": objs[1], "delegate": "hyperty://a.example/h2",
                                            "delegationToken": "moved", "runtime": OTHER}}))   # accepted (§4 #4)
    assert ask(node, s1, "update", RT + "/sm", addr.object_allocation(D),
               {"resource": objs[1], "value": {"runtime": OTHER}, "delegationToken": "moved"}) == {"code": 200}
    ask(node, s1, "read", RT + "/sm", addr.object_allocation(D), {"resource": objs[0], "delegationToken": "fence"})
    ask(node, s1, "create", RT + "/registry", addr.registry(D), {"value": {"url": objs[0], "name": "chat"}})
    ask(node, s1, "update", RT + "/registry", addr.registry(D), {"value": {"url": objs[0], "status": "live"}})
    far = "hyperty://b.example/far1"
    node.receive(visitor, orjson.dumps({"id": 2, "type": "execute", "from": far, "to": hyperty}))  # binds `far`
    ask(node, s1, "subscribe", RT + "/sm", addr.mn_sm(D), {"resources": [objs[0]]})
    node.close()

    again = MessageNode(D, state=NodeState(path))
    assert again.tokens == node.tokens and again.tokens[RT] == token
    assert again.allocator.owner == {hyperty: RT, objs[0]: RT, objs[1]: OTHER}
    assert again.allocator.owned_by(RT) == [hyperty, objs[0]]
    assert again.allocator.fenced == {"fence"}
    assert again.bound == {far: FOREIGN}
    assert again.registry.objects == {objs[0]: {"url": objs[0], "name": "chat", "status": "live"}}
    assert again.subscriptions.table() == {}                # node subscriptions belong to links
    _, refused = opened(again, RT)
    assert refused == {"code": 403, "description": "runtime URL already bound"}
    s1, answer = opened(again, RT, token)
    assert answer["code"] == 200 and answer["value"]["token"] == token
    assert ask(again, s1, "update", RT + "/sm", addr.object_allocation(D),
               {"resource": objs[0], "value": {"runtime": OTHER}, "delegationToken": "fence"}) == \
        {"code": 403, "description": "delegation token fenced by an owner query"}
    again.close()


def test_a_second_node_on_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    first = NodeState(path)
    with pytest.raises(StateError, match="in use by another process"):
        NodeState(path)
    first.close()
    NodeState(path).close()


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    path.write_bytes(b"definitely not sqlite" * 50)
    with pytest.raises(StateError, match="not a usable node state file") as refused:
        NodeState(path)
    assert str(path) in str(refused.value)
    assert path.read_bytes() == b"definitely not sqlite" * 50


def test_a_file_from_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StateError, match=f"node state version {SCHEMA_VERSION + 1}"):
        NodeState(path)
