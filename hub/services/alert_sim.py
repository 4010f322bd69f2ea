"""``touchpoint-hub alerts simulate``: every rule kind on simulated traffic; false alarms and detection delays.

For each traffic level (average answers per open hour), ``stores`` stores get
``history_weeks`` of steady answers (what baselines read), then ``weeks``
evaluated weeks. Each rule is evaluated every minute, from opening until its
window is empty after closing; a run of minutes where it holds is one episode,
as in the hub. Every episode on a steady week is a false alarm. Each evaluated
day also gets a step change, on a copy of that day: from a random minute between
opening and 2 h before closing, the negative share rises from its baseline to
2x, or by 30 points, whichever is smaller. The step is caught if an episode
starts within 2 h; its delay runs from the step to that episode's first minute.
An episode already running at the step does not count as catching it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any

from hub.services.alert_rules import parse_params
from hub.services.alert_sim_data import OPEN_FROM, OPEN_TO, SimHistory, steady_day, stepped
from hub.services.alert_sim_rules import Condition, DayView, condition, span

KINDS = ("pct_negative", "index_below", "response_count", "baseline_drop", "shift")
"""Every kind that reads answers; ``device_offline`` reads device status, which traffic does not change."""
MOOD_KINDS = frozenset(KINDS) - {"response_count"}
"""The kinds that judge answers; a step in the negative share cannot be caught by counting answers."""
FIRST_DAY = date(2026, 1, 5)  # a Monday; the simulated stores keep UTC time


@dataclass(frozen=True)
class SimConfig:
    seed: int = 1
    levels: tuple[float, ...] = (8, 20, 60)
    stores: int = 20
    weeks: int = 4
    baseline_pct: float = 20
    step_to_pct: float | None = None
    """Where a step takes the negative share; None: 2x the baseline or +30 points, whichever is smaller."""
    horizon_min: int = 120
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per kind, parameters that replace its defaults."""
    jobs: int = 1

    @property
    def history_weeks(self) -> int:
        """Eight weeks of history before the evaluated weeks, or as many as a rule's baseline reads."""
        return max([8, *(getattr(p, "weeks", 0) for p in self.rules().values())])

    @property
    def step_pct(self) -> float:
        if self.step_to_pct is not None:
            return self.step_to_pct
        return min(2 * self.baseline_pct, self.baseline_pct + 30)

    def rules(self) -> dict[str, object]:
        return {kind: parse_params(kind, self.params.get(kind, {})) for kind in KINDS}


@dataclass
class Outcome:
    """One store's result for one kind: false alarm episodes, and each step's delay (None: not caught in time)."""

    episodes: int = 0
    delays: list[int | None] = field(default_factory=list)


def episodes(holds: Condition, view: DayView, after_close: int) -> int:
    count, before = 0, False
    for t in range(OPEN_FROM + 1, OPEN_TO + after_close + 1):
        now = holds(view, t)
        count += now and not before
        before = now
    return count


def first_episode(holds: Condition, view: DayView, start: int, horizon: int) -> int | None:
    """Minutes from ``start`` to the first episode that begins after it, if within ``horizon``."""
    before = holds(view, start)
    for t in range(start + 1, start + horizon + 1):
        now = holds(view, t)
        if now and not before:
            return t - start
        before = now
    return None


def run_store(config: SimConfig, level: float, index: int) -> dict[str, Outcome]:
    """One simulated store at ``level`` answers per hour; its own random stream, so results never depend on jobs."""
    rng = random.Random(f"{config.seed}:{level:g}:{index}")
    history = SimHistory()
    rules, history_weeks = config.rules(), config.history_weeks
    holds = {kind: condition(p, history) for kind, p in rules.items()}
    after_close = {kind: span(p) for kind, p in rules.items()}
    share, step_share = config.baseline_pct / 100, config.step_pct / 100
    day = FIRST_DAY
    for _ in range(7 * history_weeks):
        history.add(steady_day(day, level, share, rng))
        day += timedelta(days=1)
    out = {kind: Outcome() for kind in rules}
    for _ in range(7 * config.weeks):
        answers = steady_day(day, level, share, rng)
        view = DayView(answers)
        start = rng.randrange(OPEN_FROM, OPEN_TO - config.horizon_min)
        step = DayView(stepped(answers, start, config.horizon_min, step_share, rng))
        for kind in rules:
            out[kind].episodes += episodes(holds[kind], view, after_close[kind])
            if kind in MOOD_KINDS:
                out[kind].delays.append(first_episode(holds[kind], step, start, config.horizon_min))
        history.add(answers)
        day += timedelta(days=1)
    return out


def _nearest_rank(delays: list[int | None], q: float) -> int | None:
    """The q-quantile over every step, an uncaught one counting as later than any caught (None if it lands there)."""
    caught = sorted(d for d in delays if d is not None)
    rank = math.ceil(q * len(delays))
    return caught[rank - 1] if 0 < rank <= len(caught) else None


def summarize(kind: str, level: float, outcomes: list[Outcome], config: SimConfig) -> dict[str, Any]:
    location_weeks = config.stores * config.weeks
    row: dict[str, Any] = {
        "kind": kind,
        "answers_per_hour": level,
        "false_alarms_per_week": round(sum(o.episodes for o in outcomes) / location_weeks, 2),
        "detected_pct": None,
        "median_delay_min": None,
        "p90_delay_min": None,
    }
    delays = [d for o in outcomes for d in o.delays]
    if kind in MOOD_KINDS and delays:
        row["detected_pct"] = round(100 * sum(d is not None for d in delays) / len(delays), 1)
        row["median_delay_min"] = _nearest_rank(delays, 0.5)
        row["p90_delay_min"] = _nearest_rank(delays, 0.9)
    return row


def simulate(config: SimConfig) -> list[dict[str, Any]]:
    """One row per kind and level, kinds in KINDS order; the same rows for the same config, whatever ``jobs``."""
    config.rules()  # bad params fail here, before any work
    stores = [(level, i) for level in config.levels for i in range(config.stores)]
    busiest_first = sorted(stores, key=lambda s: -s[0])  # the slowest stores start first on the pool
    run = partial(_run_store_task, config)
    if config.jobs > 1:
        with ProcessPoolExecutor(config.jobs) as pool:
            done = dict(zip(busiest_first, pool.map(run, busiest_first), strict=True))
    else:
        done = {s: run(s) for s in busiest_first}
    return [
        summarize(kind, level, [done[(level, i)][kind] for i in range(config.stores)], config)
        for kind in KINDS
        for level in config.levels
    ]


def _run_store_task(config: SimConfig, store: tuple[float, int]) -> dict[str, Outcome]:
    return run_store(config, *store)


def _cell(value: float | None, unit: str = "", missing: str = "n/a") -> str:
    return missing if value is None else f"{value:g}{unit}"


def table(rows: Iterable[dict[str, Any]], config: SimConfig) -> str:
    """The Markdown table the README carries, with the protocol in one line above it."""
    lines = [
        f"seed {config.seed}: per level {config.stores * config.weeks} location-weeks ({config.stores} stores x "
        f"{config.weeks} weeks, after {config.history_weeks} weeks of history) and {config.stores * config.weeks * 7} "
        f"step changes from {config.baseline_pct:g}% to {config.step_pct:g}% negative; rules evaluated every minute",
        "",
        "| kind | answers/h | false alarms per location-week | steps caught within 2 h | median delay | p90 delay |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        late = f"> {config.horizon_min} min" if r["detected_pct"] is not None else "n/a"
        lines.append(
            f"| `{r['kind']}` | {r['answers_per_hour']:g} | {r['false_alarms_per_week']:.2f} | "
            f"{_cell(r['detected_pct'], '%')} | {_cell(r['median_delay_min'], ' min', late)} | "
            f"{_cell(r['p90_delay_min'], ' min', late)} |"
        )
    return "\n".join(lines)
