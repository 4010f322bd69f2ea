"""Forecast of a location's coming days per local day and hour: answers, Happy Index and % negative.

The method is a **seasonal baseline**: for a target weekday and hour, the exponentially
weighted mean of the same weekday and hour over the last ``weeks`` weeks (each older week
weighs ``decay`` times the next newer one). Why not Holt-Winters: a store-hour sees a
handful to a few dozen answers, so the series is small counts with a weekly season of 168
hours and many closed (zero) hours; a seasonal mean of several weeks removes most of the
Poisson noise the seasonal naive forecast (same hour last week) carries, adapts to level
changes through the decay, needs no fitting that can fail, and gives honest intervals:

- **Answers** follow a negative binomial with the forecast mean ``mu`` and variance
  ``(mu + phi mu^2) (1 + 1/K)``: Poisson arrivals, over-dispersion ``phi`` estimated from
  the history by the method of moments (0 for pure Poisson traffic), and ``1/K`` for the
  error of the mean itself, with ``K`` the weights' effective number of weeks. Counts are
  integers, so its quantiles are taken from the distribution spread evenly over each integer
  (``Y + U - 1/2``): an integer interval would cover more than asked at small counts.
- **Happy Index and % negative** of the hour are normal around the pooled answers of the same
  weekday and hour over those weeks (unweighted: the mood needs every answer it can get), with
  the variance of a mean of ``mu`` future answers, plus that of the estimate, plus the
  week-to-week spread of the hour's true level (method of moments), clipped to 0..100.
  Closed hours (no answers in the history) have none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from scipy import stats

from edge_agent.scores import score

HOURS = range(24)
DEFAULT_DAYS = 7
LEVELS = (0.80, 0.95)


@dataclass(frozen=True)
class HourlyHistory:
    """Answers per local day and hour, per face (most negative first); a missing (day, hour) had none."""

    scale: int
    first: date
    last: date
    """The last complete local day."""
    counts: Mapping[tuple[date, int], tuple[int, ...]]

    def n(self, day: date, hour: int) -> int:
        return sum(self.counts.get((day, hour), ()))


@dataclass(frozen=True)
class ForecastSettings:
    weeks: int = 8
    """How many past weeks of the same weekday and hour are read."""
    decay: float = 0.85
    """Each older week weighs this much of the next newer one."""


@dataclass(frozen=True)
class Band:
    expected: float
    p80: tuple[float, float]
    p95: tuple[float, float]

    def as_dict(self) -> dict[str, object]:
        return {
            "expected": round(self.expected, 2),
            "p80": [round(self.p80[0], 2), round(self.p80[1], 2)],
            "p95": [round(self.p95[0], 2), round(self.p95[1], 2)],
        }


@dataclass(frozen=True)
class HourForecast:
    day: date
    hour: int
    answers: Band
    happy_index: Band | None
    pct_negative: Band | None

    def as_dict(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "hour": self.hour,
            "answers": self.answers.as_dict(),
            "happy_index": None if self.happy_index is None else self.happy_index.as_dict(),
            "pct_negative": None if self.pct_negative is None else self.pct_negative.as_dict(),
        }


def lags(history: HourlyHistory, target: date, settings: ForecastSettings) -> list[date]:
    """The same weekday in up to ``weeks`` past weeks within the history, newest first."""
    step = max(1, math.ceil((target - history.last).days / 7))
    days = [target - timedelta(days=7 * (step + j)) for j in range(settings.weeks)]
    return [d for d in days if d >= history.first]


def weights(n: int, decay: float) -> np.ndarray:
    return np.asarray([decay**j for j in range(n)], dtype=float)


def dispersion(history: HourlyHistory, settings: ForecastSettings) -> float:
    """Over-dispersion ``phi`` (variance = mu + phi mu^2) by the method of moments over every weekday x hour."""
    excess = scale = 0.0
    for offset in range(7):
        day = history.last - timedelta(days=offset)
        past = [d for d in (day - timedelta(days=7 * j) for j in range(settings.weeks)) if d >= history.first]
        if len(past) < 2:
            continue
        for hour in HOURS:
            y = np.asarray([history.n(d, hour) for d in past], dtype=float)
            m = float(y.mean())
            excess += float(y.var(ddof=1)) - m
            scale += m * m
    return max(0.0, excess / scale) if scale else 0.0


def count_quantiles(mu: float, variance: float, probs: list[float]) -> list[float]:
    """Quantiles of a negative binomial (Poisson when not over-dispersed) spread evenly over each integer."""
    if mu <= 0:
        return [0.0 for _ in probs]
    dist = stats.poisson(mu) if variance <= mu * (1 + 1e-9) else stats.nbinom(mu * mu / (variance - mu), mu / variance)
    out = []
    for p in probs:
        k = float(dist.ppf(p))
        below = float(dist.cdf(k - 1)) if k > 0 else 0.0
        out.append(max(0.0, k - 0.5 + (p - below) / float(dist.pmf(k))))
    return out


def _band(mean: float, sd: float, low: float = 0.0, high: float = 100.0) -> Band:
    def interval(level: float) -> tuple[float, float]:
        z = float(stats.norm.ppf(0.5 + level / 2))
        return (max(low, mean - z * sd), min(high, mean + z * sd))

    return Band(mean, interval(LEVELS[0]), interval(LEVELS[1]))


@dataclass(frozen=True)
class _Mood:
    """One measure of one weekday x hour: its value, per-answer variance and the estimate's variance."""

    value: float
    spread: float
    estimate_var: float


def _moods(history: HourlyHistory, past: list[date], hour: int) -> dict[str, _Mood] | None:
    """The pooled answers of the same weekday and hour in ``past``, unweighted: mood needs every answer it can get."""
    pooled = [0] * history.scale
    for d in past:
        for v, c in enumerate(history.counts.get((d, hour), ())):
            pooled[v] += c
    found = score(pooled, history.scale)
    if found.happy_index is None or found.pct_negative is None or found.n < 2:
        return None
    k = 100 / (history.scale - 1)
    mean = found.happy_index / k
    spread_index = sum(c * (v - mean) ** 2 for v, c in enumerate(pooled)) / (found.n - 1) * k * k
    neg = found.pct_negative / 100
    spread_neg = neg * (1 - neg) * 100 * 100
    return {
        "happy_index": _Mood(found.happy_index, spread_index, spread_index / found.n),
        "pct_negative": _Mood(found.pct_negative, spread_neg, spread_neg / found.n),
    }


def level_spread(history: HourlyHistory, settings: ForecastSettings) -> dict[str, float]:
    """Week-to-week variance of an hour's true Happy Index and % negative, beyond sampling (method of moments)."""
    excess = {"happy_index": 0.0, "pct_negative": 0.0}
    count = 0
    for offset in range(7):
        day = history.last - timedelta(days=offset)
        past = [d for d in (day - timedelta(days=7 * j) for j in range(settings.weeks)) if d >= history.first]
        if len(past) < 2:
            continue
        for hour in HOURS:
            moods = _moods(history, past, hour)
            if moods is None:
                continue
            for d in past:
                counts = history.counts.get((d, hour))
                n = sum(counts or ())
                if counts is None or n < 2:
                    continue
                s = score(counts, history.scale)
                assert s.happy_index is not None and s.pct_negative is not None
                for name, value in (("happy_index", s.happy_index), ("pct_negative", s.pct_negative)):
                    mood = moods[name]
                    excess[name] += (value - mood.value) ** 2 - mood.spread / n
                count += 1
    return {name: max(0.0, total / count) if count else 0.0 for name, total in excess.items()}


def forecast(
    history: HourlyHistory, days: int = DEFAULT_DAYS, settings: ForecastSettings | None = None
) -> list[HourForecast]:
    """Every hour of the ``days`` local days after ``history.last``."""
    settings = settings or ForecastSettings()
    if days < 1:
        raise ValueError(f"days must be at least 1 (got {days})")
    phi = dispersion(history, settings)
    tau = level_spread(history, settings)
    probs = [q for level in LEVELS for q in (0.5 - level / 2, 0.5 + level / 2)]
    out = []
    for offset in range(1, days + 1):
        target = history.last + timedelta(days=offset)
        past = lags(history, target, settings)
        w = weights(len(past), settings.decay)
        effective = float(w.sum() ** 2 / (w * w).sum()) if past else 1.0
        for hour in HOURS:
            y = np.asarray([history.n(d, hour) for d in past], dtype=float)
            mu = float(np.dot(w, y) / w.sum()) if past else 0.0
            variance = (mu + phi * mu * mu) * (1 + 1 / effective)
            q = count_quantiles(mu, variance, probs)
            answers = Band(mu, (q[0], q[1]), (q[2], q[3]))
            moods = _moods(history, past, hour) if mu > 0 else None
            bands: dict[str, Band | None] = {"happy_index": None, "pct_negative": None}
            if moods is not None:
                for name, mood in moods.items():
                    sd = math.sqrt(mood.spread / max(mu, 1.0) + mood.estimate_var + tau[name])
                    bands[name] = _band(mood.value, sd)
            out.append(HourForecast(target, hour, answers, bands["happy_index"], bands["pct_negative"]))
    return out
