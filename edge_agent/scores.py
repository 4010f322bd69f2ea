"""Touchpoint's score maths: the one definition shared by the device and the hub.

Both sides must show the same number for the same answers, so every metric,
interval and band lives here and nowhere else. Standard library only, because
the device install stays small. Answers are counts indexed by button value:
``counts[0]`` is the most negative face (or NPS 0), ``counts[-1]`` the most
positive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import mul
from statistics import NormalDist
from typing import Literal

from edge_agent.protocol import NPS_SCALE, SCALES

Z95 = 1.959963984540054
SMALL_SAMPLE_N = 30
# Band thresholds on the Happy Index (0..100): below RED_BELOW is red, below AMBER_BELOW amber.
BAND_RED_BELOW = 50.0
BAND_AMBER_BELOW = 70.0

# Above this df the Cornish-Fisher series is already exact to ~1e-12; below, polish it with Newton.
_SERIES_ONLY_DF = 1000
_NORMAL = NormalDist()


def _norm_ppf(p: float) -> float:
    """Inverse standard normal CDF; the stdlib's NormalDist uses Wichura's AS241 (~1e-16)."""
    return _NORMAL.inv_cdf(p)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta (modified Lentz, as in Numerical Recipes)."""
    tiny = 1e-300

    def _nz(value: float) -> float:
        return value if abs(value) > tiny else tiny

    c, d = 1.0, 1 / _nz(1 - (a + b) * x / (a + 1))
    h = d
    for m in range(1, 10_000):
        even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        for num in (even, odd):
            d = 1 / _nz(1 + num * d)
            c = _nz(1 + num / c)
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h


def _t_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0, via the regularized incomplete beta I_x(df/2, 1/2) / 2 (any real df > 0)."""
    if t == 0:
        return 0.5
    a, b = df / 2, 0.5
    x, y = df / (df + t * t), t * t / (df + t * t)  # y = 1 - x, computed without cancellation
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y))
    if x < (a + 1) / (a + b + 2):
        return 0.5 * front * _betacf(a, b, x) / a
    return 0.5 * (1 - front * _betacf(b, a, y) / b)


def _t_pdf(t: float, df: int) -> float:
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - (df + 1) / 2 * math.log1p(t * t / df))


def t_quantile(p: float, df: int) -> float:
    """Inverse Student t CDF, for small-sample confidence intervals on the Happy Index.

    Exact closed forms for df 1 and 2; otherwise the Cornish-Fisher expansion
    (Abramowitz & Stegun 26.7.5) around the normal quantile, polished by
    bracketed Newton steps on the exact t CDF so small df are accurate too.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    if p == 0.5:
        return 0.0
    q, sign = (1 - p, 1.0) if p > 0.5 else (p, -1.0)  # solve P(T > t) = q for t > 0
    x, v = -_norm_ppf(q), float(df)
    x2 = x * x
    t = x + x * (x2 + 1) / (4 * v)
    t += x * ((5 * x2 + 16) * x2 + 3) / (96 * v**2)
    t += x * (((3 * x2 + 19) * x2 + 17) * x2 - 15) / (384 * v**3)
    t += x * ((((79 * x2 + 776) * x2 + 1482) * x2 - 1920) * x2 - 945) / (92160 * v**4)
    if df > _SERIES_ONLY_DF:
        return sign * t
    lo, hi = 0.0, max(t, 1.0)
    while _t_tail(hi, df) > q:  # the series can undershoot far in the tails; make sure we bracket
        lo, hi = hi, hi * 2
    t = min(max(t, lo), hi)
    for _ in range(200):
        err = _t_tail(t, df) - q
        if err == 0:
            break
        lo, hi = (t, hi) if err > 0 else (lo, t)
        nxt = t + err / _t_pdf(t, df)
        nxt = nxt if lo < nxt < hi else (lo + hi) / 2  # Newton, falling back to bisection
        t, done = nxt, abs(nxt - t) <= 1e-14 * t
        if done:
            break
    return sign * t


@lru_cache(maxsize=4096)
def _t975(df: int) -> float:
    """t_quantile(0.975, df), memoised: a report with thousands of rows needs only a few distinct df."""
    return t_quantile(0.975, df)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion (0..1); sane at small n and at 0% or 100%."""
    if n == 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within 0..{n}, got {successes}")
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _round_ci(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [round(ci[0], 2), round(ci[1], 2)]


@dataclass(frozen=True)
class Score:
    """Every metric for one set of answers; percentages are 0..100, NPS -100..100."""

    question_scale: int
    n: int
    counts: list[int]
    happy_index: float | None
    happy_index_ci: tuple[float, float] | None
    pct_positive: float | None
    pct_positive_ci: tuple[float, float] | None
    pct_negative: float | None
    nps: float | None
    nps_ci: tuple[float, float] | None
    small_sample: bool

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view (2 decimals); NPS keys appear only on the 0..10 scale."""
        out: dict[str, object] = {
            "scale": self.question_scale,
            "n": self.n,
            "counts": list(self.counts),
            "happy_index": _round(self.happy_index),
            "happy_index_ci": _round_ci(self.happy_index_ci),
            "pct_positive": _round(self.pct_positive),
            "pct_positive_ci": _round_ci(self.pct_positive_ci),
            "pct_negative": _round(self.pct_negative),
            "small_sample": self.small_sample,
        }
        if self.question_scale == NPS_SCALE:
            out["nps"] = _round(self.nps)
            out["nps_ci"] = _round_ci(self.nps_ci)
        return out


# Per scale: each answer value and its square, to weight the counts with (summed in C by map).
_WEIGHTS = {scale: (tuple(range(scale)), tuple(v * v for v in range(scale))) for scale in SCALES}


def _happy_index(counts: list[int], n: int, scale: int) -> tuple[float, tuple[float, float] | None]:
    """Mean answer rescaled to 0..100, with a t interval (honest at the small n a kiosk sees).

    The sums of v * c and v * v * c are exact integers: the variance comes from them in one pass, rounded once.
    """
    k = 100 / (scale - 1)
    values, squares = _WEIGHTS[scale]
    total = sum(map(mul, counts, values))
    index = total / n * k
    if n < 2:
        return index, None
    s = math.sqrt((n * sum(map(mul, counts, squares)) - total * total) / (n * (n - 1)))
    if s == 0:
        return index, (index, index)
    half = _t975(n - 1) * s / math.sqrt(n) * k
    return index, (max(0.0, index - half), min(100.0, index + half))


def _nps_ci(promoters: int, detractors: int, n: int) -> tuple[float, float]:
    """Adjusted-Wald NPS interval (Rocks 2016, Sauro); its centre is shrunk towards 0, the raw NPS is not."""
    n_adj = n + 3
    p = (promoters + 0.75) / n_adj
    d = (detractors + 0.75) / n_adj
    half = Z95 * math.sqrt(max(0.0, p + d - (p - d) ** 2) / n_adj)
    return (max(-100.0, (p - d - half) * 100), min(100.0, (p - d + half) * 100))


def score(counts: Sequence[int], scale: int) -> Score:
    """Score answers on a 4- or 5-face smiley scale or the 0..10 NPS scale.

    % positive is the top-2 box (value >= scale - 2; promoters 9-10 on NPS).
    % negative is the two lowest values (0-1) on smiley scales and the NPS
    detractors (0-6) on the 0..10 scale, so there NPS = % positive - % negative.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale}")
    values = list(counts)
    if len(values) != scale:
        raise ValueError(f"expected {scale} counts, got {len(values)}")
    if min(values) < 0:
        raise ValueError("counts must not be negative")
    n = sum(values)
    small = n < SMALL_SAMPLE_N
    if n == 0:
        return Score(scale, n, values, None, None, None, None, None, None, None, small)
    index, index_ci = _happy_index(values, n, scale)
    positive = sum(values[scale - 2 :])
    negative = sum(values[:7]) if scale == NPS_SCALE else values[0] + values[1]
    pos_ci = wilson(positive, n)
    nps = nps_ci = None
    if scale == NPS_SCALE:
        nps = (positive - negative) / n * 100
        nps_ci = _nps_ci(positive, negative, n)
    return Score(
        question_scale=scale,
        n=n,
        counts=values,
        happy_index=index,
        happy_index_ci=index_ci,
        pct_positive=positive / n * 100,
        pct_positive_ci=None if pos_ci is None else (pos_ci[0] * 100, pos_ci[1] * 100),
        pct_negative=negative / n * 100,
        nps=nps,
        nps_ci=nps_ci,
        small_sample=small,
    )


def merge_counts(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """Elementwise sum, so per-device or per-day counts roll up without re-reading events."""
    if len(a) != len(b):
        raise ValueError(f"cannot merge counts of different lengths ({len(a)} and {len(b)})")
    return [x + y for x, y in zip(a, b, strict=True)]


def band(happy_index: float | None) -> str:
    """Coarse traffic-light label for LEDs and dashboards."""
    if happy_index is None:
        return "none"
    if happy_index < BAND_RED_BELOW:
        return "red"
    if happy_index < BAND_AMBER_BELOW:
        return "amber"
    return "green"


# --- polarity and significance (HQ comparisons) --------------------------------

Polarity = Literal["negative", "neutral", "positive"]
ALPHA = 0.05


def polarity(value: int, scale: int) -> Polarity:
    """The box an answer falls in, with the same boundaries as % positive and % negative in :func:`score`.

    Negative: the two lowest faces, or 0-6 on the 0..10 scale. Positive: the top two, or 9-10.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale}")
    if not 0 <= value < scale:
        raise ValueError(f"value {value} is outside the scale 0..{scale - 1}")
    if value >= scale - 2:
        return "positive"
    if value <= (6 if scale == NPS_SCALE else 1):
        return "negative"
    return "neutral"


@dataclass(frozen=True)
class Significance:
    """A two-sided test of "no difference": its statistic, p-value and verdict at the 95% level."""

    statistic: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> Significance | None:
    """Pooled two-proportion z-test, for "did % positive really change?"; None when a side has no answers."""
    if n1 <= 0 or n2 <= 0:
        return None
    if not (0 <= x1 <= n1 and 0 <= x2 <= n2):
        raise ValueError(f"successes must be within 0..n, got {x1}/{n1} and {x2}/{n2}")
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance == 0:  # both 0% or both 100%: nothing changed
        return Significance(0.0, 1.0)
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return Significance(z, min(1.0, 2 * _NORMAL.cdf(-abs(z))))


def _mean_var(counts: Sequence[int]) -> tuple[int, float, float]:
    n = sum(counts)
    mean = sum(v * c for v, c in enumerate(counts)) / n
    return n, mean, sum(c * (v - mean) ** 2 for v, c in enumerate(counts)) / (n - 1)


def welch_t_test(counts1: Sequence[int], counts2: Sequence[int]) -> Significance | None:
    """Welch's unequal-variance t-test on the mean answer, from counts (so on the Happy Index, whose scaling cancels).

    Uses the Welch-Satterthwaite df, fractional as in R's ``t.test``. None when a side has fewer than 2 answers.
    """
    if len(counts1) != len(counts2):
        raise ValueError(f"cannot compare counts of different scales ({len(counts1)} and {len(counts2)})")
    if sum(counts1) < 2 or sum(counts2) < 2:
        return None
    n1, m1, v1 = _mean_var(counts1)
    n2, m2, v2 = _mean_var(counts2)
    a, b = v1 / n1, v2 / n2
    if a + b == 0:  # no spread on either side: the means either match or differ for certain
        return Significance(0.0, 1.0) if m1 == m2 else Significance(math.copysign(math.inf, m1 - m2), 0.0)
    t = (m1 - m2) / math.sqrt(a + b)
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    return Significance(t, min(1.0, 2 * _t_tail(abs(t), df)))
