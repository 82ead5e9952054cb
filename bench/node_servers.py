"""The servers `bench.node` measures, each run in a child process of its own (`--serve node|raw`): a
Message Node as `syncscope node` runs it, and a raw `websockets` server doing the same jobs; `Child` is
the bench's handle on one (its port, its CPU time and memory, stopping it)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.net.websocket import FRAME_FACTOR, NodeServer  # noqa: E402
from core.node.node import MAX_MESSAGE, MessageNode  # noqa: E402
from core.node.state import NodeState  # noqa: E402

#: The node's domain.
D = "bench.example"


async def serve_node(state: str | None, feed: bool, token: str | None = None, profile: str | None = None) -> None:
    node = MessageNode(D, state=NodeState(state) if state else None,
                       monitor_token=(token or secrets.token_urlsafe(16)) if feed else None)
    server = NodeServer(node)
    await server.start()
    profiler = None
    if profile is not None:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    await _run_until_stopped(server.port)
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    await server.close()
    node.close()


async def serve_raw() -> None:
    """`/echo` echoes, `/sub` receives broadcasts, `/pub` broadcasts each message to every `/sub`,
    `/idle` holds the connection."""
    subscribers: set[ServerConnection] = set()

    async def handler(conn: ServerConnection) -> None:
        path = conn.request.path if conn.request is not None else "/"
        try:
            if path == "/echo":
                async for message in conn:
                    await conn.send(message)
            elif path == "/pub":
                async for message in conn:
                    broadcast(subscribers, message)
            else:
                if path == "/sub":
                    subscribers.add(conn)
                await conn.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            subscribers.discard(conn)

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=FRAME_FACTOR * MAX_MESSAGE,
                     server_header=None) as server:
        await _run_until_stopped(server.sockets[0].getsockname()[1])


async def _run_until_stopped(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"PORT {port}", flush=True)
    await stop.wait()


class Child:
    """A server child process and its port."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc, self.port = proc, port

    @classmethod
    async def start(cls, *args: str) -> Child:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.node", "--serve", *args, cwd=ROOT,
                                                    stdout=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        return cls(proc, int(line.split()[1]))

    def url(self, path: str = "/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def cpu_s(self) -> float:
        """CPU seconds the server process has used so far (user and system)."""
        try:
            with open(f"/proc/{self.proc.pid}/schedstat", encoding="ascii") as f:
                return int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            with open(f"/proc/{self.proc.pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, *args: str) -> AsyncIterator[Child]:
        child = await cls.start(*args)
        try:
            yield child
        finally:
            await child.stop()
