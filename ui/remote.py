"""Live Message Nodes the console watches through their monitor feed (TRANSPORT §4).

One `NodeWatch` per node: an asyncio task on the console's loop that opens `mn:/monitor` with the
node's monitor token, turns each `event` frame into the `TraceEvent` the embedded lab would have
emitted, and hands it to the console's feed (`ui.feed.MonitorFeed.push`), so the node's sessions,
node subscriptions, ownerships and messages reach the same docks as the lab's. Every event's
`where` is the node's URL marked with the connection's name (`domain://msg-node.a.example@A`): two
nodes of the same domain, or a node of a domain the lab also has, never share a row.

A lost link is not fatal: the watch says why, waits (exponential backoff with jitter) and opens
again, asking the node to replay what it kept; events it already delivered are skipped. A refusal
(403 wrong monitor token) is final until the user connects again. `RemoteNodes` holds the watches
and the saved connections (`ui.node_connections`).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import socket
from collections.abc import Callable
from dataclasses import replace
from enum import Enum
from typing import Any

import orjson
from PySide6.QtCore import QObject, QSettings, Signal
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from core.monitor import TraceEvent
from core.protocol import address as addr
from ui.dialogs.base import in_words
from ui.feed import MonitorFeed
from ui.node_connections import NodeConnection, saved_connections, write_connections

#: Events asked of a node at each open: all it keeps (TRANSPORT §5: replay is bounded at 10,000 by
#: the node). A reconnect gets back what happened while the link was down, minus what the node let go.
REPLAY = 10_000
#: Reconnect backoff in seconds: the first retry after about `FIRST_RETRY`, doubling per failed
#: attempt up to `MAX_RETRY`, each jittered down by up to half (consoles cut off together by a node
#: restart do not all come back in the same instant).
FIRST_RETRY = 0.5
MAX_RETRY = 15.0
#: Seconds for the socket, the WebSocket handshake and the node's answer to `open`.
OPEN_TIMEOUT = 10.0
#: TRANSPORT §1: a ping every 20 s, 40 s for its pong, so a silent node is noticed within 60 s.
PING_INTERVAL = 20.0
PING_TIMEOUT = 40.0
#: Largest frame read; protects the console from a peer sending unbounded frames. A node's frames
#: are one event each, whose envelope is at most its message limit (TRANSPORT §5: 1 MiB by default).
MAX_FRAME = 16 << 20
#: Seconds a clean disconnect waits for the node's answer to `close`.
CLOSE_TIMEOUT = 2.0
#: Where saved connections live in QSettings (an array of name, url, token, autoconnect).

_monitor_ids = itertools.count(1)


class WatchState(Enum):
    """Invariant: only the watch's own task changes the state, except `stop()`, which sets STOPPED
    before cancelling the task; a STOPPED or REFUSED watch never opens again."""

    CONNECTING = "connecting"  # socket being opened, or `open` sent and its answer pending
    LIVE = "live"              # answered 200: events stream
    DOWN = "down"              # link lost or node unreachable: opened again after a backoff
    REFUSED = "refused"        # the node answered `open` with an error (403 wrong token): final
    STOPPED = "stopped"        # disconnected by the user: final


#: States in which a watch holds on to its connection (a new one of the same name would be a duplicate).
ACTIVE = (WatchState.CONNECTING, WatchState.LIVE, WatchState.DOWN)


class Refused(Exception):
    """The node answered the monitor's `open` with an error: `code`, `description`."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(in_words(code, description))
        self.code = code
        self.description = description


class NodeWatch:
    """One node watched through `mn:/monitor`: events go to `deliver`, state changes to `changed`."""

    def __init__(self, connection: NodeConnection, deliver: Callable[[TraceEvent], None],
                 changed: Callable[[NodeWatch], None], *, replay: int = REPLAY,
                 first_retry: float = FIRST_RETRY, max_retry: float = MAX_RETRY,
                 open_timeout: float = OPEN_TIMEOUT) -> None:
        self.connection = connection
        self.deliver = deliver
        self.changed = changed
        self.replay = replay
        self.first_retry = first_retry
        self.max_retry = max_retry
        self.open_timeout = open_timeout
        self.monitor_name = f"monitor://syncscope-{socket.gethostname()}-{os.getpid()}-{next(_monitor_ids)}"
        self.state = WatchState.CONNECTING
        #: Why the link is not live, in words ('' while live).
        self.problem = ""
        #: (code, description) of the node's refusal, once REFUSED.
        self.refusal: tuple[int, str] | None = None
        self.node_url = ""
        self.domain = ""
        self.session = ""          # this monitor's session id at the node
        #: For a node of a clustered domain (issue 15): its member name, scope and peers, as it said at
        #: the monitor's open and in later `members` events.
        self.cluster: dict[str, Any] | None = None
        self.opens = 0             # successful opens: 1 + reconnections
        self.attempts = 0          # failed attempts since the last successful open
        self.retry_in = 0.0        # seconds until the next attempt, while DOWN
        self.events = 0            # events delivered
        self.lost = 0              # events the node could not queue for this console (`lost` fields)
        self.bad_frames = 0        # frames that were not events (skipped)
        #: Reopens whose replay began after the last event delivered: events were missed meanwhile
        #: (the node restarted, or let them go). What the console knew may no longer hold.
        self.gaps = 0
        self._check_gap = False
        self._last_ts = float("-inf")
        self._at_last_ts = 0       # events delivered whose ts is `_last_ts`
        self._skip_at_last = 0     # while replaying: events at `_last_ts` still to skip
        self._replaying = False
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._outcome: asyncio.Future[WatchState] | None = None

    @property
    def name(self) -> str:
        return self.connection.name

    @property
    def where(self) -> str:
        """The `where` of this node's events in the console: its URL marked with the connection's name."""
        return f"{self.node_url or addr.MN_PREFIX + '?'}@{self.name}"

    # lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._outcome = asyncio.get_event_loop().create_future()
            self._task = asyncio.ensure_future(self._run())

    def continue_after(self, earlier: NodeWatch) -> None:
        """Skip, in this watch's first replay, what `earlier` (same name, same node) delivered already."""
        self._last_ts, self._at_last_ts = earlier._last_ts, earlier._at_last_ts

    async def outcome(self) -> WatchState:
        """The first of: live, refused, or down (still retrying)."""
        assert self._outcome is not None, "start() first"
        return await asyncio.shield(self._outcome)

    async def stop(self) -> None:
        """Close the monitor session (a `close`, TRANSPORT §4) and never open again."""
        task = self._task
        self.cancel()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    @property
    def finished(self) -> bool:
        """Its task has ended (a stopped watch may still be closing its monitor session)."""
        return self._task is None or self._task.done()

    def cancel(self) -> None:
        """Stop: the task closes the monitor session (`close`, then 1000) within CLOSE_TIMEOUT;
        await `stop()` to wait for it."""
        if self.state is not WatchState.STOPPED:
            self._set(WatchState.STOPPED, "disconnected")
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # the link -------------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._watch()
                problem = self._closed_problem()
            except Refused as exc:
                self.refusal = (exc.code, exc.description)
                self._set(WatchState.REFUSED, str(exc))
                return
            except InvalidURI as exc:
                self.refusal = (400, f"not a WebSocket URL: {exc}")
                self._set(WatchState.REFUSED, in_words(*self.refusal))
                return
            except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
                problem = f"unreachable: {_reason(exc)}" if self._ws is None else f"link lost: {_reason(exc)}"
            except Exception as exc:  # anything else is shown in words too, and retried
                problem = f"{type(exc).__name__}: {exc}"
            finally:
                self._ws = None
            if self.state is WatchState.STOPPED:
                return
            delay = min(self.max_retry, self.first_retry * 2 ** min(self.attempts, 30)) * random.uniform(0.5, 1.0)
            self.attempts += 1
            self.retry_in = delay
            self._set(WatchState.DOWN, problem)
            await asyncio.sleep(delay)
            self._set(WatchState.CONNECTING, problem)

    async def _watch(self) -> None:
        async with connect(self.connection.url, open_timeout=self.open_timeout, max_size=MAX_FRAME,
                           compression=None, proxy=None, user_agent_header=None,
                           ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT) as ws:
            self._ws = ws
            # TRANSPORT §4: the console opens with the monitor token, and asks for the node's replay.
            await ws.send(orjson.dumps({"id": 1, "type": "open", "from": self.monitor_name, "to": addr.MONITOR,
                                        "body": self._open_body()}).decode())
            opened = False
            try:
                value = await asyncio.wait_for(self._answer(ws), self.open_timeout)
                self._opened(value)
                opened = True
                async for frame in ws:
                    self._frame(frame)
            except asyncio.CancelledError:
                await self._goodbye(ws, opened)  # leaving the `async with` on an exception closes with 1011
                raise

    def _open_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"token": self.connection.token, "replay": self.replay}
        if self.connection.secret:
            body["secret"] = self.connection.secret
        return body

    async def _goodbye(self, ws: ClientConnection, opened: bool) -> None:
        """Close as TRANSPORT §4 says (a monitor's `close`, answered 200) and the link with 1000."""
        try:
            if opened:
                await asyncio.wait_for(ws.send(orjson.dumps({"id": 2, "type": "close", "from": self.monitor_name,
                                                             "to": addr.MONITOR}).decode()), CLOSE_TIMEOUT)
            await asyncio.wait_for(ws.close(1000), CLOSE_TIMEOUT)
        except (ConnectionClosed, OSError, TimeoutError):
            pass

    async def _answer(self, ws: ClientConnection) -> dict[str, Any]:
        """The value of the node's 200 to `open`; raises Refused for any other code."""
        while True:
            frame = _json(await ws.recv(decode=False))
            if frame is None or frame.get("type") != "response" or frame.get("id") != 1:
                self.bad_frames += 1
                continue
            body = frame.get("body")
            body = body if isinstance(body, dict) else {}
            code = body.get("code")
            if code != 200:
                raise Refused(code if isinstance(code, int) else 500, str(body.get("description") or ""))
            value = body.get("value")
            return value if isinstance(value, dict) else {}

    def _opened(self, value: dict[str, Any]) -> None:
        cluster = value.get("cluster")
        self.cluster = cluster if isinstance(cluster, dict) else None
        self.node_url = str(value.get("node") or self.node_url)
        self.domain = str(value.get("domain") or self.domain)
        self.session = str(value.get("session") or "")
        #: How the node opens home sessions: "secret" (it has a home secret) or "first come".
        self.home = str(value.get("home") or "")
        self.opens += 1
        self.attempts = 0
        self.retry_in = 0.0
        # Until this monitor's own `session`/`monitor` event the node replays what it kept: skip the
        # events delivered before the link went down (the replay is the node's history, in order).
        self._replaying = True
        self._skip_at_last = self._at_last_ts
        self._check_gap = self._last_ts != float("-inf")
        self._set(WatchState.LIVE, "")

    def _frame(self, data: str | bytes) -> None:
        frame = _json(data)
        body = frame.get("body") if frame is not None and frame.get("type") == "event" else None
        if not isinstance(body, dict):
            self.bad_frames += 1
            return
        try:
            event = TraceEvent.from_dict(body)
        except (TypeError, ValueError):
            self.bad_frames += 1
            return
        if self._check_gap:
            self._check_gap = False
            if event.ts > self._last_ts:
                self.gaps += 1
                self.changed(self)  # before this event: views mark what they knew as uncertain first
        if self._replaying and self._already_delivered(event):
            return
        lost = event.detail.get("lost")
        if isinstance(lost, int) and lost > 0:
            self.lost += lost
        if event.ts == self._last_ts:
            self._at_last_ts += 1
        else:
            self._last_ts, self._at_last_ts = event.ts, 1
        event.where = self.where
        self.events += 1
        self.deliver(event)

    def _already_delivered(self, event: TraceEvent) -> bool:
        d = event.detail
        if event.kind == "session" and d.get("action") == "monitor" and d.get("session") == self.session:
            self._replaying = False  # our own open: what follows is live
            return False
        if event.ts < self._last_ts:
            return True
        if event.ts == self._last_ts and self._skip_at_last > 0:
            self._skip_at_last -= 1
            return True
        return False

    def _closed_problem(self) -> str:
        ws = self._ws
        code = ws.close_code if ws is not None else None
        reason = ws.close_reason if ws is not None else ""
        return f"closed by the node ({code}{' ' + reason if reason else ''})" if code is not None else "link closed"

    def _set(self, state: WatchState, problem: str) -> None:
        if self.state is WatchState.STOPPED and state is not WatchState.STOPPED:
            return
        self.state = state
        self.problem = problem
        if self._outcome is not None and not self._outcome.done() and state is not WatchState.CONNECTING:
            self._outcome.set_result(state)
        self.changed(self)


def _json(data: str | bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionClosed):
        rcvd = exc.rcvd
        if rcvd is None:
            return "no close frame (1006)"
        return f"{rcvd.code}{' ' + rcvd.reason if rcvd.reason else ''}"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc) or type(exc).__name__
    return text


class RemoteNodes(QObject):
    """The nodes the console watches, by connection name, and the saved connections.

    `settings` None keeps saved connections for this run only. Saved connections marked
    `autoconnect` are watched as soon as this is built (the console is starting)."""

    #: A watch's state or counts changed (its name).
    changed = Signal(str)
    #: A watch was removed from the list (its name).
    removed = Signal(str)
    #: A sentence for the status bar.
    message = Signal(str)

    def __init__(self, feed: MonitorFeed, settings: QSettings | None = None, parent: QObject | None = None, *,
                 replay: int = REPLAY, first_retry: float = FIRST_RETRY, max_retry: float = MAX_RETRY) -> None:
        super().__init__(parent)
        self.feed = feed
        self.settings = settings
        self.replay = replay
        self.first_retry = first_retry
        self.max_retry = max_retry
        self.watches: dict[str, NodeWatch] = {}
        #: watches replaced while their task may still be closing its session: `aclose` waits for them too
        self._replaced: list[NodeWatch] = []
        self._saved = saved_connections(settings)
        for connection in self._saved:
            if connection.autoconnect and connection.token:
                self.attach(connection)

    # watches --------------------------------------------------------------------------------------

    def attach(self, connection: NodeConnection) -> NodeWatch:
        """Start watching a node; a refused or stopped watch of the same name is replaced."""
        old = self.watches.get(connection.name)
        if old is not None and old.state in ACTIVE:
            raise ValueError(f"already watching a node as {connection.name!r}")
        watch = NodeWatch(connection, self.feed.push, self._changed, replay=self.replay,
                          first_retry=self.first_retry, max_retry=self.max_retry)
        if old is not None:
            self._replaced = [w for w in self._replaced if not w.finished] + [old]
            if old.connection.url == connection.url:
                watch.continue_after(old)  # its rows are in the docks already: no second copy of them
        self.watches[connection.name] = watch
        watch.start()
        self.changed.emit(connection.name)
        return watch

    def active(self) -> list[NodeWatch]:
        return [w for w in self.watches.values() if w.state in ACTIVE]

    async def detach(self, name: str) -> None:
        """Close the monitor session of `name`; it stays listed, stopped."""
        watch = self.watches.get(name)
        if watch is not None:
            await watch.stop()

    async def remove(self, name: str) -> None:
        """Stop watching `name` and take it off the list (its rows in the other docks stay)."""
        watch = self.watches.pop(name, None)
        if watch is not None:
            await watch.stop()
            self.removed.emit(name)

    def reconnect(self, name: str) -> NodeWatch | None:
        """Open `name` again now (a stopped or refused one too, with the same URL and token)."""
        watch = self.watches.get(name)
        if watch is None:
            return None
        watch.cancel()
        return self.attach(watch.connection)

    def close(self) -> None:
        """Stop every watch now (the window is closing)."""
        for watch in self.watches.values():
            watch.cancel()

    async def aclose(self) -> None:
        for watch in [*self.watches.values(), *self._replaced]:
            await watch.stop()
        self._replaced = []

    def _changed(self, watch: NodeWatch) -> None:
        if self.watches.get(watch.name) is not watch:
            return  # replaced
        self.changed.emit(watch.name)
        sentence = _sentence(watch)
        if sentence:
            self.message.emit(sentence)

    # saved connections (QSettings) ----------------------------------------------------------------

    def saved(self) -> list[NodeConnection]:
        return list(self._saved)

    def save(self, connection: NodeConnection, remember_token: bool = True) -> None:
        """Remember `connection` (replacing one of the same name). Without `remember_token` the
        token is not written (the settings file is plain text); connecting asks for it again."""
        kept = connection if remember_token else replace(connection, token="", secret="", autoconnect=False)
        self._saved = [c for c in self._saved if c.name != connection.name] + [kept]
        self._write_saved()

    def forget(self, name: str) -> None:
        self._saved = [c for c in self._saved if c.name != name]
        self._write_saved()

    def _write_saved(self) -> None:
        write_connections(self.settings, self._saved)


def _sentence(watch: NodeWatch) -> str:
    name = watch.name
    state = watch.state
    if state is WatchState.LIVE:
        again = " again" if watch.opens > 1 else ""
        return f"node {name}: watching {watch.node_url}{again}"
    if state is WatchState.DOWN:
        return f"node {name}: {watch.problem}; reconnecting in {watch.retry_in:.1f} s"
    if state is WatchState.REFUSED:
        return f"node {name}: {watch.problem}"
    if state is WatchState.STOPPED:
        return f"node {name}: disconnected"
    return ""
