"""Helpers shared by the benchmarks in `bench/`: statistics, machine facts, the result line.

Every bench prints its result last as one JSON line (`emit`). Statistics are over seconds and
reported in milliseconds; percentiles interpolate linearly between order statistics.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0–100) of `values`, linearly interpolated."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """median / p99 / mean / min / max of latencies in seconds, as milliseconds."""
    return {"median_ms": round(statistics.median(seconds) * 1e3, 3),
            "p99_ms": round(percentile(seconds, 99) * 1e3, 3),
            "mean_ms": round(statistics.fmean(seconds) * 1e3, 3),
            "min_ms": round(min(seconds) * 1e3, 3),
            "max_ms": round(max(seconds) * 1e3, 3)}


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def spread(values: Sequence[float]) -> dict[str, float]:
    """min / max / relative spread ((max - min) / median) of per-round results: the noise."""
    mid = statistics.median(values)
    return {"min": round(min(values), 3), "max": round(max(values), 3),
            "rel": round((max(values) - min(values)) / mid, 3) if mid else 0.0}


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare runs: cores, Python, platform, load at start."""
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu = platform.processor()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"nproc": os.cpu_count(), "python": platform.python_version(),
            "implementation": sys.implementation.name, "platform": platform.platform(terse=True),
            "cpu": cpu, "loadavg_1m": round(load, 2) if load is not None else None}


def emit(result: dict[str, Any]) -> None:
    """Print the result line (the last line a bench prints)."""
    print(json.dumps(result, separators=(", ", ": ")), flush=True)


def note(text: str) -> None:
    """Progress for humans, on stderr so stdout stays the result."""
    print(text, file=sys.stderr, flush=True)


class GcPauses:
    """Records the duration of every garbage collection while installed (`with GcPauses() as g:`).

    A full (generation 2) collection of a lab with a thousand hyperties takes tens of milliseconds, which
    is what a p99 of a few hundred samples mostly shows; this says how many there were and how long.
    """

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._start = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append((int(info["generation"]), time.perf_counter() - self._start))

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self, generation: int = 2) -> dict[str, float]:
        ms = [d * 1e3 for g, d in self.pauses if g == generation]
        return {f"gen{generation}_collections": len(ms),
                f"gen{generation}_pause_ms_median": round(statistics.median(ms), 2) if ms else 0.0,
                f"gen{generation}_pause_ms_max": round(max(ms), 2) if ms else 0.0}
