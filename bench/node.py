"""Message Node over WebSocket (issue 7), each figure beside raw `websockets` in the same run.

    python -m bench.node [--subscribers 1000] [--rounds 100] [--relay 10000] [--allocations 10000]
                         [--only fanout,relay,monitors,allocations] [--profile FILE]

(a) fan-out: one update from a reporter session to N subscriber sessions, time until the last one
    has it (median, p99), beside a raw `websockets.broadcast` of the same frame to N sockets;
(b) relay: 10,000 small hyperty-to-hyperty messages through the node (messages/s until the last
    arrives), beside a raw echo server;
(c) 10,000 object address allocations, pipelined on one session (with and without `--state`),
    beside 10,000 raw echo round trips (and, for `--state`, 10,000 raw SQLite single-row
    transactions on the same file system);
(d) memory per idle session: the server process's RSS growth per open session, beside raw idle
    connections (target ≤ 20 KiB, issue 12);
(e) monitors never slow routing (TRANSPORT §4, issue 12): the relay of (b) through one node with no
    monitor, then with 50 monitors attached that never read (idle consoles, stalled links), rounds
    alternating in the same run; the ratio of the two rates (target ≥ 0.8). For the record, the same
    with 50 monitors that read everything.

Servers run in a child process each (`--serve node|raw`), so a server has its own interpreter;
every client is in this process on 127.0.0.1. Node and raw measurements alternate (round by round,
run by run) so that both see the same machine load; relay and allocations keep the median of
`--repeat` runs. The node runs as `syncscope node` does by
default (monitor feed on, 10,000 events kept for replay); `--no-feed` measures it without. The
result is the last line printed, one JSON object.

Wall-clock rates are noisy on a shared machine, so each figure also comes with the CPU time the
server process spent on it per unit (`*_cpu_us_per_*`, read from `/proc/<pid>/schedstat` around the
measurement): the figure to compare runs by. `--profile FILE` runs the node (without `--state`)
under cProfile, writes its stats to FILE when it stops and prints the top entries on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import machine, note  # noqa: E402
from bench.node_servers import Child, D, serve_node, serve_raw  # noqa: E402
from core.protocol import address as addr  # noqa: E402

#: reTHINK's published figures, for the record (issue 7).
RETHINK = {"fanout_200_ms": [358, 569], "fanout_1000": "failed", "relay_per_s": [670, 785],
           "allocations_10000_s": [15.8, 18.6]}


# clients ------------------------------------------------------------------------------------------------

async def dial(url: str) -> ClientConnection:
    return await connect(url, compression=None, proxy=None, max_size=None, open_timeout=60, close_timeout=1)


class Session:
    """A runtime session opened by hand on a node."""

    def __init__(self, conn: ClientConnection, runtime: str) -> None:
        self.conn, self.runtime, self.ids = conn, runtime, 0

    @classmethod
    async def open(cls, url: str, name: str) -> Session:
        session = cls(await dial(url), addr.runtime_url(D, name))
        answer = await session.ask("open", session.runtime, addr.SESSION, {})
        assert answer["body"]["code"] == 200, answer
        return session

    async def send(self, mtype: str, frm: str, to: str, body: dict[str, Any]) -> None:
        self.ids += 1
        await self.conn.send(orjson.dumps({"id": self.ids, "type": mtype, "from": frm, "to": to,
                                           "body": body}).decode())

    async def ask(self, mtype: str, frm: str, to: str, body: dict[str, Any]) -> dict[str, Any]:
        await self.send(mtype, frm, to, body)
        answer = orjson.loads(await self.conn.recv())
        assert isinstance(answer, dict)
        return answer

    async def allocate(self, scheme: str) -> str:
        target = addr.hyperty_allocation(D) if scheme == "hyperty" else addr.object_allocation(D)
        answer = await self.ask("create", self.runtime + "/address-allocation", target,
                                {"scheme": scheme, "value": {"number": 1}})
        return str(answer["body"]["value"]["allocated"][0])


async def many(coros: list[Any], width: int = 100) -> list[Any]:
    """Run coroutines `width` at a time (a thousand handshakes at once only measure the backlog)."""
    out: list[Any] = []
    for i in range(0, len(coros), width):
        out += await asyncio.gather(*coros[i:i + width])
    return out


class Receivers:
    """One reader per connection; `round()` waits until each has one more frame, returns the last
    arrival time."""

    def __init__(self, conns: list[ClientConnection]) -> None:
        self.conns = conns
        self.arrived = 0
        self.last = 0.0
        self.done = asyncio.Event()
        self.tasks = [asyncio.get_running_loop().create_task(self._read(c)) for c in conns]

    async def _read(self, conn: ClientConnection) -> None:
        try:
            while True:
                await conn.recv(decode=False)
                self.last = time.perf_counter()
                self.arrived += 1
                if self.arrived == len(self.conns):
                    self.done.set()
        except ConnectionClosed:
            pass

    async def round(self, send: Any) -> float:
        self.arrived, self.done = 0, asyncio.Event()
        start = time.perf_counter()
        await send()
        await asyncio.wait_for(self.done.wait(), 60)
        return self.last - start

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered) * 1e3, 2), "p99_ms": round(p99 * 1e3, 2),
            "min_ms": round(ordered[0] * 1e3, 2), "max_ms": round(ordered[-1] * 1e3, 2)}


def update_frame(obj: str, source: str, version: int) -> dict[str, Any]:
    """An update as a reporter publishes it (PROTOCOL §3.3)."""
    return {"id": version, "type": "update", "from": obj, "to": addr.changes(obj),
            "body": {"version": version, "source": source, "attribute": "n", "value": version,
                     "lastModified": "2026-01-01T00:00:00Z"}}


# (a) + (d) ----------------------------------------------------------------------------------------------

class NodeFanout:
    """A reporter session and n subscriber sessions of `O/changes` on a node."""

    def __init__(self, child: Child) -> None:
        self.child = child

    async def setup(self, n: int) -> float:
        """Opens the sessions; returns the server's RSS growth per idle session (KiB)."""
        self.reporter = await Session.open(self.child.url(), "reporter")
        self.source, self.obj = await self.reporter.allocate("hyperty"), await self.reporter.allocate("comm")
        before = self.child.rss_kib()
        self.subs: list[Session] = await many([Session.open(self.child.url(), f"sub{i}") for i in range(n)])
        idle_kib = (self.child.rss_kib() - before) / n
        await many([s.ask("subscribe", s.runtime + "/sm", addr.mn_sm(D), {"resources": [addr.changes(self.obj)]})
                    for s in self.subs])
        self.receivers = Receivers([s.conn for s in self.subs])
        return idle_kib

    async def round(self, version: int) -> float:
        frame = orjson.dumps(update_frame(self.obj, self.source, version)).decode()
        return await self.receivers.round(lambda: self.reporter.conn.send(frame))

    async def close(self) -> None:
        await self.receivers.close()
        await many([s.conn.close() for s in [*self.subs, self.reporter]])


class RawFanout:
    """A publisher and n subscriber sockets on the raw server (`websockets.broadcast`)."""

    def __init__(self, child: Child) -> None:
        self.child = child

    async def setup(self, n: int) -> float:
        self.publisher = await dial(self.child.url("/pub"))
        before = self.child.rss_kib()
        self.subs: list[ClientConnection] = await many([dial(self.child.url("/sub")) for _ in range(n)])
        idle_kib = (self.child.rss_kib() - before) / n
        self.receivers = Receivers(self.subs)
        return idle_kib

    async def round(self, version: int) -> float:
        frame = orjson.dumps(update_frame("comm://bench.example/raw", "hyperty://bench.example/r", version)).decode()
        return await self.receivers.round(lambda: self.publisher.send(frame))

    async def close(self) -> None:
        await self.receivers.close()
        await many([c.close() for c in [*self.subs, self.publisher]])


async def fanout(node: Child, raw: Child, n: int, rounds: int, warmup: int = 5) -> dict[str, Any]:
    """Rounds alternate between the two servers, so both see the same machine load."""
    sides: dict[str, NodeFanout | RawFanout] = {"node": NodeFanout(node), "raw": RawFanout(raw)}
    idle = {name: await side.setup(n) for name, side in sides.items()}
    times: dict[str, list[float]] = {name: [] for name in sides}
    cpu = dict.fromkeys(sides, 0.0)
    for version in range(1, warmup + rounds + 1):
        for name, side in sides.items():
            before = side.child.cpu_s()
            elapsed = await side.round(version)
            if version > warmup:
                cpu[name] += side.child.cpu_s() - before
                times[name].append(elapsed)
    for side in sides.values():
        await side.close()
    per = {name: round(cpu[name] / (rounds * n) * 1e6, 2) for name in sides}   # µs per delivered copy
    return {"node": summary(times["node"]), "raw": summary(times["raw"]), "idle_node_kib": idle["node"],
            "idle_raw_kib": idle["raw"], "cpu_us": per}


# (b) ----------------------------------------------------------------------------------------------------

async def relay_node(child: Child, count: int) -> tuple[float, float]:
    """(messages/s, server CPU seconds) of `count` messages relayed from one session to another."""
    run = secrets.token_hex(3)  # each repetition opens fresh runtime URLs
    a, b = await Session.open(child.url(), f"alice-{run}"), await Session.open(child.url(), f"bob-{run}")
    ha, hb = await a.allocate("hyperty"), await b.allocate("hyperty")
    frames = [orjson.dumps({"id": i, "type": "execute", "from": ha, "to": hb,
                            "body": {"method": "ping", "params": [i]}}).decode() for i in range(1, count + 1)]
    rate = await _stream(a.conn, b.conn, frames, child)
    await a.conn.close()
    await b.conn.close()
    return rate


async def relay_raw(child: Child, count: int) -> tuple[float, float]:
    conn = await dial(child.url("/echo"))
    frames = [orjson.dumps({"id": i, "type": "execute", "from": "hyperty://bench.example/a",
                            "to": "hyperty://bench.example/b", "body": {"method": "ping", "params": [i]}}).decode()
              for i in range(1, count + 1)]
    rate = await _stream(conn, conn, frames, child)
    await conn.close()
    return rate


async def _stream(sender: ClientConnection, receiver: ClientConnection, frames: list[str], child: Child
                  ) -> tuple[float, float]:
    """Messages per second from the first send until the last frame is read, and the CPU seconds
    `child` spent meanwhile."""
    async def take() -> None:
        for _ in frames:
            await receiver.recv(decode=False)

    cpu = child.cpu_s()
    start = time.perf_counter()
    reader = asyncio.get_running_loop().create_task(take())
    for frame in frames:
        await sender.send(frame)
    await asyncio.wait_for(reader, 120)
    return len(frames) / (time.perf_counter() - start), child.cpu_s() - cpu


# (e) ----------------------------------------------------------------------------------------------------

MONITOR_TOKEN = "bench-monitors"


async def attach_monitors(child: Child, n: int, reading: bool) -> tuple[list[ClientConnection], list[Any]]:
    """`n` monitor sessions on `child`; they read every event (`reading`) or none after their open."""
    conns, readers = [], []
    for i in range(n):
        conn = await connect(child.url(), compression=None, proxy=None, max_size=None,
                             max_queue=None if reading else 1)
        await conn.send(orjson.dumps({"id": 1, "type": "open", "from": f"monitor://bench-{i}", "to": "mn:/monitor",
                                      "body": {"token": MONITOR_TOKEN}}).decode())
        answer = orjson.loads(await conn.recv())
        assert answer["body"]["code"] == 200, answer
        conns.append(conn)
        if reading:
            readers.append(asyncio.ensure_future(_drain_all(conn)))
    return conns, readers


async def _drain_all(conn: ClientConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await conn.recv(decode=False)


async def monitors(child: Child, count: int, n: int, repeat: int) -> dict[str, Any]:
    """Relay rates with no monitor and with `n` idle (stalled) or reading monitors, rounds alternating."""
    rates: dict[str, list[float]] = {"none": [], "idle": [], "reading": []}
    for _ in range(repeat):
        for kind in ("none", "idle", "none", "reading"):
            conns, readers = await attach_monitors(child, n, kind == "reading") if kind != "none" else ([], [])
            rates[kind].append((await relay_node(child, count))[0])
            for reader in readers:
                reader.cancel()
            for conn in conns:
                await conn.close()
    median = {k: statistics.median(v) for k, v in rates.items()}
    return {"messages": count, "monitors": n, "none_per_s": round(median["none"]),
            "idle_per_s": round(median["idle"]), "reading_per_s": round(median["reading"]),
            "ratio_idle": round(median["idle"] / median["none"], 2),
            "ratio_reading": round(median["reading"] / median["none"], 2), "target_ratio_idle": ">= 0.8"}


# (c) ----------------------------------------------------------------------------------------------------

async def allocations_node(child: Child, count: int) -> tuple[float, float]:
    """(seconds, server CPU seconds) for `count` allocations pipelined on one session."""
    s = await Session.open(child.url(), f"allocator-{secrets.token_hex(3)}")
    frames = [orjson.dumps({"id": i, "type": "create", "from": s.runtime + "/address-allocation",
                            "to": addr.object_allocation(D), "body": {"scheme": "comm", "value": {"number": 1}}}
                           ).decode() for i in range(1, count + 1)]
    cpu = child.cpu_s()
    start = time.perf_counter()
    await _round_trips(s.conn, frames)
    elapsed = time.perf_counter() - start
    cpu = child.cpu_s() - cpu
    last = orjson.loads(await _ask_last(s))
    assert last["body"]["code"] == 200
    await s.conn.close()
    return elapsed, cpu


async def _ask_last(s: Session) -> bytes:
    await s.send("create", s.runtime + "/address-allocation", addr.object_allocation(D),
                 {"scheme": "comm", "value": {"number": 1}})
    return bytes(await s.conn.recv(decode=False))


async def allocations_raw(child: Child, count: int) -> tuple[float, float]:
    conn = await dial(child.url("/echo"))
    frames = [orjson.dumps({"id": i, "type": "create", "from": "hyperty-runtime://bench.example/x/address-allocation",
                            "to": addr.object_allocation(D), "body": {"scheme": "comm", "value": {"number": 1}}}
                           ).decode() for i in range(1, count + 1)]
    cpu = child.cpu_s()
    start = time.perf_counter()
    await _round_trips(conn, frames)
    elapsed = time.perf_counter() - start
    cpu = child.cpu_s() - cpu
    await conn.close()
    return elapsed, cpu


async def _round_trips(conn: ClientConnection, frames: list[str]) -> None:
    async def take() -> None:
        for _ in frames:
            await conn.recv(decode=False)

    reader = asyncio.get_running_loop().create_task(take())
    for frame in frames:
        await conn.send(frame)
    await asyncio.wait_for(reader, 120)


def raw_sqlite(path: Path, count: int) -> float:
    """`count` single-row transactions into a table shaped like the node's, same file system and
    settings as `NodeState`: what `--state` cannot go below."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA locking_mode=EXCLUSIVE")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE owners (address TEXT PRIMARY KEY, runtime TEXT NOT NULL)")
    start = time.perf_counter()
    for _ in range(count):
        with db:
            db.execute("INSERT OR REPLACE INTO owners VALUES (?, ?)", (f"comm://{D}/{secrets.token_hex(16)}", "rt"))
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


# the run ------------------------------------------------------------------------------------------------

PARTS = ("fanout", "relay", "monitors", "allocations")


def _median_pair(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """Median of the first and of the second members, each on its own."""
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    node_args = ["node", "--token", MONITOR_TOKEN] if args.feed else ["node", "--no-feed"]
    parts = set(args.only.split(",")) if args.only else set(PARTS)
    result: dict[str, Any] = {"bench": "node", "machine": machine(), "monitor_feed": args.feed,
                              "rethink": RETHINK}
    profile = ["--profile", str(Path(args.profile).resolve())] if args.profile else []
    fan = watched = None
    relays: dict[str, list[tuple[float, float]]] = {"node": [], "raw": []}
    allocs: dict[str, list[tuple[float, float]]] = {"node": [], "state": [], "raw": []}
    with tempfile.TemporaryDirectory(dir=args.state_dir) as tmp:
        async with Child.running("raw") as raw, Child.running(*node_args, *profile) as node, \
                Child.running(*node_args, "--state", str(Path(tmp) / "node.sqlite")) as stateful:
            if "fanout" in parts:
                note(f"fan-out to {args.subscribers} …")
                fan = await fanout(node, raw, args.subscribers, args.rounds)
            if "relay" in parts:
                note(f"relay of {args.relay} …")
                for _ in range(args.repeat):
                    relays["raw"].append(await relay_raw(raw, args.relay))
                    relays["node"].append(await relay_node(node, args.relay))
            if args.feed and args.monitors and "monitors" in parts:
                note(f"relay of {args.relay} with 0 and {args.monitors} monitors …")
                watched = await monitors(node, args.relay, args.monitors, args.repeat)
            if "allocations" in parts:
                note(f"{args.allocations} allocations …")
                for _ in range(args.repeat):
                    allocs["raw"].append(await allocations_raw(raw, args.allocations))
                    allocs["node"].append(await allocations_node(node, args.allocations))
                    allocs["state"].append(await allocations_node(stateful, args.allocations))
        sqlite_s = raw_sqlite(Path(tmp) / "raw.sqlite", args.allocations) if "allocations" in parts else 0.0
    if fan is not None:
        result["fanout"] = {"subscribers": args.subscribers, "rounds": args.rounds, "node": fan["node"],
                            "raw_broadcast": fan["raw"],
                            "ratio_median": round(fan["node"]["median_ms"] / fan["raw"]["median_ms"], 2),
                            "ratio_p99": round(fan["node"]["p99_ms"] / fan["raw"]["p99_ms"], 2),
                            "node_cpu_us_per_copy": fan["cpu_us"]["node"],
                            "raw_cpu_us_per_copy": fan["cpu_us"]["raw"], "target_ratio": "<= 1.15"}
        result["idle_session"] = {"node_kib": round(fan["idle_node_kib"], 1),
                                  "raw_kib": round(fan["idle_raw_kib"], 1), "sessions": args.subscribers,
                                  "target_kib": "<= 20"}
    if relays["node"]:
        (node_rate, node_cpu), (raw_rate, raw_cpu) = _median_pair(relays["node"]), _median_pair(relays["raw"])
        result["relay"] = {"messages": args.relay, "node_per_s": round(node_rate), "raw_echo_per_s": round(raw_rate),
                           "ratio": round(node_rate / raw_rate, 2),
                           "node_cpu_us_per_msg": round(node_cpu / args.relay * 1e6, 2),
                           "raw_cpu_us_per_msg": round(raw_cpu / args.relay * 1e6, 2),
                           "cpu_ratio": round(raw_cpu / node_cpu, 2), "target_ratio": ">= 0.8"}
    if allocs["node"]:
        alloc = {k: _median_pair(v) for k, v in allocs.items()}
        per = {k: round(v[1] / args.allocations * 1e6, 2) for k, v in alloc.items()}
        result["allocations"] = {"count": args.allocations, "node_s": round(alloc["node"][0], 3),
                                 "node_with_state_s": round(alloc["state"][0], 3),
                                 "raw_echo_s": round(alloc["raw"][0], 3), "raw_sqlite_inserts_s": round(sqlite_s, 3),
                                 "ratio": round(alloc["node"][0] / alloc["raw"][0], 2),
                                 "node_cpu_us_per_alloc": per["node"], "node_with_state_cpu_us_per_alloc": per["state"],
                                 "raw_cpu_us_per_echo": per["raw"], "target_s": "<= 0.5"}
    if watched is not None:
        result["monitors"] = watched
    if args.profile:
        import pstats
        note(f"profile of the node (cProfile) written to {args.profile}; top 30 by own time:")
        pstats.Stats(args.profile, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.node", description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--relay", type=int, default=10_000)
    parser.add_argument("--allocations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="relay and allocation runs; the median is kept")
    parser.add_argument("--state-dir", default=None, help="where the --state file goes (default: the temp dir)")
    parser.add_argument("--no-feed", dest="feed", action="store_false", help="run the node without a monitor feed")
    parser.add_argument("--monitors", type=int, default=50, help="monitors attached for (e); 0 skips it")
    parser.add_argument("--only", help=f"comma-separated parts to run, of {','.join(PARTS)} (default: all)")
    parser.add_argument("--profile", help="run the node under cProfile; its stats go to this file")
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--serve", choices=["node", "raw"], help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "raw":
        asyncio.run(serve_raw())
        return 0
    if args.serve == "node":
        asyncio.run(serve_node(args.state, args.feed, args.token, args.profile))
        return 0
    print(json.dumps(asyncio.run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
