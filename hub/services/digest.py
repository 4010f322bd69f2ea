"""The weekly digest's facts: one location's or one region's last complete local week, ready to render or post.

A digest is plain data: :mod:`hub.services.digest_compose` gathers it through
the analytics services and the storage contract (so the numbers are the API's),
:mod:`hub.services.digest_text` and :mod:`hub.services.digest_html` render it,
:mod:`hub.services.digest_send` mails or posts it. Parts that other services
fill in (actions and their effects, next week's forecast) are
:class:`DigestSection` values: absent ones say "not available yet".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from edge_agent.protocol import is_valid_id
from hub.services.regions import region_error

TargetKind = Literal["location", "region"]
Row = Mapping[str, object]
"""A row as the API returns it (``GET /api/v1/scores``, ``/reasons``): the digest never re-derives a number."""

NOT_AVAILABLE = "not available yet"


@dataclass(frozen=True)
class DigestTarget:
    """What a digest is about: one location id, or a region path (its whole subtree)."""

    kind: TargetKind
    id: str

    def __post_init__(self) -> None:
        if self.kind == "location" and not is_valid_id(self.id):
            raise ValueError(f"location: {self.id!r} is not a location id ([A-Za-z0-9_-]{{1,64}})")
        if self.kind == "region" and (problem := region_error(self.id)):
            raise ValueError(f"region: {problem}")

    @property
    def location(self) -> str | None:
        return self.id if self.kind == "location" else None

    @property
    def region(self) -> str | None:
        return self.id if self.kind == "region" else None

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


@dataclass(frozen=True)
class Week:
    """Monday..Sunday, inclusive local days (the API's ``from`` and ``to``)."""

    start: date

    def __post_init__(self) -> None:
        if self.start.weekday() != 0:
            raise ValueError(f"a digest week starts on a Monday, not {self.start:%A} {self.start}")

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    def previous(self) -> Week:
        return Week(self.start - timedelta(weeks=1))

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(7)]

    def label(self) -> str:
        return f"{self.start:%a %d %b} \u2013 {self.end:%a %d %b %Y}"

    def iso_week(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class QuestionScore:
    """One question's week: the API's scores row with ``compare=previous_period``, and its daily rows."""

    question_id: str
    current: Row
    """``group_by=all`` for the week, with ``previous``, ``delta``, ``significant`` and ``p_value``."""
    days: Mapping[str, Row]
    """``group_by=day`` over this week and the one before, by local day: the dashboard's trend chart."""


@dataclass(frozen=True)
class AlertFact:
    alert_id: int
    rule_name: str
    kind: str
    location_id: str | None
    device_id: str | None
    fired_at: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DigestSection:
    """A part another service fills in; ``rows`` None means it has nothing to say yet.

    ``rows`` are flat JSON-ready mappings: the text version prints them as
    ``key: value`` lines, the HTML version as a table, the webhook as they are.
    """

    key: str
    title: str
    rows: tuple[Row, ...] | None = None
    note: str = ""

    @property
    def available(self) -> bool:
        return self.rows is not None

    def as_dict(self) -> dict[str, object]:
        rows = None if self.rows is None else [dict(r) for r in self.rows]
        return {"key": self.key, "title": self.title, "available": self.available, "rows": rows, "note": self.note}


def unavailable(key: str, title: str) -> DigestSection:
    return DigestSection(key, title, None, NOT_AVAILABLE)


@dataclass(frozen=True)
class Digest:
    target: DigestTarget
    name: str
    """The location's name (or its id), or the region path."""
    timezones: tuple[str, ...]
    week: Week
    generated_at: datetime
    scores: tuple[QuestionScore, ...]
    """Answered questions, ``default`` first, then by answers."""
    reasons: tuple[Row, ...]
    """The most frequent follow-up reasons after negative answers: the API's ``/reasons`` rows."""
    open_alerts: tuple[AlertFact, ...]
    """Firing episodes now, good news (praise) left out."""
    praise: tuple[AlertFact, ...]
    """Praise episodes that overlapped the week or are firing now: the good hours."""
    locations: tuple[Row, ...] = ()
    """A region's locations for the main question, best first: the API's ``group_by=location`` rows."""
    sections: tuple[DigestSection, ...] = field(default_factory=tuple)

    @property
    def main(self) -> QuestionScore | None:
        return self.scores[0] if self.scores else None

    @property
    def subject(self) -> str:
        head = f"Touchpoint weekly digest: {self.name}, {self.week.label()}"
        main = self.main
        index = None if main is None else main.current.get("happy_index")
        return head + (f" \u2013 Happy Index {index:.1f}" if isinstance(index, int | float) else "")

    def as_dict(self) -> dict[str, object]:
        """The webhook's facts: the same numbers the text and HTML versions show."""
        week, previous = self.week, self.week.previous()
        return {
            "target": {"kind": self.target.kind, "id": self.target.id},
            "name": self.name,
            "timezones": list(self.timezones),
            "week": {"from": week.start.isoformat(), "to": week.end.isoformat(), "iso": week.iso_week()},
            "previous_week": {"from": previous.start.isoformat(), "to": previous.end.isoformat()},
            "generated_at": self.generated_at.isoformat(),
            "scores": [{"question_id": s.question_id, **s.current} for s in self.scores],
            "daily": {s.question_id: [dict(r) for _, r in sorted(s.days.items())] for s in self.scores},
            "top_reasons": [dict(r) for r in self.reasons],
            "open_alerts": [a.as_dict() for a in self.open_alerts],
            "praise": [a.as_dict() for a in self.praise],
            "locations": [dict(r) for r in self.locations],
            "sections": [s.as_dict() for s in self.sections],
        }
