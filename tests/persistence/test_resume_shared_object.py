"""Two hyperties of one runtime observing one stored object both resume it (PROTOCOL §3.8): the
first one's resume, and the record write its resync causes, must not drop the second from the record."""

from __future__ import annotations

from core.lab import Lab
from core.schemas import COMM_SCHEMA


async def test_both_local_observers_of_one_object_resume(lab: Lab) -> None:
    rt_a, rt_b = await lab.runtime("a.example"), await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob, dave = await rt_b.hyperty("bob"), await rt_b.hyperty("dave")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0}, observers=[bob.url, dave.url], store=True)
    await bob.syncher.subscribe(chat.url, COMM_SCHEMA, store=True)
    await dave.syncher.subscribe(chat.url, COMM_SCHEMA, store=True)
    await dave.syncher.create(COMM_SCHEMA, data={}, store=True)   # dave's resume also resumes a reporter:
    await lab.settle()                                            # bob's resync completes meanwhile
    await rt_b.restart()
    chat.data["n"] = 1
    await lab.settle()
    for who in (bob, dave):
        replica = who.syncher.observers[chat.url]
        assert (replica.data, replica.version, replica.status) == ({"n": 1}, 1, "live")
    record = rt_b.stored_record("observer", chat.url)
    assert record is not None and record["subscriptions"] == sorted([bob.url, dave.url])
    await rt_b.restart()                              # and again: the record still names both
    for who in (bob, dave):
        assert who.syncher.observers[chat.url].version == 1


async def test_both_local_observers_learn_of_a_delete_missed_while_down(lab: Lab) -> None:
    """The object was deleted while bob's runtime was cut off and it restarts before reconnecting:
    bob's resume finds out first and leaves; dave, resuming after him, must still be told."""
    rt_a, rt_b = await lab.runtime("a.example"), await lab.runtime("b.example")
    alice = await rt_a.hyperty("alice")
    bob, dave = await rt_b.hyperty("bob"), await rt_b.hyperty("dave")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0}, observers=[bob.url, dave.url], store=True)
    await bob.syncher.subscribe(chat.url, COMM_SCHEMA, store=True)
    await dave.syncher.subscribe(chat.url, COMM_SCHEMA, store=True)
    await dave.syncher.create(COMM_SCHEMA, data={}, store=True)   # dave resumes a reporter first: a round trip
    await lab.settle()
    lab.partition(rt_b)
    await chat.delete()
    await lab.settle()
    lab.heal(rt_b)
    notes: list[tuple[str, str, str]] = []
    await rt_b.restart(resume=False)
    for who in (bob, dave):
        who.syncher.on_notification(lambda e, who=who: notes.append((who.name, e.type, e.url)))
    for who in (bob, dave):
        await who.syncher.resume()
    await lab.settle()
    assert sorted(notes) == [("bob", "delete", chat.url), ("dave", "delete", chat.url)]
    assert chat.url not in bob.syncher.observers and chat.url not in dave.syncher.observers
    assert rt_b.stored_record("observer", chat.url) is None and chat.url not in rt_b.sm.observers
