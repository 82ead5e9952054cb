"""A real `syncscope node` process on 127.0.0.1 (port 0) and an honest reporter/observer pair syncing
through it, for the hostile-peer tests: the node's memory and log are read from outside, as an
operator would."""

from __future__ import annotations

import asyncio
import os
import resource
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from core.monitor import Monitor
from core.net.websocket import WebSocketConnector
from core.protocol import address as addr
from core.runtime.runtime import Runtime
from core.schemas import COMM_SCHEMA
from core.sync.observer import DataObjectObserver
from core.sync.reporter import DataObjectReporter
from tests.conftest import FAST
from tests.net.conftest import Watch

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0


class NodeProcess:
    """`syncscope node --domain <domain> --port 0 …`; stderr is collected while it runs."""

    def __init__(self, proc: asyncio.subprocess.Process, domain: str) -> None:
        self.proc = proc
        self.domain = domain
        self.url = ""
        self.stdout_lines: list[str] = []
        self.stderr = bytearray()
        self._err_task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, domain: str, *args: str, nofile: int | None = None) -> NodeProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        limit: Callable[[], None] | None = None
        if nofile is not None:
            def limit() -> None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "console.main", "node", "--domain", domain, "--port", "0", *args, cwd=ROOT,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, preexec_fn=limit)
        node = cls(proc, domain)
        node._err_task = asyncio.ensure_future(node._collect())
        listening = await node.line()
        assert listening.startswith("listening on ws://127.0.0.1:"), (listening, bytes(node.stderr))
        node.url = listening.split()[-1]
        return node

    async def line(self) -> str:
        assert self.proc.stdout is not None
        text = (await asyncio.wait_for(self.proc.stdout.readline(), WAIT)).decode().strip()
        self.stdout_lines.append(text)
        return text

    async def _collect(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(1 << 16):
            self.stderr += chunk

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) of the node process, in bytes."""
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
        return out

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), WAIT)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._err_task is not None:
            await asyncio.wait_for(self._err_task, WAIT)
        assert self.proc.returncode is not None
        return self.proc.returncode


class Pair:
    """An honest reporter (alice) and observer (bob) in two runtimes on the node, one object between them."""

    def __init__(self, url: str, domain: str, name: str = "honest", **runtime_options: Any) -> None:
        self.monitor = Monitor()
        self.watch = Watch(self.monitor)
        self.connector = WebSocketConnector({domain: url}, monitor=self.monitor)
        self.runtimes = [Runtime(addr.runtime_url(domain, f"{name}-{who}"), connector=self.connector,
                                 monitor=self.monitor, timers=FAST, **runtime_options) for who in ("alice", "bob")]
        self.chat: DataObjectReporter | None = None
        self.obs: DataObjectObserver | None = None

    async def start(self) -> Pair:
        for runtime in self.runtimes:
            await runtime.start()
        alice = await self.runtimes[0].hyperty("alice")
        bob = await self.runtimes[1].hyperty("bob")
        self.chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0}, observers=[bob.url])
        self.obs = await bob.syncher.subscribe(self.chat.url, COMM_SCHEMA)
        await self.converged()
        return self

    def edit(self, n: int) -> None:
        assert self.chat is not None
        self.chat.data["n"] = n

    async def converged(self, timeout: float = WAIT) -> None:
        chat, obs = self.chat, self.obs
        assert chat is not None and obs is not None
        await self.watch.state(lambda: (obs.version, obs.data) == (chat.version, chat.data) and obs.status == "live",
                               timeout)

    async def close(self) -> None:
        for runtime in self.runtimes:
            await runtime.close()
        await self.connector.close()


@pytest.fixture
async def nodes() -> AsyncIterator[list[NodeProcess]]:
    started: list[NodeProcess] = []
    yield started
    for node in started:
        await node.stop()


def frame(msg: dict[str, Any]) -> str:
    return orjson.dumps(msg).decode()
