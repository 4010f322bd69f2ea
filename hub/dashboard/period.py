"""The date range a page shows, parsed leniently from a GET form: bad input falls back, with a message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

DEFAULT_DAYS = 28
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """Inclusive local days, as the API's ``from`` and ``to``."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one: what "change" compares against."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def label(self) -> str:
        return f"{self.start:%d %b %Y} \u2013 {self.end:%d %b %Y}"


def default_period(today: date) -> Period:
    """The last 28 UTC days including today."""
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today)


def parse_period(start: str | None, end: str | None, today: date) -> tuple[Period, str | None]:
    """The requested period, or the default and a message saying why the request was not used."""
    fallback = default_period(today)
    if not start and not end:
        return fallback, None
    try:
        first = date.fromisoformat(start) if start else None
        last = date.fromisoformat(end) if end else None
    except ValueError:
        return fallback, "Dates must look like 2026-11-01; showing the last 28 days."
    if first is None:
        assert last is not None
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if last is None:
        last = min(today, first + timedelta(days=DEFAULT_DAYS - 1))
    if last < first:
        return fallback, "'To' is before 'from'; showing the last 28 days."
    if (last - first).days >= MAX_DAYS:
        return fallback, f"A range may span at most {MAX_DAYS} days; showing the last 28 days."
    return Period(first, last), None
