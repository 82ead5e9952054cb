"""The monitor feed without sockets (core.node.monitor_feed): bounded queue, the `lost` count on the
next queued event, pacing by the transport, replay bounds, and session tokens kept out."""

from __future__ import annotations

from typing import Any

import orjson

from core.monitor import Monitor, TraceEvent
from core.node.monitor_feed import EVENT_WEIGHT
from core.node.node import MessageNode
from core.node.session import Session
from core.protocol import address as addr
from tests.node.helpers import Wire

D = "a.example"
TOKEN = "monitor-secret-42"


class Paced(Wire):
    """A transport that takes frames only while `open_for` > 0 (a `PacedTransport`)."""

    def __init__(self) -> None:
        super().__init__()
        self.open_for = 10**9
        self.on_ready: object = None

    def ready(self) -> bool:
        return self.open_for > 0

    def send(self, data: bytes) -> None:
        super().send(data)
        self.open_for -= 1

    def notify_ready(self) -> None:
        pass  # `resume` calls `on_ready`

    def flush_now(self) -> None:
        pass  # `send` took it already

    def resume(self, frames: int) -> None:
        self.open_for = frames
        if callable(self.on_ready):
            self.on_ready()


def node_with_monitor(wire: Wire, *, queue: int = 5, replay: int = 0, history: int = 100,
                      ) -> tuple[MessageNode, Session]:
    node = MessageNode(D, Monitor(), monitor_token=TOKEN, monitor_queue=queue, replay=history)
    session = node.connect(wire)
    body: dict[str, Any] = {"token": TOKEN, "replay": replay}
    node.receive(session, orjson.dumps({"id": 1, "type": "open", "from": "monitor://m", "to": addr.MONITOR,
                                        "body": body}))
    assert wire.sent.pop(0)["body"]["code"] == 200
    return node, session


def traffic(node: MessageNode, n: int) -> None:
    """n runtime sessions opening: two events each (the open in, the session open) plus the answer."""
    for i in range(n):
        node.receive(node.connect(Wire()), orjson.dumps({"id": 1, "type": "open", "from": addr.runtime_url(D, f"r{i}"),
                                                         "to": addr.SESSION}))


def test_a_stalled_monitor_keeps_its_bound_and_learns_what_it_lost() -> None:
    wire = Paced()
    node, session = node_with_monitor(wire, queue=5)
    wire.sent.clear()                      # its own "monitor" session event
    wire.open_for = 0
    traffic(node, 4)                       # 12 events: the 5 newest wait, the 7 oldest are lost to it
    assert node.feed is not None and node.feed.queued(session) == 5 and wire.sent == []
    wire.resume(10**9)                     # the first event it gets says how many went missing
    assert [e["body"].get("lost", 0) for e in wire.sent] == [7, 0, 0, 0, 0]
    traffic(node, 1)
    assert [e["body"].get("lost", 0) for e in wire.sent[5:]] == [0, 0, 0]
    assert node.feed.queued(session) == 0


def test_pacing_writes_only_while_the_transport_is_ready() -> None:
    wire = Paced()
    node, session = node_with_monitor(wire, queue=100)
    wire.sent.clear()
    wire.open_for = 2
    traffic(node, 2)                       # 6 events, 2 go, 4 wait
    assert len(wire.sent) == 2 and node.feed is not None and node.feed.queued(session) == 4
    wire.resume(3)
    assert len(wire.sent) == 5 and node.feed.queued(session) == 1
    wire.resume(10)
    assert len(wire.sent) == 6 and node.feed.queued(session) == 0
    assert all("lost" not in e["body"] for e in wire.sent)


def test_replay_is_bounded_by_history_and_queue_and_tokens_never_leave() -> None:
    node = MessageNode(D, Monitor(), monitor_token=TOKEN, monitor_queue=4, replay=6)
    traffic(node, 3)                       # 9 events, the last 6 kept
    wire = Wire()
    session = node.connect(wire)
    node.receive(session, orjson.dumps({"id": 1, "type": "open", "from": "monitor://late", "to": addr.MONITOR,
                                        "body": {"token": TOKEN, "replay": 50}}))
    frames = wire.sent[1:]
    assert len(frames) == 4 + 1            # the queue bounds the replay; then its own open, live
    assert frames[-1]["body"]["action"] == "monitor"
    text = orjson.dumps(frames).decode()
    assert all(t not in text for t in node.tokens.values()) and TOKEN not in text
    assert all(e["to"] == "monitor://late" and e["from"] == addr.MONITOR and e["type"] == "event" for e in frames)


def test_bad_replay_and_open_forms_are_refused() -> None:
    node = MessageNode(D, Monitor(), monitor_token=TOKEN)
    for body, frm, expected in (({"token": TOKEN, "replay": -1}, "monitor://m", (400, "replay must be a "
                                                                                  "non-negative number of events")),
                                ({"token": TOKEN, "replay": True}, "monitor://m", (400, "replay must be a "
                                                                                    "non-negative number of events")),
                                ({"token": TOKEN}, "monitor://", (400, "a monitor opens as monitor://<name>")),
                                ({"token": TOKEN}, addr.runtime_url(D, "x"), (400, "a monitor opens as "
                                                                               "monitor://<name>")),
                                ({"token": 12}, "monitor://m", (403, "wrong monitor token"))):
        wire = Wire()
        session = node.connect(wire)
        node.receive(session, orjson.dumps({"id": 3, "type": "open", "from": frm, "to": addr.MONITOR, "body": body}))
        assert [(a["body"]["code"], a["body"]["description"]) for a in wire.sent] == [expected]
    assert node.feed is not None and not node.sessions


def test_envelope_bytes_bound_the_history_and_each_queue() -> None:
    node = MessageNode(D, Monitor(), monitor_token=TOKEN, monitor_queue=1000, replay=1000, monitor_bytes=8000)
    wires = [Wire(), Wire()]
    sessions = [node.connect(w) for w in wires]
    for i, s in enumerate(sessions):
        node.receive(s, orjson.dumps({"id": 1, "type": "open", "from": addr.runtime_url(D, f"r{i}"),
                                      "to": addr.SESSION}))
    watcher = Paced()
    monitor = node.connect(watcher)
    node.receive(monitor, orjson.dumps({"id": 1, "type": "open", "from": "monitor://m", "to": addr.MONITOR,
                                        "body": {"token": TOKEN}}))
    watcher.sent.clear()
    watcher.open_for = 0
    big = orjson.dumps({"id": 2, "type": "execute", "from": addr.runtime_url(D, "r0") + "/x",
                        "to": addr.runtime_url(D, "r1") + "/y", "body": {"pad": "p" * 3000}})
    for _ in range(5):                     # each: 3 KB in, 3 KB out
        node.receive(sessions[0], big)
    feed = node.feed
    assert feed is not None
    assert feed.history_bytes <= 8000 and len(feed.history) == 2
    kept = [orjson.loads(e.body) for e in feed.history]
    assert [e["size"] for e in kept] == [len(big), len(big)]
    assert all(e.weight > len(big) for e in feed.history)   # an event weighs all it carries
    assert feed.queued(monitor) == 2       # two 3 KB events fit in 8,000 bytes; the eight older are lost
    watcher.resume(10**9)
    node.receive(sessions[0], orjson.dumps({"id": 3, "type": "execute", "from": addr.runtime_url(D, "r0") + "/x",
                                            "to": addr.runtime_url(D, "r1") + "/y"}))
    assert [e["body"].get("lost", 0) for e in watcher.sent] == [8, 0, 0, 0]
    assert feed.queued(monitor) == 0


def _relay_traffic(node: MessageNode) -> None:
    sessions = [node.connect(Wire()), node.connect(Wire())]
    for i, s in enumerate(sessions):
        node.receive(s, orjson.dumps({"id": 1, "type": "open", "from": addr.runtime_url(D, f"r{i}"),
                                      "to": addr.SESSION}))
    # Spaced and escaped as a peer may send it: kept as it crossed the wire.
    r0, r1 = addr.runtime_url(D, "r0"), addr.runtime_url(D, "r1")
    node.receive(sessions[0], f'{{ "id": 2, "type": "execute", "from": "{r0}/x", "to": "{r1}/y",\n'
                              '  "body": {"text": "caf\\u00e9 \u2713"} }')


def _replayed(node: MessageNode) -> list[dict[str, Any]]:
    wire = Wire()
    monitor = node.connect(wire)
    node.receive(monitor, orjson.dumps({"id": 1, "type": "open", "from": "monitor://m", "to": addr.MONITOR,
                                        "body": {"token": TOKEN, "replay": 100}}))
    events = [e["body"] for e in wire.sent[1:] if e["type"] == "event"]
    assert events.pop()["action"] == "monitor"   # its own, live after the replay
    return [{k: v for k, v in e.items() if k != "ts"} for e in events]


def test_events_are_kept_unencoded_until_a_monitor_reads_them_then_sent_as_the_trace_has_them() -> None:
    from core.node.monitor_feed import _Event, _Lazy, _LazyMessage
    # `plain` has only its feed, which the node hands message events to directly; `traced` has
    # another subscriber, so each event goes through a TraceEvent, as before issue 16.
    plain = MessageNode(D, Monitor(), monitor_token=TOKEN, replay=100)
    traced = MessageNode(D, Monitor(), monitor_token=TOKEN, replay=100)
    traces: list[TraceEvent] = []
    traced.monitor.subscribe(traces.append)
    for node in (plain, traced):
        _relay_traffic(node)
    assert plain.feed is not None and traced.feed is not None
    for feed, kept in ((plain.feed, _LazyMessage), (traced.feed, _Lazy)):
        # Only the messages to and from mn:/session (tokens to take out) were encoded when recorded.
        assert [type(e) for e in feed.history] == [_Event, _Lazy, _Event] * 2 + [kept, kept]
    expected = [orjson.loads(traced.feed.encode_body(t)) for t in traces]   # the encoding of each whole event
    assert [{k: v for k, v in e.items() if k != "ts"} for e in expected] == _replayed(traced) == _replayed(plain)
    assert [orjson.loads(e.body)["ts"] for e in traced.feed.history] == [t.ts for t in traces]
    relayed = expected[6]
    assert relayed["message"]["body"] == {"text": "caf\u00e9 \u2713"} and relayed["size"] == 153
    assert b'\n  "body": {"text": "caf\\u00e9 \xe2\x9c\x93"} }' in traced.feed.history[6].body   # as it came
    for event in traced.feed.history:   # each weighed at least what its encoding does
        assert event.weight >= len(event.body) + EVENT_WEIGHT


def test_flat_events_kept_unencoded_encode_as_the_trace_has_them() -> None:
    from core.node.monitor_feed import _Lazy
    node = MessageNode(D, Monitor(), monitor_token=TOKEN, replay=100)
    traces: list[TraceEvent] = []
    node.monitor.subscribe(traces.append)
    session = node.connect(Wire())
    runtime = addr.runtime_url(D, "r0")
    node.receive(session, orjson.dumps({"id": 1, "type": "open", "from": runtime, "to": addr.SESSION}))
    node.receive(session, orjson.dumps({"id": 2, "type": "create", "from": runtime + "/address-allocation",
                                        "to": addr.object_allocation(D),
                                        "body": {"scheme": "comm", "value": {"number": 2}}}))
    assert node.feed is not None
    history = list(node.feed.history)
    assert [t.kind for t in traces] == ["message", "session", "message", "message", "ownership", "ownership",
                                        "message"]
    assert all(isinstance(e, _Lazy) for e in history[3:])
    assert [orjson.loads(e.body) for e in history] == [orjson.loads(node.feed.encode_body(t)) for t in traces]
