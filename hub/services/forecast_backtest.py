"""Rolling-origin backtests of the forecast against the seasonal naive forecast (same hour last week).

Each origin is a past local day: the forecast sees only the history up to it and forecasts
the next ``days`` days, hour by hour, which are then compared with what happened.

- **MASE** (Hyndman & Koehler 2006): absolute errors divided by the mean absolute error of
  the seasonal naive forecast *within the history up to the origin* (lag 168 hours, every
  hour of the day). Below 1, the forecast beats what "same hour last week" achieved in
  sample; the naive forecast's own out-of-sample MASE is printed beside it, and their ratio.
- **Coverage**: how often the answers fell inside the 80% and 95% intervals, over the hours
  the store is open (a closed hour's interval is [0, 0] and would cover trivially). The Happy
  Index and % negative intervals are scored over hours that had at least one answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from edge_agent.scores import score
from hub.services.forecast import DEFAULT_DAYS, HOURS, Band, ForecastSettings, HourlyHistory, forecast, lags

MIN_TRAINING_WEEKS = 2


@dataclass
class Tally:
    """Running sums of one backtest; :meth:`add` merges locations."""

    forecasts: int = 0
    scaled_error: float = 0.0
    scaled_error_naive: float = 0.0
    abs_error: float = 0.0
    abs_error_naive: float = 0.0
    open_hours: int = 0
    inside: dict[str, list[int]] = field(default_factory=dict)
    """Per measure: [inside the 80% interval, inside the 95% interval, hours scored]."""

    def add(self, other: Tally) -> None:
        self.forecasts += other.forecasts
        self.scaled_error += other.scaled_error
        self.scaled_error_naive += other.scaled_error_naive
        self.abs_error += other.abs_error
        self.abs_error_naive += other.abs_error_naive
        self.open_hours += other.open_hours
        for name, (a, b, n) in other.inside.items():
            mine = self.inside.setdefault(name, [0, 0, 0])
            mine[0], mine[1], mine[2] = mine[0] + a, mine[1] + b, mine[2] + n

    def _score(self, name: str, band: Band | None, actual: float | None) -> None:
        if band is None or actual is None:
            return
        counts = self.inside.setdefault(name, [0, 0, 0])
        counts[0] += band.p80[0] <= actual <= band.p80[1]
        counts[1] += band.p95[0] <= actual <= band.p95[1]
        counts[2] += 1

    @property
    def mase(self) -> float:
        return self.scaled_error / self.forecasts

    @property
    def mase_naive(self) -> float:
        return self.scaled_error_naive / self.forecasts

    @property
    def relative_mae(self) -> float:
        """The forecast's mean absolute error over the seasonal naive one's, on the same hours."""
        return self.abs_error / self.abs_error_naive if self.abs_error_naive else float("nan")

    def coverage(self, name: str) -> tuple[float, float, int]:
        a, b, n = self.inside.get(name, [0, 0, 0])
        return (a / n, b / n, n) if n else (float("nan"), float("nan"), 0)


def naive_scale(history: HourlyHistory) -> float:
    """In-sample mean absolute error of "same hour last week" over the history up to ``history.last``."""
    total = 0.0
    count = 0
    day = history.first + timedelta(days=7)
    while day <= history.last:
        for hour in HOURS:
            total += abs(history.n(day, hour) - history.n(day - timedelta(days=7), hour))
            count += 1
        day += timedelta(days=1)
    return total / count if count else 0.0


def origins(history: HourlyHistory, weeks: int, days: int = DEFAULT_DAYS) -> list[date]:
    """Every day of the last ``weeks`` weeks whose next ``days`` days lie in the history, oldest first."""
    latest = history.last - timedelta(days=days)
    earliest = max(latest - timedelta(days=7 * weeks - 1), history.first + timedelta(days=7 * MIN_TRAINING_WEEKS - 1))
    return [earliest + timedelta(days=i) for i in range((latest - earliest).days + 1)]


def backtest_origin(
    history: HourlyHistory, origin: date, days: int = DEFAULT_DAYS, settings: ForecastSettings | None = None
) -> Tally:
    """Forecast from the history up to ``origin`` and score it against the ``days`` days after."""
    settings = settings or ForecastSettings()
    seen = replace(history, last=origin)
    scale = naive_scale(seen)
    tally = Tally()
    if scale == 0:
        return tally  # no variation to scale by: MASE is undefined here
    for hour_forecast in forecast(seen, days, settings):
        day, hour = hour_forecast.day, hour_forecast.hour
        actual = history.n(day, hour)
        previous = lags(seen, day, replace(settings, weeks=1))
        naive = seen.n(previous[0], hour) if previous else 0
        tally.forecasts += 1
        error, error_naive = abs(actual - hour_forecast.answers.expected), abs(actual - naive)
        tally.scaled_error += error / scale
        tally.scaled_error_naive += error_naive / scale
        tally.abs_error += error
        tally.abs_error_naive += error_naive
        if hour_forecast.answers.expected > 0 or actual > 0:
            tally.open_hours += 1
            tally._score("answers", hour_forecast.answers, actual)
        counts = history.counts.get((day, hour))
        if counts:
            found = score(counts, history.scale)
            tally._score("happy_index", hour_forecast.happy_index, found.happy_index)
            tally._score("pct_negative", hour_forecast.pct_negative, found.pct_negative)
    return tally


def backtest(
    history: HourlyHistory,
    weeks: int,
    days: int = DEFAULT_DAYS,
    settings: ForecastSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Tally:
    """Every origin of the last ``weeks`` weeks; ``progress`` gets (origins done, origins)."""
    chosen = origins(history, weeks, days)
    if not chosen:
        need = 7 * MIN_TRAINING_WEEKS + days
        raise ValueError(f"the history holds {(history.last - history.first).days + 1} days; a backtest needs {need}")
    total = Tally()
    for i, origin in enumerate(chosen):
        total.add(backtest_origin(history, origin, days, settings))
        if progress is not None:
            progress(i + 1, len(chosen))
    return total
