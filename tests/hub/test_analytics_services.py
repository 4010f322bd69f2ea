"""The analytics services over a real Storage: scope, validation, comparisons, reasons, export, locations."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from edge_agent.protocol import Event
from edge_agent.scores import score
from hub.services import analytics_locations as locations
from hub.services.analytics_compare import previous_period
from hub.services.analytics_errors import BadCursor, Conflict, InvalidQuery, NotFound, OutOfScope
from hub.services.analytics_export import csv_cell, csv_chunks, decode_cursor, encode_cursor, event_page, event_query
from hub.services.analytics_locations import LocationCreate, LocationUpdate
from hub.services.analytics_query import check_range, select
from hub.services.analytics_reasons import ReasonRequest, reason_rows
from hub.services.analytics_scope import Scope
from hub.services.analytics_scores import ScoreRequest, score_report, score_rows
from hub.storage import open_storage
from hub.storage.base import IncomingBatch, Storage, TokenInfo
from hub.storage.base_analytics import EXPORT_COLUMNS, EventQuery, Selection

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
HELSINKI = ZoneInfo("Europe/Helsinki")
NORDICS = Scope("nordics")
EVERYTHING = Scope()


@pytest.fixture
def storage(db: str) -> Iterator[Storage]:
    s = open_storage(db)
    for location_id, region in (("hel-1", "nordics/finland"), ("nyc-1", "americas/us")):
        body = LocationCreate(location_id=location_id, name=location_id, region=region, timezone="Europe/Helsinki")
        locations.register_location(s, body, NOW)
    try:
        yield s
    finally:
        s.close()


def tap(storage: Storage, location: str, local: datetime, values: list[int], reason: str | None = None) -> None:
    events = [
        Event(
            id=str(uuid.uuid4()),
            seq=int(uuid.uuid4().int % 2**62),
            ts=local.replace(tzinfo=HELSINKI),
            tz="Europe/Helsinki",
            clock_ok=True,
            question_id="q",
            scale=4,
            value=v,
            reason=reason,
            source="touch",
        )
        for v in values
    ]
    storage.ingest([IncomingBatch(f"dev-{location}", location, str(uuid.uuid4()), events)], [], [], NOW)


def token(role: str, region: str | None) -> TokenInfo:
    return TokenInfo(1, "t", role, region, "2026-01-01T00:00:00.000Z")  # type: ignore[arg-type]


# --- scope and selection ------------------------------------------------------------------


def test_scope_of_a_token() -> None:
    assert Scope.of(token("admin", None)) == Scope.of(token("analyst", None)) == EVERYTHING
    assert Scope.of(token("analyst", "nordics")) == NORDICS
    assert Scope.of(token("admin", "nordics")) == EVERYTHING  # admins are never limited


def test_scope_narrows_a_region_or_refuses_one_outside_it() -> None:
    assert NORDICS.narrow(None) == "nordics"
    assert NORDICS.narrow("nordics/finland") == "nordics/finland"
    assert EVERYTHING.narrow("americas") == "americas" and EVERYTHING.narrow(None) is None
    for outside in ("americas", "nordicsx", "nordic"):
        with pytest.raises(OutOfScope, match=f"region '{outside}' is outside this token's region 'nordics'"):
            NORDICS.narrow(outside)
    with pytest.raises(OutOfScope):  # broader than the scope is outside it too
        Scope("nordics/finland").narrow("nordics")


def test_select_checks_the_location_and_the_region(storage: Storage) -> None:
    assert select(storage, NORDICS, "hel-1", None) == Selection("nordics", "hel-1")
    assert select(storage, EVERYTHING, None, "americas") == Selection("americas", None)
    with pytest.raises(OutOfScope, match="location 'nyc-1' is outside this token's region 'nordics'"):
        select(storage, NORDICS, "nyc-1", None)
    with pytest.raises(NotFound, match="unknown location 'nowhere'"):
        select(storage, EVERYTHING, "nowhere", None)
    for bad in ("Nordics", "nordics/", "/nordics", "nordics//finland", "nor dics", "a" * 201):
        with pytest.raises(InvalidQuery, match=r"region: .* is not a region path"):
            select(storage, EVERYTHING, None, bad)


def test_check_range() -> None:
    check_range(date(2026, 1, 1), date(2026, 1, 1))
    with pytest.raises(InvalidQuery, match="'to' must not be before 'from'"):
        check_range(date(2026, 1, 2), date(2026, 1, 1))
    with pytest.raises(InvalidQuery, match="at most 3660 days"):
        check_range(date(2016, 1, 1), date(2026, 1, 8))  # 3,660 days apart


# --- scores and comparisons ----------------------------------------------------------------------


def test_previous_period_is_equally_long_and_just_before() -> None:
    assert previous_period(date(2026, 3, 9), date(2026, 3, 15)) == (date(2026, 3, 2), date(2026, 3, 8))
    assert previous_period(date(2026, 3, 1), date(2026, 3, 1)) == (date(2026, 2, 28), date(2026, 2, 28))


def test_compare_adds_previous_delta_and_significance(storage: Storage) -> None:
    tap(storage, "hel-1", datetime(2026, 3, 3, 10), [0] * 30 + [3] * 10)  # previous week: mostly unhappy
    tap(storage, "hel-1", datetime(2026, 3, 10, 10), [3] * 36 + [2] * 4)  # this week: happy
    tap(storage, "nyc-1", datetime(2026, 3, 3, 10), [3] * 21 + [1] * 19)
    tap(storage, "nyc-1", datetime(2026, 3, 10, 10), [3] * 20 + [1] * 20)
    request = ScoreRequest(date(2026, 3, 9), date(2026, 3, 15), "location", compare=True)
    report = score_report(storage, EVERYTHING, request)
    assert report["previous"] == {"from": "2026-03-02", "to": "2026-03-08"}
    hel, nyc = report["rows"]  # type: ignore[misc]
    assert hel["location_id"] == "hel-1" and hel["counts"] == [0, 0, 4, 36]
    assert hel["previous"] == score([30, 0, 0, 10], 4).as_dict()
    assert hel["delta"] == {"happy_index": round(96.67 - 25.0, 2), "pct_positive": 75.0}
    assert hel["significant"] == {"happy_index": True, "pct_positive": True}
    # nyc: mean 2.05 -> 2.00 on 0..3, so the index goes 68.33 -> 66.67; % positive 52.5 -> 50
    assert nyc["delta"] == {"happy_index": -1.67, "pct_positive": -2.5}
    assert nyc["significant"] == {"happy_index": False, "pct_positive": False}
    assert 0.8 < nyc["p_value"]["pct_positive"] <= 1


def test_compare_by_day_matches_the_same_day_one_period_earlier(storage: Storage) -> None:
    tap(storage, "hel-1", datetime(2026, 3, 2, 10), [3, 3])  # 7 days before the 9th
    tap(storage, "hel-1", datetime(2026, 3, 9, 10), [0])
    tap(storage, "hel-1", datetime(2026, 3, 10, 10), [1])
    rows = score_rows(storage, EVERYTHING, ScoreRequest(date(2026, 3, 9), date(2026, 3, 15), "day", compare=True))
    by_day = {r["day"]: r for r in rows}
    assert by_day["2026-03-09"]["previous"]["counts"] == [0, 0, 0, 2]  # type: ignore[index]
    assert by_day["2026-03-10"]["previous"]["n"] == 0  # type: ignore[index]
    assert by_day["2026-03-10"]["delta"] == {"happy_index": None, "pct_positive": None}
    assert by_day["2026-03-10"]["significant"] == {"happy_index": None, "pct_positive": None}


def test_score_request_validation(storage: Storage) -> None:
    with pytest.raises(InvalidQuery, match="region_level applies to group_by=region only"):
        score_rows(storage, EVERYTHING, ScoreRequest(date(2026, 3, 9), date(2026, 3, 9), "location", region_level=1))
    with pytest.raises(OutOfScope):
        score_rows(storage, NORDICS, ScoreRequest(date(2026, 3, 9), date(2026, 3, 9), region="americas/us"))


def test_an_analyst_with_a_region_sees_only_its_locations(storage: Storage) -> None:
    tap(storage, "hel-1", datetime(2026, 3, 10, 10), [3])
    tap(storage, "nyc-1", datetime(2026, 3, 10, 10), [0])
    for group_by in ("location", "all", "region"):
        rows = score_rows(storage, NORDICS, ScoreRequest(date(2026, 3, 10), date(2026, 3, 10), group_by))  # type: ignore[arg-type]
        assert [r["counts"] for r in rows] == [[0, 0, 0, 1]]
    assert [r.location_id for r in locations.list_locations(storage, NORDICS)] == ["hel-1"]
    assert [d["device_id"] for d in locations.visible_devices(storage, NORDICS)] == ["dev-hel-1"]
    assert len(locations.visible_devices(storage, EVERYTHING)) == 2


# --- reasons ------------------------------------------------------------------------


def test_reason_shares_are_within_group_question_and_polarity(storage: Storage) -> None:
    tap(storage, "hel-1", datetime(2026, 3, 10, 10), [0, 1, 0], reason="queue")
    tap(storage, "hel-1", datetime(2026, 3, 10, 11), [1], reason="dirty")
    tap(storage, "hel-1", datetime(2026, 3, 10, 12), [3, 3], reason="staff")
    tap(storage, "nyc-1", datetime(2026, 3, 10, 12), [0], reason="queue")
    rows = reason_rows(
        storage, EVERYTHING, ReasonRequest(date(2026, 3, 10), date(2026, 3, 10), "region", region_level=1)
    )
    assert [(r["region"], r["polarity"], r["reason"], r["n"], r["share"]) for r in rows] == [
        ("americas", "negative", "queue", 1, 100.0),
        ("nordics", "negative", "queue", 3, 75.0),
        ("nordics", "negative", "dirty", 1, 25.0),
        ("nordics", "positive", "staff", 2, 100.0),
    ]
    mine = reason_rows(
        storage, NORDICS, ReasonRequest(date(2026, 3, 10), date(2026, 3, 10), "all", polarity="negative")
    )
    assert [(r["reason"], r["n"]) for r in mine] == [("queue", 3), ("dirty", 1)]
    with pytest.raises(OutOfScope):
        reason_rows(storage, NORDICS, ReasonRequest(date(2026, 3, 10), date(2026, 3, 10), location="nyc-1"))


# --- export -----------------------------------------------------------------------


def test_cursors_round_trip_and_refuse_anything_else(storage: Storage) -> None:
    query = EventQuery(date(2026, 3, 1), date(2026, 3, 31), Selection("nordics"))
    assert decode_cursor(encode_cursor(1234, query), query) == 1234
    other = EventQuery(date(2026, 3, 1), date(2026, 3, 30), Selection("nordics"))
    with pytest.raises(BadCursor, match="belongs to another query"):
        decode_cursor(encode_cursor(1234, query), other)
    for bad in ("", "abc", "!!!!", "e30", "eyJhZnRlciI6IC0xLCAicSI6ICJ4In0", "bnVsbA"):
        with pytest.raises(BadCursor, match="cursor:"):
            decode_cursor(bad, query)


def test_pages_end_with_a_null_cursor_exactly_at_the_last_event(storage: Storage) -> None:
    tap(storage, "hel-1", datetime(2026, 3, 10, 10), [0, 1, 2, 3, 0, 1])
    query = event_query(storage, EVERYTHING, date(2026, 3, 10), date(2026, 3, 10), None, None)
    first = event_page(storage, query, None, 3)
    second = event_page(storage, query, str(first["next_cursor"]), 3)
    assert second["next_cursor"] is None
    rows: list[dict[str, Any]] = [*first["rows"], *second["rows"]]  # type: ignore[list-item]
    assert len({r["id"] for r in rows}) == 6
    assert list(rows[0]) == list(EXPORT_COLUMNS) and rows[0]["misuse"] is False


@pytest.mark.parametrize(
    ("cell", "exported"),
    [
        ('=HYPERLINK("http://evil.example","click")', '\'=HYPERLINK("http://evil.example","click")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("queue", "queue"),
        ("a=b", "a=b"),
        (None, None),
        (-1, -1),
    ],
)
def test_csv_cells_that_start_a_formula_are_quoted(cell: object, exported: object) -> None:
    assert csv_cell(cell) == exported


def test_csv_stream_has_a_header_and_escaped_rows(storage: Storage) -> None:
    tap(storage, "hel-1", datetime(2026, 3, 10, 10), [0], reason='=HYPERLINK("http://evil.example","a, b")')
    tap(storage, "hel-1", datetime(2026, 3, 10, 11), [3], reason="+1")
    query = event_query(storage, EVERYTHING, date(2026, 3, 10), date(2026, 3, 10), "hel-1", None)
    text = b"".join(csv_chunks(storage, query)).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert [r["reason"] for r in rows] == ['\'=HYPERLINK("http://evil.example","a, b")', "'+1"]
    assert [r["local_day"] for r in rows] == ["2026-03-10"] * 2 and rows[0]["misuse"] == "0"


# --- locations ------------------------------------------------------------------------


def errors(model: type[LocationCreate] | type[LocationUpdate], body: dict[str, object]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    return " | ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in caught.value.errors())


def test_location_bodies_name_the_bad_field() -> None:
    good = {"id": "hel-9", "name": "Helsinki 9", "timezone": "Europe/Helsinki"}
    assert LocationCreate.model_validate(good).location_id == "hel-9"
    assert "region: Value error, 'Nordics/Helsinki' is not a region path" in errors(
        LocationCreate, {**good, "region": "Nordics/Helsinki"}
    )
    assert "timezone: Value error, 'Mars/Base' is not an IANA time zone" in errors(
        LocationCreate, {**good, "timezone": "Mars/Base"}
    )
    assert "Europe' is not an IANA" in errors(LocationCreate, {**good, "timezone": "Europe"})
    hours = {
        "monday": "unknown day 'monday'",
        "mon": 'mon: expected ["HH:MM", "HH:MM"]',
    }
    assert hours["monday"] in errors(LocationCreate, {**good, "opening_hours": {"monday": ["08:00", "21:00"]}})
    assert hours["mon"] in errors(LocationCreate, {**good, "opening_hours": {"mon": "08:00-21:00"}})
    assert "mon: times must be HH:MM" in errors(LocationCreate, {**good, "opening_hours": {"mon": ["8:00", "21:00"]}})
    assert "closing time 08:00 must be after opening time 21:00" in errors(
        LocationCreate, {**good, "opening_hours": {"mon": ["21:00", "08:00"]}}
    )
    assert "opening_hour: Extra inputs are not permitted" in errors(LocationCreate, {**good, "opening_hour": {}})
    late = LocationCreate.model_validate(
        {**good, "opening_hours": {"sun": ["10:00", "24:00"], "mon": ["08:00", "21:00"]}}
    )
    assert list(late.opening_hours or {}) == ["mon", "sun"]  # stored in week order
    assert "nothing to change" in errors(LocationUpdate, {})
    assert "timezone cannot be cleared" in errors(LocationUpdate, {"timezone": None})
    assert LocationUpdate.model_validate({"region": None}).changes().given == {"region"}


def test_register_and_update_rules(storage: Storage) -> None:
    again = LocationCreate(location_id="hel-1", name="Again", timezone="UTC")
    with pytest.raises(Conflict, match="already registered"):
        locations.register_location(storage, again, NOW)
    tap(storage, "pop-up", datetime(2026, 3, 10, 10), [3])
    with pytest.raises(Conflict, match="not registered yet"):
        locations.update_location(storage, "pop-up", LocationUpdate(timezone="UTC"), NOW)
    with pytest.raises(NotFound):
        locations.update_location(storage, "nowhere", LocationUpdate(name="x"), NOW)
    registered = locations.register_location(
        storage, LocationCreate(location_id="pop-up", name="P", timezone="UTC"), NOW
    )
    assert registered.timezone_source == "registered"
    moved = locations.update_location(storage, "pop-up", LocationUpdate(timezone="Asia/Tokyo"), NOW)
    assert moved.timezone == "Asia/Tokyo"
    with pytest.raises(OutOfScope):
        locations.get_location(storage, NORDICS, "pop-up")
    assert locations.get_location(storage, EVERYTHING, "pop-up").name == "P"
