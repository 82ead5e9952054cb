"""A resume hands stored documents over as their text (`Encoded`): each replica decodes its own on
first use, edits store as before, and whoever watches the resume sees the documents."""

from __future__ import annotations

from typing import Any

import orjson

from core.lab import Lab
from core.monitor import Monitor, TraceEvent
from core.protocol.encoded import Encoded
from core.schemas import COMM_SCHEMA
from ui.models.log_row import event_of, log_row


async def world(lab: Lab) -> Any:
    """A stored object and a stored subscription to it, with no change logged since (a logged change is
    replayed at load, on decoded data)."""
    rt_a, rt_b = await lab.runtime("a.example"), await lab.runtime("b.example")
    alice, bob = await rt_a.hyperty("alice"), await rt_b.hyperty("bob")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 1, "l": ["x"]}, observers=[bob.url], store=True)
    obs = await bob.syncher.subscribe(chat.url, COMM_SCHEMA, store=True)
    await lab.settle()
    return rt_a, rt_b, alice, bob, chat, obs


async def traced_resume_answer(lab: Lab, rt: Any, hyperty: str, field: str) -> TraceEvent:
    """Restart `rt` with the monitor on: the trace of the resume answer (its 200, with `field`) to `hyperty`."""
    seen: list[TraceEvent] = []
    lab.monitor.subscribe(seen.append)
    await rt.restart()
    [answer] = [e for e in seen if e.kind == "message" and e.message and e.message.get("to") == hyperty
                and e.message.get("from") == rt.url + "/sm" and e.message.get("type") == "response"
                and e.message["body"].get("code") == 200 and field in e.message["body"]
                and isinstance(e.message["body"].get("value"), list)]
    return answer


async def test_resumed_documents_are_decoded_on_first_use(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    await rt_a.restart()
    ro, resumed = rt_a.sm.reporters[chat.url], alice.syncher.reporters[chat.url]
    assert type(ro.data) is Encoded and ro.data is resumed._raw       # one text, nothing decoded yet
    assert resumed.data == {"n": 1, "l": ["x"]} and type(ro.data) is Encoded   # the replica's own copy
    resumed.data["l"].append("y")                                     # the SM decodes its copy to apply it
    await lab.settle()
    assert ro.data == {"n": 1, "l": ["x", "y"]} and obs.data == {"n": 1, "l": ["x", "y"]}
    assert rt_a.stored("reporter")[chat.url]["data"] == {"n": 1, "l": ["x", "y"]}
    await rt_a.restart()
    assert alice.syncher.reporters[chat.url].data == {"n": 1, "l": ["x", "y"]}


async def test_a_resumed_observer_decodes_when_read(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    await rt_a.crash()                                    # no resync answer replaces the stored document
    await rt_b.restart()
    again = bob.syncher.observers[chat.url]
    assert type(again._data) is Encoded
    assert (again.data, again.version) == ({"n": 1, "l": ["x"]}, 0)
    assert type(again._data) is dict


async def test_a_local_read_of_a_resumed_reporter_gives_its_data(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    await rt_a.restart()
    answer = await alice.syncher.sandbox.call({"type": "read", "from": alice.url, "to": rt_a.url + "/sm",
                                               "body": {"resource": chat.url}})
    assert answer["value"]["data"] == {"n": 1, "l": ["x"]}


async def test_the_resume_answer_is_traced_with_its_documents(lab: Lab) -> None:
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    answer = await traced_resume_answer(lab, rt_a, alice.url, "announce")
    [value] = answer.message["body"]["value"]                 # type: ignore[index]
    assert type(value["data"]) is Encoded
    row = event_of(log_row(answer))                           # as the console's message log keeps it
    assert row.message["body"]["value"][0]["data"] == {"n": 1, "l": ["x"]}     # type: ignore[index]
    assert orjson.loads(orjson.dumps(row.message))["body"]["value"][0]["version"] == 0


async def test_the_observers_resume_answer_is_traced_whole(lab: Lab) -> None:
    """Untraced, a resume answer's values are taken apart in place by the Syncher; traced, they are not
    (the message log keeps the answer as it was sent)."""
    rt_a, rt_b, alice, bob, chat, obs = await world(lab)
    answer = await traced_resume_answer(lab, rt_b, bob.url, "value")
    [value] = answer.message["body"]["value"]                 # type: ignore[index]
    assert (value["url"], value["version"], type(value["data"])) == (chat.url, 0, Encoded)
    assert bob.syncher.observers[chat.url].metadata is not value


def test_a_monitor_mark_tells_whether_anything_could_be_traced_since() -> None:
    monitor = Monitor()
    mark = monitor.mark()
    assert monitor.untraced_since(mark)
    stop = monitor.subscribe(lambda event: None)
    assert monitor.mark() is None and not monitor.untraced_since(mark)
    stop()
    assert not monitor.untraced_since(mark)         # somebody listened in between
    assert monitor.untraced_since(monitor.mark())
