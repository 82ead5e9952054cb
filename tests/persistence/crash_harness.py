"""A runtime in its own process for the crash test: `write` edits a stored object forever, printing
each acknowledged version; `resume` comes back with the same URL, token and hyperty URL."""

from __future__ import annotations

import argparse
import asyncio
import sys

from core.net.websocket import WebSocketConnector
from core.runtime.runtime import Runtime
from core.schemas import COMM_SCHEMA


def say(*words: object) -> None:
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


async def write(args: argparse.Namespace) -> None:
    rt = Runtime(args.runtime, connector=WebSocketConnector({"a.example": args.node}), storage=args.storage)
    await rt.start()
    alice = await rt.hyperty("alice")
    chat = await alice.syncher.create(COMM_SCHEMA, data={"n": 0, "log": []}, store=True)
    say("ready", alice.url, chat.url, rt.stubs["a.example"].token)
    n = 0
    while True:
        n += 1
        chat.data["n"] = n                 # the SM stores it before the assignment returns
        if n % 10 == 0:
            chat.data["log"].append(n)
        say("ack", chat.version)
        if n % 50 == 0:
            await asyncio.sleep(0)


async def resume(args: argparse.Namespace) -> None:
    rt = Runtime(args.runtime, connector=WebSocketConnector({"a.example": args.node}), storage=args.storage)
    rt.tokens["a.example"] = args.token
    await rt.start()
    alice = rt.add_hyperty("alice", args.hyperty)
    reporters, _ = await alice.syncher.resume()
    chat = reporters[0]
    say("resumed", chat.url, chat.version, chat.data["n"], len(chat.data["log"]))
    chat.data["n"] = -1
    say("next", chat.version)
    await rt.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["write", "resume"])
    parser.add_argument("--node", required=True)
    parser.add_argument("--runtime", required=True)
    parser.add_argument("--storage", required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--hyperty", default="")
    args = parser.parse_args()
    asyncio.run(write(args) if args.mode == "write" else resume(args))


if __name__ == "__main__":
    main()
