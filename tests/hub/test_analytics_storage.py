"""The shared analytics SQL and the reasons rollup, on both backends (a SQLite file, a real PostgreSQL)."""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from edge_agent.migrate import migrate
from edge_agent.protocol import Event
from hub.storage import open_storage
from hub.storage.base import IncomingBatch, ScoreQuery, Storage
from hub.storage.base_analytics import EventQuery, LocationChanges, LocationSpec, ReasonQuery, Selection
from hub.storage.sql.analytics import truncate_region
from hub.storage.sql.rollup_reads import day_filters, month_filters
from hub.storage.sql.schema import MONTH_ANSWERS, MONTH_VALUE_COLUMNS
from hub.storage.sqlite import SqliteStorage
from hub.storage.sqlite.schema import MIGRATIONS
from tests.hub.backends import raw

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
HELSINKI = ZoneInfo("Europe/Helsinki")
REGIONS = {"hel-1": "nordics/finland", "hel-2": "nordics/finland", "sto-1": "nordics/sweden", "x-1": "nordicsx"}


class Taps:
    """Builds events with unique ids and per-device seqs."""

    def __init__(self) -> None:
        self.seq = 0

    def __call__(
        self,
        local: datetime,
        value: int,
        *,
        scale: int = 4,
        question: str = "q",
        reason: str | None = None,
        misuse: bool = False,
        tz: ZoneInfo = HELSINKI,
    ) -> Event:
        self.seq += 1
        return Event(
            id=str(uuid.uuid4()), seq=self.seq, ts=local.replace(tzinfo=tz), tz=str(tz), clock_ok=True,
            question_id=question, scale=scale, value=value, reason=reason, source="touch", misuse=misuse,
        )  # fmt: skip


@pytest.fixture
def storage(db: str) -> Iterator[Storage]:
    s = open_storage(db)
    for location_id, region in REGIONS.items():
        s.register_location(LocationSpec(location_id, location_id.upper(), "Europe/Helsinki", region), NOW)
    try:
        yield s
    finally:
        s.close()


def ingest(storage: Storage, location: str, events: list[Event], device: str | None = None) -> None:
    batch = IncomingBatch(device or f"dev-{location}", location, str(uuid.uuid4()), events)
    storage.ingest([batch], [], [], NOW)


# --- the reasons rollup ---------------------------------------------------------------


def test_reasons_are_rolled_up_at_ingest_by_polarity_once_and_without_misuse(storage: Storage) -> None:
    tap = Taps()
    day = datetime(2026, 3, 9, 10, 0)
    events = [
        tap(day, 0, reason="queue"),  # negative (bottom two of 4)
        tap(day, 1, reason="queue"),
        tap(day, 3, reason="staff"),  # positive
        tap(day, 2, scale=5, question="q5", reason="ok"),  # neutral on a 5-point scale
        tap(day, 6, scale=11, question="nps", reason="price"),  # detractor
        tap(day, 8, scale=11, question="nps", reason="price"),  # passive: neutral
        tap(day, 9, scale=11, question="nps", reason="price"),  # promoter
        tap(day, 0, reason="queue", misuse=True),  # stored, never counted
        tap(day, 0, reason="   "),  # blank: no reason
        tap(day, 0),  # none given
        tap(datetime(2026, 3, 9, 23, 30), 0, reason="queue"),  # 21:30Z, still the 9th in Helsinki
        tap(datetime(2026, 3, 10, 0, 30), 0, reason="queue"),  # 22:30Z on the 9th, the 10th in Helsinki
    ]
    ingest(storage, "hel-1", events)
    ingest(storage, "hel-1", events)  # the same again: all duplicates, nothing counted twice
    rows = raw(storage, "SELECT day, question_id, polarity, reason, count FROM rollup_reason ORDER BY 1, 2, 3, 4")
    assert rows == [
        ("2026-03-09", "nps", "negative", "price", 1),
        ("2026-03-09", "nps", "neutral", "price", 1),
        ("2026-03-09", "nps", "positive", "price", 1),
        ("2026-03-09", "q", "negative", "queue", 3),
        ("2026-03-09", "q", "positive", "staff", 1),
        ("2026-03-09", "q5", "neutral", "ok", 1),
        ("2026-03-10", "q", "negative", "queue", 1),
    ]


def test_reasons_rollup_matches_the_events_table(storage: Storage) -> None:
    tap = Taps()
    for i in range(60):
        local = datetime(2026, 3, 1 + i % 9, 8 + i % 12, 0)
        ingest(storage, "sto-1", [tap(local, i % 4, reason=["a", "b", None, "=1+1"][i % 4], misuse=i % 11 == 0)])
    from_events = raw(
        storage,
        "SELECT location_id, question_id, local_day, reason, COUNT(*) FROM events "
        "WHERE misuse = 0 AND reason IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
    )
    from_rollup = raw(
        storage,
        "SELECT location_id, question_id, day, reason, SUM(count) FROM rollup_reason GROUP BY 1, 2, 3, 4 "
        "ORDER BY 1, 2, 3, 4",
    )
    assert from_rollup == from_events and len(from_events) > 10


def test_reason_counts_group_filter_and_truncate(storage: Storage) -> None:
    tap = Taps()
    day = datetime(2026, 3, 9, 10, 0)
    ingest(storage, "hel-1", [tap(day, 0, reason="queue"), tap(day, 0, reason="queue"), tap(day, 1, reason="dirty")])
    ingest(storage, "hel-2", [tap(day, 0, reason="queue"), tap(day, 3, reason="staff")])
    ingest(storage, "sto-1", [tap(day, 1, reason="queue")])
    ingest(storage, "x-1", [tap(day, 1, reason="queue")])
    span = (date(2026, 3, 9), date(2026, 3, 9))
    by_region = storage.reason_counts(ReasonQuery(*span, Selection(region="nordics"), "region", 2))
    assert [(r.keys, r.polarity, r.reason, r.n) for r in by_region] == [
        ({"region": "nordics/finland"}, "negative", "queue", 3),
        ({"region": "nordics/finland"}, "negative", "dirty", 1),
        ({"region": "nordics/finland"}, "positive", "staff", 1),
        ({"region": "nordics/sweden"}, "negative", "queue", 1),
    ]  # "nordicsx" is not under "nordics"
    negative = storage.reason_counts(ReasonQuery(*span, group_by="all", polarity="negative"))
    assert [(r.reason, r.n) for r in negative] == [("queue", 5), ("dirty", 1)]
    one = storage.reason_counts(ReasonQuery(*span, Selection(location_id="hel-2")))
    assert [(r.keys, r.reason) for r in one] == [
        ({"location_id": "hel-2"}, "queue"),
        ({"location_id": "hel-2"}, "staff"),
    ]
    assert storage.reason_counts(ReasonQuery(date(2026, 3, 10), date(2026, 3, 31))) == []


# --- scores by region and by weekday x hour --------------------------------------------------------


def test_truncate_region() -> None:
    assert truncate_region("nordics/finland/helsinki", 1) == "nordics"
    assert truncate_region("nordics/finland/helsinki", 2) == "nordics/finland"
    assert truncate_region("nordics/finland/helsinki", 9) == "nordics/finland/helsinki"
    assert truncate_region("nordics/finland/helsinki", None) == "nordics/finland/helsinki"
    assert truncate_region(None, 1) == truncate_region("", None) == "(none)"


def test_scores_by_region_at_every_level(storage: Storage) -> None:
    tap = Taps()
    day = datetime(2026, 3, 9, 10, 0)
    ingest(storage, "hel-1", [tap(day, 3), tap(day, 0)])
    ingest(storage, "hel-2", [tap(day, 3)])
    ingest(storage, "sto-1", [tap(day, 2)])
    ingest(storage, "x-1", [tap(day, 1)])
    ingest(storage, "pop-up", [tap(day, 0)])  # first seen from events: no region

    def regions(level: int | None, region: str | None = None) -> dict[object, list[int]]:
        query = ScoreQuery(date(2026, 3, 9), date(2026, 3, 9), "region", region=region, region_level=level)
        return {row.keys["region"]: row.counts for row in storage.score_counts(query)}

    assert regions(1) == {"(none)": [1, 0, 0, 0], "nordics": [1, 0, 1, 2], "nordicsx": [0, 1, 0, 0]}
    assert regions(None) == {
        "(none)": [1, 0, 0, 0],
        "nordics/finland": [1, 0, 0, 2],
        "nordics/sweden": [0, 0, 1, 0],
        "nordicsx": [0, 1, 0, 0],
    }
    assert regions(2, region="nordics") == {"nordics/finland": [1, 0, 0, 2], "nordics/sweden": [0, 0, 1, 0]}
    only = storage.score_counts(ScoreQuery(date(2026, 3, 9), date(2026, 3, 9), "location", region="nordics/finland"))
    assert [(r.keys["location_id"], r.counts) for r in only] == [("hel-1", [1, 0, 0, 1]), ("hel-2", [0, 0, 0, 1])]


def test_weekday_hour_uses_the_local_day_and_hour(storage: Storage) -> None:
    tap = Taps()
    # Sunday 2026-03-15 23:30 in Helsinki is 21:30Z on Sunday; Monday 00:30 local is still Sunday in UTC.
    events = [
        tap(datetime(2026, 3, 15, 23, 30), 3),
        tap(datetime(2026, 3, 16, 0, 30), 0),
        tap(datetime(2026, 3, 16, 0, 45), 1),
        tap(datetime(2026, 3, 9, 0, 10), 2),  # the Monday before: same cell as the 16th
        tap(datetime(2026, 3, 18, 12, 0), 3),  # Wednesday, outside the range below
    ]
    ingest(storage, "hel-1", events)
    query = ScoreQuery(date(2026, 3, 9), date(2026, 3, 17), "weekday_hour")
    cells = {(r.keys["weekday"], r.keys["hour"]): r.counts for r in storage.score_counts(query)}
    assert cells == {(6, 23): [0, 0, 0, 1], (0, 0): [1, 1, 1, 0]}
    assert [list(r.keys) for r in storage.score_counts(query)] == [["weekday", "hour"]] * 2


def test_day_filters_list_each_weekday_once() -> None:
    [whole] = day_filters(date(2026, 3, 1), date(2026, 3, 31), by_weekday=False)
    assert (whole.params, whole.keys) == (("2026-03-01", "2026-03-31"), ())
    per_day = day_filters(date(2026, 3, 9), date(2026, 3, 11), by_weekday=True)  # Mon..Wed
    assert [(f.keys, f.params) for f in per_day] == [
        ((0,), ("2026-03-09",)),
        ((1,), ("2026-03-10",)),
        ((2,), ("2026-03-11",)),
    ]
    month = day_filters(date(2026, 3, 1), date(2026, 3, 31), by_weekday=True)
    assert sorted(d for f in month for d in f.params) == [f"2026-03-{d:02d}" for d in range(1, 32)]


# --- locations ----------------------------------------------------------------------


def test_register_takes_over_a_location_seen_from_events_and_refuses_a_second_time(storage: Storage) -> None:
    ingest(storage, "pop-up", [Taps()(datetime(2026, 3, 9, 10), 3, tz=ZoneInfo("Asia/Tokyo"))])
    seen = storage.location("pop-up")
    assert seen is not None and (seen.timezone, seen.timezone_source, seen.name) == ("Asia/Tokyo", "events", None)
    hours = {"mon": ["08:00", "21:00"]}
    spec = LocationSpec("pop-up", "Pop-up", "Europe/Oslo", "nordics/norway", hours)
    taken = storage.register_location(spec, NOW)
    assert taken is not None
    assert (taken.timezone, taken.timezone_source, taken.region, taken.opening_hours) == (
        "Europe/Oslo", "registered", "nordics/norway", hours,
    )  # fmt: skip
    assert taken.created_at == seen.created_at and taken.updated_at == "2026-03-20T12:00:00.000Z"
    assert storage.register_location(spec, NOW) is None


def test_update_changes_only_the_given_fields(storage: Storage) -> None:
    later = datetime(2026, 3, 21, tzinfo=UTC)
    changed = storage.update_location("hel-1", LocationChanges(frozenset({"region"}), region=None), later)
    assert changed is not None and (changed.region, changed.name, changed.timezone) == (
        None,
        "HEL-1",
        "Europe/Helsinki",
    )
    zone = LocationChanges(
        frozenset({"timezone", "opening_hours"}), timezone="UTC", opening_hours={"sun": ["10:00", "24:00"]}
    )
    changed = storage.update_location("hel-1", zone, later)
    assert changed is not None and (changed.timezone, changed.opening_hours) == ("UTC", {"sun": ["10:00", "24:00"]})
    assert storage.update_location("nowhere", zone, later) is None
    assert [r.location_id for r in storage.location_records("nordics")] == ["hel-2", "sto-1"]
    assert storage.locations("nordics/sweden")[0]["location_id"] == "sto-1"


# --- events export --------------------------------------------------------------------------


def test_event_pages_return_every_event_once_even_with_inserts_between_pages(storage: Storage) -> None:
    tap = Taps()
    first = [tap(datetime(2026, 3, 9 + i % 3, 10), i % 4, reason=f"r{i}") for i in range(25)]
    ingest(storage, "hel-1", first)
    ingest(storage, "sto-1", [tap(datetime(2026, 3, 9, 10), 1) for _ in range(5)])  # other region's events
    query = EventQuery(date(2026, 3, 9), date(2026, 3, 11), Selection(region="nordics/finland"))
    seen: list[str] = []
    after = 0
    late = [tap(datetime(2026, 3, 9, 11), 2) for _ in range(7)]
    while page := storage.event_page(query, after, 4):
        seen += [str(row[0]) for _, row in page]
        after = page[-1][0]
        if late:  # new events arrive, even for days already paged through: they come later, once
            ingest(storage, "hel-2", [late.pop()])
    assert len(seen) == len(set(seen)) == 32
    assert set(seen) == {e.id for e in first} | {
        str(r[0]) for r in raw(storage, "SELECT id FROM events WHERE location_id = 'hel-2'")
    }


def test_iter_events_in_chunks_ordered_by_day_location_and_arrival(storage: Storage) -> None:
    tap = Taps()
    ingest(storage, "sto-1", [tap(datetime(2026, 3, 10, 9), 1), tap(datetime(2026, 3, 9, 9), 2)])
    ingest(storage, "hel-1", [tap(datetime(2026, 3, 10, 9), 3), tap(datetime(2026, 3, 12, 9), 0, misuse=True)])
    chunks = list(storage.iter_events(EventQuery(date(2026, 3, 9), date(2026, 3, 12)), chunk_size=3))
    assert [len(c) for c in chunks] == [3, 1]
    rows = [row for chunk in chunks for row in chunk]
    assert [(r[5], r[2]) for r in rows] == [
        ("2026-03-09", "sto-1"), ("2026-03-10", "hel-1"), ("2026-03-10", "sto-1"), ("2026-03-12", "hel-1"),
    ]  # fmt: skip
    assert rows[-1][12] == 1  # misuse is exported, flagged
    only = list(
        storage.iter_events(EventQuery(date(2026, 3, 10), date(2026, 3, 10), Selection(location_id="sto-1")), 10)
    )
    assert [len(c) for c in only] == [1]
    assert Counter(
        r[2]
        for c in storage.iter_events(EventQuery(date(2026, 3, 9), date(2026, 3, 12), Selection(region="nordics")), 2)
        for r in c
    ) == {"sto-1": 2, "hel-1": 2}


def test_month_filters_read_whole_months_and_each_edge_month_the_cheaper_way() -> None:
    def shape(start: date, end: date) -> list[tuple[str | None, tuple[str, ...], int]]:
        return [(f.table, f.params, f.sign) for f in month_filters(start, end)]

    month = "rollup_month"
    assert shape(date(2026, 1, 1), date(2026, 12, 31)) == [(month, ("2026-01", "2026-12"), 1)]
    # January 15-31 is 17 days: the whole month minus its first 14 is cheaper; April 1-10 is read as days.
    assert shape(date(2026, 1, 15), date(2026, 4, 10)) == [
        (month, ("2026-01", "2026-03"), 1),
        (None, ("2026-01-01", "2026-01-14"), -1),
        (None, ("2026-04-01", "2026-04-10"), 1),
    ]
    assert shape(date(2026, 2, 1), date(2026, 2, 28)) == [(month, ("2026-02", "2026-02"), 1)]
    assert shape(date(2026, 2, 2), date(2026, 3, 30)) == [
        (month, ("2026-02", "2026-03"), 1),
        (None, ("2026-02-01", "2026-02-01"), -1),
        (None, ("2026-03-31", "2026-03-31"), -1),
    ]
    assert shape(date(2025, 12, 31), date(2026, 1, 31)) == [
        (month, ("2026-01", "2026-01"), 1),
        (None, ("2025-12-31", "2025-12-31"), 1),
    ]
    assert shape(date(2026, 3, 5), date(2026, 3, 25)) == [
        (month, ("2026-03", "2026-03"), 1),
        (None, ("2026-03-01", "2026-03-04"), -1),
        (None, ("2026-03-26", "2026-03-31"), -1),
    ]
    assert shape(date(2026, 3, 10), date(2026, 3, 12)) == [(None, ("2026-03-10", "2026-03-12"), 1)]
    assert shape(date(2024, 2, 2), date(2024, 2, 29)) == [
        (month, ("2024-02", "2024-02"), 1),
        (None, ("2024-02-01", "2024-02-01"), -1),
    ]  # a leap February
    assert shape(date(2026, 3, 12), date(2026, 3, 10)) == [(None, ("2026-03-12", "2026-03-10"), 1)]  # empty


def test_scores_over_whole_months_match_the_daily_rollup(storage: Storage) -> None:
    """The monthly rollup kept at ingest gives the same counts as summing the days, at a month's edges too."""
    taps = Taps()
    for day, value in ((date(2026, 1, 31), 0), (date(2026, 2, 1), 3), (date(2026, 2, 28), 2), (date(2026, 3, 1), 1)):
        for hour in (0, 23):  # local midnight and late evening: the local month, not the UTC one
            ingest(storage, "hel-1", [taps(datetime.combine(day, time(hour, 30)), value)])
    assert raw(storage, f"SELECT month, SUM({MONTH_ANSWERS}) FROM rollup_month GROUP BY month ORDER BY month") == [
        ("2026-01", 2), ("2026-02", 4), ("2026-03", 2),
    ]  # fmt: skip
    for start, end in ((date(2026, 1, 1), date(2026, 3, 31)), (date(2026, 1, 31), date(2026, 3, 1))):
        for group_by in ("location", "region", "all"):
            query = ScoreQuery(start, end, group_by=group_by)  # type: ignore[arg-type]
            monthly = storage.score_counts(query)
            daily = storage.score_counts(ScoreQuery(start, end, group_by="day"))
            assert sum(sum(r.counts) for r in monthly) == sum(sum(r.counts) for r in daily) == 8
    feb = storage.score_counts(ScoreQuery(date(2026, 2, 1), date(2026, 2, 28), group_by="all"))
    assert [r.counts for r in feb] == [[0, 0, 2, 2]]


def test_the_monthly_rollup_is_filled_from_the_daily_one_when_an_older_database_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite"
    with sqlite3.connect(path) as old:  # a hub database from before migration 7
        migrate(old, MIGRATIONS[:6], "hub")
        old.executemany(
            "INSERT INTO rollup_day (location_id, question_id, day, scale, value, count) VALUES (?, 'q', ?, 4, ?, ?)",
            [("hel-1", "2026-01-31", 3, 2), ("hel-1", "2026-02-01", 3, 5), ("hel-1", "2026-02-27", 3, 1)],
        )
    old.close()
    storage = SqliteStorage(path)
    try:
        assert raw(storage, "SELECT month, scale, v0 + v1 + v2, v3 FROM rollup_month ORDER BY month") == [
            ("2026-01", 4, 0, 2), ("2026-02", 4, 0, 6),
        ]  # fmt: skip
    finally:
        storage.close()


def test_the_monthly_rollup_gets_a_column_per_answer_value_when_an_older_database_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite"
    with sqlite3.connect(path) as old:  # a hub database from before migration 11: a row per answer value
        migrate(old, MIGRATIONS[:10], "hub")
        old.executemany(
            "INSERT INTO rollup_month (location_id, question_id, month, scale, value, count) VALUES (?, ?, ?, ?, ?, ?)",
            [("hel-1", "q", "2026-01", 4, 0, 2), ("hel-1", "q", "2026-01", 4, 3, 5),
             ("hel-1", "nps", "2026-01", 11, 10, 7), ("hel-1", "nps", "2026-01", 11, 0, 1),
             ("tyo-1", "q", "2026-02", 4, 1, 4)],
        )  # fmt: skip
        old.executemany(
            "INSERT INTO locations (location_id, timezone, timezone_source, created_at) VALUES (?, ?, 'events', ?)",
            [("hel-1", "Europe/Helsinki", "2026-01-01T00:00:00Z"), ("tyo-1", "Asia/Tokyo", "2026-01-01T00:00:00Z")],
        )
    old.close()
    storage = SqliteStorage(path)
    try:
        rows = raw(storage, f"SELECT location_id, question_id, month, scale, {', '.join(MONTH_VALUE_COLUMNS)} "
                            "FROM rollup_month ORDER BY location_id, question_id")  # fmt: skip
        assert rows == [
            ("hel-1", "nps", "2026-01", 11, 1, *[0] * 9, 7),
            ("hel-1", "q", "2026-01", 4, 2, 0, 0, 5, *[0] * 7),
            ("tyo-1", "q", "2026-02", 4, 0, 4, *[0] * 9),
        ]
        monthly = storage.score_counts(ScoreQuery(date(2026, 1, 1), date(2026, 2, 28), group_by="location"))
        assert [(r.keys["location_id"], r.question_id, r.counts) for r in monthly] == [
            ("hel-1", "nps", [1, *[0] * 9, 7]), ("hel-1", "q", [2, 0, 0, 5]), ("tyo-1", "q", [0, 4, 0, 0]),
        ]  # fmt: skip
    finally:
        storage.close()


# --- the set-based score read against the raw events --------------------------------------------


def _expected_from_events(storage: Storage, query: ScoreQuery) -> dict[tuple[object, ...], list[int]]:
    """What score_counts must answer, counted straight from the stored events (misuse never counts)."""
    regions = {str(r[0]): r[1] for r in raw(storage, "SELECT location_id, region FROM locations")}
    rows = raw(
        storage,
        "SELECT location_id, local_day, local_hour, question_id, scale, value FROM events "
        "WHERE misuse = 0 AND local_day BETWEEN ? AND ?",
        (query.start.isoformat(), query.end.isoformat()),
    )
    found: dict[tuple[object, ...], list[int]] = {}
    for location, day, hour, question, scale, value in rows:
        region = regions[str(location)]
        if query.location_id is not None and location != query.location_id:
            continue
        if query.region is not None and not (region == query.region or str(region).startswith(query.region + "/")):
            continue
        if query.question_id is not None and question != query.question_id:
            continue
        keys: dict[str, tuple[object, ...]] = {
            "location": (location,),
            "region": (truncate_region(cast(str | None, region), query.region_level),),
            "day": (location, day),
            "hour": (location, hour),
            "weekday_hour": (date.fromisoformat(str(day)).weekday(), hour),
            "all": (),
        }
        counts = found.setdefault((*keys[query.group_by], question, scale), [0] * int(cast(int, scale)))
        counts[int(cast(int, value))] += 1
    return found


def test_score_counts_of_a_hub_without_answers_are_empty(storage: Storage) -> None:
    for group_by in ("location", "all", "weekday_hour"):
        assert storage.score_counts(ScoreQuery(date(2026, 1, 1), date(2026, 12, 31), group_by)) == []  # type: ignore[arg-type]


def test_score_counts_match_the_raw_events_for_random_ranges_groupings_and_selections(storage: Storage) -> None:
    """Property-style: months read whole, edge months read as days or as the month minus days, all agree."""
    rng = random.Random(11)
    tap = Taps()
    zones = {
        "hel-1": HELSINKI,
        "hel-2": ZoneInfo("America/New_York"),
        "sto-1": ZoneInfo("Asia/Tokyo"),
        "x-1": ZoneInfo("UTC"),
    }
    first = date(2025, 12, 20)
    for location, zone in zones.items():
        events = []
        for _ in range(220):
            day = first + timedelta(days=rng.randrange(120))  # 2025-12-20 .. 2026-04-18, over a leap-free February
            local = datetime.combine(day, time(rng.choice([0, 7, 12, 17, 23]), rng.randrange(60)))
            # "q" on two scales (a survey that changed): the pivoted read keeps one row per (question, scale)
            question, scale = rng.choice([("q", 4), ("nps", 11), ("q", 5)])
            events.append(tap(local, rng.randrange(scale), scale=scale, question=question,
                              misuse=rng.random() < 0.05, tz=zone))  # fmt: skip
        for i in range(0, len(events), 50):
            ingest(storage, location, events[i : i + 50])
    ranges = [
        (date(2026, 1, 1), date(2026, 3, 31)),  # whole months
        (date(2026, 1, 31), date(2026, 3, 1)),  # one edge day each side
        (date(2026, 1, 3), date(2026, 3, 29)),  # edge months read whole minus a few days
        (date(2026, 2, 5), date(2026, 2, 25)),  # inside one month: month minus both ends
        (date(2026, 2, 10), date(2026, 2, 12)),  # inside one month: days
        (date(2025, 12, 1), date(2026, 4, 30)),  # beyond the data at both ends
    ]
    ranges += [
        tuple(sorted((first + timedelta(days=rng.randrange(130)), first + timedelta(days=rng.randrange(130)))))
        for _ in range(14)
    ]  # type: ignore[misc]
    groupings = ("location", "region", "all", "day", "hour", "weekday_hour")
    checked = 0
    for start, end in ranges:
        for group_by in groupings:
            selection = rng.choice([{}, {"location_id": "hel-2"}, {"region": "nordics"}, {"question_id": "nps"}])
            level = rng.choice([None, 1]) if group_by == "region" else None
            query = ScoreQuery(start, end, group_by, region_level=level, **selection)  # type: ignore[arg-type]
            answer = {(*r.keys.values(), r.question_id, r.scale): r.counts for r in storage.score_counts(query)}
            assert answer == _expected_from_events(storage, query), query
            checked += sum(sum(c) for c in answer.values())
    assert checked > 5000  # the ranges did find taps
