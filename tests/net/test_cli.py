"""`syncscope node` and `syncscope runtime` as separate processes on 127.0.0.1: the chat scenario
files of `resources/scenarios` across two domains, a monitor on node A, `--state` across a node
restart, and a clean close on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect

from core.protocol import address as addr

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "resources" / "scenarios"
WAIT = 30.0


class Process:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def line(self) -> str:
        assert self.proc.stdout is not None
        return (await asyncio.wait_for(self.proc.stdout.readline(), WAIT)).decode().strip()

    async def finish(self) -> tuple[int, str, str]:
        out, err = await asyncio.wait_for(self.proc.communicate(), WAIT)
        assert self.proc.returncode is not None
        return self.proc.returncode, out.decode(), err.decode()


async def syncscope(*args: str) -> Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "console.main", *args, cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return Process(proc)


@pytest.fixture
async def processes() -> AsyncIterator[list[Process]]:
    started: list[Process] = []
    yield started
    for p in started:
        if p.proc.returncode is None:
            p.proc.kill()
            await p.proc.wait()


async def start_node(processes: list[Process], domain: str, *extra: str) -> tuple[Process, str]:
    node = await syncscope("node", "--domain", domain, "--port", "0", *extra)
    processes.append(node)
    listening = await node.line()
    assert listening.startswith("listening on ws://127.0.0.1:"), listening
    return node, listening.split()[-1]


def summary(out: str) -> dict[str, Any]:
    result = orjson.loads(out.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


async def test_chat_scenario_across_two_node_processes(processes: list[Process]) -> None:
    node_a, url_a = await start_node(processes, "a.example", "--monitor-token", "watch")
    node_b, url_b = await start_node(processes, "b.example")
    assert (await node_b.line()).startswith("monitor token: ")       # generated, printed once
    # max_queue=None: it reads its events only at the end, and must not stall its socket meanwhile.
    async with connect(url_a, proxy=None, max_queue=None) as monitor:
        await monitor.send(orjson.dumps({"id": 1, "type": "open", "from": "monitor://test", "to": addr.MONITOR,
                                         "body": {"token": "watch"}}).decode())
        assert orjson.loads(await monitor.recv())["body"]["code"] == 200
        reporter = await syncscope("runtime", "--node", url_a, "--domain", "a.example", "--visit",
                                   f"b.example={url_b}", "--script", str(SCENARIOS / "chat-reporter.json"))
        observer = await syncscope("runtime", "--node", url_b, "--domain", "b.example", "--visit",
                                   f"a.example={url_a}", "--script", str(SCENARIOS / "chat-observer.json"))
        processes += [reporter, observer]
        (rc_r, out_r, err_r), (rc_o, out_o, err_o) = await asyncio.gather(reporter.finish(), observer.finish())
        assert (rc_r, rc_o) == (0, 0), (err_r, err_o, out_r, out_o)
        r, o = summary(out_r), summary(out_o)
        assert r["ok"] and o["ok"] and r["edits_sent"] == 202
        assert o["objects"]["chat"]["role"] == "observer" and r["objects"]["chat"]["role"] == "reporter"
        assert o["objects"]["chat"]["url"] == r["objects"]["chat"]["url"]
        assert o["objects"]["chat"]["version"] == r["objects"]["chat"]["version"] == 202
        assert o["objects"]["chat"]["digest"] == r["objects"]["chat"]["digest"]
        kinds: set[str] = set()
        while "ownership" not in kinds or "subscription" not in kinds:
            kinds.add(orjson.loads(await asyncio.wait_for(monitor.recv(), WAIT))["body"]["kind"])
    for node in (node_a, node_b):
        node.proc.send_signal(signal.SIGTERM)
    (rc_a, _, err_a), (rc_b, _, _) = await asyncio.gather(node_a.finish(), node_b.finish())
    assert (rc_a, rc_b) == (0, 0)
    lines = err_a.splitlines()
    assert any(" open hyperty-runtime://a.example/" in line and "visiting=False" in line for line in lines)
    assert any(" open hyperty-runtime://b.example/" in line and "visiting=True" in line for line in lines)
    assert any(" monitor monitor://test" in line for line in lines)
    assert lines[-1].endswith("node domain://msg-node.a.example stopped")


async def test_sigterm_closes_sessions_1001_and_state_survives_a_restart(processes: list[Process],
                                                                         tmp_path: Path) -> None:
    state = tmp_path / "a.sqlite"
    node, url = await start_node(processes, "a.example", "--state", str(state), "--quiet")
    runtime = addr.runtime_url("a.example", "cli")
    async with connect(url, proxy=None) as conn:
        await conn.send(orjson.dumps({"id": 1, "type": "open", "from": runtime, "to": addr.SESSION}).decode())
        token = orjson.loads(await conn.recv())["body"]["value"]["token"]
        await conn.send(orjson.dumps({"id": 2, "type": "create", "from": runtime + "/address-allocation",
                                      "to": addr.object_allocation("a.example"),
                                      "body": {"scheme": "comm", "value": {"number": 1}}}).decode())
        obj = orjson.loads(await conn.recv())["body"]["value"]["allocated"][0]
        node.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(conn.wait_closed(), WAIT)
        assert (conn.close_code, conn.close_reason) == (1001, "node shutting down")
    rc, _, err = await node.finish()
    assert rc == 0 and err == ""                                       # --quiet: warnings only
    port = url.rsplit(":", 1)[1].rstrip("/")
    again, url2 = await start_node(processes, "a.example", "--state", str(state), "--port", port)
    async with connect(url2, proxy=None) as conn:
        await conn.send(orjson.dumps({"id": 1, "type": "open", "from": runtime, "to": addr.SESSION}).decode())
        refused = orjson.loads(await conn.recv())
        assert refused["body"] == {"code": 403, "description": "runtime URL already bound"}   # its token was kept
        await conn.send(orjson.dumps({"id": 2, "type": "open", "from": runtime, "to": addr.SESSION,
                                      "body": {"token": token}}).decode())
        assert orjson.loads(await conn.recv())["body"]["code"] == 200
        await conn.send(orjson.dumps({"id": 3, "type": "read", "from": runtime + "/sm",
                                      "to": addr.object_allocation("a.example"), "body": {"resource": obj}}).decode())
        owner = orjson.loads(await conn.recv())
        assert owner["body"] == {"code": 200, "value": {"runtime": runtime}}   # ownership kept
    again.proc.send_signal(signal.SIGINT)
    assert (await again.finish())[0] == 0


async def test_bad_arguments_exit_2(processes: list[Process], tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database" * 100)
    node = await syncscope("node", "--domain", "a.example", "--port", "0", "--state", str(bad))
    rc, out, err = await node.finish()
    assert rc == 2 and out == "" and str(bad) in err and "not a usable node state file" in err
    runtime = await syncscope("runtime", "--node", "ws://127.0.0.1:9/", "--domain", "a.example",
                              "--script", str(tmp_path / "missing.json"))
    rc, out, err = await runtime.finish()
    assert rc == 2 and "missing.json" in err
