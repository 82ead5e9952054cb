"""A clustered domain's shared state in JetStream key-value buckets (issue 15).

The same interface as `core.node.state` (tokens, ownership, fences, bound hyperties,
registrations), kept in five buckets that every node of the domain reads and writes. Each node holds
a full local view, loaded at start and kept current by one watcher per bucket, so routing and the
checks of PROTOCOL §6 stay synchronous lookups. Writes go out in order through one writer task and
are compare-and-set against the revision the node last saw (a key it has not seen must not exist):
two nodes allocating, claiming, binding or committing a delegation at once cannot both win.

The node answers a request that changed state only after its writes are stored (`after`), so a node
that dies loses nothing it answered. A write that loses a race, or cannot be stored, fails the
request it belongs to: its keys are read back and the local view is repaired from what is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from nats.js.client import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from core.node.cluster.names import Names, digest
from core.node.state import Snapshot
from core.tasks import TaskSet

log = logging.getLogger("syncscope.cluster")

BUCKETS = ("tokens", "owners", "fences", "bound", "registry", "acceptances")
#: What a view must have caught up with for a refusal to stand (`core.node.cluster.catch_up`): who owns
#: an address, and which transfers were accepted.
CAUGHT_UP = ("owners", "acceptances")
#: Writes sent together before the writer waits for their acknowledgements.
WRITE_BATCH = 256
#: Seconds a write may wait for JetStream before it counts as failed.
WRITE_TIMEOUT = 5.0


class View(Protocol):
    """Where a node keeps its local copy; the watchers apply every stored change through it."""

    def set_token(self, runtime: str, token: str | None) -> None: ...

    def set_owner(self, address: str, runtime: str | None) -> None: ...

    def set_fence(self, token: str, kind: str | None) -> None: ...

    def set_bound(self, hyperty: str, runtime: str | None) -> None: ...

    def set_registration(self, url: str, value: dict[str, Any] | None) -> None: ...

    def set_acceptance(self, key: str, runtime: str | None) -> None: ...


@dataclass
class _Write:
    bucket: str
    name: str            # the string the key digests (address, runtime URL, token)
    value: Any           # None: delete
    create: bool = False  # must not exist yet, whatever this node has seen


class ClusterState:
    """`core.node.state`'s interface over JetStream KV, with `after` for answers that need durability."""

    deferred = False

    def __init__(self, js: JetStreamContext, names: Names, tasks: TaskSet) -> None:
        self.js = js
        self.names = names
        self.tasks = tasks
        self.kv: dict[str, KeyValue] = {}
        self.revisions: dict[str, dict[str, int]] = {b: {} for b in BUCKETS}
        self.view: View | None = None
        self._snapshot = Snapshot()
        self._queue: deque[_Write | tuple[Callable[[int], None]]] = deque()
        self._wake = asyncio.Event()
        #: per bucket, the stream sequence of the last entry its watcher applied (`caught_up`)
        self.applied: dict[str, int] = dict.fromkeys(BUCKETS, 0)
        self._progress = asyncio.Event()
        self._failure = 0          # 409 or 503 when a write since the last barrier failed, else 0
        self.asked = 0             # writes asked for so far: a request that asked none needs no barrier
        self.stored = 0            # writes acknowledged, for the bench and tests
        self._names: dict[tuple[str, str], str] = {}   # (bucket, key) → the string it digests
        self._watchers: dict[str, asyncio.Task[None]] = {}

    # start-up ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open (or create) the buckets, read everything stored, then follow changes."""
        for what in BUCKETS:
            name = self.names.bucket(what)
            try:
                self.kv[what] = await self.js.key_value(name)
            except BucketNotFoundError:
                self.kv[what] = await self.js.create_key_value(bucket=name, history=1)
        for what in BUCKETS:
            watcher = await self.kv[what].watchall()
            async for entry in watcher:
                if entry is None:
                    break
                self._absorb(what, entry, initial=True)
            self._watchers[what] = self.tasks.spawn(self._follow(what, watcher), f"cluster watch {what}")
        self.tasks.spawn(self._writer(), "cluster writer")

    async def rewatch(self) -> None:
        """After NATS came back: the watchers' consumers may be gone with the server, so follow every
        bucket anew; what is stored now is applied over the local view (deletions included)."""
        for what in BUCKETS:
            old = self._watchers.pop(what, None)
            if old is not None:
                old.cancel()
            try:
                watcher = await self.kv[what].watchall()
            except Exception as exc:  # gone again: the next reconnection tries once more
                log.warning("cluster: cannot follow %s: %s", what, type(exc).__name__)
                return
            self._watchers[what] = self.tasks.spawn(self._follow(what, watcher), f"cluster watch {what}")

    def load(self) -> Snapshot:
        return self._snapshot

    def attach(self, view: View) -> None:
        """From now on every stored change, ours and the other nodes', is applied to `view`."""
        self.view = view

    async def _follow(self, what: str, watcher: Any) -> None:
        async for entry in watcher:
            if entry is not None:
                self._absorb(what, entry)

    def _absorb(self, what: str, entry: Any, initial: bool = False) -> None:
        if entry.revision is not None and entry.revision > self.applied[what]:
            self.applied[what] = entry.revision
            self._progress.set()
        deleted = entry.operation in (KV_DEL, KV_PURGE)
        if deleted:
            self.revisions[what].pop(entry.key, None)
            record: dict[str, Any] = {}
        else:
            self.revisions[what][entry.key] = entry.revision
            record = orjson.loads(entry.value)
        name: Any = self._names.pop((what, entry.key), None) if deleted else record.get("k")
        if not isinstance(name, str):
            return
        if not deleted:
            self._names[(what, entry.key)] = name
        value = None if deleted else record.get("v")
        if initial:
            self._into_snapshot(what, name, value)
        elif self.view is not None:
            self._apply(what, name, value)

    def _into_snapshot(self, what: str, name: str, value: Any) -> None:
        if value is None or what == "acceptances":   # acceptances die with their link: none to restore
            return
        snap = self._snapshot
        if what == "fences":
            if value == "fence":
                snap.fenced.add(name)
            return
        targets: dict[str, dict[str, Any]] = {"tokens": snap.tokens, "owners": snap.owners, "bound": snap.bound,
                                              "registry": snap.registrations}
        targets[what][name] = value

    def _apply(self, what: str, name: str, value: Any) -> None:
        view = self.view
        assert view is not None
        setters: dict[str, Callable[[str, Any], None]] = {
            "tokens": view.set_token, "owners": view.set_owner, "fences": view.set_fence,
            "bound": view.set_bound, "registry": view.set_registration, "acceptances": view.set_acceptance}
        setters[what](name, value)

    async def caught_up(self) -> bool:
        """Until the view holds every change stored in the `CAUGHT_UP` buckets before this call (True), or
        False when JetStream cannot say within `WRITE_TIMEOUT`: a node that answered a request did so only
        once its writes were stored (`after`), so this is what any node answered before now."""
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                statuses = await asyncio.gather(*(self.kv[what].status() for what in CAUGHT_UP))
                last = {what: status.stream_info.state.last_seq or 0 for what, status in zip(CAUGHT_UP, statuses,
                                                                                             strict=True)}
                while any(self.applied[what] < seq for what, seq in last.items()):
                    self._progress.clear()
                    await self._progress.wait()
        except Exception as exc:  # NATS unreachable or slow: the view stays as it is
            log.info("cluster: the view could not catch up: %s", type(exc).__name__)
            return False
        return True

    # the state interface (core.node.state) ----------------------------------------------------------

    def commit(self) -> None:
        pass

    def close(self) -> None:
        pass

    def token(self, runtime: str, token: str) -> None:
        self._put("tokens", runtime, token, create=True)

    def owners(self, addresses: list[str], runtime: str) -> None:
        for address in addresses:
            self._put("owners", address, runtime)

    def drop_owner(self, address: str) -> None:
        self._put("owners", address, None)

    def fence(self, token: str) -> None:
        self._put("fences", token, "fence", create=True)

    def commit_transfer(self, token: str) -> None:
        """PROTOCOL §4 #8 against §1.2 step 6 across nodes: a delegation token is either fenced by an
        owner query or committed by a transfer, whichever is stored first."""
        self._put("fences", token, "commit", create=True)

    def bind(self, hyperty: str, runtime: str) -> None:
        self._put("bound", hyperty, runtime, create=True)

    def register(self, url: str, value: dict[str, Any]) -> None:
        self._put("registry", url, value)

    def unregister(self, url: str) -> None:
        self._put("registry", url, None)

    def accept(self, url: str, token: str, runtime: str) -> None:
        """PROTOCOL §4 #4 across nodes: the transfer may be committed on the old owner's node."""
        self._put("acceptances", f"{url}\n{token}", runtime)

    def unaccept(self, url: str, token: str) -> None:
        self._put("acceptances", f"{url}\n{token}", None)

    def after(self, callback: Callable[[int], None]) -> None:
        """Call `callback(failure)` once every write asked for so far is stored: 0, or 409 when one
        asked for since the previous `after` lost a race to another node, 503 when it could not be
        stored."""
        self._queue.append((callback,))
        self._wake.set()

    def _put(self, what: str, name: str, value: Any, create: bool = False) -> None:
        self._queue.append(_Write(what, name, value, create))
        self.asked += 1
        self._wake.set()

    # the writer ------------------------------------------------------------------------------------

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch: list[_Write] = []
                keys: set[tuple[str, str]] = set()
                while self._queue and len(batch) < WRITE_BATCH:
                    head = self._queue[0]
                    if isinstance(head, tuple):
                        if batch:
                            break
                        self._queue.popleft()
                        failure, self._failure = self._failure, 0
                        head[0](failure)
                        continue
                    key = (head.bucket, digest(head.name))
                    if key in keys:      # the same key twice: the second waits for the first
                        break
                    keys.add(key)
                    batch.append(head)
                    self._queue.popleft()
                if batch:
                    for failure in await asyncio.gather(*(self._store(w) for w in batch)):
                        self._failure = max(self._failure, failure)

    async def _store(self, w: _Write) -> int:
        kv = self.kv[w.bucket]
        key = digest(w.name)
        seen = self.revisions[w.bucket].get(key)
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                if w.value is None:
                    if seen is not None:
                        await kv.delete(key, last=seen)
                    return 0
                data = orjson.dumps({"k": w.name, "v": w.value})
                if w.create or seen is None:
                    rev = await kv.create(key, data)
                else:
                    rev = await kv.update(key, data, last=seen)
                self.revisions[w.bucket][key] = max(rev, self.revisions[w.bucket].get(key, 0))
                self._names[(w.bucket, key)] = w.name
                self.stored += 1
                return 0
        except KeyWrongLastSequenceError:
            log.info("cluster: %s key %s changed by another node first", w.bucket, key)
            failure = 409
        except Exception as exc:  # NATS unreachable, timeouts: the request fails, state is repaired
            log.warning("cluster: cannot store %s key %s: %s", w.bucket, key, type(exc).__name__)
            failure = 503
        await self._repair(w.bucket, w.name)
        return failure

    async def _repair(self, what: str, name: str) -> None:
        """Put the local view back to what is stored for `name` (another node's write, or nothing)."""
        key = digest(name)
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                entry = await self.kv[what].get(key)
        except (KeyNotFoundError, KeyDeletedError):
            self.revisions[what].pop(key, None)
            if self.view is not None:
                self._apply(what, name, None)
            return
        except Exception:  # still unreachable: the watcher repairs it when NATS is back
            return
        if entry.revision is not None:
            self.revisions[what][key] = entry.revision
        if self.view is not None and entry.value is not None:
            self._apply(what, name, orjson.loads(entry.value).get("v"))
