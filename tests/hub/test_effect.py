"""The action-effect maths: hand-computed difference-in-differences, verdict rules, and seeded simulator studies."""

from __future__ import annotations

import pytest

from hub.services.effect import EffectInput, LocationWeeks, WeekCounts, did, effect
from hub.services.effect_sim import SCENARIOS, Fleet, study

T2, T6 = 4.302652729911275, 2.446911851144969  # Student t 97.5% quantiles, 2 and 6 df


def neg(pct: int, n: int = 100) -> WeekCounts:
    """A week of ``n`` answers, ``pct`` % negative, split evenly over the two negative and two other faces."""
    bad = pct * n // 100
    return WeekCounts((bad // 2, bad - bad // 2, (n - bad) // 2, n - bad - (n - bad) // 2))


def weeks(location: str, before: list[int], after: list[int]) -> LocationWeeks:
    return LocationWeeks(location, tuple(neg(p) for p in before), tuple(neg(p) for p in after))


def test_did_with_week_to_week_spread_uses_the_weekly_variance() -> None:
    # gaps (treated - peer) before: 0, 10 (mean 5); after: -10, 0 (mean -5): DiD -10.
    # weekly variance: ((0-5)^2 + (10-5)^2 + (-10+5)^2 + (0+5)^2) / 2 df = 50, times (1/2 + 1/2) = 50.
    # binomial: treated p .25 before, .15 after; peer .20: (1875+1600)/100 * 2/4 + (1275+1600)/100 * 2/4 = 31.75 < 50.
    change = did(weeks("t", [20, 30], [10, 20]), [weeks("p", [20, 20], [20, 20])], "pct_negative", 4)
    assert change.estimate == pytest.approx(-10)
    assert change.treated_before == pytest.approx(25) and change.treated_after == pytest.approx(15)
    assert change.peers_before == pytest.approx(20) and change.peers_after == pytest.approx(20)
    half = T2 * 50**0.5
    assert change.ci95 == pytest.approx((-10 - half, -10 + half))


def test_did_without_week_to_week_spread_falls_back_to_the_binomial_variance() -> None:
    # gaps 0 x4 before, -10 x4 after: no weekly spread. Binomial per week: treated .2 -> 16, .1 -> 9; peer 16.
    # var = 4 * (16 + 16) / 16 + 4 * (9 + 16) / 16 = 14.25, t with 6 df.
    change = did(weeks("t", [20] * 4, [10] * 4), [weeks("p", [20] * 4, [20] * 4)], "pct_negative", 4)
    half = T6 * 14.25**0.5
    assert change.estimate == pytest.approx(-10)
    assert change.ci95 == pytest.approx((-10 - half, -10 + half))
    data = EffectInput(weeks("t", [20] * 4, [10] * 4), (weeks("p", [20] * 4, [20] * 4),), 4)
    assert effect(data).verdict == "improved"


def test_peers_are_averaged_store_by_store_not_pooled() -> None:
    # a big peer at 10% and a small one at 30%: the peer level is 20%, not the pooled 13.3%
    big = LocationWeeks("big", (neg(10, 1000),) * 2, (neg(10, 1000),) * 2)
    small = LocationWeeks("small", (neg(30, 100),) * 2, (neg(30, 100),) * 2)
    change = did(weeks("t", [20, 20], [20, 20]), [big, small], "pct_negative", 4)
    assert change.peers_before == pytest.approx(20)
    assert change.estimate == pytest.approx(0)


def test_reason_share_and_happy_index_by_hand() -> None:
    def week(counts: tuple[int, ...], reason: int) -> WeekCounts:
        return WeekCounts(counts, reason)

    # treated: 10 of 100 name the queue before, 4 of 100 after; the peer stays at 5 of 100: DiD -6 points.
    # Happy Index: treated (0,0,0,100) = 100 before, (0,0,100,0) = 66.67 after; peer (0,0,100,0) throughout.
    treated = LocationWeeks("t", (week((0, 0, 0, 100), 10),) * 2, (week((0, 0, 100, 0), 4),) * 2)
    peer = LocationWeeks("p", (week((0, 0, 100, 0), 5),) * 2, (week((0, 0, 100, 0), 5),) * 2)
    result = effect(EffectInput(treated, (peer,), 4, reason="queue", weeks=2))
    assert result.primary.measure == "reason_share"
    assert result.primary.estimate == pytest.approx(-6)
    assert result.happy_index.estimate == pytest.approx(-100 / 3)
    assert (result.n.treated_before, result.n.treated_after, result.n.peers_before) == (200, 200, 200)


def test_worse_is_the_mirror_of_improved() -> None:
    data = EffectInput(weeks("t", [10] * 4, [20] * 4), (weeks("p", [10] * 4, [10] * 4),), 4)
    assert effect(data).verdict == "worse"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (EffectInput(weeks("t", [20] * 4, [10] * 3), (weeks("p", [20] * 4, [20] * 3),), 4), "3 of 4 weeks"),
        (EffectInput(weeks("t", [20] * 4, [10] * 4), (), 4), "no peer location"),
        (
            EffectInput(LocationWeeks("t", (neg(20, 5),) * 4, (neg(0, 5),) * 4), (weeks("p", [20] * 4, [20] * 4),), 4),
            "fewer than 30 answers",
        ),
    ],
)
def test_too_early_to_tell(data: EffectInput, why: str) -> None:
    result = effect(data)
    assert result.verdict == "too early to tell"
    assert why in result.note


def test_a_short_history_still_gives_a_verdict_and_says_so() -> None:
    # a store open for 2 weeks before its action: 4 df instead of 6, still narrow enough at 400 answers a week
    empty = WeekCounts((0, 0, 0, 0))
    treated = LocationWeeks("t", (empty, empty, neg(20, 400), neg(20, 400)), (neg(10, 400),) * 4)
    peer = LocationWeeks("p", (neg(20, 400),) * 4, (neg(20, 400),) * 4)
    result = effect(EffectInput(treated, (peer,), 4))
    assert result.weeks_before == 2
    assert result.verdict == "improved"
    assert "only 2 of 4 weeks of history" in result.note


def test_counts_of_the_wrong_scale_are_refused() -> None:
    with pytest.raises(ValueError, match="expected 5 counts"):
        effect(EffectInput(weeks("t", [20] * 4, [20] * 4), (), 5))


# --- seeded simulator studies (the full 200 runs take well under a second each) ------------


def test_an_injected_improvement_is_found_in_at_least_90_percent_of_runs() -> None:
    row = study(SCENARIOS[0], runs=200, seed=1)
    assert row.rate("improved") >= 0.90, row.as_dict()
    assert row.rate("worse") == 0


def test_a_placebo_action_is_called_improved_or_worse_in_at_most_5_percent_of_runs() -> None:
    for seed in (1, 2):
        row = study(SCENARIOS[1], runs=200, seed=seed)
        assert row.rate("improved", "worse") <= 0.05, row.as_dict()


def test_a_fleet_wide_seasonal_shift_does_not_make_an_action_look_effective() -> None:
    row = study(SCENARIOS[3], runs=200, seed=1)
    assert row.rate("improved") <= 0.05, row.as_dict()
    assert row.naive_improved / row.runs >= 0.9  # the store's own before/after would have been fooled


def test_at_a_busier_store_day_to_day_noise_does_not_become_false_alarms() -> None:
    """At 60 answers an hour the days' own ups and downs outweigh sampling noise: a CI from the binomial
    alone calls about 28% of placebo actions improved or worse; the week-clustered one stays near 5%."""
    fleet = Fleet(answers_per_hour=60)
    assert study(SCENARIOS[0], runs=100, seed=2, fleet=fleet).rate("improved") >= 0.95
    placebo = study(SCENARIOS[2], runs=200, seed=2, fleet=fleet)
    assert placebo.scenario == "placebo-negative"
    assert placebo.rate("improved", "worse") <= 0.05, placebo.as_dict()
