"""The ``shift`` rule's detector: a one-sided Bernoulli CUSUM on the negative share against the store's usual.

A fixed threshold on a short window (``pct_negative``) fires on chance bursts
many times a week and still misses a moderate rise that lasts. The CUSUM adds
up, answer by answer, the evidence for "the share has risen" against "it is the
usual share", drops the evidence gathered before the sum last hit zero, and
fires when the sum reaches the threshold: a large rise needs few answers, a
small one more, and chance alone rarely gets there.

The decision is a pure function of the answers in the look-back window,
recomputed at every evaluation: there is no state to lose on a restart, every
hub worker agrees, and the simulator replays it minute by minute.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hub.services.alert_checks import Tally, Verdict
from hub.services.alert_rules import Shift

ShiftBin = tuple[str, int, int, float]
"""(UTC minute 'YYYY-MM-DDTHH:MM', answers, negative answers, usual negative share 0..1), oldest first."""

SHARE_BOUNDS = (0.001, 0.999)
"""The usual share is kept inside these, so every answer's evidence stays finite."""
RESOLVE_FRACTION = 0.5
"""A firing CUSUM resolves only below this fraction of its threshold: one episode, not a flicker at the line."""


def usual_share(cell: Tally, location: Tally, p: Shift) -> float:
    """The usual negative share (0..1) for one weekday and hour, never 0 or 1.

    ``cell``: that weekday and hour in earlier weeks; ``location``: all hours of
    those weeks. The cell is shrunk towards the location's share, and that towards
    ``prior_pct``, each by ``prior_n`` pseudo-answers: a quiet hour borrows from the
    rest of the week, and a store with no history starts from the prior.
    """
    k = p.prior_n
    overall = (location.negative + k * p.prior_pct / 100) / (location.n + k)
    return min(max((cell.negative + k * overall) / (cell.n + k), SHARE_BOUNDS[0]), SHARE_BOUNDS[1])


def raised_share(usual: float, p: Shift) -> float:
    """The share the CUSUM is tuned to: ``ratio`` x usual or usual + ``max_points``, at most halfway to 100%."""
    return min(usual * p.ratio, usual + p.max_points / 100, (1 + usual) / 2)


@dataclass(frozen=True)
class Cusum:
    statistic: float
    """The sum after the last bin (log-likelihood ratio, nats)."""
    firing: bool
    since: int
    """Index of the first bin since the sum last stood at zero (``len(bins)`` if it stands there now)."""


def cusum(bins: Sequence[ShiftBin], p: Shift) -> Cusum:
    """Run the CUSUM over ``bins`` from zero; firing from reaching the threshold until below RESOLVE_FRACTION of it."""
    weights: dict[float, tuple[float, float]] = {}
    total, firing, since = 0.0, False, 0
    high, low = p.threshold, p.threshold * RESOLVE_FRACTION
    for i, (_minute, n, negative, usual) in enumerate(bins):
        w = weights.get(usual)
        if w is None:
            raised = raised_share(usual, p)
            w = weights[usual] = (math.log(raised / usual), math.log((1 - raised) / (1 - usual)))
        total += negative * w[0] + (n - negative) * w[1]
        if total <= 0.0:
            total, since, firing = 0.0, i + 1, False
        elif total >= high:
            firing = True
        elif total < low:
            firing = False
    return Cusum(total, firing, since)


def check_shift(p: Shift, bins: Sequence[ShiftBin]) -> Verdict | None:
    """Fires while the CUSUM over the look-back window's answers is firing."""
    result = cusum(bins, p)
    if not result.firing:
        return None
    run = bins[result.since :]  # firing means the sum is above zero, so the run holds answers
    n = sum(b[1] for b in run)
    negative = sum(b[2] for b in run)
    usual = sum(b[1] * b[3] for b in run) / n
    since = run[0][0]
    return Verdict(
        f"{negative / n * 100:.0f}% negative ({negative} of {n}) since {since[11:16]} UTC against "
        f"{usual * 100:.0f}% usual for this weekday and hour (CUSUM {result.statistic:.1f}, alert at {p.threshold:g})",
        {
            "n": n,
            "negative": negative,
            "pct_negative": round(negative / n * 100, 2),
            "usual_pct_negative": round(usual * 100, 2),
            "since": since + "Z",
            "cusum": round(result.statistic, 3),
            "threshold": p.threshold,
        },
    )
