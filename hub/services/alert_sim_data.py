"""Simulated answers for ``touchpoint-hub alerts simulate``: steady stores and step changes of their mood.

A store answers at a steady average rate over its open hours, shaped by the
demo's hourly pattern (:mod:`hub.services.traffic`), with Poisson arrivals; each
answer is negative with a fixed share. Answers are kept per UTC minute and face,
and every finished day is added to rollups shaped like the hub's, which the
rules' baselines read through :class:`~hub.storage.base_alerts.BaselineReads`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from hub.services.traffic import OPEN_HOURS, hourly_rate
from hub.storage.base_alerts import CountRow

QUESTION, SCALE = "default", 4
DAY_MINUTES = 24 * 60
OPEN_FROM, OPEN_TO = OPEN_HOURS.start * 60, OPEN_HOURS.stop * 60  # minutes of the day, UTC


def mood(negative_share: float) -> tuple[float, float, float, float]:
    """Probabilities of the four faces, most negative first, for a given share of negative answers (0..1).

    Negatives split 40:60 between the two lowest faces, the rest evenly between the top two: at 20%
    this is New York's mood in the demo (8%, 12%, 40%, 40%).
    """
    return (0.4 * negative_share, 0.6 * negative_share, (1 - negative_share) / 2, (1 - negative_share) / 2)


def draw_value(weights: Sequence[float], rng: random.Random) -> int:
    return rng.choices(range(SCALE), weights=weights)[0]


@dataclass
class DayAnswers:
    """One day's answers: ``counts[value][minute]`` for minutes 0..1439 of the UTC day."""

    day: date
    counts: list[list[int]] = field(default_factory=lambda: [[0] * DAY_MINUTES for _ in range(SCALE)])

    def per_minute(self, minute: int) -> int:
        return sum(c[minute] for c in self.counts)


def steady_day(day: date, answers_per_hour: float, negative_share: float, rng: random.Random) -> DayAnswers:
    """A day of Poisson arrivals at each open hour's rate (exponential gaps), each answer drawn from ``mood``."""
    out = DayAnswers(day)
    weights = mood(negative_share)
    for hour in OPEN_HOURS:
        rate = hourly_rate(answers_per_hour, hour) / 60  # per minute
        at = rng.expovariate(rate)
        while at < 60:
            out.counts[draw_value(weights, rng)][hour * 60 + int(at)] += 1
            at += rng.expovariate(rate)
    return out


def stepped(base: DayAnswers, start: int, minutes: int, negative_share: float, rng: random.Random) -> DayAnswers:
    """The same arrivals, with every answer from minute ``start`` on for ``minutes`` redrawn at the new share."""
    out = DayAnswers(base.day, [list(c) for c in base.counts])
    weights = mood(negative_share)
    for minute in range(start, min(start + minutes, DAY_MINUTES)):
        n = base.per_minute(minute)
        for c in out.counts:
            c[minute] = 0
        for _ in range(n):
            out.counts[draw_value(weights, rng)][minute] += 1
    return out


class SimHistory:
    """Hourly and daily rollups of the simulated days so far, read like the hub's (one location, one question)."""

    def __init__(self) -> None:
        self._hours: dict[tuple[str, int], list[int]] = {}
        self._days: dict[str, list[int]] = {}

    def add(self, answers: DayAnswers) -> None:
        day = answers.day.isoformat()
        totals = [sum(c) for c in answers.counts]
        self._days[day] = totals
        for hour in OPEN_HOURS:
            span = range(hour * 60, hour * 60 + 60)
            self._hours[(day, hour)] = [sum(c[m] for m in span) for c in answers.counts]

    def _rows(self, counts: list[list[int]], question_id: str | None) -> list[CountRow]:
        if question_id not in (None, QUESTION):
            return []
        sums = [sum(c[v] for c in counts) for v in range(SCALE)]
        return [(QUESTION, SCALE, v, n) for v, n in enumerate(sums) if n]

    def hour_counts(self, location_id: str, days: list[str], hour: int, question_id: str | None) -> list[CountRow]:
        return self._rows([self._hours[(d, hour)] for d in days if (d, hour) in self._hours], question_id)

    def day_counts(self, location_id: str, days: list[str], question_id: str | None) -> list[CountRow]:
        return self._rows([self._days[d] for d in days if d in self._days], question_id)
