"""The optional home-session secret (issue 12 item 8) on a real `syncscope node` process: home
sessions prove it at `open` (`syncscope runtime --home-secret-file`, a `Runtime(home_secret=…)`),
visiting sessions need nothing and still cannot allocate, and a node without one says so."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import orjson
from websockets.asyncio.client import connect

from core.protocol import address as addr
from tests.net.node_process import ROOT, WAIT, NodeProcess, Pair, frame, nodes

__all__ = ["nodes"]

A, B = "a.example", "b.example"
SECRET = "correct horse battery staple"


async def test_home_sessions_prove_the_secret_and_visitors_need_none(nodes: list[NodeProcess],
                                                                     tmp_path: Path) -> None:
    secret_file = tmp_path / "a.secret"
    secret_file.write_text(SECRET + "\n")
    node = await NodeProcess.start(A, "--home-secret-file", str(secret_file), "--monitor-token", "m")
    nodes.append(node)
    assert await node.line() == "home sessions: must present the domain secret (--home-secret-file)"
    async with connect(node.url, proxy=None) as peer:
        home = addr.runtime_url(A, "intruder")
        for ident, body in ((1, {}), (2, {"secret": "guess"}), (3, {"secret": 42})):
            await peer.send(frame({"id": ident, "type": "open", "from": home, "to": addr.SESSION, "body": body}))
            answer = orjson.loads(await peer.recv())
            assert (answer["id"], answer["body"]) == (ident, {"code": 403,
                                                              "description": "home sessions need the domain secret"})
        # Refused: the URL was not bound, so its rightful owner opens it with the secret (no token yet).
        await peer.send(frame({"id": 4, "type": "open", "from": home, "to": addr.SESSION,
                               "body": {"secret": SECRET}}))
        assert orjson.loads(await peer.recv())["body"]["code"] == 200
    async with connect(node.url, proxy=None) as visitor:
        guest = addr.runtime_url(B, "guest")
        await visitor.send(frame({"id": 1, "type": "open", "from": guest, "to": addr.SESSION}))
        opened = orjson.loads(await visitor.recv())["body"]
        assert opened["code"] == 200 and opened["value"]["visiting"] is True
        await visitor.send(frame({"id": 2, "type": "create", "from": guest + "/address-allocation",
                                  "to": addr.hyperty_allocation(A), "body": {"value": {"number": 1}}}))
        assert orjson.loads(await visitor.recv())["body"] == {
            "code": 403, "description": "visiting sessions may not allocate addresses"}
    async with connect(node.url, proxy=None) as monitor:        # the feed never shows the secret
        await monitor.send(frame({"id": 1, "type": "open", "from": "monitor://m", "to": addr.MONITOR,
                                  "body": {"token": "m", "replay": 100}}))
        replay = []
        while True:
            data = await asyncio.wait_for(monitor.recv(), WAIT)
            replay.append(data)
            if b'"action":"monitor"' in (data if isinstance(data, bytes) else data.encode()):
                break
        text = "".join(d if isinstance(d, str) else d.decode() for d in replay)
        assert "<redacted>" in text and SECRET not in text and "guess" not in text
    pair = await Pair(node.url, A, home_secret=SECRET).start()   # honest runtimes know the secret
    try:
        pair.edit(1)
        await pair.converged()
    finally:
        await pair.close()
    # `syncscope runtime --home-secret-file` opens, allocates and creates; without the file it is refused.
    scenario = tmp_path / "create.json"
    scenario.write_text(orjson.dumps({"hyperties": ["carol"], "steps": [
        {"do": "create", "hyperty": "carol", "schema": "Communication", "as": "c", "data": {"n": 1}}]}).decode())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    outcomes = []
    for extra in (["--home-secret-file", str(secret_file)], []):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "console.main", "runtime", "--node", node.url, "--domain", A, "--script",
            str(scenario), "--timeout", "20", *extra, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, _err = await asyncio.wait_for(proc.communicate(), WAIT)
        outcomes.append((proc.returncode, orjson.loads(out.decode().strip().splitlines()[-1])))
    (rc_ok, ok), (rc_refused, refused) = outcomes
    assert rc_ok == 0 and ok["ok"] and ok["objects"]["c"]["role"] == "reporter"
    assert rc_refused == 1 and not refused["ok"] and "403" in refused["error"]
    assert node.alive


async def test_without_a_secret_the_node_says_home_sessions_are_first_come(nodes: list[NodeProcess]) -> None:
    node = await NodeProcess.start(A, "--monitor-token", "m")
    nodes.append(node)
    assert (await node.line()).startswith(f"home sessions: first come (no --home-secret-file: any peer may open "
                                          f"as a runtime of {A}")
    pair = await Pair(node.url, A).start()
    await pair.close()
