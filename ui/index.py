"""What the console knows of the lab: runtimes, hyperties, and the reporter and observer replica of
every object, kept in step by the monitor instead of rescanned.

Each batch of trace events names what it touched: `held`/`released` name a replica, `hyperty` and
`session` events a runtime, and every event names the objects it concerns (its `object`, or the
object of a message's addresses). Only those are looked up again through the engine's public API
(`runtime.hyperty_urls`, `syncher.reporters`/`observers`), so a flush costs what changed, not the
size of the lab. The whole lab is read once, when the console opens on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.lab import Lab
from core.monitor import TraceEvent
from ui.delegation import DelegationPolicy, SubscriptionHandlers
from ui.naming import Namer, object_of
from ui.passive import Change, PassiveNode

#: Session events after which every replica a runtime held is looked up again (its Synchers are new).
RESTARTS = ("runtime crashed", "runtime stopped", "runtime resumed")


@dataclass(slots=True)
class Replica:
    """One copy of an object: the reporter's or one observer's; `seen_at` names the live node whose
    monitor feed shows it (a passive replica, `ui.passive`), '' for a replica of the console's lab."""

    url: str
    hyperty: Any
    obj: Any
    is_reporter: bool
    seen_at: str = ""

    @property
    def passive(self) -> bool:
        return bool(self.seen_at)

    @property
    def label(self) -> str:
        at = f", seen at {self.seen_at}" if self.seen_at else ""
        return f"{self.hyperty.name} ({'reporter' if self.is_reporter else 'observer'}{at})"

    @property
    def holder(self) -> str:
        """The hyperty's name, and where a passive replica was seen."""
        return f"{self.hyperty.name} @ {self.seen_at}" if self.seen_at else str(self.hyperty.name)


class EngineIndex:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.namer = Namer()
        self.runtimes: dict[str, Any] = {}
        self.hyperties: dict[str, Any] = {}
        self.reporters: dict[str, Replica] = {}
        self.observers: dict[str, dict[str, Replica]] = {}   # object URL → hyperty URL → replica
        self.observer_count = 0
        #: Subscriptions asked and not yet turned into an observer replica: object → hyperty URLs.
        #: They are replicas behind too (a restarted runtime's observers resuming, a partitioned reporter).
        self.pending: dict[str, set[str]] = {}
        #: Which hyperties accept the reporter role when offered (the console is their application).
        self.delegation = DelegationPolicy()
        self.subscription_handlers = SubscriptionHandlers()
        #: What each watched live node's feed shows, by the node's connection name.
        self.passive: dict[str, PassiveNode] = {}
        #: Objects the last batch concerned, in the order it first named them: the rows every view
        #: looks at again (new rows join the tables in that order).
        self.touched: dict[str, None] = {}
        #: Objects whose set of replicas changed in the last batch.
        self.replicas_changed: set[str] = set()
        for runtime in lab.runtimes:
            self._read_runtime(runtime)

    # feeding -------------------------------------------------------------------------------------

    def observe(self, events: Iterable[TraceEvent]) -> None:
        """Take in one batch of trace events (in order); `touched` then names the objects it concerned."""
        touched: dict[str, None] = {}
        held: dict[tuple[str, str, str], None] = {}  # (runtime, hyperty, object) to look up again, in order
        runtimes: set[str] = set()
        restarted: set[str] = set()
        remote: list[tuple[str, Change]] = []
        for event in events:
            message = event.message
            # the objects it concerns (from, to, body.resource; an event's `object`), inline: every event of
            # a batch comes here
            if message is not None:
                touched[object_of(str(message.get("from", "")))] = None
                touched[object_of(str(message.get("to", "")))] = None
                body = message.get("body")
                if isinstance(body, dict):
                    resource = body.get("resource")
                    if isinstance(resource, str):
                        touched[object_of(resource)] = None
            else:
                url = event.detail.get("object")
                if isinstance(url, str):
                    touched[url] = None
            kind = event.kind
            at = event.where.rfind("@")
            if at >= 0:  # a live node's event (`ui.remote`: its `where` ends with @<connection name>)
                self._remote(event, event.where[at + 1:], remote)
            elif kind == "subscription":
                self._subscription(event.detail)
            elif kind == "object":
                detail = event.detail
                action = detail.get("action")
                if action in ("held", "released"):
                    held[(event.where, str(detail.get("hyperty", "")), str(detail.get("object", "")))] = None
                elif action == "deleted" and detail.get("role") == "reporter":
                    self.subscription_handlers.forget(str(detail.get("object", "")))
                elif action == "hyperty":
                    runtimes.add(event.where)
            elif kind == "session":
                runtimes.add(event.where)
                if event.detail.get("action") in RESTARTS:
                    restarted.add(event.where)
        touched.pop("", None)
        for url in runtimes:
            self._runtime_changed(url)
        self.replicas_changed = set()
        for where in restarted:
            for key in self._held_by(where):
                held.setdefault(key, None)
        for where, hyperty_url, url in held:
            self._look_up(where, hyperty_url, url)
        for name, change in remote:
            self._passive_changed(name, change)
        touched.update(dict.fromkeys(self.replicas_changed))
        self.touched = touched

    def _remote(self, event: TraceEvent, name: str, changes: list[tuple[str, Change]]) -> None:
        node = self.passive.get(name)
        if node is None:
            node = self.passive[name] = PassiveNode(name, self.namer.name_hyperty)
        found: list[Change] = []
        node.observe(event, found)
        changes.extend((name, change) for change in found)

    def _passive_changed(self, name: str, change: Change) -> None:
        url, hyperty_url, is_reporter, obj = change
        node = self.passive[name]
        self.replicas_changed.add(url)
        if is_reporter:
            mine = self.reporters.get(url)
            if obj is not None:
                self.reporters[url] = Replica(url, node.hyperties[hyperty_url], obj, True, name)
            elif mine is not None and mine.seen_at == name and mine.hyperty.url == hyperty_url:
                del self.reporters[url]
            return
        theirs = self.observers.setdefault(url, {})
        known = theirs.get(hyperty_url)
        if obj is not None:
            self.observer_count += known is None
            theirs[hyperty_url] = Replica(url, node.hyperties[hyperty_url], obj, False, name)
        elif known is not None and known.seen_at == name:
            del theirs[hyperty_url]
            self.observer_count -= 1
        if not theirs:
            del self.observers[url]

    def _subscription(self, detail: dict[str, Any]) -> None:
        obj, hyperty, state = detail.get("object"), detail.get("hyperty"), detail.get("state")
        if not isinstance(obj, str) or not isinstance(hyperty, str) or detail.get("side") == "reporter":
            return
        if state == "pending" or (state == "live" and hyperty not in self.observers.get(obj, {})):
            self.pending.setdefault(obj, set()).add(hyperty)
        elif state in ("removed", "revoked"):
            self._not_pending(obj, hyperty)

    def _not_pending(self, url: str, hyperty_url: str) -> None:
        waiting = self.pending.get(url)
        if waiting is not None:
            waiting.discard(hyperty_url)
            if not waiting:
                del self.pending[url]

    def _held_by(self, runtime_url: str) -> list[tuple[str, str, str]]:
        """(runtime, hyperty, object) of every replica the index or the runtime's Synchers hold."""
        found = [(runtime_url, rep.hyperty.url, url) for url, rep in self.reporters.items()
                 if rep.hyperty.runtime.url == runtime_url]
        found += [(runtime_url, h, url) for url, theirs in self.observers.items() for h, rep in theirs.items()
                  if rep.hyperty.runtime.url == runtime_url]
        runtime = self.runtimes.get(runtime_url)
        for hyperty in runtime.hyperty_urls.values() if runtime is not None else ():
            syncher = hyperty.syncher
            found += [(runtime_url, hyperty.url, url) for url in (*syncher.reporters, *syncher.observers)]
        return found

    def behind(self, url: str) -> int:
        """Replicas of `url` not up to date: observers behind the reporter or not live, and
        subscriptions still waiting for their replica."""
        reporter = self.reporters.get(url)
        version = reporter.obj.version if reporter is not None else None
        count = 0
        theirs = self.observers.get(url)
        if theirs:
            for replica in theirs.values():
                obj = replica.obj
                if obj.status != "live" or (version is not None and obj.version < version):
                    count += 1
        pending = self.pending.get(url)
        return count + len(pending) if pending else count

    def _runtime_changed(self, url: str) -> None:
        runtime = self.runtimes.get(url)
        if runtime is None:
            runtime = next((rt for rt in self.lab.runtimes if rt.url == url), None)
        if runtime is not None:
            self._read_runtime(runtime, replicas=False)

    def _read_runtime(self, runtime: Any, replicas: bool = True) -> None:
        """Take a runtime's hyperties (and, when the console opens, their replicas) from the engine."""
        self.runtimes[runtime.url] = runtime
        current = dict(runtime.hyperty_urls)
        for url in [u for u, h in self.hyperties.items() if h.runtime is runtime and u not in current]:
            del self.hyperties[url]
            self.namer.name_hyperty(url, None)
        self.delegation.apply(current.values())
        for url, hyperty in current.items():
            self.hyperties[url] = hyperty
            self.namer.name_hyperty(url, hyperty.name)
            if replicas:
                syncher = hyperty.syncher
                for obj_url in (*syncher.reporters, *syncher.observers):
                    self._look_up(runtime.url, url, obj_url)

    def _look_up(self, where: str, hyperty_url: str, url: str) -> None:
        """Make the replicas of (`hyperty_url`, `url`) what the hyperty's Syncher holds now."""
        if where not in self.runtimes:
            self._runtime_changed(where)
        runtime = self.runtimes.get(where)
        hyperty = runtime.hyperty_urls.get(hyperty_url) if runtime is not None else None
        syncher = hyperty.syncher if hyperty is not None else None
        reporter = syncher.reporters.get(url) if syncher is not None else None
        observer = syncher.observers.get(url) if syncher is not None else None
        mine = self.reporters.get(url)
        if reporter is not None and not reporter.closed:
            if mine is None or mine.obj is not reporter:
                self.subscription_handlers.carry_over(url, reporter)
                self.reporters[url] = Replica(url, hyperty, reporter, True)
                self.replicas_changed.add(url)
        elif mine is not None and mine.hyperty.url == hyperty_url:
            del self.reporters[url]
            self.replicas_changed.add(url)
        theirs = self.observers.get(url, {})
        known = theirs.get(hyperty_url)
        if observer is not None and not observer.closed:
            if known is None or known.obj is not observer:
                self.observer_count += known is None
                self.observers.setdefault(url, theirs)[hyperty_url] = Replica(url, hyperty, observer, False)
                self.replicas_changed.add(url)
            self._not_pending(url, hyperty_url)
        elif known is not None:
            del theirs[hyperty_url]
            self.observer_count -= 1
            if not theirs:
                del self.observers[url]
            self.replicas_changed.add(url)

    # lookups -------------------------------------------------------------------------------------

    def hyperty(self, url: str) -> Any | None:
        return self.hyperties.get(url)

    def runtime(self, url: str) -> Any | None:
        return self.runtimes.get(url)

    def reporter(self, url: str) -> Replica | None:
        return self.reporters.get(url)

    def local_reporter(self, url: str) -> Replica | None:
        """The reporter's replica when it is in the console's lab (only those can be acted on)."""
        rep = self.reporters.get(url)
        return rep if rep is not None and not rep.seen_at else None

    def local_observers(self, url: str) -> list[Replica]:
        return [r for r in self.observer_replicas(url) if not r.seen_at]

    def observer_replicas(self, url: str) -> list[Replica]:
        theirs = self.observers.get(url)
        return list(theirs.values()) if theirs else []

    def replicas(self, url: str) -> list[Replica]:
        """The reporter's replica first, then each observer's."""
        first = [self.reporters[url]] if url in self.reporters else []
        return first + self.observer_replicas(url)

    def reporter_urls(self) -> list[str]:
        """Objects reported in the console's lab."""
        return [url for url, rep in self.reporters.items() if not rep.seen_at]

    def object_urls(self) -> list[str]:
        return list(dict.fromkeys([*self.reporters, *self.observers]))

    def all_hyperties(self) -> list[Any]:
        return list(self.hyperties.values())

    def short(self, address: str) -> str:
        return self.namer.short(address)
