"""The store's score of the week, from the device's own store: what the kiosk's idle screen shows shoppers.

"This week" is the last 7 local days, today included; "last week" the 7 days before. Rolling weeks,
not calendar weeks, so that on a Monday morning the figure still rests on a week of answers. The
numbers come from :func:`edge_agent.scores.score` over the store's daily counts, so they work
offline and agree with the manager view and the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from edge_agent.scores import SMALL_SAMPLE_N, Score, score

if TYPE_CHECKING:
    from edge_agent.store import DeviceStore

WEEK_DAYS = 7


@dataclass(frozen=True)
class WeekScore:
    """One question's answers this week and last week."""

    question_id: str
    this_week: Score
    last_week: Score
    first_day: date  # of this week
    last_day: date  # today

    @property
    def showable(self) -> bool:
        """Enough answers this week for a figure worth showing (not 100% from two taps)."""
        return self.this_week.n >= SMALL_SAMPLE_N

    @property
    def comparable(self) -> bool:
        """Enough answers in both weeks to set them side by side."""
        return self.showable and self.last_week.n >= SMALL_SAMPLE_N

    @property
    def change(self) -> float | None:
        """This week's % positive minus last week's, in points; None when not :attr:`comparable`."""
        now, before = self.this_week.pct_positive, self.last_week.pct_positive
        if not self.comparable or now is None or before is None:
            return None
        return now - before


def week_days(today: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """(first, last) local day of this week and of last week, for ``today``."""
    first = today - timedelta(days=WEEK_DAYS - 1)
    return (first, today), (first - timedelta(days=WEEK_DAYS), first - timedelta(days=1))


def week_score(store: DeviceStore, question_id: str, scale: int, today: date | None = None) -> WeekScore:
    """The week's score of ``question_id`` on ``scale`` from the store's daily counts (misuse excluded)."""
    today = today or date.fromisoformat(store.today())
    (first, last), (before_first, before_last) = week_days(today)
    key = (question_id, scale)
    now = store.range_counts(first.isoformat(), last.isoformat()).get(key, [0] * scale)
    before = store.range_counts(before_first.isoformat(), before_last.isoformat()).get(key, [0] * scale)
    return WeekScore(question_id, score(now, scale), score(before, scale), first, last)
