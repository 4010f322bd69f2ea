"""The demo's queue in New York fires the shift rule at any hour, New York's usual bad hour included.

The demo test can only run at the hour CI happens to start. The shift rule compares answers with
the store's usual for the weekday and hour, and New York's history has a bad 17:00 hour (70%
negative): replaying that hour live made no alert when the demo ran at 17:00 in New York. This
feeds the demo's history, as expected counts, and its queue through the rule's own detector.
"""

from __future__ import annotations

import pytest

from hub.services.alert_checks import Tally
from hub.services.alert_rules import Shift
from hub.services.alert_shift import ShiftBin, cusum, usual_share
from hub.services.traffic import OPEN_HOURS, hour_weight

from simulate import BAD_HOUR_MOOD, DEMO_LOCATIONS, QUEUE_OUT_THE_DOOR

NEW_YORK = next(loc for loc in DEMO_LOCATIONS if loc.bad_hour is not None)
WEEKS = 8
LIVE_TAPS_PER_MINUTE = 120  # the demo's 2 taps a second at one store


def negative_share(mood: tuple[float, ...]) -> float:
    return mood[0] + mood[1]


def expected_history() -> tuple[dict[int, Tally], Tally]:
    """One weekday's cells and the whole history, as the demo's 8 weeks give them on average."""
    total_weight = sum(hour_weight(h) for h in range(24))
    cells: dict[int, Tally] = {}
    for hour in OPEN_HOURS:
        n = round(WEEKS * NEW_YORK.taps_per_day * hour_weight(hour) / total_weight)
        mood = BAD_HOUR_MOOD if hour == NEW_YORK.bad_hour else NEW_YORK.mood
        cells[hour] = Tally(n, round(n * negative_share(mood)))
    whole = Tally(7 * sum(c.n for c in cells.values()), 7 * sum(c.negative for c in cells.values()))
    return cells, whole


def minutes_to_fire(hour: int, mood: tuple[float, ...], limit: int = 5) -> int | None:
    """Minutes of live taps in ``mood`` until the shift rule fires, or None within ``limit``."""
    cells, whole = expected_history()
    usual = usual_share(cells[hour], whole, Shift())
    negative = round(LIVE_TAPS_PER_MINUTE * negative_share(mood))
    bins: list[ShiftBin] = []
    for minute in range(limit):
        bins.append((f"2026-11-27T{hour:02d}:{minute:02d}", LIVE_TAPS_PER_MINUTE, negative, usual))
        if cusum(bins, Shift()).firing:
            return minute + 1
    return None


@pytest.mark.parametrize("hour", list(OPEN_HOURS))
def test_the_queue_fires_the_shift_rule_within_a_minute_at_every_open_hour(hour: int) -> None:
    assert minutes_to_fire(hour, QUEUE_OUT_THE_DOOR) == 1


def test_replaying_the_usual_bad_hour_would_not_fire_at_that_hour() -> None:
    """Why the demo has a queue worse than the bad hour: the bad hour is New York's usual at 17:00."""
    assert NEW_YORK.bad_hour is not None
    assert minutes_to_fire(NEW_YORK.bad_hour, BAD_HOUR_MOOD) is None
    assert minutes_to_fire(NEW_YORK.bad_hour - 1, BAD_HOUR_MOOD) == 1
