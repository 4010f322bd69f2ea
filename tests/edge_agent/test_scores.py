"""Tests for edge_agent.scores, against values worked out by hand in the comments."""

from __future__ import annotations

import json
import math
import random
from statistics import NormalDist
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.scores import (
    BAND_AMBER_BELOW,
    BAND_RED_BELOW,
    SMALL_SAMPLE_N,
    Z95,
    band,
    merge_counts,
    score,
    t_quantile,
    wilson,
)

BASE_KEYS = {
    "scale",
    "n",
    "counts",
    "happy_index",
    "happy_index_ci",
    "pct_positive",
    "pct_positive_ci",
    "pct_negative",
    "small_sample",
}


def test_z95_is_the_normal_quantile() -> None:
    assert abs(Z95 - NormalDist().inv_cdf(0.975)) < 1e-15


# Reference t quantiles (R: qt(0.975, df)).
@pytest.mark.parametrize(
    ("df", "expected"),
    [
        (1, 12.706205),
        (2, 4.302653),
        (3, 3.182446),
        (4, 2.776445),
        (5, 2.570582),
        (9, 2.262157),
        (10, 2.228139),
        (29, 2.045230),
        (100, 1.983972),
        (1000, 1.962339),
    ],
)
def test_t_quantile_975(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-6)


def test_t_quantile_other_probabilities() -> None:
    assert t_quantile(0.995, 3) == pytest.approx(5.840909, abs=1e-6)
    assert t_quantile(0.95, 5) == pytest.approx(2.015048, abs=1e-6)
    assert t_quantile(0.9995, 3) == pytest.approx(12.923979, abs=1e-6)
    assert t_quantile(0.5, 7) == 0.0
    # df = 1 is Cauchy: the 75% point is tan(pi/4) = 1.
    assert t_quantile(0.75, 1) == pytest.approx(1.0)
    # df = 2: t = (2p - 1) / sqrt(2p(1 - p)); p = 0.9 gives 0.8 / sqrt(0.18).
    assert t_quantile(0.9, 2) == pytest.approx(0.8 / math.sqrt(0.18))


@pytest.mark.parametrize("df", [1, 2, 3, 5, 30, 5000])
def test_t_quantile_is_symmetric(df: int) -> None:
    assert t_quantile(0.025, df) == pytest.approx(-t_quantile(0.975, df), rel=1e-12)


def test_t_quantile_decreases_towards_normal() -> None:
    values = [t_quantile(0.975, df) for df in (3, 10, 100, 999, 1000, 1001, 10_000, 10**6)]
    assert values == sorted(values, reverse=True)
    assert values[-1] == pytest.approx(Z95, abs=1e-5)


@pytest.mark.parametrize(("p", "df"), [(0.0, 5), (1.0, 5), (-0.1, 5), (0.5, 0)])
def test_t_quantile_rejects_bad_input(p: float, df: int) -> None:
    with pytest.raises(ValueError):
        t_quantile(p, df)


def test_wilson_8_of_10() -> None:
    # p = 0.8, z^2 = 3.841459, z^2/n = 0.3841459, denominator = 1.3841459
    # centre = (0.8 + 0.1920729) / 1.3841459 = 0.716742
    # half   = 1.959964 / 1.3841459 * sqrt(0.016 + 0.0096036) = 1.416008 * 0.160012 = 0.226578
    low, high = wilson(8, 10) or (math.nan, math.nan)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_edges() -> None:
    assert wilson(0, 0) is None
    # 0/10: centre = half = 0.192073 / 1.384146 = 0.138766, so low is exactly 0 and high 0.2775
    none_of_ten = wilson(0, 10)
    assert none_of_ten is not None and none_of_ten[0] == 0.0
    assert none_of_ten[1] == pytest.approx(0.2775, abs=1e-4)
    # 1/1: centre = 2.920729 / 4.841459 = 0.603265, half = 0.404826 * 0.979982 = 0.396722
    one_of_one = wilson(1, 1)
    assert one_of_one is not None and one_of_one[1] == 1.0
    assert one_of_one[0] == pytest.approx(0.2065, abs=1e-4)
    with pytest.raises(ValueError):
        wilson(11, 10)


def test_happyornot_published_example() -> None:
    # VeryUnhappy 17, Unhappy 16, Happy 60, VeryHappy 126; n = 219.
    # mean = (0*17 + 1*16 + 2*60 + 3*126) / 219 = 514 / 219 = 2.347032; / 3 * 100 = 78.23
    s = score([17, 16, 60, 126], 4)
    assert s.n == 219
    assert s.happy_index is not None
    assert round(s.happy_index, 1) == 78.2
    assert s.pct_positive == pytest.approx(186 / 219 * 100)
    assert s.pct_negative == pytest.approx(33 / 219 * 100)
    assert s.nps is None and s.nps_ci is None
    assert s.small_sample is False


def test_five_point_by_hand() -> None:
    # Values 0..4 with counts [1, 1, 2, 3, 3]: n = 10, sum = 0 + 1 + 4 + 9 + 12 = 26, mean = 2.6
    # Happy Index = 2.6 / 4 * 100 = 65.0
    # squared deviations: 1*6.76 + 1*2.56 + 2*0.36 + 3*0.16 + 3*1.96 = 16.4; s = sqrt(16.4 / 9) = 1.349897
    # half = t(0.975, 9) * s / sqrt(10) = 2.262157 * 0.426876 = 0.965658 -> * 25 = 24.1415
    # % positive = values 3 and 4 = 6/10 = 60%; % negative = values 0 and 1 = 2/10 = 20%
    # Wilson 6/10: centre = 0.792073 / 1.384146 = 0.572247, half = 1.416009 * 0.183313 = 0.259573
    s = score([1, 1, 2, 3, 3], 5)
    assert s.happy_index == pytest.approx(65.0)
    assert s.happy_index_ci == pytest.approx((40.8585, 89.1415), abs=1e-3)
    assert s.pct_positive == pytest.approx(60.0)
    assert s.pct_positive_ci == pytest.approx((31.267, 83.182), abs=1e-2)
    assert s.pct_negative == pytest.approx(20.0)
    assert s.small_sample is True


def test_nps_by_hand() -> None:
    # Ten answers: 10, 10, 9, 9, 9, 8, 7, 6, 3, 0
    # promoters (9-10) = 5, passives (7-8) = 2, detractors (0-6) = 3 -> NPS = 50 - 30 = 20
    # adjusted Wald: n' = 13, p' = 5.75/13 = 0.442308, d' = 3.75/13 = 0.288462, nps' = 0.153846
    # var = (0.730769 - 0.153846^2) / 13 = 0.707101 / 13 = 0.054392; half = 1.959964 * 0.233221 = 0.457105
    # CI = (0.153846 - 0.457105, 0.153846 + 0.457105) * 100 = (-30.33, 61.10)
    s = score([1, 0, 0, 1, 0, 0, 1, 1, 1, 3, 2], 11)
    assert s.nps == pytest.approx(20.0)
    assert s.nps_ci == pytest.approx((-30.326, 61.095), abs=1e-2)
    assert s.pct_positive == pytest.approx(50.0)
    assert s.pct_negative == pytest.approx(30.0)
    # mean = (20 + 27 + 8 + 7 + 6 + 3 + 0) / 10 = 7.1 -> 7.1 / 10 * 100 = 71.0
    assert s.happy_index == pytest.approx(71.0)


def test_empty() -> None:
    s = score([0, 0, 0, 0, 0], 5)
    assert s.n == 0
    assert s.small_sample is True
    for name in ("happy_index", "happy_index_ci", "pct_positive", "pct_positive_ci", "pct_negative"):
        assert getattr(s, name) is None
    assert s.nps is None and s.nps_ci is None
    assert score([0] * 11, 11).as_dict()["nps_ci"] is None


def test_single_answer() -> None:
    s = score([0, 0, 0, 1], 4)
    assert s.happy_index == 100.0
    assert s.happy_index_ci is None  # no spread from one answer
    assert s.pct_positive == 100.0
    assert s.pct_positive_ci is not None and s.pct_positive_ci[1] == 100.0
    assert s.pct_positive_ci[0] == pytest.approx(20.65, abs=1e-2)


def test_no_spread_gives_degenerate_ci() -> None:
    s = score([0, 0, 5, 0], 4)
    assert s.happy_index == pytest.approx(200 / 3)
    assert s.happy_index_ci == (s.happy_index, s.happy_index)


def test_clamping() -> None:
    # [0, 0, 1, 9]: mean 2.9 -> 96.67, s = sqrt(0.9 / 9) = 0.316228, half = 2.262157 * 0.1 * 33.33 = 7.54
    high = score([0, 0, 1, 9], 4)
    assert high.happy_index_ci is not None and high.happy_index_ci[1] == 100.0
    low = score([9, 1, 0, 0], 4)
    assert low.happy_index_ci is not None and low.happy_index_ci[0] == 0.0
    # 100 promoters: nps' = (100.75 - 0.75) / 103 = 0.9709, half = 0.0400 -> upper 101.08, clamped
    nps = score([0] * 10 + [100], 11)
    assert nps.nps == 100.0
    assert nps.nps_ci is not None and nps.nps_ci[1] == 100.0
    detractors = score([100] + [0] * 10, 11)
    assert detractors.nps_ci is not None and detractors.nps_ci[0] == -100.0


def test_small_sample_flag() -> None:
    assert score([0, 0, 0, SMALL_SAMPLE_N - 1], 4).small_sample is True
    assert score([0, 0, 0, SMALL_SAMPLE_N], 4).small_sample is False


@pytest.mark.parametrize(
    ("counts", "scale"),
    [([1, 2, 3], 4), ([1, 2, 3, 4, 5], 4), ([1, 1, 1], 3), ([1] * 7, 7), ([1, -1, 1, 1], 4)],
)
def test_validation(counts: list[int], scale: int) -> None:
    with pytest.raises(ValueError):
        score(counts, scale)


def test_as_dict_smiley() -> None:
    d = score([17, 16, 60, 126], 4).as_dict()
    assert set(d) == BASE_KEYS
    assert d["happy_index"] == 78.23
    assert d["pct_positive"] == 84.93
    assert d["happy_index_ci"] == [74.16, 82.31]
    assert d["counts"] == [17, 16, 60, 126]
    json.dumps(d)


def test_as_dict_nps() -> None:
    d = score([1, 0, 0, 1, 0, 0, 1, 1, 1, 3, 2], 11).as_dict()
    assert set(d) == BASE_KEYS | {"nps", "nps_ci"}
    assert d["nps"] == 20.0
    assert d["nps_ci"] == [-30.33, 61.1]
    json.dumps(d)


def test_merge_counts() -> None:
    assert merge_counts([1, 2, 3, 4], [0, 1, 0, 1]) == [1, 3, 3, 5]
    with pytest.raises(ValueError):
        merge_counts([1, 2, 3, 4], [1, 2, 3, 4, 5])


def test_band() -> None:
    assert band(None) == "none"
    assert band(0.0) == "red"
    assert band(BAND_RED_BELOW - 0.01) == "red"
    assert band(BAND_RED_BELOW) == "amber"
    assert band(BAND_AMBER_BELOW - 0.01) == "amber"
    assert band(BAND_AMBER_BELOW) == "green"
    assert band(100.0) == "green"


@st.composite
def answers(draw: st.DrawFn) -> tuple[list[int], int]:
    scale = draw(st.sampled_from([4, 5, 11]))
    counts = draw(st.lists(st.integers(0, 300), min_size=scale, max_size=scale))
    return counts, scale


@given(answers())
def test_metrics_lie_within_their_intervals(case: tuple[list[int], int]) -> None:
    counts, scale = case
    s = score(counts, scale)
    if s.n == 0:
        assert s.happy_index is None
        return
    assert s.happy_index is not None and s.pct_positive is not None and s.pct_negative is not None
    assert 0.0 <= s.happy_index <= 100.0
    if s.n >= 2:
        assert s.happy_index_ci is not None
        low, high = s.happy_index_ci
        assert 0.0 <= low <= s.happy_index <= high <= 100.0
    assert s.pct_positive_ci is not None
    low, high = s.pct_positive_ci
    assert 0.0 <= low <= s.pct_positive <= high <= 100.0
    assert s.pct_positive + s.pct_negative <= 100.0 + 1e-9
    if scale == 11:
        assert s.nps is not None and s.nps_ci is not None
        assert -100.0 <= s.nps_ci[0] <= s.nps_ci[1] <= 100.0
        assert s.nps == pytest.approx(s.pct_positive - s.pct_negative)
    assert score(merge_counts(counts, counts), scale).happy_index == pytest.approx(s.happy_index)


# --- score() against the straightforward two-pass computation ----------------------


def _reference(counts: list[int], scale: int) -> dict[str, Any]:
    """score(counts, scale)'s fields computed plainly: two-pass mean and variance, max and min for the clamps."""
    n, nps_scale = sum(counts), scale == 11
    out: dict[str, Any] = {"question_scale": scale, "n": n, "counts": list(counts)}
    if n == 0:
        names = ["happy_index", "happy_index_ci", "pct_positive", "pct_positive_ci", "pct_negative", "nps", "nps_ci"]
        return out | dict.fromkeys(names) | {"small_sample": True}
    k = 100 / (scale - 1)
    mean = sum(v * c for v, c in enumerate(counts)) / n
    index = mean * k
    index_ci = None
    if n >= 2:
        s = math.sqrt(sum(c * (v - mean) ** 2 for v, c in enumerate(counts)) / (n - 1))
        half = t_quantile(0.975, n - 1) * s / math.sqrt(n) * k
        index_ci = (index, index) if s == 0 else (max(0.0, index - half), min(100.0, index + half))
    positive = sum(counts[scale - 2 :])
    negative = sum(counts[:7]) if nps_scale else counts[0] + counts[1]
    p, z2 = positive / n, Z95 * Z95
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = Z95 / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if positive == 0 else max(0.0, centre - half)
    high = 1.0 if positive == n else min(1.0, centre + half)
    nps = nps_ci = None
    if nps_scale:
        n_adj = n + 3
        pa, da = (positive + 0.75) / n_adj, (negative + 0.75) / n_adj
        half = Z95 * math.sqrt(max(0.0, pa + da - (pa - da) ** 2) / n_adj)
        nps = (positive - negative) / n * 100
        nps_ci = (max(-100.0, (pa - da - half) * 100), min(100.0, (pa - da + half) * 100))
    return out | {
        "happy_index": index,
        "happy_index_ci": index_ci,
        "pct_positive": positive / n * 100,
        "pct_positive_ci": (low * 100, high * 100),
        "pct_negative": negative / n * 100,
        "nps": nps,
        "nps_ci": nps_ci,
        "small_sample": n < SMALL_SAMPLE_N,
    }


def _reference_dict(fields: dict[str, Any]) -> dict[str, object]:
    """as_dict() computed plainly, with round()."""

    def r(value: Any) -> Any:
        return None if value is None else round(value, 2) if isinstance(value, float) else [r(v) for v in value]

    names = ["n", "counts", "happy_index", "happy_index_ci", "pct_positive", "pct_positive_ci", "pct_negative"]
    out: dict[str, Any] = {"scale": fields["question_scale"]} | {name: fields[name] for name in names[:2]}
    out |= {name: r(fields[name]) for name in names[2:]} | {"small_sample": fields["small_sample"]}
    return out | ({"nps": r(fields["nps"]), "nps_ci": r(fields["nps_ci"])} if fields["question_scale"] == 11 else {})


def _count_vectors(scale: int, rng: random.Random) -> list[list[int]]:
    """Empty, one answer, all in one value, two values only, and random counts from a few to tens of millions."""
    one_hot = [[size if v == at else 0 for v in range(scale)] for at in range(scale) for size in (1, 2, 29, 30, 10**6)]
    cases = [[0] * scale, *one_hot]
    for _ in range(300):
        pair = rng.sample(range(scale), 2)
        cases.append([rng.randint(1, 50) if v in pair else 0 for v in range(scale)])
    for top in (1, 3, 10, 40, 300, 10**4, 10**6, 3 * 10**7):
        for _ in range(400):
            cases.append([rng.randint(0, top) if rng.random() < 0.8 else 0 for _ in range(scale)])
    for _ in range(300):  # millions of answers piled on one value, a few on the rest
        counts = [rng.randint(0, 20) for _ in range(scale)]
        counts[rng.randrange(scale)] = rng.randint(10**6, 10**8)
        cases.append(counts)
    return cases


@pytest.mark.parametrize("scale", [4, 5, 11])
def test_score_matches_the_plain_computation(scale: int) -> None:
    for counts in _count_vectors(scale, random.Random(scale)):
        found, expected = score(counts, scale), _reference(counts, scale)
        # One-pass exact sums round the variance once, the two-pass float sum several times: the raw
        # interval may differ in its last bits, never after rounding to 2 decimals. The rest is bit for bit.
        raw = vars(found) | {"happy_index_ci": None}
        assert repr(raw) == repr(expected | {"happy_index_ci": None}), counts
        if expected["happy_index_ci"] is not None:
            assert found.happy_index_ci == pytest.approx(expected["happy_index_ci"], rel=1e-13, abs=1e-13), counts
        # json.dumps, so -0.0 against 0.0 or 1 against 1.0 would count as a difference too
        assert json.dumps(found.as_dict()) == json.dumps(_reference_dict(expected)), counts
