"""Lookups over the lab's public API (runtimes, hyperties, reporter and observer objects by URL).

Rebuilt lazily once per flush: the engine is the truth and a scan of a few thousand objects costs
about a millisecond, far less than keeping a mirror in step with every event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.lab import Lab
from core.monitor import TraceEvent
from ui.naming import Namer


@dataclass
class Replica:
    """One copy of an object: the reporter's or one observer's."""

    url: str
    hyperty: Any
    obj: Any
    is_reporter: bool

    @property
    def label(self) -> str:
        return f"{self.hyperty.name} ({'reporter' if self.is_reporter else 'observer'})"


@dataclass
class Snapshot:
    hyperties: dict[str, Any] = field(default_factory=dict)
    hyperty_names: dict[str, str] = field(default_factory=dict)
    reporters: dict[str, Replica] = field(default_factory=dict)
    observers: dict[str, list[Replica]] = field(default_factory=dict)
    runtimes: dict[str, Any] = field(default_factory=dict)


class EngineIndex:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.namer = Namer()
        self._snapshot: Snapshot | None = None

    def observe(self, events: Iterable[TraceEvent]) -> None:
        self._snapshot = None

    def invalidate(self) -> None:
        self._snapshot = None

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = self._scan()
        return self._snapshot

    def _scan(self) -> Snapshot:
        snap = Snapshot()
        for runtime in self.lab.runtimes:
            snap.runtimes[runtime.url] = runtime
            for hyperty in runtime.hyperties.values():
                snap.hyperties[hyperty.url] = hyperty
                snap.hyperty_names[hyperty.url] = hyperty.name
                syncher = hyperty.syncher
                for url, obj in syncher.reporters.items():
                    snap.reporters[url] = Replica(url, hyperty, obj, True)
                for url, obj in syncher.observers.items():
                    snap.observers.setdefault(url, []).append(Replica(url, hyperty, obj, False))
        self.namer.hyperties = snap.hyperty_names
        return snap

    # lookups -------------------------------------------------------------------------------------

    def hyperty(self, url: str) -> Any | None:
        return self.snapshot.hyperties.get(url)

    def runtime(self, url: str) -> Any | None:
        return self.snapshot.runtimes.get(url)

    def reporter(self, url: str) -> Replica | None:
        return self.snapshot.reporters.get(url)

    def replicas(self, url: str) -> list[Replica]:
        """The reporter's replica first, then each observer's."""
        snap = self.snapshot
        first = [snap.reporters[url]] if url in snap.reporters else []
        return first + snap.observers.get(url, [])

    def object_urls(self) -> list[str]:
        snap = self.snapshot
        return list(dict.fromkeys([*snap.reporters, *snap.observers]))

    def all_hyperties(self) -> list[Any]:
        return list(self.snapshot.hyperties.values())

    def short(self, address: str) -> str:
        _ = self.snapshot  # names follow the current scan
        return self.namer.short(address)
