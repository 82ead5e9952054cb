"""What a restart of a runtime will bring back (PROTOCOL §3.8), read off its storage before it runs.

A restart resumes what the runtime's storage holds: a reporter record comes back at its stored
version (its data too when the object was created with `store`), an observer record comes back and
reads the reporter again (from its stored data first when it subscribed with `store`). An object
with no record is not resumed: its replica is lost, and an observer's subscription ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fate:
    """What becomes of one replica the runtime holds now."""

    url: str
    hyperty: str       # the hyperty's name
    role: str          # reporter or observer
    resumes: bool
    note: str          # in words


def restart_plan(runtime: Any) -> list[Fate]:
    """The fate of every replica `runtime`'s hyperties hold, reporters first."""
    stored = runtime.persistence is not None
    reporters = runtime.stored("reporter") if stored else {}
    observers = runtime.stored("observer") if stored else {}
    fates: list[Fate] = []
    for hyperty in runtime.hyperties.values():
        for url, obj in hyperty.syncher.reporters.items():
            record = reporters.get(url)
            if record is None:
                fates.append(Fate(url, hyperty.name, "reporter", False, _not_stored(stored)))
            elif "data" in record:
                fates.append(Fate(url, hyperty.name, "reporter", True,
                                  f"resumes at v{record.get('version', obj.version)} with its data"))
            else:
                fates.append(Fate(url, hyperty.name, "reporter", False,
                                  "its data is not stored (created without store): it comes back empty, at v0"))
    for hyperty in runtime.hyperties.values():
        for url in hyperty.syncher.observers:
            record = observers.get(url)
            if record is None or hyperty.url not in record.get("subscriptions", []):
                fates.append(Fate(url, hyperty.name, "observer", False,
                                  _not_stored(stored) + "; the subscription ends"))
            elif "data" in record:
                fates.append(Fate(url, hyperty.name, "observer", True,
                                  "resumes from its stored data, then reads the reporter again"))
            else:
                fates.append(Fate(url, hyperty.name, "observer", True,
                                  "resumes by reading the reporter again (its data is not stored)"))
    return fates


def _not_stored(stored: bool) -> str:
    return "not stored: lost" if stored else "not stored (this lab keeps no storage): lost"
