"""The domain registry: object registrations (PROTOCOL §3.1 step 6) and a query of live objects."""

from __future__ import annotations

from typing import Any


class Registry:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}

    def register(self, value: dict[str, Any]) -> None:
        self.objects[str(value["url"])] = dict(value)

    def update(self, url: str, value: dict[str, Any]) -> bool:
        entry = self.objects.get(url)
        if entry is None:
            return False
        entry.update(value)
        return True

    def unregister(self, url: str) -> bool:
        return self.objects.pop(url, None) is not None

    def live(self) -> list[dict[str, Any]]:
        return [dict(v) for v in self.objects.values() if v.get("status", "live") == "live"]
