"""The score module's polarity and significance tests, against values worked out independently."""

from __future__ import annotations

import math
from statistics import NormalDist, mean, variance

import pytest

from edge_agent.scores import (
    ALPHA,
    _t_tail,
    polarity,
    score,
    t_quantile,
    two_proportion_z_test,
    welch_t_test,
)


def t_two_sided_p(t: float, df: float, steps: int = 20_000) -> float:
    """1 - 2 * integral of the t pdf over [0, |t|], by Simpson's rule: independent of the module's beta maths."""
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def pdf(x: float) -> float:
        return math.exp(log_norm - (df + 1) / 2 * math.log1p(x * x / df))

    h = abs(t) / steps
    total = pdf(0) + pdf(abs(t)) + sum((4 if i % 2 else 2) * pdf(i * h) for i in range(1, steps))
    return 1 - 2 * total * h / 3


def counts_of(values: list[int], scale: int) -> list[int]:
    return [values.count(v) for v in range(scale)]


# --- polarity -----------------------------------------------------------------


def test_polarity_uses_the_same_boxes_as_the_scores() -> None:
    assert [polarity(v, 4) for v in range(4)] == ["negative", "negative", "positive", "positive"]
    assert [polarity(v, 5) for v in range(5)] == ["negative", "negative", "neutral", "positive", "positive"]
    assert [polarity(v, 11) for v in range(11)] == ["negative"] * 7 + ["neutral"] * 2 + ["positive"] * 2
    for scale in (4, 5, 11):
        counts = [1] * scale
        s = score(counts, scale)
        positives = sum(1 for v in range(scale) if polarity(v, scale) == "positive")
        negatives = sum(1 for v in range(scale) if polarity(v, scale) == "negative")
        assert s.pct_positive == pytest.approx(100 * positives / scale)
        assert s.pct_negative == pytest.approx(100 * negatives / scale)


@pytest.mark.parametrize(("value", "scale"), [(4, 4), (-1, 5), (11, 11), (0, 3)])
def test_polarity_refuses_values_off_the_scale(value: int, scale: int) -> None:
    with pytest.raises(ValueError):
        polarity(value, scale)


# --- two-proportion z-test ------------------------------------------------------


def test_z_test_by_hand() -> None:
    # 40/100 vs 25/100: pooled p = 0.325, se = sqrt(0.325 * 0.675 * 0.02) = 0.066238, z = 0.15 / se = 2.26455.
    # R: prop.test(c(40, 25), c(100, 100), correct = FALSE) gives X-squared = z^2 = 5.1282, p = 0.02354.
    result = two_proportion_z_test(40, 100, 25, 100)
    assert result is not None
    assert result.statistic == pytest.approx(2.26455, abs=1e-5)
    assert result.statistic**2 == pytest.approx(5.1282, abs=1e-4)
    assert result.p_value == pytest.approx(0.02354, abs=1e-5)
    assert result.significant


def test_z_test_is_symmetric_and_not_significant_for_a_small_change() -> None:
    a, b = two_proportion_z_test(21, 40, 20, 40), two_proportion_z_test(20, 40, 21, 40)
    assert a is not None and b is not None
    assert a.statistic == pytest.approx(-b.statistic)
    assert a.p_value == pytest.approx(b.p_value)
    assert a.p_value == pytest.approx(2 * NormalDist().cdf(-abs(a.statistic)))
    assert not a.significant and a.p_value > 0.8


def test_z_test_edge_cases() -> None:
    assert two_proportion_z_test(0, 0, 3, 10) is None
    same = two_proportion_z_test(10, 10, 7, 7)  # 100% both times: nothing to test, nothing changed
    assert same is not None and (same.statistic, same.p_value, same.significant) == (0.0, 1.0, False)
    with pytest.raises(ValueError):
        two_proportion_z_test(11, 10, 1, 10)


# --- Welch t-test ---------------------------------------------------------------------


def test_welch_by_hand() -> None:
    # x = 1..5, y = 2, 4, ..., 10 on the 0..10 scale: means 3 and 6, variances 2.5 and 10,
    # se = sqrt(2.5/5 + 10/5) = sqrt(2.5), t = -3 / 1.58114 = -1.89737,
    # df = 2.5^2 / (0.5^2 / 4 + 2^2 / 4) = 6.25 / 1.0625 = 5.88235.
    x, y = [1, 2, 3, 4, 5], [2, 4, 6, 8, 10]
    result = welch_t_test(counts_of(x, 11), counts_of(y, 11))
    assert result is not None
    assert result.statistic == pytest.approx(-1.89737, abs=1e-5)
    assert result.p_value == pytest.approx(t_two_sided_p(1.897366596, 5.882352941), abs=1e-7)
    assert 0.10 < result.p_value < 0.11  # Welch's df makes it larger than the normal's 0.0578
    assert not result.significant


def test_welch_matches_the_textbook_formula_on_a_significant_change() -> None:
    before = [0] * 30 + [3] * 10
    after = [3] * 36 + [2] * 4
    result = welch_t_test(counts_of(after, 4), counts_of(before, 4))
    assert result is not None
    a, b = variance(after) / len(after), variance(before) / len(before)
    t = (mean(after) - mean(before)) / math.sqrt(a + b)
    df = (a + b) ** 2 / (a * a / (len(after) - 1) + b * b / (len(before) - 1))
    assert result.statistic == pytest.approx(t)
    assert result.p_value == pytest.approx(t_two_sided_p(t, df), abs=1e-9)
    assert result.significant and result.p_value < 1e-9


@pytest.mark.parametrize("df", [3, 7.5, 24.9, 150.2, 5000.0])
def test_the_t_tail_takes_welchs_fractional_df(df: float) -> None:
    for t in (0.5, 1.96, 3.0):
        assert 2 * _t_tail(t, df) == pytest.approx(t_two_sided_p(t, df), abs=1e-9)
    if df == int(df):  # at the critical t of a 95% interval, p is exactly alpha
        assert 2 * _t_tail(t_quantile(0.975, int(df)), df) == pytest.approx(ALPHA, abs=1e-10)


def test_welch_edge_cases() -> None:
    assert welch_t_test([1, 0, 0, 0], [5, 5, 0, 0]) is None  # one answer: no variance to test with
    flat = welch_t_test([0, 0, 9, 0], [0, 0, 4, 0])
    assert flat is not None and (flat.p_value, flat.significant) == (1.0, False)
    apart = welch_t_test([0, 0, 9, 0], [0, 4, 0, 0])
    assert apart is not None and apart.significant and apart.statistic == math.inf
    with pytest.raises(ValueError):
        welch_t_test([1, 2, 3, 4], [1, 2, 3, 4, 5])
