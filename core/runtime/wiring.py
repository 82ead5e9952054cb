"""The Sync Manager's listeners and PUBs of the objects it holds (PROTOCOL §3.1 step 4, §3.2 step 4),
filed for many objects at once (a resume wires thousands), and their removal."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from core.bus import Addresses, MessageBus
from core.protocol.message import Message
from core.runtime.observer_object import ObserverObject
from core.runtime.reporter_object import ReporterObject
from core.runtime.update_tracking import UpdateTracking

if TYPE_CHECKING:
    from core.runtime.subscribers import Subscribers


class Wiring(UpdateTracking):
    """The part of `SyncManager` that wires its objects to the runtime bus."""

    url: str
    bus: MessageBus
    reporters: dict[str, ReporterObject]
    observers: dict[str, ObserverObject]
    subscribers: Subscribers

    def _attach_reporter(self, ro: ReporterObject) -> None:
        """Listeners of PROTOCOL §3.1 step 4."""
        self._attach_reporters([ro])

    def _attach_reporters(self, objects: list[ReporterObject]) -> None:
        """`_attach_reporter` of each, their listeners filed and their PUBs counted in one call each (a
        resume attaches thousands)."""
        sm, reporters = self.url, self.reporters
        entries: list[tuple[Addresses, Callable[[Message], None], str, str]] = []
        pubs: list[str] = []
        deliverers: dict[str, Callable[[Message], None]] = {}   # one per owner, not one per object
        for ro in objects:
            o, owner, channels, changes = ro.url, ro.owner, ro.channels, ro.changes
            reporters[o] = ro
            # one L and one FWD, each filed under its addresses (each channel holds L then FWD, as
            # listeners added one at a time would)
            entries.append(((ro.subscription, changes, *channels), partial(self._on_reported, ro), "L", sm))
            deliver = deliverers.get(owner)
            if deliver is None:
                deliver = deliverers[owner] = self.runtime.deliverer(owner)
            entries.append(((o, *channels), deliver, "FWD", owner))
            ro.pubs = [changes, *channels]
            pubs.extend(ro.pubs)
        made = self.bus.add_listeners(entries)
        for i, ro in enumerate(objects):
            ro.listeners = made[2 * i:2 * i + 2]
        self.runtime.routing.acquire_pubs(pubs)

    def _on_reported(self, ro: ReporterObject, m: Message) -> None:
        """The SM's L of a reported object (one `partial` each, not a closure): its changes, its
        subscription channel, its children."""
        to = m["to"]   # filed under O/changes, O/subscription and O/children/n only
        if to == ro.changes:
            self._track_reporter(ro, m)
        elif to == ro.subscription:
            self.subscribers.on_message(ro, m)
        else:
            self._store_child(ro, m)

    def _attach_observer(self, oo: ObserverObject) -> None:
        """Listeners and PUBs of PROTOCOL §3.2 step 4 (its MNS comes after)."""
        self._attach_observers([oo])

    def _attach_observers(self, objects: list[ObserverObject]) -> None:
        """`_attach_observer` of each, their listeners filed and their PUBs counted in one call each."""
        sm, observers = self.url, self.observers
        entries: list[tuple[Addresses, Callable[[Message], None], str, str]] = []
        pubs: list[str] = []
        for oo in objects:
            observers[oo.url] = oo
            # one L under O/changes and its channels, as a reporter's
            entries.append(((oo.changes, *oo.channels), partial(self._on_observed, oo), "L", sm))
            if oo.channels:
                oo.pubs.extend(oo.channels)
                pubs.extend(oo.channels)
        made = self.bus.add_listeners(entries)
        for oo, listener in zip(objects, made, strict=True):
            oo.listeners = [listener]
        self.runtime.routing.acquire_pubs(pubs)

    def _on_observed(self, oo: ObserverObject, m: Message) -> None:
        """The SM's L of an observed object: its changes and its children."""
        if m["to"] == oo.changes:   # filed under O/changes and O/children/n only
            self._track_observer(oo, m)
        else:
            self._store_child(oo, m)

    def _unwire(self, obj: ReporterObject | ObserverObject) -> None:
        """Remove an object's core-bus listeners and release its PUBs (through the counters)."""
        for listener in obj.listeners:
            listener.remove()
        obj.listeners = []
        for address in obj.pubs:
            self.runtime.routing.release_pub(address)
        obj.pubs = []

    def _detach_reporter(self, ro: ReporterObject) -> None:
        self._unwire(ro)
        self.reporters.pop(ro.url, None)
