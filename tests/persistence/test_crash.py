"""Crash safety (issue 4): a runtime in a child process, talking to a real WebSocket node, is killed
with SIGKILL in the middle of a stream of updates; every acknowledged update is in its storage file,
the file passes PRAGMA integrity_check, and the runtime comes back at that version and goes on."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from core.net.websocket import NodeServer
from core.node.node import MessageNode
from core.runtime.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = "hyperty-runtime://a.example/crashy"


async def harness(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.persistence.crash_harness", *args,
                                                cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                env={**os.environ, "PYTHONPATH": str(ROOT)})


async def line(proc: asyncio.subprocess.Process) -> list[str]:
    assert proc.stdout is not None
    raw = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert raw, "the harness ended early"
    return raw.decode().split()


async def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path: Path) -> None:
    node = MessageNode("a.example")
    server = NodeServer(node)
    await server.start()
    storage = tmp_path / "crashy.sqlite3"
    try:
        writer = await harness("write", "--node", server.url, "--runtime", RUNTIME, "--storage", str(storage))
        _, hyperty, obj, token = await line(writer)
        acked = 0
        while acked < 400:
            kind, version = await line(writer)
            assert kind == "ack"
            acked = int(version)
        writer.send_signal(signal.SIGKILL)        # mid-stream: it is still writing
        await writer.wait()
        assert writer.returncode == -signal.SIGKILL

        with Storage(storage) as store:
            assert store.integrity_check() == ["ok"]
            record = store.reporters()[obj]
        assert record["version"] >= acked              # every acknowledged update is there
        assert record["data"]["n"] == record["version"] - len(record["data"]["log"])
        assert node.allocator.owner[obj] == RUNTIME    # the node kept the ownership

        resumed = await harness("resume", "--node", server.url, "--runtime", RUNTIME, "--storage", str(storage),
                                "--token", token, "--hyperty", hyperty)
        kind, url, version, n, logged = await line(resumed)
        assert (kind, url, int(version)) == ("resumed", obj, record["version"])
        assert (int(n), int(logged)) == (record["data"]["n"], len(record["data"]["log"]))
        kind, nxt = await line(resumed)
        assert (kind, int(nxt)) == ("next", record["version"] + 1)    # versions continue, none reused
        assert await asyncio.wait_for(resumed.wait(), 30) == 0
    finally:
        await server.close()
