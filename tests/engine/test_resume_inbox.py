"""A resume's observed objects (PROTOCOL §3.8): what reaches their channels between the 100 and the
final answer waits for the replica and is then applied in order; on a failed resume their listeners go."""

from __future__ import annotations

from typing import Any

import pytest

from core import SyncError
from core.lab import Lab
from core.protocol.message import Message
from core.schemas import COMM_SCHEMA, expand

URL = "comm://b.example/resumed-1"
REPORTER = "hyperty://b.example/bob"


def update(version: int, n: int) -> Message:
    return {"type": "update", "from": URL, "to": URL + "/changes", "id": version,
            "body": {"version": version, "source": REPORTER, "attribute": "n", "value": n}}


async def test_messages_before_the_answer_are_applied_in_order(lab: Lab) -> None:
    rt = await lab.runtime("a.example")
    alice = await rt.hyperty("alice")
    syncher = alice.syncher
    created: list[Any] = []
    syncher.on_observers_resume(lambda observers: created.extend(observers))
    child = {"type": "create", "from": REPORTER, "to": URL + "/children/messages", "id": 9,
             "body": {"resource": REPORTER + "#1", "value": {"data": {"text": "hi"}, "version": 0}}}

    async def call(msg: Message, timeout: float | None = None, on_provisional: Any = None) -> dict[str, Any]:
        on_provisional({"type": "response", "from": msg["to"], "to": msg["from"], "id": msg.get("id", 0),
                        "body": {"code": 100, "resource": URL, "childrenResources": ["messages"]}})
        for queued in (update(2, 2), child, update(3, 3)):
            syncher.sandbox.deliver(queued)
        value = {"url": URL, "schema": expand(COMM_SCHEMA), "reporter": REPORTER, "version": 1,
                 "data": {"n": 1}, "childrens": ["messages"], "store": True}
        return {"value": [value]}

    syncher.sandbox.call = call   # type: ignore[method-assign]
    observers = await syncher.resume_observers()
    [observer] = observers
    assert created == observers and syncher.observers[URL] is observer
    assert (observer.version, observer.data) == (3, {"n": 3})
    assert set(observer.children) == {REPORTER + "#1"} and "store" not in observer.metadata
    syncher.sandbox.deliver(update(4, 4))        # SB(O/changes) now calls the replica itself
    assert (observer.version, observer.data) == (4, {"n": 4})
    observer._release()


async def test_a_failed_resume_removes_the_listeners_it_made(lab: Lab) -> None:
    rt = await lab.runtime("a.example")
    alice = await rt.hyperty("alice")
    syncher = alice.syncher

    async def call(msg: Message, timeout: float | None = None, on_provisional: Any = None) -> dict[str, Any]:
        on_provisional({"type": "response", "from": msg["to"], "to": msg["from"], "id": msg.get("id", 0),
                        "body": {"code": 100, "resource": URL, "childrenResources": ["messages"]}})
        assert URL + "/changes" in syncher.sandbox._listeners
        raise SyncError(500, "storage failed")

    syncher.sandbox.call = call   # type: ignore[method-assign]
    with pytest.raises(SyncError):
        await syncher.resume_observers()
    assert not [a for a in syncher.sandbox._listeners if a.startswith(URL)]
