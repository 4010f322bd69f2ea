"""The ``shift`` detector against sequences worked out by hand: usual share, tuned share, CUSUM path, verdict.

With a usual share of 20% the CUSUM is tuned to 40%: a negative answer adds
ln(0.4/0.2) = ln 2 = 0.6931 and any other answer adds ln(0.6/0.8) = -0.2877.
"""

from __future__ import annotations

import math

import pytest

from hub.services.alert_checks import Tally
from hub.services.alert_rules import Shift, parse_params
from hub.services.alert_shift import ShiftBin, check_shift, cusum, raised_share, usual_share

UP, OTHER = math.log(2), math.log(0.75)


def answers(signs: str, usual: float = 0.2) -> list[ShiftBin]:
    """One bin a minute from 12:00: '-' a negative answer, '+' any other."""
    return [(f"2026-11-23T12:{i:02d}", 1, int(s == "-"), usual) for i, s in enumerate(signs)]


def test_the_tuned_share_is_double_or_thirty_points_up_at_most_halfway_to_all() -> None:
    p = Shift()
    assert raised_share(0.10, p) == pytest.approx(0.20)  # 2x
    assert raised_share(0.40, p) == pytest.approx(0.70)  # +30 points
    assert raised_share(0.60, p) == pytest.approx(0.80)  # halfway to 100%
    assert raised_share(0.10, Shift(ratio=1.5)) == pytest.approx(0.15)


def test_the_usual_share_shrinks_the_hour_towards_the_store_and_the_store_towards_the_prior() -> None:
    p = Shift(prior_pct=20, prior_n=50)
    cell, store = Tally(n=40, negative=10), Tally(n=1000, negative=100)
    overall = (100 + 50 * 0.2) / (1000 + 50)  # 0.10476
    assert usual_share(cell, store, p) == pytest.approx((10 + 50 * overall) / (40 + 50))  # 0.1693
    assert usual_share(Tally(), Tally(), p) == pytest.approx(0.2)  # a new store: the prior
    assert usual_share(Tally(), store, p) == pytest.approx(overall)  # an hour never open before: the store's share
    assert usual_share(Tally(n=10**9, negative=10**9), Tally(n=10**9, negative=10**9), p) == 0.999  # finite evidence


def test_the_cusum_fires_at_its_threshold_and_resolves_below_half_of_it() -> None:
    p = Shift(threshold=2)
    signs = "-+---+++++"  # sums: .69 .41 1.10 1.79 2.49 | 2.20 1.91 1.62 1.33 1.05 | then 0.76
    expected = [UP, UP + OTHER, 2 * UP + OTHER, 3 * UP + OTHER, 4 * UP + OTHER]
    expected += [4 * UP + k * OTHER for k in range(2, 7)]
    for length in range(1, len(signs) + 1):
        result = cusum(answers(signs[:length]), p)
        assert result.statistic == pytest.approx(expected[length - 1])
        assert result.firing == (length >= 5), length  # reaches 2.49 >= 2 at the 5th answer, stays above 1
        assert result.since == 0
    after = cusum(answers(signs + "+"), p)
    assert after.statistic == pytest.approx(4 * UP + 7 * OTHER) and not after.firing  # 0.76 < 1: resolved


def test_the_cusum_restarts_from_zero_and_forgets_what_came_before() -> None:
    p = Shift(threshold=2)
    result = cusum(answers("---++++++++-"), p)  # 2.08 fires; eight others bring it to 0; then one negative
    assert (result.statistic, result.firing, result.since) == (pytest.approx(UP), False, 11)
    assert cusum(answers("+++"), p).statistic == 0.0 and cusum(answers("+++"), p).since == 3


def test_a_minute_of_several_answers_adds_each_answers_evidence() -> None:
    bins: list[ShiftBin] = [("2026-11-23T12:00", 5, 3, 0.2), ("2026-11-23T12:01", 2, 0, 0.2)]
    assert cusum(bins, Shift()).statistic == pytest.approx(3 * UP + 4 * OTHER)  # 2.08 - 1.15 = 0.93


def test_each_bin_is_weighed_against_its_own_hours_usual_share() -> None:
    # 10% usual: tuned to 20%, a negative adds ln 2, another answer ln(0.8/0.9); 30% usual: tuned to 60%.
    bins: list[ShiftBin] = [("2026-11-23T12:59", 1, 1, 0.1), ("2026-11-23T13:00", 1, 0, 0.3)]
    assert cusum(bins, Shift()).statistic == pytest.approx(math.log(2) + math.log(0.4 / 0.7))


def test_the_verdict_names_the_rise_since_the_sum_left_zero() -> None:
    p = Shift(threshold=2)
    assert check_shift(p, answers("++--")) is None
    verdict = check_shift(p, answers("+++---"))  # 0, 0, 0, then 2.08 from 12:03
    assert verdict is not None
    assert verdict.message == (
        "100% negative (3 of 3) since 12:03 UTC against 20% usual for this weekday and hour (CUSUM 2.1, alert at 2)"
    )
    assert verdict.details["since"] == "2026-11-23T12:03Z" and verdict.details["n"] == 3


def test_shift_params_have_defaults_and_bounds() -> None:
    p = parse_params("shift", {})
    assert isinstance(p, Shift) and p.weeks == 8 and p.ratio == 2 and p.max_points == 30
    with pytest.raises(ValueError, match=r"params\.prior_pct"):
        parse_params("shift", {"prior_pct": 0})
