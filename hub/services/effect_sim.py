"""Seeded studies of the action-effect verdicts on simulated stores (``touchpoint-hub effect simulate``).

A region of stores answers on the demo's traffic (:mod:`hub.services.traffic`: open hours,
answers per hour, the reasons shoppers name) with the faces of
:func:`hub.services.alert_sim_data.mood`. Each store has its own usual negative share, and
every day wobbles around it (staff, weather): that day-level noise is what a per-answer
binomial CI would miss. Store 0 logs an action after ``weeks`` weeks; the study asks how
often :func:`hub.services.effect.effect` calls it improved, unchanged or worse when:

- **improvement**: after the start the store loses part of its queue complaints (those
  shoppers answer neutral or positive instead);
- **placebo**: nothing changes anywhere (``placebo-negative``: an action without a reason, so
  % negative is measured, where the day-level noise weighs most);
- **season**: every store of the region gets happier by the same points after the start,
  and the action does nothing. A naive before/after at the store alone would call that
  improved; the difference-in-differences must not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from edge_agent.scores import two_proportion_z_test
from hub.services.alert_sim_data import SCALE, mood
from hub.services.effect import EffectInput, LocationWeeks, Verdict, WeekCounts, effect
from hub.services.traffic import OPEN_HOURS, REASON_SHARE, REASONS, hourly_rate

QUEUE_SHARE_OF_NEGATIVES = REASON_SHARE / len(REASONS)
"""A negative answer names the queue this often (a reason at all 60% of the time, one of five)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    improvement: float = 0.0
    """Share of the treated store's queue complaints that go away after the start (0: none)."""
    fleet_shift_pct: float = 0.0
    """Points every store's negative share moves after the start (a season); negative is happier."""
    reason: str | None = "queue"
    """The reason the action addresses; None measures % negative."""


@dataclass(frozen=True)
class Fleet:
    stores: int = 6
    """The treated store and its peers: one region."""
    answers_per_hour: float = 20.0
    """Each store's average answers per open hour (the demo's stores see about 23)."""
    negative_pct: tuple[float, float] = (15.0, 25.0)
    """Each store's usual negative share is drawn uniformly from this range."""
    day_noise_pct: float = 2.0
    """Standard deviation of a day's negative share around its store's usual, in points."""
    weeks: int = 4


SCENARIOS = (
    Scenario("improvement", improvement=0.5),
    Scenario("placebo"),
    Scenario("placebo-negative", reason=None),
    Scenario("season", fleet_shift_pct=-6.0, reason=None),
)


def simulate_weeks(fleet: Fleet, scenario: Scenario, rng: np.random.Generator) -> EffectInput:
    """One region's weekly counts around an action at store 0 starting after ``fleet.weeks`` weeks."""
    days = 14 * fleet.weeks
    after = np.arange(days) >= 7 * fleet.weeks
    per_day = sum(hourly_rate(fleet.answers_per_hour, h) for h in OPEN_HOURS)
    usual = rng.uniform(*fleet.negative_pct, size=(fleet.stores, 1)) / 100
    negative = usual + rng.normal(0, fleet.day_noise_pct / 100, size=(fleet.stores, days))
    negative = negative + np.where(after, scenario.fleet_shift_pct / 100, 0.0)
    queue_share = np.full((fleet.stores, days), QUEUE_SHARE_OF_NEGATIVES)
    if scenario.improvement:
        # the removed queue complaints leave the negatives: both the share and its queue part fall
        gone = QUEUE_SHARE_OF_NEGATIVES * scenario.improvement
        negative[0, after] *= 1 - gone
        queue_share[0, after] = (QUEUE_SHARE_OF_NEGATIVES - gone) / (1 - gone)
    negative = np.clip(negative, 0.0, 1.0)
    faces = np.stack([np.array(mood(float(q))) for q in negative.ravel()]).reshape(fleet.stores, days, SCALE)
    # cells: face 0 with/without the queue, face 1 with/without, faces 2 and 3
    cells = np.stack(
        [
            faces[..., 0] * queue_share,
            faces[..., 0] * (1 - queue_share),
            faces[..., 1] * queue_share,
            faces[..., 1] * (1 - queue_share),
            faces[..., 2],
            faces[..., 3],
        ],
        axis=-1,
    )
    answers = rng.multinomial(rng.poisson(per_day, size=(fleet.stores, days)), cells)
    weekly = answers.reshape(fleet.stores, 2 * fleet.weeks, 7, 6).sum(axis=2)
    locations = []
    for s in range(fleet.stores):
        weeks = [
            WeekCounts(
                counts=(int(w[0] + w[1]), int(w[2] + w[3]), int(w[4]), int(w[5])),
                reason=int(w[0] + w[2]) if scenario.reason else 0,
            )
            for w in weekly[s]
        ]
        locations.append(LocationWeeks(f"store-{s}", tuple(weeks[: fleet.weeks]), tuple(weeks[fleet.weeks :])))
    return EffectInput(locations[0], tuple(locations[1:]), SCALE, scenario.reason, fleet.weeks)


def naive_improved(data: EffectInput) -> bool:
    """Would the store's own before/after (two-proportion z-test on % negative) call it improved?"""
    scale = data.scale

    def negatives(weeks: tuple[WeekCounts, ...]) -> tuple[int, int]:
        neg = sum(w.counts[0] + w.counts[1] for w in weeks) if scale == SCALE else 0
        return neg, sum(w.n for w in weeks)

    (xb, nb), (xa, na) = negatives(data.treated.before), negatives(data.treated.after)
    test = two_proportion_z_test(xa, na, xb, nb)
    return test is not None and test.significant and xa / na < xb / nb


@dataclass(frozen=True)
class StudyRow:
    scenario: str
    runs: int
    verdicts: dict[Verdict, int]
    naive_improved: int

    def rate(self, *verdicts: Verdict) -> float:
        return sum(self.verdicts.get(v, 0) for v in verdicts) / self.runs

    def as_dict(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "runs": self.runs,
            "improved": self.rate("improved"),
            "no_detectable_change": self.rate("no detectable change"),
            "worse": self.rate("worse"),
            "too_early": self.rate("too early to tell"),
            "naive_improved": self.naive_improved / self.runs,
        }


def study(scenario: Scenario, runs: int, seed: int, fleet: Fleet | None = None) -> StudyRow:
    """``runs`` seeded regions of one scenario; the same seed gives the same row."""
    fleet = fleet or Fleet()
    verdicts: Counter[Verdict] = Counter()
    naive = 0
    for run in range(runs):
        rng = np.random.default_rng([seed, run])
        data = simulate_weeks(fleet, scenario, rng)
        verdicts[effect(data).verdict] += 1
        naive += naive_improved(replace(data, reason=None))
    return StudyRow(scenario.name, runs, dict(verdicts), naive)
