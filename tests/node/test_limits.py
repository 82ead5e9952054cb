"""The node's bounds on what a peer sends (docs/LIMITS.md), sans I/O: exact answers, budgets in
bytes, registry pages, transfer acceptance and fences, and what a refused request leaves behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from core.node.frames import resources_of
from core.node.limits import Limits, addresses_error, deeper_than, frame_deeper_than, scheme_error, too_long
from core.node.node import MessageNode
from core.node.registry import Registry
from core.node.session import Session
from core.node.state import MemoryState, NodeState
from core.protocol import address as addr
from tests.node.helpers import Wire

D = "a.example"
RT = addr.runtime_url(D, "one")
OTHER = addr.runtime_url(D, "two")
OAM = addr.object_allocation(D)
REG = addr.registry(D)


def ask(node: MessageNode, s: Session, mtype: str, frm: str, to: str, body: dict[str, Any] | None = None) -> Any:
    wire = s.transport
    assert isinstance(wire, Wire)
    before = len(wire.sent)
    node.receive(s, orjson.dumps({"id": 1, "type": mtype, "from": frm, "to": to, "body": body or {}}))
    return wire.sent[-1]["body"] if len(wire.sent) > before else None


def opened(node: MessageNode, runtime: str) -> Session:
    s = node.connect(Wire())
    assert ask(node, s, "open", runtime, addr.SESSION)["code"] == 200
    return s


def allocate(node: MessageNode, s: Session, number: int = 1) -> list[str]:
    answer = ask(node, s, "create", s.runtime + "/address-allocation", OAM,
                 {"scheme": "comm", "value": {"number": number}})
    return list(answer["value"]["allocated"])


def update_nested(ident: int, arrays: int) -> str:
    """An update whose envelope nests `arrays` + 2 levels deep, as text."""
    value = "[" * arrays + "]" * arrays
    return f'{{"id": {ident}, "type": "update", "from": "{RT}", "to": "x://b/c", "body": {{"v": {value}}}}}'


def test_helpers_count_bytes_and_levels() -> None:
    assert not too_long("é" * 32, 64) and too_long("é" * 33, 64) and too_long("x" * 65, 64)
    assert not deeper_than({"a": [1, {"b": []}]}, 4) and deeper_than({"a": [1, {"b": []}]}, 3)
    assert scheme_error("comm", 64) is None and scheme_error("x" * 65, 64) == "scheme longer than 64 bytes"
    assert scheme_error("Runtime", 64) == "reserved scheme 'runtime'" and scheme_error(5, 64) == "missing scheme"
    with pytest.raises(ValueError, match="max_depth must be between 1 and 240"):
        Limits(max_depth=300)


def test_depth_of_frames_and_of_container_subclasses() -> None:
    for nest in (3, 4, 5):
        text = "[" * nest + "]" * nest
        for frame in (text, text.encode()):
            assert frame_deeper_than(frame, orjson.loads(text), 4) is (nest > 4)
    brackets = '{"a": "' + "{[" * 10 + '", "b": [1, [2]]}'            # brackets inside strings count too
    for frame in (brackets, brackets.encode()):
        assert not frame_deeper_than(frame, orjson.loads(brackets), 3)
        assert frame_deeper_than(frame, orjson.loads(brackets), 2)
    assert not frame_deeper_than('"[[[[[["', "[[[[[[", 2)               # a string is no container
    for limit in (1, 2, 10, 200, 240):                                     # past the brackets: orjson tells
        for nest in range(max(1, limit - 1), limit + 3):
            for inner in ("", "1", "{}", '{"k": []}'):
                text = "[" * nest + inner + "]" * nest
                value = orjson.loads(text)
                assert frame_deeper_than(text.encode() + b" {}" * limit, value, limit) is deeper_than(value, limit)
    assert not frame_deeper_than(b"{}", {}, 1) and not frame_deeper_than(b"5", 5, 1)

    class Mapping(dict[str, Any]):
        pass

    class Items(list[Any]):
        pass

    assert deeper_than({"a": Mapping(b=Items([[]]))}, 3) and not deeper_than({"a": Mapping(b=Items([[]]))}, 4)
    assert not deeper_than(Mapping(a="[[[["), 1) and deeper_than(Items([Mapping()]), 1)


def test_resource_lists_hold_only_non_empty_strings_and_ascii_ones_are_measured_whole() -> None:
    class Text(str):
        pass

    good = ["comm://a.example/o", Text("comm://a.example/p")]
    assert resources_of({"resources": good}, "subscribe") == (good, None)
    for bad in ([], ["x", ""], ["x", 5], [None], ["x", ["y"]], [b"x"], "x"):
        assert resources_of({"resources": bad}, "subscribe") == ([], "resources must be a non-empty list of addresses")
    limits = Limits(max_address=8)
    assert addresses_error(limits, ["a" * 8, "b"]) is None
    assert addresses_error(limits, ["a", "b" * 9]) == "address longer than 8 bytes"
    assert addresses_error(limits, ["é" * 4, "a"]) is None and addresses_error(limits, ["a", "é" * 5]) is not None


def test_depth_address_and_token_bounds_answer_400_and_keep_the_session() -> None:
    node = MessageNode(D, limits=Limits(max_depth=10, max_address=64, max_token=8))
    s = opened(node, RT)
    wire = s.transport
    assert isinstance(wire, Wire)
    node.receive(s, update_nested(7, 9))
    assert wire.sent[-1]["body"] == {"code": 400, "description": "too deeply nested"}
    node.receive(s, update_nested(8, 8))                               # depth 10: routed (nobody listens)
    assert wire.sent[-1]["id"] == 7
    long_to = "comm://b.example/" + "x" * 64
    assert ask(node, s, "read", RT, long_to) == {"code": 400, "description": "address longer than 64 bytes"}
    assert ask(node, s, "subscribe", RT + "/sm", addr.mn_sm(D), {"resources": [long_to]}) == {
        "code": 400, "description": "address longer than 64 bytes"}
    assert ask(node, s, "read", RT + "/sm", OAM, {"resource": "comm://a.example/x", "delegationToken": "123456789"}) \
        == {"code": 400, "description": "token longer than 8 bytes"}
    assert s.live and wire.closed is None


def test_registry_takes_only_the_owner_s_objects_of_this_domain_within_budgets() -> None:
    node = MessageNode(D, limits=Limits(registry_entry=200, registry_runtime_bytes=400, registry_bytes=500))
    s, other = opened(node, RT), opened(node, OTHER)
    a, b, c = allocate(node, s, 3)
    (d,) = allocate(node, other, 1)
    reg = RT + "/registry"
    assert ask(node, other, "create", OTHER + "/registry", REG, {"value": {"url": a}}) == {
        "code": 403, "description": "not the owner"}
    assert ask(node, s, "create", reg, REG, {"value": {"url": "hyperty://a.example/h"}}) == {
        "code": 403, "description": "the registry of a.example takes only its own domain's objects"}
    assert ask(node, s, "create", reg, REG, {"value": {"url": a, "pad": "x" * 200}}) == {
        "code": 413, "description": "registry entry larger than 200 bytes"}
    entry = {"name": "n", "pad": "x" * 100}
    assert ask(node, s, "create", reg, REG, {"value": [{"url": a, **entry}, {"url": b, **entry}]}) == {"code": 200}
    assert ask(node, s, "create", reg, REG, {"value": {"url": c, **entry}}) == {
        "code": 429, "description": "registry budget of this runtime (400 bytes) is spent"}
    assert ask(node, s, "update", reg, REG, {"value": {"url": a, "pad": "y" * 100}}) == {"code": 200}  # same size
    assert ask(node, other, "create", OTHER + "/registry", REG, {"value": {"url": d, **entry}}) == {
        "code": 429, "description": "registry budget of this domain (500 bytes) is spent"}
    assert ask(node, s, "delete", reg, REG, {"resource": b}) == {"code": 200}
    assert ask(node, other, "create", OTHER + "/registry", REG, {"value": {"url": d, **entry}}) == {"code": 200}
    ask(node, s, "delete", s.runtime + "/address-allocation", OAM, {"resource": a})   # deallocated: unregistered
    assert set(node.registry.objects) == {d} and node.registry.total == node.registry.runtime_bytes[OTHER]


def test_registry_reads_come_in_pages_filtered_by_name() -> None:
    node = MessageNode(D, limits=Limits(registry_page=1000))
    s = opened(node, RT)
    objs = allocate(node, s, 40)
    values = [{"url": o, "name": "even" if i % 2 == 0 else "odd", "pad": "x" * 60} for i, o in enumerate(objs)]
    assert ask(node, s, "create", RT + "/registry", REG, {"value": values}) == {"code": 200}
    closed = {"value": {"url": objs[0], "status": "closed"}}
    assert ask(node, s, "update", RT + "/registry", REG, closed) == {"code": 200}
    seen, body, pages = [], {"name": "even"}, 0
    while True:
        answer = ask(node, s, "read", RT + "/registry", REG, body)
        pages += 1
        assert answer["code"] == 200 and len(orjson.dumps(answer["value"])) <= 1000 + 100
        seen += [e["url"] for e in answer["value"]]
        if "next" not in answer:
            break
        body = {"name": "even", "after": answer["next"]}
    assert seen == sorted(objs[2::2]) and pages > 1                      # live ones only, in URL order
    assert ask(node, s, "read", RT + "/registry", REG, {"name": 5}) == {
        "code": 400, "description": "name, schema and after are strings"}


def test_a_renewal_keeps_one_entry_per_url_in_order_and_counts_only_the_new_bytes() -> None:
    # a resume re-registers every object at once: the entries are replaced where they stand
    node = MessageNode(D)
    s = opened(node, RT)
    objs = allocate(node, s, 5)
    assert ask(node, s, "create", RT + "/registry", REG, {"value": [{"url": o, "pad": "x"} for o in objs]}) == {
        "code": 200}
    renewed = [{"url": o, "pad": "y" * 10 * (i + 1), "status": "live"} for i, o in enumerate(reversed(objs))]
    assert ask(node, s, "create", RT + "/registry", REG, {"value": renewed}) == {"code": 200}
    registry = node.registry
    sizes = sum(len(orjson.dumps(v)) for v in renewed)
    assert registry.total == registry.runtime_bytes[RT] == sizes
    assert registry.objects == {v["url"]: v for v in renewed}
    assert [e["url"] for e in ask(node, s, "read", RT + "/registry", REG, {})["value"]] == sorted(objs)
    assert ask(node, s, "delete", RT + "/registry", REG, {"resource": objs[0]}) == {"code": 200}
    assert registry.total == registry.runtime_bytes[RT] == sizes - len(orjson.dumps(renewed[-1]))
    assert [e["url"] for e in ask(node, s, "read", RT + "/registry", REG, {})["value"]] == sorted(objs[1:])


def test_a_renewal_by_the_new_owner_moves_the_count_from_the_old_one() -> None:
    # an entry counted for the runtime that registered it, renewed in a batch by the one that owns it
    # now (a delegation commit moved the object): counted once, for the new owner
    owners: dict[str, str] = {}
    registry = Registry(D, Limits(), MemoryState(), owners.get)
    moved, kept = "comm://a.example/moved", "comm://a.example/kept"
    owners.update({moved: RT, kept: OTHER})
    registry.apply(moved, {"url": moved, "pad": "x" * 30})
    registry.apply(kept, {"url": kept})
    owners[moved] = OTHER
    renewed = [{"url": moved, "status": "live"}, {"url": kept, "status": "live"},
               {"url": "comm://a.example/new", "status": "live"}]
    owners[renewed[2]["url"]] = OTHER
    assert registry.request(OTHER, "create", {"value": renewed}) == (200, None, {})
    assert registry.runtime_bytes == {OTHER: sum(len(orjson.dumps(v)) for v in renewed)}
    assert registry.total == registry.runtime_bytes[OTHER]
    assert registry.objects == {v["url"]: v for v in renewed}


def test_an_unchanged_renewal_stores_nothing_and_a_changed_one_in_the_same_batch_is_replaced() -> None:
    owners: dict[str, str] = {}
    registry = Registry(D, Limits(), MemoryState(), owners.get)
    same, grown, theirs = "comm://a.example/same", "comm://a.example/grown", "comm://a.example/theirs"
    owners.update({same: RT, grown: RT, theirs: OTHER})
    first = [{"url": same, "status": "live", "childrens": ["c"]}, {"url": grown, "status": "live"}]
    assert registry.request(RT, "create", {"value": first}) == (200, None, {})
    registry.apply(theirs, {"url": theirs})          # counted for the runtime that owned it (then delegated)
    owners[theirs] = RT
    kept = registry.objects[same]
    renewed = [{"url": same, "status": "live", "childrens": ["c"]}, {"url": grown, "status": "live", "pad": "x"},
               {"url": theirs}]
    assert registry.request(RT, "create", {"value": renewed}) == (200, None, {})
    assert registry.objects[same] is kept                                 # not weighed nor copied again
    assert registry.objects == {v["url"]: v for v in renewed}
    assert registry.runtime_bytes == {RT: sum(len(orjson.dumps(v)) for v in renewed)}   # the same entry, moved
    assert registry.total == registry.runtime_bytes[RT]


def test_restore_drops_entries_that_break_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    node = MessageNode(D, state=NodeState(path))
    obj, deep = allocate(node, opened(node, RT), 2)
    node.close()
    state = NodeState(path)                                              # what an older node let in
    state.register("comm://b.example/foreign", {"url": "comm://b.example/foreign"})
    state.register("comm://a.example/unowned", {"url": "comm://a.example/unowned"})
    state.register(deep, {"url": deep, "x": orjson.loads("[" * 20 + "]" * 20)})
    state.register(obj, {"url": obj, "ok": 1})
    state.close()
    again = MessageNode(D, state=NodeState(path), limits=Limits(max_depth=10))
    assert again.registry.objects == {obj: {"url": obj, "ok": 1}}
    again.close()
    reread = NodeState(path)
    assert set(reread.load().registrations) == {obj}                     # and gone from the file
    reread.close()


def accept(node: MessageNode, owner: Session, candidate: Session, obj: str, token: str) -> None:
    """PROTOCOL §4 #4 through the node: the candidate's SM to O/subscription, routed to the owner."""
    ask(node, owner, "subscribe", owner.runtime + "/sm", addr.mn_sm(D), {"resources": [obj, addr.subscription(obj)]})
    assert ask(node, candidate, "create", candidate.runtime + "/sm", addr.subscription(obj), {
        "resource": obj, "delegate": "hyperty://a.example/h", "delegationToken": token,
        "runtime": candidate.runtime}) is None
    wire = owner.transport
    assert isinstance(wire, Wire) and wire.sent[-1]["type"] == "create"


def transfer(node: MessageNode, s: Session, obj: str, to: str, token: str) -> Any:
    return ask(node, s, "update", s.runtime + "/sm", OAM, {"resource": obj, "value": {"runtime": to},
                                                         "delegationToken": token})


def test_a_transfer_needs_the_target_s_acceptance_which_ends_with_its_link() -> None:
    node = MessageNode(D, limits=Limits(acceptances=2))
    s, other = opened(node, RT), opened(node, OTHER)
    a, b, c = allocate(node, s, 3)
    assert transfer(node, s, a, OTHER, "t") == {"code": 403, "description": "the target runtime has not accepted "
                                                                         "this transfer"}
    accept(node, s, other, a, "ta")
    assert transfer(node, s, a, OTHER, "wrong") == {"code": 403, "description": "the target runtime has not "
                                                                             "accepted this transfer"}
    accept(node, s, other, b, "tb")
    accept(node, s, other, c, "tc")                                     # a third: the oldest (a) is forgotten
    assert transfer(node, s, a, OTHER, "ta")["code"] == 403
    assert transfer(node, s, b, OTHER, "tb") == {"code": 200}
    assert transfer(node, s, b, OTHER, "tb") == {"code": 403, "description": "not the owner"}
    node.disconnect(other)
    assert transfer(node, s, c, OTHER, "tc")["code"] == 403 and node.allocator.accepted == {}


def test_only_the_owner_or_the_accepting_runtime_fences_and_only_on_200() -> None:
    node = MessageNode(D)
    s, other, third = opened(node, RT), opened(node, OTHER), opened(node, addr.runtime_url(D, "three"))
    a, b = allocate(node, s, 2)
    read = lambda who, obj, t: ask(node, who, "read", who.runtime + "/sm", OAM,  # noqa: E731
                                   {"resource": obj, "delegationToken": t})
    assert read(s, "comm://a.example/none", "t0")["code"] == 404
    assert read(third, a, "t1") == {"code": 200, "value": {"runtime": RT}}
    assert node.allocator.fenced == set()                                # nobody's transfer: nothing to fence
    accept(node, s, other, a, "t1")
    assert read(other, a, "t1")["code"] == 200                           # the acceptor's query fences
    assert transfer(node, s, a, OTHER, "t1") == {"code": 403, "description": "delegation token fenced by an "
                                                                         "owner query"}
    assert read(s, b, "t2")["code"] == 200 and node.allocator.fenced == {"t1", "t2"}


def test_a_refused_request_binds_no_foreign_hyperty() -> None:
    node = MessageNode(D)
    visitor = opened(node, addr.runtime_url("b.example", "far"))
    s = opened(node, RT)
    (h,) = [ask(node, s, "create", RT + "/address-allocation", addr.hyperty_allocation(D),
                {"value": {"number": 1}})["value"]["allocated"][0]]
    assert ask(node, visitor, "execute", "hyperty://b.example/x", h, {"source": RT}) == {
        "code": 403, "description": "not owned by this session"}
    assert ask(node, visitor, "execute", "hyperty://b.example/x", "comm://b.example/o") == {
        "code": 404, "description": "no route"}
    assert node.bound == {}
    assert ask(node, visitor, "execute", "hyperty://b.example/x", h) is None   # delivered: bound now
    assert node.bound == {"hyperty://b.example/x": visitor.runtime}


def test_schemes_found_good_are_remembered_within_a_bound_and_per_length_limit() -> None:
    from core.node.limits import _GOOD_SCHEMES, _GOOD_SCHEMES_KEPT
    assert scheme_error("chat", 16) is None and ("chat", 16) in _GOOD_SCHEMES
    assert scheme_error("chat", 3) == "scheme longer than 3 bytes"      # a good one is good per limit
    assert scheme_error("Hyperty", 16) == "reserved scheme 'hyperty'" and scheme_error("a b", 16) == "bad scheme"
    for i in range(2 * _GOOD_SCHEMES_KEPT):                               # peers name as many as they like
        assert scheme_error(f"s{i}", 16) is None
    assert len(_GOOD_SCHEMES) <= _GOOD_SCHEMES_KEPT
