"""A live deployment under load, for `bench.console --node-rate`: a real Message Node served over
WebSocket on 127.0.0.1 (port 0), a reporter runtime and an observer runtime connected to it, and N
objects each observed once. Run as its own process, so the console's loop is measured alone.

    python -m bench.remote_load --objects 200

Prints one JSON line `{"url", "token", "objects"}` once every object is observed, then reads
commands on stdin, one a line: `rate R` edits R times a second from now on (round robin over the
objects; 0 stops), `stats` prints `{"updates": n}`, `quit` (or end of input) closes everything.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson

from core.net.served_node import served_node
from ui import workload

DOMAIN = "a.example"
TOKEN = "bench-monitor-token"


async def serve(objects: int) -> None:
    async with served_node(DOMAIN, TOKEN, ("loader", "watcher")) as (server, runtimes):
        for runtime in runtimes:
            await runtime.start()
        loader, watcher = await runtimes[0].hyperty("loader"), await runtimes[1].hyperty("watcher")
        created = await workload.create_objects(loader, objects, [watcher])
        print(orjson.dumps({"url": server.url, "token": TOKEN, "objects": len(created)}).decode(), flush=True)
        await _serve_commands(created)


async def _serve_commands(created: list[Any]) -> None:
    """`rate R` sets the edit rate, `stats` prints the edits made, `quit` (or end of input) stops."""
    sent = [0]
    editing: asyncio.Task[Any] | None = None
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while True:
            words = (await reader.readline()).decode().split()
            if not words or words[0] == "quit":
                break
            if words[0] == "rate":
                if editing is not None:
                    editing.cancel()
                    await asyncio.gather(editing, return_exceptions=True)
                    editing = None
                rate = float(words[1])
                if rate > 0:
                    base = sent[0]
                    editing = asyncio.ensure_future(workload.update_objects(
                        created, rate, on_tick=lambda n, b=base: sent.__setitem__(0, b + n)))
            elif words[0] == "stats":
                print(orjson.dumps({"updates": sent[0]}).decode(), flush=True)
    finally:
        if editing is not None:
            editing.cancel()
            await asyncio.gather(editing, return_exceptions=True)

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=200)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.objects))
    return 0


if __name__ == "__main__":
    sys.exit(main())
