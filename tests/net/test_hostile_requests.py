"""A hostile peer against a real `syncscope node` process (issue 12, protocol half): each test plays
one row of the issue's table over a raw WebSocket client while an honest reporter and observer
(`syncscope runtime` processes, the chat scenario) sync alongside, and checks the exact answers,
that the hostile session stays open, that nothing refused was stored, and that the honest pair
converged. The bounds are those of docs/LIMITS.md."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from core.protocol import address as addr
from tests.net.test_cli import SCENARIOS, WAIT, Process, processes, start_node, summary, syncscope

__all__ = ["processes"]   # the fixture, shared with test_cli

D = "a.example"
OAM = addr.object_allocation(D)
REGISTRY = addr.registry(D)
#: A runtime's frame limit (4 × the 1 MiB message limit): every answer must fit in it.
RUNTIME_FRAME = 4 << 20


class Peer:
    """A raw client speaking envelopes by hand, as a hostile runtime would."""

    def __init__(self, conn: ClientConnection, runtime: str) -> None:
        self.conn, self.runtime, self.ids = conn, runtime, 0

    async def send(self, mtype: str, frm: str, to: str, body: dict[str, Any] | None = None) -> int:
        self.ids += 1
        await self.conn.send(orjson.dumps({"id": self.ids, "type": mtype, "from": frm, "to": to,
                                           "body": body or {}}).decode())
        return self.ids

    async def recv(self) -> dict[str, Any]:
        msg = orjson.loads(await asyncio.wait_for(self.conn.recv(), WAIT))
        assert isinstance(msg, dict)
        return msg

    async def ask(self, mtype: str, frm: str, to: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a request and return the body of its answer (nothing else may come in between)."""
        ident = await self.send(mtype, frm, to, body)
        answer = await self.recv()
        assert answer["type"] == "response" and answer["id"] == ident, answer
        return dict(answer["body"])

    async def raw(self, text: str) -> None:
        await self.conn.send(text)

    async def allocate(self, number: int, scheme: str = "comm") -> list[str]:
        answer = await self.ask("create", self.runtime + "/address-allocation", OAM,
                                {"scheme": scheme, "value": {"number": number}})
        assert answer["code"] == 200, answer
        return list(answer["value"]["allocated"])

    async def alive(self) -> None:
        """The session is still open and answering."""
        answer = await self.ask("read", self.runtime + "/sm", REGISTRY, {"resource": "comm://a.example/none"})
        assert answer == {"code": 404, "description": "not registered"}


async def peer(url: str, name: str, **options: Any) -> Peer:
    conn = await connect(url, proxy=None, compression=None, max_size=RUNTIME_FRAME, close_timeout=0.2, **options)
    p = Peer(conn, addr.runtime_url(D, name))
    answer = await p.ask("open", p.runtime, addr.SESSION)
    assert answer["code"] == 200, answer
    return p


class Honest:
    """The chat reporter and observer of `resources/scenarios`, both in a.example."""

    def __init__(self, reporter: Process, observer: Process) -> None:
        self.reporter, self.observer = reporter, observer

    async def converged(self) -> None:
        (rc_r, out_r, err_r), (rc_o, out_o, err_o) = await asyncio.gather(self.reporter.finish(),
                                                                          self.observer.finish())
        assert (rc_r, rc_o) == (0, 0), (err_r, err_o, out_r, out_o)
        r, o = summary(out_r), summary(out_o)
        assert r["ok"] and o["ok"]
        assert o["objects"]["chat"]["url"] == r["objects"]["chat"]["url"]
        assert o["objects"]["chat"]["version"] == r["objects"]["chat"]["version"] == 202
        assert o["objects"]["chat"]["digest"] == r["objects"]["chat"]["digest"]


async def honest(processes: list[Process], url: str) -> Honest:
    reporter = await syncscope("runtime", "--node", url, "--domain", D, "--id", "honest-reporter",
                               "--script", str(SCENARIOS / "chat-reporter.json"))
    observer = await syncscope("runtime", "--node", url, "--domain", D, "--id", "honest-observer",
                               "--script", str(SCENARIOS / "chat-observer.json"))
    processes += [reporter, observer]
    return Honest(reporter, observer)


@pytest.fixture
async def peers() -> AsyncIterator[list[Peer]]:
    opened: list[Peer] = []
    yield opened
    for p in opened:
        await p.conn.close()


def nested(depth: int) -> str:
    """A JSON value `depth` arrays deep."""
    return "[" * depth + "]" * depth


async def test_a_registry_entry_nested_300_deep_is_refused_and_find_keeps_working(
        processes: list[Process], peers: list[Peer]) -> None:
    node, url = await start_node(processes, D, "--quiet")
    pair = await honest(processes, url)
    p = await peer(url, "hostile")
    peers.append(p)
    obj = (await p.allocate(1))[0]
    envelope = '{"id": 9, "type": "create", "from": "%s/registry", "to": "%s", "body": {"value": {"url": "%s", ' \
               '"name": "poison", "x": %s}}}'
    await p.raw(envelope % (p.runtime, REGISTRY, obj, nested(300)))
    answer = await p.recv()
    assert (answer["id"], answer["body"]) == (9, {"code": 400, "description": "too deeply nested"})
    await p.raw(envelope % (p.runtime, REGISTRY, obj, nested(2000)))       # past what the codec reads: dropped
    await p.alive()
    # As deep as an envelope may be (200): stored, and every read still encodes.
    assert (await p.ask("create", p.runtime + "/registry", REGISTRY,
                        {"value": {"url": obj, "name": "deep", "x": orjson.loads(nested(196))}})) == {"code": 200}
    page = await p.ask("read", p.runtime + "/registry", REGISTRY)
    assert page["code"] == 200 and [e["name"] for e in page["value"]].count("deep") == 1
    await pair.converged()                                                  # its `find` read the registry


async def test_registrations_of_another_domain_are_refused_and_reads_come_in_pages(
        processes: list[Process], peers: list[Peer]) -> None:
    node, url = await start_node(processes, D, "--quiet")
    pair = await honest(processes, url)
    p = await peer(url, "hostile")
    peers.append(p)
    pad = "x" * 800
    for batch in range(5):                                                # 5 × 1,000 foreign, 900 B each
        values = [{"url": f"comm://b.example/{batch}-{i}", "name": "spam", "pad": pad} for i in range(1000)]
        assert await p.ask("create", p.runtime + "/registry", REGISTRY, {"value": values}) == {
            "code": 403, "description": "the registry of a.example takes only its own domain's objects"}
    mine: list[str] = []
    for _ in range(5):                                                    # 5 × 1,000 of its own objects
        objs = await p.allocate(1000)
        mine += objs
        values = [{"url": o, "name": "spam", "pad": pad} for o in objs]
        assert await p.ask("create", p.runtime + "/registry", REGISTRY, {"value": values}) == {"code": 200}
    await pair.converged()                                                # `find` by name, past the spam
    seen: list[str] = []
    body: dict[str, Any] = {}
    pages = 0
    while True:                                                           # ≤ 5,001 entries: bounded
        ident = await p.send("read", p.runtime + "/registry", REGISTRY, body)
        frame = await asyncio.wait_for(p.conn.recv(), WAIT)
        assert len(frame) <= (1 << 20)                                    # fits any frame limit
        answer = orjson.loads(frame)
        assert answer["id"] == ident and answer["body"]["code"] == 200
        pages += 1
        seen += [e["url"] for e in answer["body"]["value"]]
        if "next" not in answer["body"]:
            break
        body = {"after": answer["body"]["next"]}
    spam = [u for u in seen if u in set(mine)]
    assert sorted(spam) == sorted(mine) and len(seen) == len(set(seen)) and pages >= 17
    named = await p.ask("read", p.runtime + "/registry", REGISTRY, {"name": "network chat"})
    assert named["code"] == 200 and [e["name"] for e in named["value"]] in ([], ["network chat"])
    assert "next" not in named


async def test_an_allocation_with_a_1_mib_scheme_is_refused(processes: list[Process], peers: list[Peer],
                                                             tmp_path: Path) -> None:
    state = tmp_path / "a.sqlite"
    node, url = await start_node(processes, D, "--quiet", "--state", str(state))
    pair = await honest(processes, url)
    p = await peer(url, "hostile")
    peers.append(p)
    scheme = "s" * ((1 << 20) - 300)                                     # the whole message stays under 1 MiB
    assert await p.ask("create", p.runtime + "/address-allocation", OAM,
                       {"scheme": scheme, "value": {"number": 1000}}) == {
        "code": 400, "description": "scheme longer than 64 bytes"}
    for bad, problem in (("a/b", "bad scheme"), ("1x", "bad scheme"), ("", "missing scheme")):
        assert await p.ask("create", p.runtime + "/address-allocation", OAM,
                           {"scheme": bad, "value": {"number": 1}}) == {"code": 400, "description": problem}
    assert len(await p.allocate(1, "s" * 64)) == 1
    await pair.converged()
    node.proc.send_signal(signal.SIGTERM)
    assert (await node.finish())[0] == 0
    db = sqlite3.connect(state)
    assert db.execute("SELECT count(*) FROM owners WHERE length(address) > 200").fetchone() == (0,)
    db.close()


async def test_reserved_schemes_are_refused_for_objects(processes: list[Process], peers: list[Peer]) -> None:
    node, url = await start_node(processes, D, "--quiet")
    pair = await honest(processes, url)
    p = await peer(url, "hostile")
    peers.append(p)
    for scheme in ("hyperty", "hyperty-runtime", "runtime", "domain", "user", "HYPERTY"):
        assert await p.ask("create", p.runtime + "/address-allocation", OAM,
                           {"scheme": scheme, "value": {"number": 1}}) == {
            "code": 400, "description": f"reserved scheme {scheme.lower()!r}"}
    assert (await p.allocate(1, "comm"))[0].startswith("comm://a.example/")
    await pair.converged()


async def test_transfers_need_the_target_s_acceptance_and_stay_within_its_quota(
        processes: list[Process], peers: list[Peer]) -> None:
    node, url = await start_node(processes, D, "--quiet", "--max-owned", "3000")
    pair = await honest(processes, url)
    hostile, victim = await peer(url, "hostile"), await peer(url, "victim")
    peers += [hostile, victim]
    objs = await hostile.allocate(1000) + await hostile.allocate(1000)
    for obj in objs:                                                      # pipelined, then every answer
        await hostile.send("update", hostile.runtime + "/sm", OAM,
                           {"resource": obj, "value": {"runtime": victim.runtime}, "delegationToken": "t"})
    answers = [await hostile.recv() for _ in objs]
    assert {orjson.dumps(a["body"]) for a in answers} == {orjson.dumps(
        {"code": 403, "description": "the target runtime has not accepted this transfer"})}
    assert await hostile.ask("update", hostile.runtime + "/sm", OAM, {
        "resource": objs[0], "value": {"runtime": "hyperty://a.example/x"}, "delegationToken": "t"}) == {
        "code": 400, "description": "value.runtime is not a runtime URL"}
    assert await hostile.ask("read", hostile.runtime + "/sm", OAM, {"resource": objs[0]}) == {
        "code": 200, "value": {"runtime": hostile.runtime}}
    # The victim's quota is its own: it allocates all of it, and then accepts two transfers (§4 #4).
    owned = await victim.allocate(1000) + await victim.allocate(1000) + await victim.allocate(999)
    assert len(owned) == 2999
    assert await hostile.ask("subscribe", hostile.runtime + "/sm", addr.mn_sm(D),
                             {"resources": [objs[0], addr.subscription(objs[0]), objs[1],
                                            addr.subscription(objs[1])]}) == {"code": 200}
    for obj in objs[:2]:
        await victim.send("create", victim.runtime + "/sm", addr.subscription(obj),
                          {"resource": obj, "delegate": "hyperty://a.example/v", "delegationToken": "ok-" + obj[-4:],
                           "runtime": victim.runtime})
        accepted = await hostile.recv()                                   # reached the owner: accepted
        assert accepted["type"] == "create" and accepted["from"] == victim.runtime + "/sm"
    assert await hostile.ask("update", hostile.runtime + "/sm", OAM, {
        "resource": objs[0], "value": {"runtime": victim.runtime}, "delegationToken": "ok-" + objs[0][-4:]}) == {
        "code": 200}
    assert await hostile.ask("update", hostile.runtime + "/sm", OAM, {
        "resource": objs[1], "value": {"runtime": victim.runtime}, "delegationToken": "ok-" + objs[1][-4:]}) == {
        "code": 429, "description": "a runtime may own at most 3000 addresses"}
    assert await victim.ask("read", victim.runtime + "/sm", OAM, {"resource": objs[1]}) == {
        "code": 200, "value": {"runtime": hostile.runtime}}
    await pair.converged()


async def test_refused_requests_store_nothing(processes: list[Process], peers: list[Peer], tmp_path: Path) -> None:
    state = tmp_path / "a.sqlite"
    node, url = await start_node(processes, D, "--quiet", "--state", str(state))
    pair = await honest(processes, url)
    p = await peer(url, "hostile")
    peers.append(p)
    obj = (await p.allocate(1))[0]
    big = "t" * 900_000
    for _ in range(100):                                                  # refused reads with 900 KB tokens
        assert await p.ask("read", p.runtime + "/sm", OAM, {"resource": obj, "delegationToken": big}) == {
            "code": 400, "description": "token longer than 256 bytes"}
    for i in range(100):                                                  # owner queries of unknown objects
        assert await p.ask("read", p.runtime + "/sm", OAM, {
            "resource": f"comm://a.example/gone{i}", "delegationToken": f"fence{i}"}) == {
            "code": 404, "description": "unknown object"}
    visitor = await connect(url, proxy=None, close_timeout=0.2)
    far = Peer(visitor, addr.runtime_url("b.example", "far"))
    peers.append(far)
    assert (await far.ask("open", far.runtime, addr.SESSION))["code"] == 200
    for i in range(50):                                                   # a foreign hyperty, then refused
        assert await far.ask("execute", f"hyperty://b.example/h{i}", "hyperty://a.example/nobody",
                             {"source": p.runtime}) == {"code": 403, "description": "not owned by this session"}
        assert await far.ask("execute", f"hyperty://b.example/n{i}", "comm://b.example/elsewhere") == {
            "code": 404, "description": "no route"}
    assert await far.ask("create", far.runtime + "/registry", REGISTRY, {
        "value": {"url": "comm://b.example/x", "name": "foreign"}}) == {
        "code": 403, "description": "the registry of a.example takes only its own domain's objects"}
    assert await p.ask("create", p.runtime + "/registry", REGISTRY, {
        "value": {"url": obj, "name": "too big", "pad": "x" * 5000}}) == {
        "code": 413, "description": "registry entry larger than 4096 bytes"}
    huge = addr.runtime_url(D, "r" * 900_000)
    newcomer = await connect(url, proxy=None, close_timeout=0.2)
    late = Peer(newcomer, huge)
    peers.append(late)
    assert await late.ask("open", huge, addr.SESSION) == {"code": 400, "description": "address longer than 2048 bytes"}
    await p.alive()
    await pair.converged()
    node.proc.send_signal(signal.SIGTERM)
    assert (await node.finish())[0] == 0
    db = sqlite3.connect(state)
    assert db.execute("SELECT count(*) FROM fenced").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM bound").fetchone() == (0,)
    registered = orjson.loads(db.execute("SELECT value FROM registrations").fetchone()[0])
    assert db.execute("SELECT count(*) FROM registrations").fetchone() == (1,) and registered["name"] == "network chat"
    assert sorted(r[0] for r in db.execute("SELECT runtime FROM tokens")) == sorted(
        [p.runtime, far.runtime, addr.runtime_url(D, "honest-observer"), addr.runtime_url(D, "honest-reporter")])
    db.close()
    assert state.stat().st_size < (1 << 20)


async def test_a_message_nested_255_to_1024_deep_is_answered_400_and_the_session_stays_open(
        processes: list[Process], peers: list[Peer]) -> None:
    node, url = await start_node(processes, D, "--quiet", "--monitor-token", "watch")
    pair = await honest(processes, url)
    p = await peer(url, "hostile")
    peers.append(p)
    async with connect(url, proxy=None, max_queue=None, close_timeout=0.2) as monitor:
        await monitor.send(orjson.dumps({"id": 1, "type": "open", "from": "monitor://m", "to": addr.MONITOR,
                                         "body": {"token": "watch"}}).decode())
        assert orjson.loads(await monitor.recv())["body"]["code"] == 200
        for i, depth in enumerate((201, 255, 300, 1023)):
            await p.raw(f'{{"id": {100 + i}, "type": "update", "from": "{p.runtime}", '
                        f'"to": "comm://a.example/o/changes", "body": {{"value": {nested(depth - 2)}}}}}')
            answer = await p.recv()
            assert (answer["id"], answer["body"]) == (100 + i, {"code": 400, "description": "too deeply nested"})
        await p.alive()
        drops = 0
        while drops < 4:                                                  # each one traced, none lost
            event = orjson.loads(await asyncio.wait_for(monitor.recv(), WAIT))["body"]
            if event["kind"] == "drop":
                assert event["reason"] == "too deeply nested" and "lost" not in event
                drops += 1
    assert (await p.ask("read", p.runtime + "/sm", OAM, {"resource": "comm://a.example/x"}))["code"] == 404
    await pair.converged()


async def test_limit_options_out_of_range_exit_2() -> None:
    for args, problem in ((("--max-depth", "300"), "max_depth must be between 1 and 240"),
                          (("--registry-page", "600000"), "--registry-page plus --registry-entry must stay below "
                                                          "half of --max-message")):
        node = await syncscope("node", "--domain", D, "--port", "0", *args)
        rc, out, err = await node.finish()
        assert (rc, out, err.strip()) == (2, "", f"syncscope node: {problem}")
