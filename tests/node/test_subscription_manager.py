"""The node's Subscription Manager keeps each address's sessions in the order they subscribed and says
when an address gains its first and loses its last."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.node.session import Session
from core.node.subscription_manager import SUBSCRIPTION_WEIGHT, SubscriptionManager
from core.protocol.address import children_prefix

OBJ = "comm://a.example/o"


class Quiet:
    """A link end nothing is sent over in these tests."""

    def send(self, data: bytes) -> None:
        raise AssertionError("nothing is sent")

    def close(self, code: int, reason: str) -> None:
        raise AssertionError("nothing is closed")


def sessions(*names: str) -> list[Session]:
    made = []
    for n, name in enumerate(names, 1):
        s = Session(str(n), Quiet())
        s.runtime = f"hyperty-runtime://a.example/{name}"
        made.append(s)
    return made


def test_sessions_of_an_address_in_order_as_they_come_and_go() -> None:
    sm = SubscriptionManager()
    interest: list[tuple[str, bool]] = []
    sm.on_interest = lambda address, on: interest.append((address, on))
    a, b, c = sessions("a", "b", "c")
    changes = OBJ + "/changes"
    assert sm.add(a, [changes, changes]) == [changes] and sm.exact(changes) == [a]
    assert sm.add(b, [changes]) == [changes] and sm.exact(changes) == [a, b]
    sm.add(c, [changes])
    assert sm.remove(a, [changes]) == [changes] and sm.exact(changes) == [b, c]
    sm.remove(b, [changes])
    assert sm.exact(changes) == [c] and sm.table() == {changes: [c.runtime]}
    sm.add(a, [changes])
    assert sm.subscribers(changes) == [c, a]
    sm.remove(c, [changes])
    sm.remove(a, [changes, changes])
    assert (sm.exact(changes), sm.table(), interest) == ([], {}, [(changes, True), (changes, False)])
    assert (a.subscriptions, a.subscription_bytes) == (set(), 0)


def test_a_children_prefix_matches_each_named_channel_once() -> None:
    sm = SubscriptionManager()
    a, b = sessions("a", "b")
    sm.add(a, [OBJ + "/children/", OBJ + "/children/messages"])
    sm.add(b, [OBJ + "/children/messages"])
    assert sm.subscribers(OBJ + "/children/messages") == [a, b]
    assert sm.subscribers(OBJ + "/children/resources") == [a]
    assert sm.subscribers(OBJ + "/children/") == [a, b]    # reTHINK's unnamed publication reaches every holder
    assert b.subscription_bytes == len(OBJ + "/children/messages") + SUBSCRIPTION_WEIGHT


@settings(max_examples=300, deadline=None)
@example([OBJ + "/children/a", OBJ + "/childrenxyz", OBJ + "/children/b"])   # after a channel, not one of it
@given(st.lists(st.lists(st.sampled_from(["comm://a.example/o", "/children/", "/children", "children/", "/", "x",
                                          "/changes", "m"]), min_size=1, max_size=6).map("".join),
                max_size=10))
def test_an_unnamed_publication_reaches_each_holder_of_a_children_channel_added_in_a_batch(
        addresses: list[str]) -> None:
    # `add` counts a batch's channels per object by its prefix, not by a parse of each address: the
    # sessions heard on `O/children/` are those holding a channel of O, whatever the addresses look like
    sm = SubscriptionManager()
    a, b = sessions("a", "b")
    sm.add(a, addresses)
    sm.add(b, addresses[::2])
    for held in {children_prefix(x) for x in addresses} - {""}:
        channel_holders = [s for s in (a, b) if any(children_prefix(x) == held for x in s.subscriptions)]
        assert [s for s in sm.subscribers(held) if s not in sm.exact(held)] == [
            s for s in channel_holders if s not in sm.exact(held)]
    sm.remove(a, sorted(a.subscriptions))
    sm.remove(b, sorted(b.subscriptions))
    assert sm.table() == {} and sm._by_channel == {}
