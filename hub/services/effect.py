"""The effect of a store's action, by difference-in-differences against peer stores.

The measure an action addresses is the share of answers naming its follow-up reason (or
% negative when it names none), plus the Happy Index. For each measure::

    DiD = (treated after - treated before) - (peers after - peers before)

computed on weekly values. Weeks are 7-day blocks counted from the action's start day, so
every block holds each weekday once and the weekday mix cannot move the numbers.

Why these choices:

- **Peers are averaged, not pooled.** Each peer store is one comparison unit, so one busy store
  does not set the counterfactual trend alone, and traffic moving between peers with different
  levels does not leak into the estimate.
- **The CI is clustered by week.** Answers of one day or hour are not independent (a bad shift,
  the weather), so a binomial variance over all answers makes intervals too narrow. The weekly
  gaps ``d_w = treated_w - mean(peers_w)`` are the observations: their spread around the before
  and after means gives a variance with ``weeks_before + weeks_after - 2`` degrees of freedom.
  With 4 + 4 weeks that estimate is itself noisy, so the model variance is its floor: the
  binomial (delta method) variance of each weekly share, ``p(1-p)/n``, or for the Happy Index
  the variance of a mean of answers, ``s^2/n`` scaled to 0..100; peers' variances are averaged
  like their values. The interval uses Student's t at the clustered df, so it stays honest when
  the week-level spread is what counts, and conservative when only sampling noise is present.
- **The verdict follows the addressed measure.** "improved" or "worse" when its 95% CI excludes
  zero; the Happy Index is reported beside it. "too early to tell" while the after-window is
  not complete or either side of the treated store has fewer than ``min_n`` answers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from edge_agent.scores import SMALL_SAMPLE_N, polarity, score, t_quantile

Verdict = Literal["improved", "no detectable change", "worse", "too early to tell"]
Measure = Literal["reason_share", "pct_negative", "happy_index"]
DEFAULT_WEEKS = 4


@dataclass(frozen=True)
class WeekCounts:
    """One location's answers in one 7-day block: per face (most negative first), and how many named the reason."""

    counts: tuple[int, ...]
    reason: int = 0

    @property
    def n(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class LocationWeeks:
    """Weeks oldest first, the same calendar weeks for every location: ``before`` ends the day before the
    start, ``after`` begins on it and holds complete weeks only. A week without answers stays in place."""

    location_id: str
    before: tuple[WeekCounts, ...]
    after: tuple[WeekCounts, ...]


@dataclass(frozen=True)
class EffectInput:
    treated: LocationWeeks
    peers: tuple[LocationWeeks, ...]
    scale: int
    reason: str | None = None
    weeks: int = DEFAULT_WEEKS
    """The window asked for on each side; fewer complete after-weeks is "too early to tell"."""
    min_n: int = SMALL_SAMPLE_N
    """Fewer answers than this on either side of the treated store is "too early to tell"."""


@dataclass(frozen=True)
class Change:
    """One measure's levels (percent or index points, means of weekly values) and its DiD with a 95% CI."""

    measure: Measure
    better: Literal["lower", "higher"]
    treated_before: float | None
    treated_after: float | None
    peers_before: float | None
    peers_after: float | None
    estimate: float | None
    ci95: tuple[float, float] | None

    def as_dict(self) -> dict[str, object]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 2)

        return {
            "measure": self.measure,
            "better": self.better,
            "treated_before": r(self.treated_before),
            "treated_after": r(self.treated_after),
            "peers_before": r(self.peers_before),
            "peers_after": r(self.peers_after),
            "estimate": r(self.estimate),
            "ci95": None if self.ci95 is None else [round(self.ci95[0], 2), round(self.ci95[1], 2)],
        }


@dataclass(frozen=True)
class SideN:
    """Answers on each side: the n behind every number."""

    treated_before: int
    treated_after: int
    peers_before: int
    peers_after: int


@dataclass(frozen=True)
class Effect:
    verdict: Verdict
    primary: Change
    happy_index: Change
    n: SideN
    weeks_before: int
    weeks_after: int
    peers: tuple[str, ...]
    note: str

    def as_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "primary": self.primary.as_dict(),
            "happy_index": self.happy_index.as_dict(),
            "n": vars(self.n).copy(),
            "weeks_before": self.weeks_before,
            "weeks_after": self.weeks_after,
            "peers": list(self.peers),
            "note": self.note,
        }


# --- one location-week: value and model variance ------------------------------


def _negatives(counts: Sequence[int], scale: int) -> int:
    """Negative answers, with the boundaries of % negative in the score module."""
    return sum(c for v, c in enumerate(counts) if polarity(v, scale) == "negative")


def _share_points(week: WeekCounts, measure: Measure, scale: int) -> tuple[int, int]:
    """(answers that count towards the share, answers) of one week."""
    hits = week.reason if measure == "reason_share" else _negatives(week.counts, scale)
    return hits, week.n


def _value(week: WeekCounts, measure: Measure, scale: int) -> float:
    if measure == "happy_index":
        index = score(week.counts, scale).happy_index
        assert index is not None  # callers skip empty weeks
        return index
    hits, n = _share_points(week, measure, scale)
    return 100 * hits / n


def _side_spread(weeks: Sequence[WeekCounts], measure: Measure, scale: int) -> float:
    """Per-answer variance on one side of one location, pooled over its weeks (stabler than per week)."""
    total = [0] * scale
    hits = n = 0
    for week in weeks:
        total = [a + b for a, b in zip(total, week.counts, strict=True)]
        h, m = _share_points(week, measure, scale)
        hits, n = hits + h, n + m
    if n < 2:
        return 0.0
    if measure != "happy_index":
        p = hits / n
        return 100 * 100 * p * (1 - p)
    mean = sum(v * c for v, c in enumerate(total)) / n
    var = sum(c * (v - mean) ** 2 for v, c in enumerate(total)) / (n - 1)
    return var * (100 / (scale - 1)) ** 2


@dataclass(frozen=True)
class _Gaps:
    """Weekly treated-minus-peers gaps of one side, their model variances, and the side means."""

    gaps: list[float]
    variances: list[float]
    treated: float | None
    peers: float | None


def _gaps(treated: Sequence[WeekCounts], peers: Sequence[Sequence[WeekCounts]], measure: Measure, scale: int) -> _Gaps:
    spread_t = _side_spread(treated, measure, scale)
    spread_p = [_side_spread(p, measure, scale) for p in peers]
    gaps: list[float] = []
    variances: list[float] = []
    t_values: list[float] = []
    p_values: list[float] = []
    for w, week in enumerate(treated):
        present = [(p[w], spread_p[i]) for i, p in enumerate(peers) if w < len(p) and p[w].n > 0]
        if week.n == 0 or not present:
            continue
        peer_mean = sum(_value(pw, measure, scale) for pw, _ in present) / len(present)
        peer_var = sum(s / pw.n for pw, s in present) / len(present) ** 2
        value = _value(week, measure, scale)
        gaps.append(value - peer_mean)
        variances.append(spread_t / week.n + peer_var)
        t_values.append(value)
        p_values.append(peer_mean)
    return _Gaps(
        gaps,
        variances,
        sum(t_values) / len(t_values) if t_values else None,
        sum(p_values) / len(p_values) if p_values else None,
    )


def did(
    treated: LocationWeeks, peers: Sequence[LocationWeeks], measure: Measure, scale: int, level: float = 0.95
) -> Change:
    """The difference-in-differences of one measure, with its week-clustered CI (see the module docstring)."""
    before = _gaps(treated.before, [p.before for p in peers], measure, scale)
    after = _gaps(treated.after, [p.after for p in peers], measure, scale)
    better: Literal["lower", "higher"] = "higher" if measure == "happy_index" else "lower"
    nb, na = len(before.gaps), len(after.gaps)
    if nb < 2 or na < 2:
        return Change(measure, better, before.treated, after.treated, before.peers, after.peers, None, None)
    mean_b, mean_a = sum(before.gaps) / nb, sum(after.gaps) / na
    estimate = mean_a - mean_b
    df = nb + na - 2
    pooled = (sum((g - mean_b) ** 2 for g in before.gaps) + sum((g - mean_a) ** 2 for g in after.gaps)) / df
    var_weeks = pooled * (1 / nb + 1 / na)
    var_model = sum(before.variances) / nb**2 + sum(after.variances) / na**2
    half = t_quantile(0.5 + level / 2, df) * math.sqrt(max(var_weeks, var_model))
    return Change(
        measure,
        better,
        before.treated,
        after.treated,
        before.peers,
        after.peers,
        estimate,
        (estimate - half, estimate + half),
    )


def _verdict(change: Change) -> Verdict:
    if change.ci95 is None:
        return "too early to tell"
    low, high = change.ci95
    if low <= 0 <= high:
        return "no detectable change"
    lower_is_better = change.better == "lower"
    return "improved" if (high < 0) == lower_is_better else "worse"


def _n(weeks: Sequence[WeekCounts]) -> int:
    return sum(w.n for w in weeks)


def effect(data: EffectInput) -> Effect:
    """The effect of one action: both measures' DiD, the n on each side and the verdict."""
    if data.weeks < 2:
        raise ValueError(f"weeks must be at least 2 (got {data.weeks})")
    for loc in (data.treated, *data.peers):
        for week in (*loc.before, *loc.after):
            if len(week.counts) != data.scale:
                raise ValueError(f"{loc.location_id}: expected {data.scale} counts per week, got {len(week.counts)}")
    measure: Measure = "pct_negative" if data.reason is None else "reason_share"
    primary = did(data.treated, data.peers, measure, data.scale)
    index = did(data.treated, data.peers, "happy_index", data.scale)
    n = SideN(
        _n(data.treated.before),
        _n(data.treated.after),
        sum(_n(p.before) for p in data.peers),
        sum(_n(p.after) for p in data.peers),
    )
    weeks_before = sum(1 for w in data.treated.before if w.n > 0)  # a new store has less history
    weeks_after = len(data.treated.after)
    blocking = []  # any of these makes it "too early to tell"
    if not data.peers:
        blocking.append("no peer location without an overlapping action")
    if weeks_after < data.weeks:
        blocking.append(f"{weeks_after} of {data.weeks} weeks after the start are complete")
    if min(n.treated_before, n.treated_after) < data.min_n:
        blocking.append(f"fewer than {data.min_n} answers on a side at the store")
    if primary.ci95 is None:
        blocking.append("fewer than 2 weeks with answers on a side")
    notes = list(blocking)
    if weeks_before < data.weeks:  # a shorter history still gives an honest, wider interval
        notes.append(f"only {weeks_before} of {data.weeks} weeks of history before the start")
    verdict: Verdict = "too early to tell" if blocking else _verdict(primary)
    return Effect(
        verdict=verdict,
        primary=primary,
        happy_index=index,
        n=n,
        weeks_before=weeks_before,
        weeks_after=weeks_after,
        peers=tuple(p.location_id for p in data.peers),
        note="; ".join(notes),
    )
