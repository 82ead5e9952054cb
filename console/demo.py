"""The demo lab: two domains, three runtimes, a chat-like Communication object (participants in its
data, messages as children) and a Context object, edited continuously.

`syncscope demo --headless --seconds N` runs it and prints one JSON line; exit 0 only if every
replica converged on its reporter (data, version and children).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from dataclasses import dataclass, field
from typing import Any

import orjson

from core.lab import Lab
from core.runtime.hyperty import Hyperty
from core.schemas import COMM_SCHEMA, CONTEXT_SCHEMA
from core.sync.observer import DataObjectObserver
from core.sync.reporter import DataObjectReporter

STATUSES = ("online", "away", "busy", "offline")


@dataclass
class Demo:
    lab: Lab
    reporter: Hyperty
    observers: list[Hyperty]
    chat: DataObjectReporter
    context: DataObjectReporter
    replicas: list[DataObjectObserver] = field(default_factory=list)
    updates_sent: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def current(self) -> None:
        """Take the objects' handles again after a restart resumed them, or a delegation moved the
        reporter role (the old handles are closed): the demo edits as the current reporter."""
        if self.chat.closed or self.context.closed:
            reporters = {url: obj for h in (self.reporter, *self.observers) for url, obj in h.syncher.reporters.items()}
            self.chat = reporters.get(self.chat.url, self.chat)
            self.context = reporters.get(self.context.url, self.context)
        if any(r.closed for r in self.replicas):
            self.replicas = [h.syncher.observers[url] for h in self.observers
                             for url in (self.chat.url, self.context.url) if url in h.syncher.observers]

    def edit_chat(self) -> None:
        """One chat edit: a participant's status, a typing flag, or a new message child."""
        self.current()
        if self.chat.closed or self.chat.status != "live":
            return  # its runtime is down, or the role is being handed over
        who = self.rng.choice(self.observers)
        choice = self.rng.random()
        participants = self.chat.data["participants"]
        if choice < 0.6:
            participants[who.name]["status"] = self.rng.choice(STATUSES)
        else:
            participants[who.name]["typing"] = not participants[who.name].get("typing", False)
        self.updates_sent += 1

    def edit_context(self) -> None:
        """The context object: a reading per second, the last ten kept."""
        if self.context.closed or self.context.status != "live":
            return
        values = self.context.data["values"]
        values.append({"value": round(self.rng.uniform(18.0, 24.0), 2), "unit": "C"})
        if len(values) > 10:
            del values[0]
        self.context.data["seq"] = self.context.data.get("seq", 0) + 1
        self.updates_sent += 3 if len(values) >= 10 else 2

    async def add_message(self) -> None:
        chat = [r for r in self.replicas if r.url == self.chat.url]
        observer = self.rng.choice(chat) if chat else None
        if observer is not None and not observer.closed:
            await observer.add_child("messages", {"text": f"hello #{self.updates_sent}",
                                                   "from": observer.syncher.url})

    def report(self) -> dict[str, Any]:
        return {"objects": 2, "observers": len(self.replicas), "updates_sent": self.updates_sent,
                "updates_applied": sum(r.version for r in self.replicas), "converged": converged(self.lab)}


async def build_demo(lab: Lab) -> Demo:
    rt1 = await lab.runtime("a.example")
    rt2 = await lab.runtime("a.example")
    rt3 = await lab.runtime("b.example")
    alice = await rt1.hyperty("alice")
    observers = [await rt1.hyperty("dave"), await rt2.hyperty("bob"), await rt3.hyperty("carol")]
    participants = {h.name: {"status": "online", "url": h.url} for h in observers}
    # Stored (PROTOCOL §3.0.6), reporters and observers: a runtime restarted from the console resumes them.
    chat = await alice.syncher.create(COMM_SCHEMA, data={"topic": "demo", "participants": participants},
                                      observers=[h.url for h in observers], name="demo chat", store=True)
    context = await alice.syncher.create(CONTEXT_SCHEMA, data={"type": "temperature", "values": []},
                                         observers=[h.url for h in observers], name="room context", store=True)
    for obj in (chat, context):
        obj.on_subscription(lambda event: event.accept())
    demo = Demo(lab, alice, observers, chat, context)
    for h in observers:
        demo.replicas.append(await h.syncher.subscribe(chat.url, COMM_SCHEMA, store=True))
        demo.replicas.append(await h.syncher.subscribe(context.url, CONTEXT_SCHEMA, store=True))
    return demo


async def drive(demo: Demo, seconds: float, rate: float = 50.0) -> None:
    """Edit the chat `rate` times a second, add a message child every half second and update the
    context every second, for `seconds`."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    next_context = loop.time()
    next_message = loop.time()
    while loop.time() < end:
        demo.edit_chat()
        now = loop.time()
        if now >= next_context:
            demo.edit_context()
            next_context = now + 1.0
        if now >= next_message:
            await demo.add_message()
            next_message = now + 0.5
        await asyncio.sleep(1.0 / rate)


def converged(lab: Lab) -> bool:
    """Every observer replica equals its reporter: data, version and children."""
    reporters: dict[str, DataObjectReporter] = {}
    observers: list[DataObjectObserver] = []
    for runtime in lab.runtimes:
        for hyperty in runtime.hyperties.values():
            reporters.update(hyperty.syncher.reporters)
            observers.extend(hyperty.syncher.observers.values())
    for replica in observers:
        reporter = reporters.get(replica.url)
        if reporter is None or replica.version != reporter.version or replica.data != reporter.data:
            return False
        mine = {cid: (c.version, c.data) for cid, c in reporter.children.items()}
        theirs = {cid: (c.version, c.data) for cid, c in replica.children.items()}
        if mine != theirs:
            return False
    return True


async def run_headless(seconds: float) -> dict[str, Any]:
    async with Lab() as lab:
        demo = await build_demo(lab)
        await drive(demo, seconds)
        await lab.settle()
        return demo.report()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--headless", action="store_true", help="run without the console and print a JSON report")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to drive the demo (default 5)")


def run(args: argparse.Namespace) -> int:
    if not args.headless:
        from console import main as entry
        return entry.main(["gui"])
    if args.seconds <= 0:
        print("syncscope demo: --seconds must be positive", file=sys.stderr)
        return 2
    report = asyncio.run(run_headless(args.seconds))
    sys.stdout.write(orjson.dumps(report).decode() + "\n")
    return 0 if report["converged"] else 1
