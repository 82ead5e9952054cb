"""PROTOCOL §2.5 on the real core bus: a request times out with 408 after T, and each 1xx answer
restarts the long timer T_long from its own arrival."""

from __future__ import annotations

import asyncio

from core.bus import MessageBus
from core.monitor import Monitor
from core.protocol.message import Message, code_of, response
from core.timers import Timers

RT = "hyperty-runtime://a.example/rt"
TIMERS = Timers(request=0.05, long=0.2)


def world() -> tuple[MessageBus, list[Message]]:
    bus = MessageBus(RT, Monitor(), TIMERS)
    seen: list[Message] = []
    bus.add_listener(RT + "/slow", seen.append)   # a component that answers only when told to
    return bus, seen


async def test_without_provisional_answers_the_request_times_out_after_t() -> None:
    bus, seen = world()
    loop = asyncio.get_running_loop()
    start = loop.time()
    answer = await bus.request({"type": "read", "from": RT + "/app", "to": RT + "/slow", "body": {}})
    assert (code_of(answer), answer["body"]["description"]) == (408, "Response timeout!")
    assert TIMERS.request - 0.002 <= loop.time() - start < TIMERS.long
    assert len(seen) == 1


async def test_each_provisional_answer_restarts_the_long_timer() -> None:
    bus, seen = world()
    loop = asyncio.get_running_loop()
    provisional: list[float] = []
    task = asyncio.ensure_future(bus.request({"type": "read", "from": RT + "/app", "to": RT + "/slow", "body": {}},
                                             on_provisional=lambda m: provisional.append(loop.time())))
    await asyncio.sleep(0.03)
    bus.post(response(seen[0], 100))
    await asyncio.sleep(0.1)                  # past T: the 100 keeps the request open
    assert not task.done()
    bus.post(response(seen[0], 100))          # a second 1xx moves the deadline again
    answer = await task
    assert code_of(answer) == 408
    assert len(provisional) == 2
    assert loop.time() - provisional[1] >= TIMERS.long - 0.002


async def test_a_final_answer_after_provisional_ones_ends_the_request() -> None:
    bus, seen = world()
    answers: list[Message] = []
    bus.post({"type": "read", "from": RT + "/app", "to": RT + "/slow", "body": {}}, answers.append)
    bus.post(response(seen[0], 100))
    bus.post(response(seen[0], 200, value={"n": 1}))
    answer = answers[-1]
    assert (code_of(answer), answer["body"]["value"]) == (200, {"n": 1})
