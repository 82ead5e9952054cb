"""Fault injection on links (drop, duplicate, delay, reorder), seeded for reproducibility."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson

Probability = float | Callable[[dict[str, Any]], bool]
#: seconds, a (min, max) range, or a function of the envelope giving seconds
Delay = float | tuple[float, float] | Callable[[dict[str, Any]], float]


class FaultSet:
    """One set of faults on a link; `apply` turns one send into zero or more delivery delays."""

    def __init__(self, drop: Probability = 0.0, duplicate: Probability = 0.0, delay: Delay = 0.0,
                 reorder: bool = False, seed: int | None = None) -> None:
        self.drop, self.duplicate, self.delay, self.reorder = drop, duplicate, delay, reorder
        self.random = random.Random(seed)
        self.label = "drop"
        self.closed = False

    def _hit(self, p: Probability, data: bytes) -> bool:
        if callable(p):
            return bool(p(orjson.loads(data)))
        return p > 0 and self.random.random() < p

    def _delay(self, data: bytes) -> float:
        if callable(self.delay):
            return float(self.delay(orjson.loads(data)))
        if isinstance(self.delay, tuple):
            low, high = self.delay
            return self.random.uniform(low, high)
        return float(self.delay)

    def apply(self, data: bytes, delays: list[float]) -> list[float]:
        if self.closed:
            return delays
        if self._hit(self.drop, data):
            return []
        out = [d + self._delay(data) for d in delays]
        if self.reorder:
            # A random extra delay reorders this message against its neighbours on the link.
            out = [d + self.random.uniform(0.0, 0.005) for d in out]
        if self._hit(self.duplicate, data):
            out = [*out, out[-1] + (self.random.uniform(0.0, 0.005) if self.reorder else 0.0)]
        return out


class FaultHandle:
    """Faults added to some links; closing it (or leaving its `with`) removes them."""

    def __init__(self, links: list[Any], faults: FaultSet) -> None:
        self.links, self.faults = links, faults
        for link in links:
            link.fault_sets.append(faults)
            link.monitor.emit("session", link.runtime_url, action="faults", link=link.name,
                              faults=len(link.fault_sets))

    def close(self) -> None:
        self.faults.closed = True
        for link in self.links:
            if self.faults in link.fault_sets:
                link.fault_sets.remove(self.faults)
                link.monitor.emit("session", link.runtime_url, action="faults", link=link.name,
                                  faults=len(link.fault_sets))

    def __enter__(self) -> FaultHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
