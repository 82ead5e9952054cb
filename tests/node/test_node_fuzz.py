"""Hypothesis fuzzing of malformed frames and envelopes sent to a `MessageNode` (sans-I/O):
every request that says who sent it gets one 4xx with a description, the rest are dropped with a
`drop` event, nothing raises, and no routing state changes (subscriptions, ownership, fences,
tokens, bindings, registrations, sessions)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.monitor import Monitor, TraceEvent
from core.node.node import MessageNode
from core.node.session import Session
from core.protocol import address as addr
from core.protocol.message import LINK_TYPES, TYPES
from tests.node.helpers import Wire

D = "a.example"
OWNER = addr.runtime_url(D, "owner")
FUZZER = addr.runtime_url(D, "fuzzer")
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class World:
    """A node with an owner session holding a hyperty, an object and its subscriptions, a
    registration and a fenced token; and an open fuzzing session with its own hyperty."""

    def __init__(self) -> None:
        self.drops: list[TraceEvent] = []
        monitor = Monitor()
        monitor.subscribe(lambda e: self.drops.append(e) if e.kind == "drop" else None)
        self.node = MessageNode(D, monitor)
        self.owner = self._open(OWNER)
        self.hyperty = self.ask(self.owner, "create", OWNER + "/address-allocation", addr.hyperty_allocation(D),
                                {"value": {"number": 1}})["value"]["allocated"][0]
        self.obj = self.ask(self.owner, "create", OWNER + "/address-allocation", addr.object_allocation(D),
                            {"scheme": "comm", "value": {"number": 1}})["value"]["allocated"][0]
        self.ask(self.owner, "subscribe", OWNER + "/sm", addr.mn_sm(D),
                 {"resources": [self.obj, addr.subscription(self.obj), addr.changes(self.obj)]})
        self.ask(self.owner, "create", OWNER + "/registry", addr.registry(D), {"value": {"url": self.obj}})
        self.ask(self.owner, "read", OWNER + "/sm", addr.object_allocation(D),
                 {"resource": self.obj, "delegationToken": "t1"})
        self.fuzzer = self._open(FUZZER)
        self.mine = self.ask(self.fuzzer, "create", FUZZER + "/address-allocation", addr.hyperty_allocation(D),
                             {"value": {"number": 1}})["value"]["allocated"][0]
        self.fresh = self.node.connect(Wire())   # a link that has not opened yet
        self.before = self.state()

    def _open(self, runtime: str) -> Session:
        session = self.node.connect(Wire())
        assert self.ask(session, "open", runtime, addr.SESSION, {})["code"] == 200
        return session

    def ask(self, session: Session, mtype: str, frm: str, to: str, body: dict[str, Any]) -> dict[str, Any]:
        wire = session.transport
        assert isinstance(wire, Wire)
        self.node.receive(session, orjson.dumps({"id": 1, "type": mtype, "from": frm, "to": to, "body": body}))
        answer = wire.sent.pop()
        return dict(answer["body"])

    def state(self) -> tuple[Any, ...]:
        n = self.node
        return (n.subscriptions.table(), dict(n.allocator.owner), set(n.allocator.fenced), dict(n.tokens),
                dict(n.bound), {k: dict(v) for k, v in n.registry.objects.items()},
                {k: s.id for k, s in n.sessions.items()})

    def send(self, session: Session, frame: bytes | str) -> list[dict[str, Any]]:
        wire = session.transport
        assert isinstance(wire, Wire)
        wire.sent.clear()
        self.node.receive(session, frame)
        assert wire.closed is None
        return list(wire.sent)


def assert_refused(answers: list[dict[str, Any]], request: dict[str, Any]) -> None:
    assert len(answers) == 1, answers
    reply = answers[0]
    assert reply["type"] == "response" and reply["id"] == request["id"] and reply["to"] == request["from"]
    code, description = reply["body"]["code"], reply["body"].get("description")
    assert 400 <= code < 500 and isinstance(description, str) and description, reply


# frames that are not envelopes -----------------------------------------------------------------------

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                           max_leaves=8)


@SETTINGS
@given(st.one_of(
    st.binary(max_size=64).filter(lambda b: not _is_json(b)),
    json_values.filter(lambda v: not isinstance(v, dict)).map(json.dumps),
))
def test_frames_that_are_not_json_objects_are_dropped(frame: bytes) -> None:
    w = World()
    assert w.send(w.fuzzer, frame) == []
    assert w.drops and w.drops[-1].detail["reason"] in ("message is not JSON", "message is not a JSON object")
    assert w.state() == w.before


def _is_json(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


# envelopes with a bad or missing field (PROTOCOL §2.1, §6 "missing <field>") --------------------------

bad_ids = st.one_of(st.just(0), st.integers(max_value=-1), st.integers(min_value=2**53 + 1), st.booleans(),
                    st.floats(), st.lists(st.integers(), max_size=2), st.just(""), st.none(),
                    st.text(min_size=41, max_size=60))
bad_types = st.one_of(st.text().filter(lambda t: t not in TYPES and t not in LINK_TYPES), st.integers(),
                      st.none(), st.lists(st.text(), max_size=1))
bad_addresses = st.one_of(st.just(""), st.none(), st.integers(), st.lists(st.text(), max_size=1),
                          st.dictionaries(st.text(), st.text(), max_size=1))
bad_bodies = st.one_of(st.integers(), st.text(), st.lists(st.integers(), max_size=2), st.booleans())


@st.composite
def broken_envelopes(draw: st.DrawFn) -> dict[str, Any]:
    msg: dict[str, Any] = {"id": 7, "type": "execute", "from": "<mine>", "to": "<owner's hyperty>", "body": {}}
    field = draw(st.sampled_from(["id", "type", "from", "to", "body"]))
    if draw(st.booleans()) and field != "body":
        del msg[field]
    else:
        msg[field] = draw({"id": bad_ids, "type": bad_types, "from": bad_addresses, "to": bad_addresses,
                           "body": bad_bodies}[field])
    return msg


@SETTINGS
@given(broken_envelopes())
def test_broken_envelopes_get_400_when_answerable_else_are_dropped(template: dict[str, Any]) -> None:
    w = World()
    msg = {k: (w.mine if v == "<mine>" else w.hyperty if v == "<owner's hyperty>" else v) for k, v in template.items()}
    frame = json.dumps(msg)      # the stdlib writes what orjson will not (huge ints, NaN): a peer might too
    answers = w.send(w.fuzzer, frame)
    try:
        msg = orjson.loads(frame)  # as the node reads it (integers past 64 bits become floats)
    except orjson.JSONDecodeError:
        msg = {}
    sender, ident = msg.get("from"), msg.get("id")
    answerable = (isinstance(sender, str) and sender != "" and isinstance(ident, (int, str))
                  and not isinstance(ident, bool) and msg.get("type") != "response")
    if answerable:
        assert_refused(answers, msg)
        assert answers[0]["body"]["code"] == 400
    else:
        assert answers == []
    assert w.drops, "every refused frame is a drop event"
    assert w.state() == w.before


# well-formed envelopes a node must refuse (bodies, rights, link control) -------------------------------

@st.composite
def refused_requests(draw: st.DrawFn) -> tuple[str, str, str, dict[str, Any]]:
    """(type, from, to, body) with placeholders `<mine>` (the fuzzer's hyperty), `<obj>` (the
    owner's object), `<theirs>` (the owner's hyperty), `<rt>` (the fuzzer's runtime URL)."""
    kind = draw(st.sampled_from(["sm", "oam", "ham", "registry", "session", "link", "spoof", "mn"]))
    junk = st.one_of(st.integers(), st.booleans(), st.none(), st.text(max_size=3).map(lambda t: {"x": t}))
    if kind == "sm":
        mtype = draw(st.sampled_from(["subscribe", "unsubscribe"]))
        body = draw(st.one_of(
            st.just({}),
            st.builds(lambda v: {"resources": v}, st.one_of(junk, st.just([]), st.lists(junk, min_size=1, max_size=2),
                                                            st.just([""]))),
            st.just({"resources": ["a://a.example/x"], mtype: ["a://a.example/x"]}),
            st.builds(lambda v: {"resource": v}, st.one_of(st.integers(), st.none(), st.lists(st.text(), max_size=1))),
        ))
        if mtype == "subscribe" and draw(st.booleans()):
            body = {"resources": [draw(st.sampled_from(["<obj>", "<obj>/subscription"]))]}   # not the owner
        return mtype, "<rt>/sm", addr.mn_sm(D), body
    if kind == "oam":
        mtype = draw(st.sampled_from(["create", "delete", "read", "update"]))
        if mtype == "create":
            body = draw(st.one_of(
                st.builds(lambda s: {"scheme": s, "value": {"number": 1}},
                          st.one_of(junk, st.just(""), st.just("a/b"), st.just("a:b"))),
                st.builds(lambda n: {"scheme": "comm", "value": {"number": n}},
                          st.one_of(st.integers(max_value=0), st.integers(min_value=1001), st.booleans(),
                                    st.text(max_size=2), st.floats(allow_nan=False, allow_infinity=False))),
            ))
        elif mtype == "update":
            body = draw(st.one_of(st.just({"resource": "<obj>", "value": {"runtime": "<rt>"}, "delegationToken": "x"}),
                                  st.just({"resource": "<obj>"}),
                                  st.builds(lambda r: {"resource": r}, junk)))
        elif mtype == "delete":
            body = draw(st.one_of(st.just({"resource": "<obj>"}), st.just({"resource": "<theirs>"}),
                                  st.builds(lambda r: {"resource": r}, junk), st.just({})))
        else:
            body = draw(st.one_of(st.builds(lambda r: {"resource": r}, st.one_of(junk, st.just(""))), st.just({}),
                                  st.just({"resource": "comm://a.example/unknown"})))
        return mtype, "<rt>/address-allocation", addr.object_allocation(D), body
    if kind == "ham":
        mtype = draw(st.sampled_from(["create", "delete"]))
        if mtype == "create":
            body = {"value": {"number": draw(st.one_of(st.integers(max_value=0), st.integers(min_value=1001),
                                                       st.booleans(), st.text(max_size=2)))}}
        else:
            body = draw(st.one_of(st.just({"resource": "<theirs>"}), st.builds(lambda r: {"resource": r}, junk)))
        return mtype, "<rt>/address-allocation", addr.hyperty_allocation(D), body
    if kind == "registry":
        mtype = draw(st.sampled_from(["create", "update", "delete"]))
        body = draw(st.one_of(st.just({}), st.builds(lambda v: {"value": v}, junk),
                              st.just({"value": {"url": "<obj>"}}), st.just({"resource": "<obj>"}),
                              st.just({"value": {"url": "comm://a.example/never"}})))
        if mtype == "update" and body.get("value", {}) == {"url": "comm://a.example/never"}:
            body = {"value": {"url": "<obj>"}}
        return mtype, "<rt>/registry", addr.registry(D), body
    if kind == "session":
        mtype = draw(st.sampled_from([*sorted(TYPES - {"response"}), "event", "open"]))
        return mtype, "<rt>", addr.SESSION, {}
    if kind == "link":
        return draw(st.sampled_from(["open", "close", "event"])), "<mine>", "<theirs>", {}
    if kind == "spoof":
        frm = draw(st.sampled_from(["<theirs>", "<obj>", addr.runtime_url(D, "owner") + "/sm", "<obj>/changes"]))
        mtype = draw(st.sampled_from(["execute", "read", "create", "forward"]))
        return mtype, frm, "<theirs>", {}
    return draw(st.sampled_from(["create", "read"])), "<rt>", draw(st.sampled_from(["mn:/other", addr.MONITOR])), {}


def _fill(value: Any, w: World) -> Any:
    names = {"<mine>": w.mine, "<obj>": w.obj, "<theirs>": w.hyperty, "<rt>": FUZZER}
    if isinstance(value, str):
        for name, real in names.items():
            value = value.replace(name, real)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, w) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, w) for v in value]
    return value


@SETTINGS
@given(refused_requests(), st.booleans())
def test_requests_a_node_must_refuse_get_one_4xx_and_change_nothing(request: tuple[str, str, str, dict[str, Any]],
                                                                    before_open: bool) -> None:
    w = World()
    mtype, frm, to, body = _fill(request, w)
    msg = {"id": 11, "type": mtype, "from": frm, "to": to, "body": body}
    session = w.fresh if before_open and mtype != "open" else w.fuzzer
    answers = w.send(session, json.dumps(msg))
    if to == addr.MONITOR and session is w.fuzzer and mtype == "open":
        assert [a["body"]["code"] for a in answers] == [400]   # already open as a runtime session
    else:
        assert_refused(answers, msg)
    if session is w.fresh:
        assert answers[0]["body"]["description"] in ("session not open",
                                                     "mn:/monitor takes open and close from monitors only")
    assert w.state() == w.before
