"""INTEROP §3 (subscribe, invite, unsubscribe), §4 (updates) and §5 (values): SyncScope runtimes over
a real WebSocket node with a reTHINK runtime played by hand, one test per row."""

from __future__ import annotations

import asyncio
from typing import Any

from core.runtime.runtime import Runtime
from core.schemas import COMM_SCHEMA
from core.sync.observer import DataObjectObserver
from core.sync.reporter import DataObjectReporter
from tests.interop.rethink import (
    claim_hyperty,
    claim_object,
    expect,
    observe,
    rethink_apply,
    rethink_client,
)
from tests.net.conftest import Net, RawClient, body

A = "a.example"
#: a reTHINK runtime names the schema by its own catalogue
RETHINK_SCHEMA = f"hyperty-catalogue://catalogue.{A}/.well-known/dataschema/Communication"


def rethink_value(obj: str, reporter: str, runtime: str, data: dict[str, Any], version: int = 0,
                  children: dict[str, Any] | None = None) -> dict[str, Any]:
    """The value a reTHINK reporter's Syncher answers a subscribe with (INTEROP §3, §5)."""
    return {"url": obj, "name": "chat", "reporter": reporter, "runtime": runtime, "schema": RETHINK_SCHEMA,
            "childrens": ["messages", "resources"], "status": "live", "data": data, "version": version,
            "childrenObjects": children or {}}


async def rethink_reporter(net: Net) -> tuple[RawClient, str, str]:
    """A reTHINK runtime reporting a locally minted object: (client, reporter hyperty, ObjectURL)."""
    client, _ = await rethink_client(net, A)
    reporter = await claim_hyperty(client, A)
    return client, reporter, await claim_object(client, A, reporter)


async def subscribe_ours(net: Net, client: RawClient, reporter: str, obj: str, data: dict[str, Any], *,
                         children: dict[str, Any] | None = None,
                         answer: dict[str, Any] | None = None) -> tuple[Runtime, DataObjectObserver, dict[str, Any]]:
    """A SyncScope observer subscribes the reTHINK object; the reTHINK reporter side answers by hand as its
    ReporterObject does: 200 with `owner` and the value. Returns the subscribe that reached it too."""
    rt = await net.runtime(A)
    bob = await rt.hyperty("bob")
    task = asyncio.ensure_future(bob.syncher.subscribe(obj, COMM_SCHEMA))
    request = await expect(client, lambda m: m["type"] == "subscribe" and m["to"] == obj + "/subscription")
    reply = answer or {"code": 200, "owner": reporter,
                       "value": rethink_value(obj, reporter, client.runtime, data, children=children)}
    await client.send({"id": request["id"], "type": "response", "from": request["to"], "to": request["from"],
                       "body": reply})
    return rt, await task, request


# §3 ---------------------------------------------------------------------------------------------------

async def test_row_3_1_the_subscriber_is_sent_as_subscriber_and_source(net: Net) -> None:
    await net.node(A)
    client, reporter, obj = await rethink_reporter(net)
    rt, obs, request = await subscribe_ours(net, client, reporter, obj, {"a": 1})
    hyperty = obs.syncher.url
    assert request["from"] == rt.url + "/sm"
    assert body(request)["source"] == body(request)["subscriber"] == hyperty
    unsubscribe = asyncio.ensure_future(obs.unsubscribe())
    request = await expect(client, lambda m: m["type"] == "unsubscribe" and m["to"] == obj + "/subscription")
    assert body(request) == {"source": hyperty, "subscriber": hyperty}
    await client.send({"id": request["id"], "type": "response", "from": request["to"], "to": request["from"],
                       "body": {"code": 200}})
    await unsubscribe
    assert obs.closed


async def test_row_3_2_the_reporter_answer_with_owner_names_the_reporter(net: Net) -> None:
    await net.node(A)
    client, reporter, obj = await rethink_reporter(net)
    rt, obs, _ = await subscribe_ours(net, client, reporter, obj, {"a": 1})
    assert obs.data == {"a": 1} and obs.version == 0 and obs.reporter == reporter
    assert rt.sm.observers[obj].reporter == reporter
    # a reTHINK-shaped 200 without `reporter` in its value either: `owner` alone names it
    client2, reporter2, obj2 = await rethink_reporter(net)
    value = rethink_value(obj2, reporter2, client2.runtime, {"b": 2})
    del value["reporter"]
    rt2, obs2, _ = await subscribe_ours(net, client2, reporter2, obj2, {}, answer={"code": 200, "owner": reporter2,
                                                                                   "value": value})
    assert obs2.data == {"b": 2} and rt2.sm.observers[obj2].reporter == reporter2


async def test_row_3_3_a_name_is_never_empty(net: Net) -> None:
    await net.node(A)
    rt = await net.runtime(A)
    alice = await rt.hyperty("alice")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"x": 1})
    chat.on_subscription(lambda e: e.accept())
    client, _ = await rethink_client(net, A)
    observer = await claim_hyperty(client, A)
    answer = await observe(client, chat.url, observer)
    assert body(answer)["code"] == 200 and body(answer)["value"]["name"] == "no name"
    # the invitation's metadata too
    invite = asyncio.ensure_future(chat.invite(observer))
    invitation = await expect(client, lambda m: m["type"] == "create" and m["to"] == observer)
    assert body(invitation)["value"]["name"] == "no name"
    await client.send({"id": invitation["id"], "type": "response", "from": observer, "to": invitation["from"],
                       "body": {"code": 200}})
    assert await invite == {observer: 200}


async def test_row_3_4_an_unanswered_unsubscribe_completes_locally_as_a_success(net: Net) -> None:
    await net.node(A)
    client, reporter, obj = await rethink_reporter(net)
    rt, obs, _ = await subscribe_ours(net, client, reporter, obj, {"a": 1})
    unsubscribe = asyncio.ensure_future(obs.unsubscribe())
    await expect(client, lambda m: m["type"] == "unsubscribe" and m["to"] == obj + "/subscription")
    # reTHINK's reporter never answers it: after the SM's own timeout the app hears success
    await unsubscribe
    assert obs.closed and obj not in rt.sm.observers


# §4 ---------------------------------------------------------------------------------------------------

async def test_row_4_1_string_attributes_are_split_by_rethinks_rule(net: Net) -> None:
    await net.node(A)
    client, reporter, obj = await rethink_reporter(net)
    _, obs, _ = await subscribe_ours(net, client, reporter, obj, {"participants": {}})
    url = "hyperty://a.example/x.y"
    updates = [
        {"attribute": f"participants.{url}", "value": {"status": "on"}},
        {"attribute": f"participants.{url}.identity.userProfile", "value": {"userURL": "user://idp/x"}},
        {"attribute": "participants.hyperty://a.example/z", "value": 1},
    ]
    changed = []
    obs.on_change(lambda e: changed.append(e.field))
    for version, update in enumerate(updates, 1):
        await client.send({"id": 100 + version, "type": "update", "from": obj, "to": obj + "/changes",
                           "body": {"version": version, "source": reporter, "via": "x", **update}})
    await net.watch.state(lambda: obs.version == 3)
    # `…x.y.identity.userProfile`: the URL key ends before `.identity.` (INTEROP §4)
    assert obs.data == {"participants": {url: {"status": "on", "identity": {"userProfile": {"userURL": "user://idp/x"}}},
                                         "hyperty://a.example/z": 1}}
    assert len(changed) == 3


async def test_row_4_2_what_syncscope_sends_to_a_rethink_observer(net: Net) -> None:
    await net.node(A)
    rt = await net.runtime(A)
    alice = await rt.hyperty("alice")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"participants": {}, "meta": {}, "list": [1, 2]})
    chat.on_subscription(lambda e: e.accept())
    client, _ = await rethink_client(net, A)
    observer = await claim_hyperty(client, A)
    answer = await observe(client, chat.url, observer)
    replica: dict[str, Any] = body(answer)["value"]["data"]
    assert isinstance(chat, DataObjectReporter) and chat.rethink == {observer}
    url = "hyperty://a.example/x.y"
    chat.data["participants"][url] = {"status": "on"}              # URL key last: dotted string
    chat.data["participants"][url]["status"] = "off"               # after a URL key: Set of the URL key
    chat.data["meta"]["v1.2"] = {"ok": True}                       # dotted key: Set of its parent
    with chat.batch():                                             # a Patch: Sets of what it touched
        chat.data["list"].append(3)
        chat.data["meta"]["n"] = 1
    del chat.data["meta"]["v1.2"]                                  # Remove under a dotted key: Set of parent
    received = []
    while len(received) < 6:
        msg = await expect(client, lambda m: m["type"] == "update" and m["to"] == chat.url + "/changes")
        received.append(body(msg))
    for update in received:
        assert isinstance(update["attribute"], str) and "patch" not in update
        rethink_apply(replica, update)
    assert [u["attribute"] for u in received] == [f"participants.{url}", f"participants.{url}", "meta", "list",
                                                  "meta.n", "meta"]
    assert [u["version"] for u in received] == [1, 2, 3, 4, 5, 6] and chat.version == 6
    assert replica == chat.data


async def test_row_4_2_syncscope_observers_alone_keep_patch_and_list_forms(net: Net) -> None:
    await net.node(A)
    rt_a, rt_b = await net.runtime(A), await net.runtime(A)
    alice, bob = await rt_a.hyperty("alice"), await rt_b.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"meta": {}})
    chat.on_subscription(lambda e: e.accept())
    obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    seen: list[dict[str, Any]] = []
    net.monitor.subscribe(lambda e: seen.append(e.message["body"]) if e.kind == "message" and e.where == rt_b.url
                          and e.message and e.message["type"] == "update" and e.direction == "in" else None)
    chat.data["meta"]["v1.2"] = 1
    with chat.batch():
        chat.data["meta"]["a"] = 1
        chat.data["meta"]["b"] = 2
    await net.watch.state(lambda: obs.version == 2)
    assert seen[0]["attribute"] == ["meta", "v1.2"] and "patch" in seen[1] and obs.data == chat.data


async def test_row_4_3_array_items_one_per_update_and_remove_without_value(net: Net) -> None:
    await net.node(A)
    client, reporter, obj = await rethink_reporter(net)
    _, obs, _ = await subscribe_ours(net, client, reporter, obj, {"list": ["a", "c"]})
    for version, update in enumerate([
        {"attribute": "list.1", "attributeType": "array", "operation": "add", "value": "b"},
        {"attribute": "list.3", "attributeType": "array", "operation": "add", "value": {"d": 1}},
        {"attribute": "list.0", "attributeType": "array", "operation": "remove"},
    ], 1):
        await client.send({"id": 200 + version, "type": "update", "from": obj, "to": obj + "/changes",
                           "body": {"version": version, "source": reporter, **update}})
    await net.watch.state(lambda: obs.version == 3)
    assert obs.data == {"list": ["b", "c", {"d": 1}]}


async def test_row_4_4_a_rethink_child_update_comes_from_the_parent_with_its_version(net: Net) -> None:
    await net.node(A)
    client, reporter, obj = await rethink_reporter(net)
    cid = f"{reporter}#1"
    child_value = {"url": cid, "parent": obj, "children": "messages", "reporter": reporter, "version": 0,
                   "data": {"text": "hi"}}
    rt, obs, _ = await subscribe_ours(net, client, reporter, obj, {"a": 1},
                                      children={"messages": {cid: {"value": child_value}}})
    assert obs.children[cid].data == {"text": "hi"}
    # `from` the parent, with the parent's counter: reTHINK's children share it (interop findings R7), so
    # such an update takes its place among the parent's versions, and the parent's data stays as it is
    for ident, version, update in [(301, 1, {"attribute": "text", "value": "edited"}),
                                   (302, 2, {"attribute": "seen.hyperty://a.example/b", "value": True})]:
        await client.send({"id": ident, "type": "update", "from": obj, "to": obj + "/children/messages",
                           "body": {"resource": cid, "version": version, "source": reporter, **update}})
    await net.watch.state(lambda: obs.children[cid].data.get("seen") is not None)
    assert obs.children[cid].data == {"text": "edited", "seen": {"hyperty://a.example/b": True}}
    assert (obs.version, obs.data, obs.children[cid].version) == (2, {"a": 1}, 2)
    # out of order: the child edit at 4 waits for the parent's 3, then both apply in order, no resync
    await client.send({"id": 303, "type": "update", "from": obj, "to": obj + "/children/messages",
                       "body": {"resource": cid, "version": 4, "source": reporter, "attribute": "text",
                                "value": "fourth"}})
    await net.watch.state(lambda: obs.tracker.has_gap)
    assert obs.children[cid].data["text"] == "edited"
    await client.send({"id": 304, "type": "update", "from": obj, "to": obj + "/changes",
                       "body": {"version": 3, "source": reporter, "attribute": "a", "value": 3}})
    await net.watch.state(lambda: obs.version == 4)
    assert (obs.data, obs.children[cid].data["text"], obs.resyncs) == ({"a": 3}, "fourth", 0)


# §5 ---------------------------------------------------------------------------------------------------

async def test_row_5_1_children_objects_nested_by_name_both_ways(net: Net) -> None:
    await net.node(A)
    # in: a reTHINK reporter's value nests childrenObjects by collection name
    client, reporter, obj = await rethink_reporter(net)
    nested = {"messages": {f"{reporter}#1": {"value": {"url": f"{reporter}#1", "reporter": reporter, "version": 0,
                                                       "data": {"text": "one"}}}},
              "resources": {f"{reporter}#2": {"value": {"url": f"{reporter}#2", "reporter": reporter, "version": 0,
                                                        "data": {"file": "f"}}, "identity": {"userProfile": {}}}}}
    _, obs, _ = await subscribe_ours(net, client, reporter, obj, {}, children=nested)
    assert {cid: (c.name, c.data) for cid, c in obs.children.items()} == {
        f"{reporter}#1": ("messages", {"text": "one"}), f"{reporter}#2": ("resources", {"file": "f"})}
    assert obs.children[f"{reporter}#2"].identity == {"userProfile": {}}
    # out: a SyncScope reporter's value is nested as well, for a reTHINK read
    rt = await net.runtime(A)
    alice = await rt.hyperty("alice")
    chat = await alice.syncher.create(COMM_SCHEMA, data={}, public_observation=True)
    child = await chat.add_child("messages", {"text": "x"})
    reader, _ = await rethink_client(net, A)
    who = await claim_hyperty(reader, A)
    read = await reader.request("read", who, chat.url)
    children = body(read)["value"]["childrenObjects"]
    assert list(children) == ["messages"] and children["messages"][child.child_id]["value"]["data"] == {"text": "x"}
