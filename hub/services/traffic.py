"""The demo's shoppers by the hour: when stores are open and how busy each hour is.

One definition, so that ``touchpoint-hub alerts simulate`` judges alert rules (and
``touchpoint-hub effect simulate`` action effects) on the traffic the demo shows
(scripts/lib/simulate.py imports it). The pattern is the same on every day of the week:
open 08-21 local time, busiest at lunch, busy after work.
"""

from __future__ import annotations

OPEN_HOURS = range(8, 21)
REASONS = ("queue", "staff", "cleanliness", "price", "product")
"""The follow-up reasons simulated shoppers give, each as likely as the others."""
REASON_SHARE = 0.6
"""The share of negative answers that name a reason."""


def hour_weight(hour: int) -> float:
    """How busy a local hour is, relative to a quiet open hour; 0 when closed."""
    if hour not in OPEN_HOURS:
        return 0.0
    if 11 <= hour <= 13:
        return 3.0  # lunch
    if 17 <= hour <= 18:
        return 2.0  # after work
    return 1.0


def hourly_rate(answers_per_hour: float, hour: int) -> float:
    """Expected answers in ``hour`` for a store averaging ``answers_per_hour`` over its open hours."""
    mean_weight = sum(hour_weight(h) for h in OPEN_HOURS) / len(OPEN_HOURS)
    return answers_per_hour * hour_weight(hour) / mean_weight
