"""SM state of one locally reported object (PROTOCOL §3.0.1)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from core.bus import Listener
from core.protocol import address as addr
from core.protocol.encoded import Encoded


class ObjectState(Enum):
    """live: normal; delegating: a delegation is pending at the old reporter; standby: the candidate
    holds the object until the commit (PROTOCOL §4). Only `live` objects accept requests."""

    LIVE = "live"
    DELEGATING = "delegating"
    STANDBY = "standby"


@dataclass(eq=False, slots=True)
class ReporterObject:
    url: str
    owner: str
    schema: str
    childrens: tuple[str, ...]
    metadata: dict[str, Any]
    store: bool = False
    version: int = 0
    last_modified: str = ""
    state: ObjectState = ObjectState.LIVE
    preauthorised: set[str] = field(default_factory=set)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriber_users: list[str] = field(default_factory=list)
    #: None when not stored; a resumed object's stays its stored text until first changed (`document`)
    data: dict[str, Any] | Encoded | None = None
    children_objects: dict[str, Any] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)
    pubs: list[str] = field(default_factory=list)
    mns: list[str] = field(default_factory=list)
    routed: bool = True
    registered: bool = True
    delegation_token: str = ""   # set while a standby object waits for its commit (PROTOCOL §4)
    created: float = field(default_factory=time.time)
    #: O/children/n of each child name, in order, O/subscription and O/changes (built once: every wiring
    #: step needs them, and the SM's L tells its messages apart by them)
    channels: tuple[str, ...] = field(init=False, repr=False)
    subscription: str = field(init=False, repr=False)
    changes: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # `O/children/` + each name, joined in C (a resume builds tens of thousands)
        self.channels = tuple(map((self.url + addr.CHILDREN).__add__, self.childrens))
        self.subscription = self.url + addr.SUBSCRIPTION
        self.changes = self.url + addr.CHANGES

    def document(self) -> dict[str, Any] | None:
        """The stored data, decoded if it was still the stored text."""
        data = self.data
        if isinstance(data, Encoded):
            data = self.data = data.decode()
        return data

    @property
    def domain(self) -> str:
        return addr.authority(self.url)

    def node_addresses(self) -> list[str]:
        """MNS of the reporter runtime: O, O/subscription, O/children/n (Appendix A)."""
        return [self.url, self.subscription, *self.channels]

    def registration(self, runtime: str) -> dict[str, Any]:
        """Its domain registry entry (PROTOCOL §3.1 step 6), the same at a create and at a resume's renewal."""
        metadata = self.metadata
        return {"url": self.url, "name": metadata.get("name", ""), "schema": self.schema, "reporter": self.owner,
                "runtime": runtime, "resources": metadata.get("resources", []), "childrens": list(self.childrens),
                "authorise": sorted(self.preauthorised), "status": "live"}

    def record(self) -> dict[str, Any]:
        """The stored reporter record of PROTOCOL §3.0.6."""
        rec: dict[str, Any] = {**self.metadata, "url": self.url, "isReporter": True, "reporter": self.owner,
                               "schema": self.schema, "childrens": list(self.childrens),
                               "subscriptions": sorted(self.subscriptions), "subscriberUsers": self.subscriber_users,
                               "preAuthorised": sorted(self.preauthorised), "store": self.store,
                               "version": self.version, "lastModified": self.last_modified}
        rethink = sorted(h for h, entry in self.subscriptions.items() if entry.get("rethink"))
        if rethink:   # their update forms must stay reTHINK's after a resume (INTEROP §4)
            rec["rethinkSubscribers"] = rethink
        if self.store:
            rec["data"] = self.data if self.data is not None else {}
            rec["childrenObjects"] = self.children_objects
        if self.state is ObjectState.STANDBY and self.delegation_token:
            rec["delegationToken"] = self.delegation_token
        if not self.routed:
            rec["domain_routing"] = False
        if not self.registered:
            rec["domain_registration"] = False
        return rec
