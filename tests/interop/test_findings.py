"""Wire details of reTHINK's real runtimes that INTEROP.md left out, found by running them against
`syncscope node` (/work/notes/interop-findings.md), each with the exact shape seen there."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.protocol import address as addr
from core.protocol.message import SyncError
from core.runtime.hyperty import Hyperty
from core.runtime.runtime import Runtime
from core.schemas import COMM_SCHEMA
from core.sync.reporter import DataObjectReporter
from tests.interop.rethink import claim_hyperty, expect, observe, rethink_apply, rethink_client
from tests.interop.test_runtime_rows import A, rethink_reporter, rethink_value, subscribe_ours
from tests.net.conftest import Net, RawClient, body


async def our_chat(net: Net, data: dict[str, Any]) -> tuple[Runtime, Hyperty, DataObjectReporter]:
    """A SyncScope runtime whose alice reports a chat and accepts every subscriber."""
    rt = await net.runtime(A)
    alice = await rt.hyperty("alice")
    chat = await alice.syncher.create(COMM_SCHEMA, data=data)
    chat.on_subscription(lambda e: e.accept())
    return rt, alice, chat


async def rethink_observer(net: Net, obj: str) -> tuple[RawClient, str]:
    """A reTHINK runtime (newest core) whose claimed hyperty observes `obj`."""
    client, _ = await rethink_client(net, A)
    observer = await claim_hyperty(client, A)
    assert body(await observe(client, obj, observer))["code"] == 200
    return client, observer


async def test_a_rethink_delete_after_its_deallocation_still_reaches_the_observers(net: Net) -> None:
    server = await net.node(A)
    client, reporter, obj = await rethink_reporter(net)
    rt, obs, _ = await subscribe_ours(net, client, reporter, obj, {"a": 1})
    watcher, _ = await rethink_client(net, A)
    observer = await claim_hyperty(watcher, A)
    await watcher.request("subscribe", watcher.runtime + "/sm", addr.mn_sm(A),
                          {"resources": [obj + "/changes", obj + "/children/"], "source": observer})
    # reTHINK's order on the wire: deallocation, node unsubscribe, and only then the delete
    dealloc = await client.request("delete", client.runtime + "/address-allocation", addr.object_allocation(A),
                                   {"resource": obj, "childrenResources": ["resources"]})
    assert body(dealloc) == {"code": 200} and obj not in server.node.allocator.owner
    await client.request("unsubscribe", client.runtime + "/sm", addr.mn_sm(A),
                         {"resources": [obj], "source": reporter})
    delete = {"id": 90, "type": "delete", "from": obj + "/subscription", "to": obj + "/changes",
              "body": {"identity": {"userProfile": {}}}}
    await client.send(delete)
    assert await watcher.recv() == delete
    await net.watch.state(lambda: obs.closed and obj not in rt.sm.observers)
    # its observers unsubscribe after the delete: 200, not 404 "unknown object"
    late = await watcher.request("unsubscribe", watcher.runtime + "/sm", obj + "/subscription",
                                 {"source": observer})
    assert body(late) == {"code": 200}
    # anyone else's delete of it is still refused
    other, _ = await rethink_client(net, A)
    await other.send({**delete, "id": 91})
    assert body(await other.recv())["code"] == 403


async def test_a_rethink_observer_unsubscribes_with_source_and_the_syncscope_reporter_drops_it(net: Net) -> None:
    # a reTHINK observer's unsubscribe says `source` (not `subscriber`): the reporter drops it
    await net.node(A)
    ours, alice, chat = await our_chat(net, {})
    client, observer = await rethink_observer(net, chat.url)
    gone = await client.request("unsubscribe", client.runtime + "/sm", chat.url + "/subscription",
                                {"source": observer, "identity": {"userProfile": {}}})
    assert body(gone) == {"code": 200}
    await net.watch.state(lambda: observer not in chat.subscriptions)


async def test_a_re_open_takes_over_the_node_subscriptions_of_the_lost_link(net: Net) -> None:
    server = await net.node(A)
    client, reporter, obj = await rethink_reporter(net)
    watcher, answer = await rethink_client(net, A)
    token = body(answer)["runtimeToken"]
    observer = await claim_hyperty(watcher, A)
    channels = [obj + "/changes", obj + "/children/"]
    await watcher.request("subscribe", watcher.runtime + "/sm", addr.mn_sm(A), {"resources": channels,
                                                                               "source": observer})
    rt = watcher.runtime
    held = set(server.node.sessions[rt].subscriptions)
    await watcher.conn.close()
    await net.watch.state(lambda: rt not in server.node.sessions)
    # reTHINK's stub re-opens and never re-sends its node subscriptions: the node keeps them for it
    again = await net.client(A)
    reopened = await again.request("re-open", f"{rt}/{token}", addr.SESSION)
    assert body(reopened)["code"] == 200
    assert server.node.sessions[rt].subscriptions == held
    update = {"id": 70, "type": "update", "from": obj, "to": obj + "/changes",
              "body": {"version": 1, "source": reporter, "attribute": "a", "value": 1}}
    await client.send(update)
    assert await again.recv() == update


async def test_children_on_an_unnamed_children_channel_reach_syncscope_replicas(net: Net) -> None:
    # reTHINK's newest runtime: child create and update on exactly `O/children/`, no collection name
    await net.node(A)
    client, reporter, obj = await rethink_reporter(net)
    rt, obs, _ = await subscribe_ours(net, client, reporter, obj, {"a": 1})
    cid = "1796533989494-17fa80c1-19cd-0a9f-fb86-87bc6e867421#2"
    await client.send({"id": 80, "type": "create", "from": reporter, "to": obj + "/children/",
                       "body": {"resource": cid, "value": {"url": cid, "reporter": reporter, "created": "t",
                                                          "runtime": client.runtime, "schema": "s", "parent": obj,
                                                          "mutual": False, "data": {"text": "hi"}}}})
    await net.watch.state(lambda: cid in obs.children)
    assert obs.children[cid].name == "messages" and obs.children[cid].data == {"text": "hi"}
    # its update carries the parent's next version (reTHINK's children share their parent's counter)
    await client.send({"id": 81, "type": "update", "from": obj, "to": obj + "/children/",
                       "body": {"version": 1, "attribute": "text", "value": "edited", "resource": cid,
                                "source": reporter}})
    await net.watch.state(lambda: obs.children[cid].data == {"text": "edited"})
    assert obs.version == 1


async def test_children_of_an_object_with_a_rethink_observer_go_on_the_unnamed_channel(net: Net) -> None:
    await net.node(A)
    rt_a, alice, chat = await our_chat(net, {})
    rt_b = await net.runtime(A)
    ours = await (await rt_b.hyperty("bob")).syncher.subscribe(chat.url, COMM_SCHEMA)
    client, observer = await rethink_observer(net, chat.url)
    child = await chat.add_child("resources", {"file": "f"})
    create = await expect(client, lambda m: m["type"] == "create" and m["body"].get("resource") == child.child_id)
    assert create["to"] == chat.url + "/children/" and create["body"]["value"]["children"] == "resources"
    # a SyncScope observer of the same object still files it under its collection
    await net.watch.state(lambda: child.child_id in ours.children)
    assert ours.children[child.child_id].name == "resources" and ours.children[child.child_id].data == {"file": "f"}
    child.data["file"] = "g"
    update = await expect(client, lambda m: m["type"] == "update" and m["body"].get("resource") == child.child_id)
    assert update["to"] == chat.url + "/children/" and update["body"]["attribute"] == "file"
    await net.watch.state(lambda: ours.children[child.child_id].data == {"file": "g"})


async def test_a_rethink_unsubscribe_while_or_after_a_syncscope_reporter_deletes_is_answered_200(net: Net) -> None:
    await net.node(A)
    # the window of §3.6: the owner's node subscriptions are gone, its deallocation not yet done
    client, reporter, obj = await rethink_reporter(net)
    await client.request("unsubscribe", client.runtime + "/sm", addr.mn_sm(A), {"resources": [obj + "/subscription"]})
    watcher, _ = await rethink_client(net, A)
    observer = await claim_hyperty(watcher, A)
    during = await watcher.request("unsubscribe", watcher.runtime + "/sm", obj + "/subscription", {"source": observer})
    assert body(during) == {"code": 200}
    # after a SyncScope reporter's delete, deallocation included
    ours, alice, chat = await our_chat(net, {})
    assert body(await observe(watcher, chat.url, observer))["code"] == 200
    await chat.delete()
    await expect(watcher, lambda m: m["type"] == "delete" and m["to"] == chat.url + "/changes")
    after = await watcher.request("unsubscribe", watcher.runtime + "/sm", chat.url + "/subscription",
                                  {"source": observer})
    assert body(after) == {"code": 200}


async def test_a_rethink_observer_edits_its_child_from_the_parent_url(net: Net) -> None:
    await net.node(A)
    ours, alice, chat = await our_chat(net, {})
    client, observer = await rethink_observer(net, chat.url)
    cid = f"{observer}#1"
    await client.send({"id": 60, "type": "create", "from": observer, "to": chat.url + "/children/resources",
                       "body": {"resource": cid, "value": {"url": cid, "reporter": observer, "children": "resources",
                                                          "data": {"msg": "hi"}}}})
    await net.watch.state(lambda: cid in chat.children)
    edit = {"version": 9, "source": observer, "attribute": "msg", "value": "dave edited", "resource": cid}
    await client.send({"id": 61, "type": "update", "from": chat.url, "to": chat.url + "/children/resources",
                       "body": edit})
    await net.watch.state(lambda: chat.children[cid].data == {"msg": "dave edited"})
    # `source` must be its own hyperty: someone else's is refused
    await client.send({"id": 62, "type": "update", "from": chat.url, "to": chat.url + "/children/resources",
                       "body": {**edit, "source": alice.url, "value": "forged"}})
    forged = await expect(client, lambda m: m["type"] == "response" and m["id"] == 62)
    assert body(forged)["code"] == 403 and chat.children[cid].data == {"msg": "dave edited"}


async def test_a_rethink_subscribe_answer_without_children_is_completed_by_a_read(net: Net) -> None:
    await net.node(A)
    client, reporter, obj = await rethink_reporter(net)
    value = rethink_value(obj, reporter, client.runtime, {"a": 1})
    del value["childrenObjects"]                  # reTHINK's `_onSubscribe` adds none
    rt, obs, _ = await subscribe_ours(net, client, reporter, obj, {}, answer={"code": 200, "owner": reporter,
                                                                              "value": value})
    read = await expect(client, lambda m: m["type"] == "read" and m["to"] == obj)
    cid = f"{reporter}#1"
    full = {**value, "childrenObjects": {"resources": {cid: {"value": {
        "url": cid, "reporter": reporter, "parent": obj, "children": "resources", "data": {"file": "f"}}}}}}
    await client.send({"id": read["id"], "type": "response", "from": obj, "to": read["from"],
                       "body": {"code": 200, "value": full}})
    await net.watch.state(lambda: cid in obs.children)
    assert obs.children[cid].name == "resources" and obs.data == {"a": 1}


class RethinkReplica:
    """What reTHINK's DataObjectObserver keeps of an object and its children, by its own rule: an update,
    of the object or of a child, applies only above the object's version and then becomes it."""

    def __init__(self, version: int, data: dict[str, Any]) -> None:
        self.version, self.data = version, data
        self.children: dict[str, dict[str, Any]] = {}

    def take(self, msg: dict[str, Any]) -> bool:
        b = msg["body"]
        if msg["type"] == "create":
            self.children[b["resource"]] = b["value"]["data"]
            return True
        if not self.version + 1 <= b["version"]:
            return False          # "UNSYNCHRONIZED VERSION": dropped
        self.version = b["version"]
        rethink_apply(self.children[b["resource"]] if "/children/" in msg["to"] else self.data, b)
        return True


async def test_a_syncscope_reporters_child_edits_reach_a_rethink_observer_as_parent_versions(net: Net) -> None:
    # R7: reTHINK's observers take a child update's version as the parent's next one; ours now send that
    await net.node(A)
    rt_a, alice, chat = await our_chat(net, {"topic": "t"})
    rt_b = await net.runtime(A)
    ours = await (await rt_b.hyperty("bob")).syncher.subscribe(chat.url, COMM_SCHEMA)
    client, _ = await rethink_client(net, A)
    observer = await claim_hyperty(client, A)
    answer = body(await observe(client, chat.url, observer))
    theirs = RethinkReplica(answer["value"]["version"], answer["value"]["data"])
    child = await chat.add_child("resources", {"file": "f"})
    assert theirs.take(await expect(client, lambda m: m["type"] == "create"))
    child.data["file"] = "g"
    chat.data["topic"] = "u"
    child.data["size"] = 3
    edits = [await expect(client, lambda m: m["type"] == "update") for _ in range(3)]
    assert [(m["from"], m["to"], m["body"]["version"]) for m in edits] == [
        (chat.url, chat.url + "/children/", 1), (chat.url, chat.url + "/changes", 2),
        (chat.url, chat.url + "/children/", 3)]
    assert edits[0]["body"] == {"resource": child.child_id, "version": 1, "source": alice.url,
                                "lastModified": edits[0]["body"]["lastModified"], "attribute": "file", "value": "g"}
    assert all(theirs.take(m) for m in edits)
    assert (theirs.version, theirs.data) == (3, {"topic": "u"})
    assert theirs.children == {child.child_id: {"file": "g", "size": 3}}
    # our observer beside it counts the same versions and never needs a resync
    await net.watch.state(lambda: ours.version == 3 and child.child_id in ours.children
                          and ours.children[child.child_id].data == {"file": "g", "size": 3})
    assert (chat.version, ours.data, ours.resyncs, rt_a.sm.reporters[chat.url].version) == (3, {"topic": "u"}, 0, 3)
    # its Sync Manager's stored copy counts them too (PROTOCOL §5 rule 7 bookkeeping)
    assert rt_b.sm.observers[chat.url].version == 3


async def test_without_a_rethink_observer_child_edits_keep_their_own_versions(net: Net) -> None:
    await net.node(A)
    rt_a, alice, chat = await our_chat(net, {})
    rt_b = await net.runtime(A)
    ours = await (await rt_b.hyperty("bob")).syncher.subscribe(chat.url, COMM_SCHEMA)
    child = await chat.add_child("resources", {"file": "f"})
    child.data["file"] = "g"
    await net.watch.state(lambda: child.child_id in ours.children and ours.children[child.child_id].version == 1)
    assert (chat.version, ours.version, ours.children[child.child_id].data) == (0, 0, {"file": "g"})


async def test_a_top_level_key_rethink_cannot_address_is_refused_while_it_may_observe(net: Net) -> None:
    await net.node(A)
    rt, alice, chat = await our_chat(net, {"meta": {}})
    chat.data["v1.2"] = "ours only"            # no reTHINK observer yet: our forms carry it
    client, observer = await rethink_observer(net, chat.url)
    with pytest.raises(SyncError) as refused:
        chat.data["v2.0"] = 1
    assert (refused.value.code, refused.value.description) == (
        400, "key 'v2.0' cannot reach reTHINK observers (INTEROP §4)")
    with pytest.raises(SyncError):
        del chat.data["v1.2"]
    assert chat.data == {"meta": {}, "v1.2": "ours only"} and chat.version == 1
    chat.data["meta"]["v1.2"] = 2              # below the top a dotted key goes as a Set of its parent
    update = await expect(client, lambda m: m["type"] == "update")
    assert (update["body"]["attribute"], update["body"]["value"], update["body"]["version"]) == ("meta", {"v1.2": 2}, 2)
    chat.data["hyperty://a.example/x.y"] = True   # a URL key reTHINK reads back whole
    update = await expect(client, lambda m: m["type"] == "update")
    assert update["body"]["attribute"] == "hyperty://a.example/x.y"


async def test_children_reach_each_reTHINK_generation_on_the_channel_it_subscribed(net: Net) -> None:
    # reTHINK v0.13 subscribes `O/children/<name>` and hears only that; its newest runtime subscribes and
    # hears only `O/children/`: the node hands each the children on the channel it holds (R6 / sf13 runs)
    await net.node(A)
    rt, alice, chat = await our_chat(net, {})
    newest, _ = await rethink_client(net, A)
    assert body(await observe(newest, chat.url, await claim_hyperty(newest, A)))["code"] == 200
    v013, _ = await rethink_client(net, A)
    h013 = await claim_hyperty(v013, A)
    await v013.request("subscribe", v013.runtime + "/sm", addr.mn_sm(A),
                       {"resources": [chat.url + "/changes", chat.url + "/children/resources"], "source": h013})
    ident = v013.next_id()
    await v013.send({"id": ident, "type": "subscribe", "from": v013.runtime + "/sm", "to": chat.url + "/subscription",
                     "body": {"subscriber": h013}})
    await expect(v013, lambda m: m["type"] == "response" and m["id"] == ident and m["body"]["code"] == 200)
    child = await chat.add_child("resources", {"file": "f"})
    child.data["file"] = "g"
    for client, channel in ((newest, chat.url + "/children/"), (v013, chat.url + "/children/resources")):
        create = await expect(client, lambda m: m["type"] == "create")
        update = await expect(client, lambda m: m["type"] == "update")
        assert (create["to"], create["body"]["resource"]) == (channel, child.child_id)
        assert (update["to"], update["from"], update["body"]["version"]) == (channel, chat.url, 1)


async def test_a_rethink_reporter_answering_a_child_create_from_the_unnamed_channel_confirms_it(net: Net) -> None:
    # our observer adds a child to `O/children/messages`; reTHINK's newest runtime hears it on `O/children/`
    # and answers from there, with a 100 and nothing after (its own share() takes < 300 as done): that
    # answer confirms the create (no 408 after the long timer, no re-send)
    await net.node(A)
    client, reporter, obj = await rethink_reporter(net)
    rt, obs, _ = await subscribe_ours(net, client, reporter, obj, {"a": 1})
    task = asyncio.ensure_future(obs.add_child("messages", {"text": "mine"}))
    create = await expect(client, lambda m: m["type"] == "create" and "/children/" in m["to"])
    assert create["to"] == obj + "/children/"
    await client.send({"id": create["id"], "type": "response", "from": obj + "/children/", "to": create["from"],
                       "body": {"code": 100}})
    child = await task
    assert child.child_id in obs.children and not child.closed
    assert not [e for e in net.watch.events if e.kind == "message" and e.message
                and e.message.get("type") == "response" and e.message.get("body", {}).get("code") == 408]
