"""One Message Node's membership of a clustered domain on NATS (issue 15).

`syncscope node --cluster nats://…` connects here before the node is built: the shared state is
read from JetStream (`ClusterState`), then the node is attached (`attach`): its view follows every
stored change, its sessions' subjects are taken (`ClusterRouter`), and it announces itself in the
domain's `members` bucket, where every node also finds its peers.

Liveness (DECISIONS.md): a node's presence *is* its NATS connection. Its runtime and address
subjects vanish from the NATS server the moment the connection does (a killed process's socket
closes at once; a hung host is dropped after the server's missed pings), so no node routes to a
dead node's sessions and nothing has to clean up after it. The `members` bucket, refreshed by a
heartbeat and expiring entries after `MEMBER_TTL`, only tells operators who the peers are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import nats
import orjson
from nats.aio.client import Client as NATS
from nats.js.errors import BucketNotFoundError

from core.monitor import Monitor, TraceEvent
from core.node.cluster.names import Names
from core.node.cluster.router import ClusterRouter
from core.node.cluster.shared_state import ClusterState
from core.node.cluster.view import NodeView
from core.tasks import TaskSet

if TYPE_CHECKING:
    from core.node.node import MessageNode

log = logging.getLogger("syncscope.cluster")

#: Seconds between a node's membership heartbeats, and after which a silent member is forgotten.
HEARTBEAT = 2.0
MEMBER_TTL = 6.0
#: NATS client keepalive: the server also pings; these bound how long a node believes a dead server.
PING_INTERVAL = 2
MAX_OUTSTANDING_PINGS = 2


#: Bytes a message between nodes carries beside the envelope (subject, reply inbox, headers).
CLUSTER_HEADERS = 4096


class ClusterUnavailable(Exception):
    """NATS cannot be reached: the node refuses to start rather than serve a domain alone."""


class Cluster:
    def __init__(self, servers: list[str], domain: str, *, monitor: Monitor | None = None,
                 node_id: str | None = None, listen_url: str = "", monitor_scope: str = "node") -> None:
        """`monitor_scope` "domain": this node's monitors also see every other node's events
        (`--monitor-scope domain`); the other nodes send them only while such a node is a member."""
        self.servers = servers
        self.domain = domain
        self.names = Names(domain)
        self.node_id = node_id or secrets.token_hex(4)
        self.listen_url = listen_url
        self.monitor = monitor or Monitor()
        self.tasks = TaskSet(self.monitor, f"cluster {self.node_id}")
        self.nc: NATS | None = None
        self.state: ClusterState | None = None
        self.router: ClusterRouter | None = None
        self.view: NodeView | None = None
        self.on_change: list[Callable[[], None]] = []   # membership or availability changed
        self.peers: dict[str, dict[str, Any]] = {}
        self._members: Any = None
        self.closing = False
        self.monitor_scope = monitor_scope
        self._node_monitor: Monitor | None = None
        self._trace_queue: deque[bytes] = deque(maxlen=10_000)
        self._flushing = False
        self._member_names: tuple[str, ...] = ()
        self._domain_watch = False   # a member with --monitor-scope domain wants this node's events
        self._member_watch: asyncio.Task[None] | None = None

    @property
    def max_payload(self) -> int:
        return self.nc.max_payload if self.nc is not None else 0

    @property
    def available(self) -> bool:
        """NATS is reachable: the node takes new work (else it answers 503)."""
        return self.nc is not None and self.nc.is_connected

    async def connect(self, timeout: float = 5.0) -> None:
        """Reach NATS and read the shared state (before the node is built: it restores from it)."""

        async def disconnected() -> None:
            if self.closing:
                return
            log.warning("cluster: NATS unreachable; refusing new work with 503 until it is back")
            self._changed()

        async def reconnected() -> None:
            log.warning("cluster: NATS reachable again at %s", self.nc.connected_url.netloc if self.nc and
                        self.nc.connected_url else "?")
            if self.state is not None:
                self.tasks.spawn(self.state.rewatch(), "cluster rewatch")
            if self._member_watch is not None:
                self._member_watch.cancel()
                self._member_watch = self.tasks.spawn(self._watch_members(), "cluster members")
            self._changed()

        async def error(exc: Exception) -> None:
            log.info("cluster: NATS: %s", exc)

        try:
            self.nc = await nats.connect(servers=self.servers, connect_timeout=timeout, allow_reconnect=True,
                                         max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                         ping_interval=PING_INTERVAL, max_outstanding_pings=MAX_OUTSTANDING_PINGS,
                                         disconnected_cb=disconnected, reconnected_cb=reconnected,
                                         error_cb=error, name=f"syncscope node {self.node_id} ({self.domain})")
            js = self.nc.jetstream()
            self.state = ClusterState(js, self.names, self.tasks)
            await self.state.start()
        except Exception as exc:
            await self.close()
            raise ClusterUnavailable(f"cannot join the cluster at {', '.join(self.servers)}: "
                                     f"{type(exc).__name__}: {exc}") from exc

    async def attach(self, node: MessageNode) -> None:
        """Wire `node` in: its view follows the shared state, its sessions are reachable from peers."""
        assert self.nc is not None and self.state is not None
        self.view = NodeView(node)
        self.state.attach(self.view)
        self.router = ClusterRouter(self.nc, self.names, self.node_id, self.view, self.tasks)
        await self.router.start()
        js = self.nc.jetstream()
        name = self.names.bucket("members")
        try:
            self._members = await js.key_value(name)
        except BucketNotFoundError:
            self._members = await js.create_key_value(bucket=name, history=1, ttl=MEMBER_TTL)
        self._node_monitor = node.monitor
        node.monitor.subscribe(self._trace_out)
        if self.monitor_scope == "domain":
            await self.nc.subscribe(self.names.trace, cb=self._trace_in)
        await self._heartbeat_once()
        self.tasks.spawn(self._heartbeat(), "cluster heartbeat")
        self._member_watch = self.tasks.spawn(self._watch_members(), "cluster members")

    async def _heartbeat_once(self) -> None:
        record = {"node": self.node_id, "url": self.listen_url, "domain": self.domain, "ts": time.time(),
                  "sessions": self.router.runtimes() if self.router else [], "scope": self.monitor_scope}
        await self._members.put(self.node_id, orjson.dumps(record))

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self._heartbeat_once()
            except Exception as exc:  # NATS away: the next beat tries again
                log.debug("cluster: heartbeat failed: %s", type(exc).__name__)

    async def _watch_members(self) -> None:
        while True:
            try:
                watcher = await self._members.watchall()
                async for entry in watcher:
                    if entry is None:
                        self._changed()
                        continue
                    if entry.operation is None and entry.value:
                        self.peers[entry.key] = orjson.loads(entry.value)
                    else:
                        self.peers.pop(entry.key, None)
                    self._changed()
            except Exception as exc:  # re-watch after NATS comes back
                log.debug("cluster: member watch ended: %s", type(exc).__name__)
                await asyncio.sleep(1.0)

    async def wait_for_members(self, timeout: float = 2.0) -> list[dict[str, Any]]:
        """The members once this node sees itself among them (its first heartbeat read back)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.node_id not in self.peers and loop.time() < deadline:
            await asyncio.sleep(0.02)
        return self.members()

    def members(self) -> list[dict[str, Any]]:
        """The nodes of the domain that beat within `MEMBER_TTL`, this one included."""
        now = time.time()
        return sorted((p for p in self.peers.values() if now - p.get("ts", 0) <= MEMBER_TTL),
                      key=lambda p: str(p.get("node")))

    def _trace_out(self, event: TraceEvent) -> None:
        """Send this node's own events to the domain-scope monitors of other nodes, while any exist."""
        if not self._domain_watch or event.detail.get("node", self.node_id) != self.node_id or self.nc is None:
            return
        record = event.to_dict()
        record["node"] = self.node_id
        self._trace_queue.append(orjson.dumps(record, default=str))   # bounded: the oldest go first
        if not self._flushing:
            self._flushing = True
            self.tasks.spawn(self._flush_trace(), "cluster trace")

    async def _flush_trace(self) -> None:
        try:
            while self._trace_queue and self.nc is not None:
                data = self._trace_queue.popleft()
                with contextlib.suppress(Exception):   # a monitor loses events rather than slowing routing
                    await self.nc.publish(self.names.trace, data)
        finally:
            self._flushing = False

    async def _trace_in(self, msg: Any) -> None:
        record = orjson.loads(msg.data)
        if record.get("node") != self.node_id and self._node_monitor is not None:
            self._node_monitor.publish(TraceEvent.from_dict(record))

    def describe(self) -> dict[str, Any]:
        """This member and its peers, as monitors are told (the `cluster` of the monitor open answer
        and of `session` events with action `members`)."""
        return {"node": self.node_id, "scope": self.monitor_scope,
                "members": [{"node": p.get("node"), "url": p.get("url")} for p in self.members()]}

    def _changed(self) -> None:
        members = self.members()
        self._domain_watch = any(p.get("scope") == "domain" and p.get("node") != self.node_id for p in members)
        names = tuple(str(p.get("node")) for p in members)
        if names != self._member_names and self._node_monitor is not None:
            self._member_names = names
            self._node_monitor.emit("session", f"domain://msg-node.{self.domain}", action="members",
                                    node=self.node_id, cluster=self.describe())
        for callback in list(self.on_change):
            callback()

    async def close(self) -> None:
        self.closing = True
        if self.nc is not None and self.nc.is_connected and self._members is not None:
            with contextlib.suppress(Exception):   # leaving anyway: the entry expires
                await self._members.delete(self.node_id)
        await self.tasks.close()
        if self.router is not None:
            self.router.close()
        if self.nc is not None:
            with contextlib.suppress(Exception):   # already gone
                await self.nc.drain()
            self.nc = None
