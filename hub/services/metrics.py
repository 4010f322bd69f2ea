"""Prometheus text exposition (format 0.0.4) without a client library: a histogram and a renderer.

The hub already counts what matters (ingest stats, table counts); this module
only turns numbers into the text Prometheus scrapes, so no dependency and no
global registry are needed.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# Ack latency at the hub is milliseconds normally, seconds when SQLite is busy.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class HistogramSnapshot:
    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]  # one per bound, then +Inf
    total: float
    count: int


class Histogram:
    """Thread-safe fixed-bucket histogram; ``observe`` is O(log buckets)."""

    def __init__(self, bounds: Sequence[float] = LATENCY_BUCKETS_S) -> None:
        if list(bounds) != sorted(bounds) or not bounds:
            raise ValueError("histogram bounds must be a non-empty ascending sequence")
        self._bounds = tuple(float(b) for b in bounds)
        self._counts = [0] * (len(self._bounds) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._counts[bisect_left(self._bounds, value)] += 1
            self._sum += value

    def snapshot(self) -> HistogramSnapshot:
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, running = [], 0
        for c in counts:
            running += c
            cumulative.append(running)
        return HistogramSnapshot(self._bounds, tuple(cumulative), total, running)


Labels = Mapping[str, str]


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels | None) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class Exposition:
    """Collects metric families and renders them; each family gets one HELP and one TYPE line."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def _family(self, name: str, kind: str, help_text: str) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")

    def counter(self, name: str, help_text: str, value: float) -> None:
        self._family(name, "counter", help_text)
        self._lines.append(f"{name} {_number(value)}")

    def gauge(self, name: str, help_text: str, value: float) -> None:
        self._family(name, "gauge", help_text)
        self._lines.append(f"{name} {_number(value)}")

    def labelled(self, name: str, kind: str, help_text: str, samples: Iterable[tuple[Labels, float]]) -> None:
        self._family(name, kind, help_text)
        for labels, value in samples:
            self._lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def histogram(self, name: str, help_text: str, snap: HistogramSnapshot) -> None:
        self._family(name, "histogram", help_text)
        for bound, n in zip((*snap.bounds, math.inf), snap.cumulative, strict=True):
            self._lines.append(f'{name}_bucket{{le="{_number(bound)}"}} {n}')
        self._lines.append(f"{name}_sum {_number(snap.total)}")
        self._lines.append(f"{name}_count {snap.count}")

    def render(self) -> str:
        return "\n".join(self._lines) + "\n"
