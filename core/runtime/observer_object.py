"""SM state of one observed object and its per-(object, hyperty) Subscriptions (PROTOCOL §3.0.2–3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from core.bus import Listener
from core.protocol import address as addr
from core.protocol.versions import VersionTracker


class SubscriptionState(Enum):
    """pending: FWDs in place, waiting for the reporter's decision; live: accepted (PROTOCOL §3.2)."""

    PENDING = "pending"
    LIVE = "live"


@dataclass(eq=False, slots=True)
class Subscription:
    hyperty: str
    state: SubscriptionState = SubscriptionState.PENDING
    forwards: list[Listener] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class ObserverObject:
    url: str
    schema: str
    childrens: tuple[str, ...]
    reporter: str = ""
    store: bool = False
    tracker: VersionTracker = field(default_factory=VersionTracker)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)
    pubs: list[str] = field(default_factory=list)
    mns: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    children_objects: dict[str, Any] = field(default_factory=dict)
    #: updates seen before the first 200 (PROTOCOL §5 rule 7), by version
    early: dict[int, dict[str, Any]] = field(default_factory=dict)
    confirmed: bool = False
    stale: bool = False
    #: local hyperties subscribed in the stored record that have not resumed yet: the record keeps
    #: them, so one hyperty's resume (and a write of the record after it) never drops another's
    dormant: set[str] = field(default_factory=set)
    #: deleted while some of `dormant` had not resumed: its record stays for them (they learn of the
    #: delete by their resync read); no node subscription is made for it again
    deleted: bool = False
    #: set by a resume: reads the stored record when its data is first needed (most replicas are
    #: replaced by their resync before that, so thousands of documents are not held twice)
    load: Callable[[], dict[str, Any] | None] | None = None
    #: O/children/n of each child name, in order, and O/changes (built once: every wiring step needs them)
    channels: tuple[str, ...] = field(init=False, repr=False)
    changes: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # `O/children/` + each name, joined in C (a resume builds tens of thousands)
        self.channels = tuple(map((self.url + addr.CHILDREN).__add__, self.childrens))
        self.changes = self.url + addr.CHANGES

    @property
    def version(self) -> int:
        return self.tracker.version

    def node_addresses(self) -> list[str]:
        """MNS of an observer runtime: O/changes, O/children/n (Appendix A)."""
        return [self.changes, *self.channels]

    def loaded(self) -> None:
        """Bring the stored data and children into memory if a resume left them in storage."""
        if self.load is None:
            return
        load, self.load = self.load, None
        stored = load()
        if stored is None:  # no readable record: the next resync's snapshot stores the data again
            self.data, self.children_objects, self.stale = {}, {}, True
            return
        self.data = stored.get("data", {})
        self.children_objects = stored.get("childrenObjects", {})
        self.stale = self.stale or bool(stored.get("stale"))

    def replaced(self, data: dict[str, Any], children: dict[str, Any]) -> None:
        """A snapshot from the Syncher: what storage held before no longer matters."""
        self.data, self.children_objects, self.load = data, children, None

    def record(self) -> dict[str, Any]:
        self.loaded()
        rec: dict[str, Any] = {**self.metadata, "url": self.url, "isReporter": False, "reporter": self.reporter,
                               "schema": self.schema, "childrens": list(self.childrens),
                               "subscriptions": sorted({h for h, s in self.subscriptions.items()
                                                        if s.state is SubscriptionState.LIVE} | self.dormant),
                               "store": self.store, "version": self.version}
        if self.store and self.data is not None:
            rec["data"] = self.data
            rec["childrenObjects"] = self.children_objects
        if self.stale:
            rec["stale"] = True
        if self.deleted:
            rec["deleted"] = True
        return rec
