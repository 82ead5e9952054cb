"""A resume's observed objects (PROTOCOL §3.8): what reaches their channels between the 100 and the
final answer waits for the replica and is then applied in order; on a failed resume their listeners go.

The real Sync Manager answers from the real storage file; a bus interceptor (the hook the runtime's
policy uses) acts at the moment the final answer is dispatched, as a peer's messages arriving then
would."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from core import SyncError
from core.lab import Lab
from core.protocol.message import Message, code_of
from core.schemas import COMM_SCHEMA


async def stored_observer(lab: Lab) -> Any:
    """bob (b.example) observes alice's stored chat and stores it; his runtime comes back without
    resuming, so the test resumes him itself."""
    rt_a, rt_b = await lab.runtime("a.example"), await lab.runtime("b.example")
    alice, bob = await rt_a.hyperty("alice"), await rt_b.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 1}, observers=[bob.url], store=True)
    await bob.syncher.subscribe(chat.url, COMM_SCHEMA, store=True)
    await lab.settle()
    await rt_b.restart(resume=False)
    return rt_b, bob, chat


def final_answer(msg: Message, bob: Any) -> bool:
    return (msg["type"] == "response" and msg["to"] == bob.url and code_of(msg) == 200
            and isinstance(msg.get("body", {}).get("value"), list))


async def test_messages_before_the_answer_are_applied_in_order(lab: Lab) -> None:
    rt_b, bob, chat = await stored_observer(lab)
    url, reporter = chat.url, chat.syncher.url

    def update(version: int, n: int) -> Message:
        return {"type": "update", "from": url, "to": url + "/changes", "id": version,
                "body": {"version": version, "source": reporter, "attribute": "n", "value": n}}

    child = {"type": "create", "from": reporter, "to": url + "/children/messages", "id": 9,
             "body": {"resource": reporter + "#1", "value": {"data": {"text": "hi"}, "version": 0}}}

    def arrive_first(msg: Message, ingress: bool) -> None:
        if final_answer(msg, bob):        # the 100s have made the inbox; no replica exists yet
            assert url not in bob.syncher.observers
            for queued in (update(1, 2), child, update(2, 3)):
                bob.syncher.sandbox.deliver(queued)

    rt_b.bus.interceptors.append(arrive_first)
    created: list[Any] = []
    bob.syncher.on_observers_resume(lambda observers: created.extend(observers))
    observers = await bob.syncher.resume_observers()
    [observer] = observers
    assert created == observers and bob.syncher.observers[url] is observer
    assert (observer.version, observer.data) == (2, {"n": 3})
    assert set(observer.children) == {reporter + "#1"} and "store" not in observer.metadata
    bob.syncher.sandbox.deliver(update(3, 4))        # SB(O/changes) now calls the replica itself
    assert (observer.version, observer.data) == (3, {"n": 4})


async def test_a_failed_resume_removes_the_listeners_it_made(lab: Lab) -> None:
    rt_b, bob, chat = await stored_observer(lab)
    made: list[bool] = []

    def fail(msg: Message, ingress: bool) -> tuple[int, str] | None:
        if not final_answer(msg, bob):
            return None
        made.append(chat.url + "/changes" in bob.syncher.sandbox._listeners)
        rt_b.bus.post({**msg, "body": {"code": 500, "description": "storage failed"}})
        return 500, "refused by the test"   # the 200 goes no further

    rt_b.bus.interceptors.append(fail)
    with pytest.raises(SyncError) as raised:
        await bob.syncher.resume_observers()
    assert raised.value.code == 500 and made == [True]
    assert not [a for a in bob.syncher.sandbox._listeners if a.startswith(chat.url)]


@pytest.mark.parametrize(("made", "how"), [("resumed", "unsubscribe"), ("resumed", "crash"),
                                            ("subscribed", "unsubscribe"), ("subscribed", "crash")])
async def test_a_released_replica_is_freed_at_once(lab: Lab, made: str, how: str) -> None:
    """A replica and its document go as the replica is released, by reference counting: its inbox shares
    its listener list, whose handlers lead back to it, and a cycle would leave them to a full collection
    (a crash of 10,000 observers left some 70 MB so)."""
    rt_b, bob, chat = await stored_observer(lab)
    if made == "resumed":
        [observer] = await bob.syncher.resume_observers()
    else:
        observer = await bob.syncher.subscribe(chat.url, COMM_SCHEMA)
    assert observer.data == {"n": 1}
    freed = weakref.ref(observer)
    collecting = gc.isenabled()
    gc.disable()
    try:
        if how == "unsubscribe":
            await observer.unsubscribe()
        else:
            await rt_b.crash()
        await lab.settle()
        del observer
        assert freed() is None
    finally:
        if collecting:
            gc.enable()
