"""The HQ API against a real hub: taps recorded with known local times reach it through real agents and Mosquitto.

One hub, broker and set of stores serves the whole module (it is read-only for
most tests): the ``hq`` fixture of tests/integration/hq_rig.py. Every expected count
is computed there from the recorded taps, independently of the hub: each tap's local
day, hour and weekday are simply the local wall time it was recorded at.
"""

from __future__ import annotations

import httpx
import pytest

from tests.integration.hq_rig import CURRENT, EVIL, HQ, PREVIOUS, SITES, as_counts, expected

pytestmark = pytest.mark.integration

# --- scores: every grouping, checked against the taps -------------------------------------------------------

GROUPINGS = [
    ("location", None, ["location_id"]),
    ("region", None, ["region"]),
    ("region", 1, ["region"]),
    ("region", 2, ["region"]),
    ("day", None, ["location_id", "day"]),
    ("hour", None, ["location_id", "hour"]),
    ("weekday_hour", None, ["weekday", "hour"]),
    ("all", None, []),
]


@pytest.mark.parametrize(("group_by", "level", "keys"), GROUPINGS)
def test_every_grouping_matches_the_recorded_taps(hq: HQ, group_by: str, level: int | None, keys: list[str]) -> None:
    for span in (CURRENT, PREVIOUS):
        params = {"from": span[0].isoformat(), "to": span[1].isoformat(), "group_by": group_by}
        if level is not None:
            params["region_level"] = str(level)
        rows = hq.rows("/api/v1/scores", **params)
        assert as_counts(rows, keys) == expected(group_by, span, level)
        assert all(set(keys) | {"question_id", "scale", "n", "happy_index", "small_sample"} <= set(r) for r in rows)


def test_spot_checks_worked_out_by_hand(hq: HQ) -> None:
    span = {"from": "2026-03-09", "to": "2026-03-15"}
    top = {
        (r["region"], r["question_id"]): r for r in hq.rows("/api/v1/scores", group_by="region", region_level=1, **span)
    }
    # nordics this week: hel-1 40 x 3; hel-2 20 x 3 and 20 x 1; sto-1 one each of 0..3 (misuse and pop-up excluded)
    assert top[("nordics", "default")]["counts"] == [1, 21, 1, 61]
    assert top[("nordics", "default")]["n"] == 84 and top[("nordics", "default")]["small_sample"] is False
    assert top[("nordics", "nps")]["counts"] == [0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1]
    # 10, 9, 7, 3: two promoters, one passive, one detractor -> NPS (2 - 1) / 4 = 25
    assert top[("nordics", "nps")]["nps"] == 25.0 and top[("nordics", "nps")]["small_sample"] is True
    assert top[("(none)", "default")]["counts"] == [0, 1, 0, 1]  # pop-up: the misuse press is not counted
    assert set(top) == {("nordics", "default"), ("nordics", "nps"), ("americas", "default"), ("(none)", "default")}
    # New York, Monday 23:30 and Tuesday 00:30 local (03:30Z and 04:30Z on Tuesday): each on its own local day
    nyc = hq.rows("/api/v1/scores", group_by="hour", location="nyc-1", **span)
    assert sorted((r["hour"], r["counts"]) for r in nyc) == [(0, [0, 1, 0, 0]), (8, [0, 0, 0, 1]), (23, [1, 0, 0, 0])]
    heat = {
        (r["weekday"], r["hour"]): r["counts"]
        for r in hq.rows("/api/v1/scores", group_by="weekday_hour", location="hel-1", **span)
    }
    assert heat == {(d, h): [0, 0, 0, 1] for d in range(5) for h in range(9, 17)}
    only = hq.rows("/api/v1/scores", group_by="location", region="nordics/finland", question="default", **span)
    assert [(r["location_id"], r["n"]) for r in only] == [("hel-1", 40), ("hel-2", 40)]


# --- compare=previous_period ----------------------------------------------------------------------


def test_compare_with_the_previous_period_and_its_significance(hq: HQ) -> None:
    response = hq.call(
        "/api/v1/scores",
        group_by="location",
        region="nordics/finland",
        compare="previous_period",
        **{"from": "2026-03-09", "to": "2026-03-15"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["previous"] == {"from": "2026-03-02", "to": "2026-03-08"}
    rows = {r["location_id"]: r for r in body["rows"]}
    hel1, hel2 = rows["hel-1"], rows["hel-2"]
    # hel-1: index 25.0 -> 100.0, % positive 25 -> 100, on 40 answers each: significant
    assert (hel1["previous"]["counts"], hel1["previous"]["happy_index"], hel1["happy_index"]) == (
        [30, 0, 0, 10],
        25.0,
        100.0,
    )
    assert hel1["delta"] == {"happy_index": 75.0, "pct_positive": 75.0}
    assert hel1["significant"] == {"happy_index": True, "pct_positive": True}
    # hel-2: mean 2.05 -> 2.00 (index 68.33 -> 66.67), % positive 52.5 -> 50: noise
    assert (hel2["previous"]["counts"], hel2["counts"]) == ([0, 19, 0, 21], [0, 20, 0, 20])
    assert hel2["delta"] == {"happy_index": -1.67, "pct_positive": -2.5}
    assert hel2["significant"] == {"happy_index": False, "pct_positive": False}
    assert hel2["p_value"]["pct_positive"] > 0.5
    # the previous period's own numbers match a plain query of it
    [plain] = hq.rows("/api/v1/scores", location="hel-2", **{"from": "2026-03-02", "to": "2026-03-08"})
    assert {k: plain[k] for k in hel2["previous"]} == hel2["previous"]


# --- reasons ---------------------------------------------------------------------------------------


def test_reasons_per_location_region_and_polarity(hq: HQ) -> None:
    span = {"from": "2026-03-09", "to": "2026-03-15"}
    by_location = hq.rows("/api/v1/reasons", **span)
    assert [
        (r["location_id"], r["question_id"], r["polarity"], r["reason"], r["n"], r["share"]) for r in by_location
    ] == [
        ("hel-1", "default", "positive", "friendly staff", 5, 100.0),
        ("nyc-1", "default", "negative", "+1", 1, 50.0),
        ("nyc-1", "default", "negative", "-2", 1, 50.0),
        ("nyc-1", "default", "positive", "@SUM(A1)", 1, 100.0),
        ("pop-up", "default", "negative", "queue", 1, 100.0),
        ("sto-1", "nps", "negative", EVIL, 1, 100.0),
        ("sto-1", "nps", "neutral", "price", 1, 100.0),
    ]
    negative = hq.rows("/api/v1/reasons", group_by="region", region_level=1, polarity="negative", **span)
    assert [(r["region"], r["reason"], r["n"]) for r in negative] == [
        ("(none)", "queue", 1), ("americas", "+1", 1), ("americas", "-2", 1), ("nordics", EVIL, 1),
    ]  # fmt: skip
    before = hq.rows("/api/v1/reasons", group_by="all", **{"from": "2026-03-02", "to": "2026-03-08"})
    # hel-1 answered 0 at 09:00 Monday..Thursday (4 x queue) and 3 at 12:00 on Friday; nyc-1 once
    assert [(r["reason"], r["polarity"], r["n"]) for r in before] == [
        ("queue", "negative", 5),
        ("friendly staff", "positive", 1),
    ]


# --- locations and role scoping ---------------------------------------------------------------------


def test_an_analyst_limited_to_a_region_sees_only_that_region(hq: HQ) -> None:
    span = {"from": "2026-03-09", "to": "2026-03-15"}
    mine = hq.rows("/api/v1/locations", scope="nordics")
    assert [r["location_id"] for r in mine] == ["hel-1", "hel-2", "sto-1"]
    assert mine[0]["timezone_source"] == "registered" and mine[0]["region"] == "nordics/finland/helsinki"
    devices = hq.rows("/api/v1/devices", scope="nordics")
    assert sorted(d["device_id"] for d in devices) == ["dev-hel-1", "dev-hel-2", "dev-sto-1"]
    assert len(hq.rows("/api/v1/devices")) == len(SITES)
    assert {r["location_id"] for r in hq.rows("/api/v1/scores", scope="nordics", **span)} == {
        "hel-1",
        "hel-2",
        "sto-1",
    }
    assert [
        r["region"] for r in hq.rows("/api/v1/scores", scope="nordics", group_by="region", region_level=1, **span)
    ] == ["nordics", "nordics"]
    totals = hq.rows("/api/v1/scores", scope="nordics", group_by="all", **span)
    assert {r["question_id"]: r["n"] for r in totals} == {"default": 84, "nps": 4}
    assert {r["location_id"] for r in hq.rows("/api/v1/reasons", scope="nordics", **span)} == {"hel-1", "sto-1"}
    exported = hq.call("/api/v1/events", scope="nordics", limit=1000, **span).json()["rows"]
    assert {r["location_id"] for r in exported} == {"hel-1", "hel-2", "sto-1"}
    finland = hq.rows("/api/v1/scores", scope="nordics", region="nordics/finland", group_by="region", **span)
    assert [r["region"] for r in finland] == ["nordics/finland/helsinki"]


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/api/v1/scores", {"location": "nyc-1"}, "location 'nyc-1' is outside this token's region 'nordics'"),
        ("/api/v1/scores", {"region": "americas"}, "region 'americas' is outside this token's region 'nordics'"),
        ("/api/v1/reasons", {"location": "nyc-1"}, "outside this token's region"),
        ("/api/v1/events", {"location": "pop-up"}, "location 'pop-up' is outside"),
        ("/api/v1/events", {"region": "americas/us", "format": "csv"}, "outside this token's region"),
        ("/api/v1/locations/nyc-1", {}, "location 'nyc-1' is outside this token's region 'nordics'"),
    ],
)
def test_asking_for_something_outside_the_region_is_forbidden(
    hq: HQ, path: str, params: dict[str, str], message: str
) -> None:
    response = hq.call(path, scope="nordics", **{"from": "2026-03-09", "to": "2026-03-15", **params})
    assert response.status_code == 403 and message in response.json()["detail"]
    narrower = hq.call(
        "/api/v1/scores", scope="nordics/finland", **{"from": "2026-03-09", "to": "2026-03-15", "region": "nordics"}
    )
    assert narrower.status_code == 403


def test_admin_only_endpoints_refuse_analysts(hq: HQ) -> None:
    headers = {"Authorization": f"Bearer {hq.token('nordics')}"}
    body = {"location_id": "x-1", "name": "X", "timezone": "UTC"}
    assert httpx.post(hq.hub.url + "/api/v1/locations", json=body, headers=headers).status_code == 403
    assert httpx.patch(hq.hub.url + "/api/v1/locations/hel-1", json={"name": "Y"}, headers=headers).status_code == 403
    unlimited = {"Authorization": f"Bearer {hq.token()}"}
    assert httpx.patch(hq.hub.url + "/api/v1/locations/hel-1", json={"name": "Y"}, headers=unlimited).status_code == 403
    assert httpx.get(hq.hub.url + "/api/v1/locations/hel-1", headers=headers).json()["name"] == "HEL-1"


def test_registering_a_location_first_seen_from_events_then_changing_its_zone(hq: HQ) -> None:
    admin = hq.hub
    seen = admin.request("GET", "/api/v1/locations/lab-1").json()
    assert (seen["timezone"], seen["timezone_source"], seen["region"]) == ("UTC", "events", None)
    refused = admin.request("PATCH", "/api/v1/locations/lab-1", json={"timezone": "Europe/Oslo"})
    assert refused.status_code == 409 and "not registered yet" in refused.json()["detail"]
    body = {
        "id": "lab-1",
        "name": "Lab",
        "region": "nordics/lab",
        "timezone": "Europe/Oslo",
        "opening_hours": {"sat": ["10:00", "16:00"]},
    }
    created = admin.request("POST", "/api/v1/locations", json=body)
    assert created.status_code == 201, created.text
    fields = ("timezone", "timezone_source", "region", "opening_hours")
    assert [created.json()[k] for k in fields] == [
        "Europe/Oslo",
        "registered",
        "nordics/lab",
        {"sat": ["10:00", "16:00"]},
    ]
    again = admin.request("POST", "/api/v1/locations", json=body)
    assert again.status_code == 409 and "already registered" in again.json()["detail"]
    moved = admin.request(
        "PATCH", "/api/v1/locations/lab-1", json={"timezone": "Europe/Helsinki", "opening_hours": None}
    )
    assert moved.status_code == 200 and (moved.json()["timezone"], moved.json()["opening_hours"]) == (
        "Europe/Helsinki",
        None,
    )
    assert admin.request("GET", "/api/v1/locations/nowhere").status_code == 404
    assert admin.request("PATCH", "/api/v1/locations/nowhere", json={"name": "x"}).status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"location_id": "x-1", "name": "X", "timezone": "UTC", "region": "Nordics/Helsinki"}, "is not a region path"),
        ({"location_id": "x-1", "name": "X", "timezone": "Europe/Nowhere"}, "is not an IANA time zone"),
        ({"location_id": "x-1", "name": "X", "timezone": "UTC", "opening_hours": {"mon": ["9", "17"]}}, "HH:MM"),
        (
            {"location_id": "x-1", "name": "X", "timezone": "UTC", "opening_hours": {"xmas": ["09:00", "17:00"]}},
            "unknown day",
        ),
        ({"location_id": "x y", "name": "X", "timezone": "UTC"}, "String should match pattern"),
        ({"location_id": "x-1", "timezone": "UTC"}, "Field required"),
    ],
)
def test_bad_location_bodies_are_422_naming_the_field(hq: HQ, body: dict[str, object], message: str) -> None:
    response = hq.hub.request("POST", "/api/v1/locations", json=body)
    assert response.status_code == 422 and message in response.text


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/v1/scores", {"from": "2026-13-01", "to": "2026-03-15"}, 422, "valid date"),
        ("/api/v1/scores", {"from": "2026-03-15", "to": "2026-03-09"}, 422, "'to' must not be before 'from'"),
        ("/api/v1/scores", {"from": "2026-03-09", "to": "2026-03-15", "group_by": "week"}, 422, "'location', 'region'"),
        (
            "/api/v1/scores",
            {"from": "2026-03-09", "to": "2026-03-15", "region": "Nordics"},
            422,
            "region: 'Nordics' is not a region path",
        ),
        (
            "/api/v1/scores",
            {"from": "2026-03-09", "to": "2026-03-15", "region_level": "1"},
            422,
            "region_level applies to group_by=region",
        ),
        (
            "/api/v1/scores",
            {"from": "2026-03-09", "to": "2026-03-15", "group_by": "region", "region_level": "0"},
            422,
            "greater than or equal to 1",
        ),
        ("/api/v1/scores", {"from": "2026-03-09", "to": "2026-03-15", "compare": "last_year"}, 422, "previous_period"),
        (
            "/api/v1/scores",
            {"from": "2026-03-09", "to": "2026-03-15", "location": "nowhere"},
            404,
            "unknown location 'nowhere'",
        ),
        (
            "/api/v1/reasons",
            {"from": "2026-03-09", "to": "2026-03-15", "polarity": "angry"},
            422,
            "'negative', 'neutral'",
        ),
        ("/api/v1/reasons", {"from": "2026-03-09", "to": "2026-03-09x"}, 422, "valid date"),
        (
            "/api/v1/events",
            {"from": "2026-03-09", "to": "2026-03-15", "cursor": "not-a-cursor"},
            400,
            "cursor: not a cursor",
        ),
        (
            "/api/v1/events",
            {"from": "2026-03-09", "to": "2026-03-15", "limit": "10001"},
            422,
            "less than or equal to 10000",
        ),
        ("/api/v1/events", {"from": "2026-03-09", "to": "2026-03-15", "format": "xml"}, 422, "'json' or 'csv'"),
        (
            "/api/v1/events",
            {"from": "2026-03-09", "to": "2026-03-15", "format": "csv", "limit": "5"},
            422,
            "format=json only",
        ),
        ("/api/v1/events", {"from": "2026-03-15", "to": "2026-03-09", "format": "csv"}, 422, "'to' must not be before"),
    ],
)
def test_bad_input_is_a_4xx_with_a_message(
    hq: HQ, path: str, params: dict[str, str], status: int, message: str
) -> None:
    response = hq.call(path, **params)
    assert response.status_code == status and message in response.text, response.text


def test_a_cursor_of_another_query_is_refused(hq: HQ) -> None:
    first = hq.call("/api/v1/events", limit=2, **{"from": "2026-03-09", "to": "2026-03-15"}).json()
    other = hq.call("/api/v1/events", cursor=first["next_cursor"], **{"from": "2026-03-09", "to": "2026-03-14"})
    assert other.status_code == 400 and "belongs to another query" in other.json()["detail"]
