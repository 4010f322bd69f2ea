"""The HQ API against a real hub: taps recorded with known local times reach it through real agents and Mosquitto.

One hub, broker and set of stores serves the whole module (it is read-only for
most tests). Every expected count is computed here from the recorded taps,
independently of the hub: each tap's local day, hour and weekday are simply the
local wall time it was recorded at.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from edge_agent.config import load_config
from edge_agent.store import DeviceStore
from hub.broker import MosquittoBroker, MosquittoConfig, find_mosquitto, free_port
from tests.support import ENV, Agent, Hub, backlog, wait_until, write_device_config

pytestmark = pytest.mark.integration

CURRENT = (date(2026, 3, 9), date(2026, 3, 15))  # Monday..Sunday; US clocks went forward on the 8th
PREVIOUS = (date(2026, 3, 2), date(2026, 3, 8))
EVIL = '=HYPERLINK("http://evil.example","click")'


@dataclass(frozen=True)
class Site:
    location_id: str
    zone: str
    region: str | None  # None: never registered, known from its events only


SITES = [
    Site("hel-1", "Europe/Helsinki", "nordics/finland/helsinki"),
    Site("hel-2", "Europe/Helsinki", "nordics/finland/helsinki"),
    Site("sto-1", "Europe/Stockholm", "nordics/sweden/stockholm"),
    Site("nyc-1", "America/New_York", "americas/us/nyc"),
    Site("pop-up", "Asia/Tokyo", None),
    Site("lab-1", "UTC", None),  # only for the registration test; its taps are in January
]
REGION = {s.location_id: s.region for s in SITES}


@dataclass(frozen=True)
class Tap:
    location: str
    local: datetime  # wall time at the location
    value: int
    question: str = "default"
    scale: int = 4
    reason: str | None = None
    misuse: bool = False


def weekdays_at(location: str, monday: date, hours: range, values: list[int], **kw: Any) -> list[Tap]:
    """One tap per hour on Monday..Friday, values in order."""
    slots = [
        datetime.combine(monday + timedelta(d), datetime.min.time()) + timedelta(hours=h)
        for d in range(5)
        for h in hours
    ]
    return [Tap(location, when, value, **kw) for when, value in zip(slots, values, strict=True)]


def recorded_taps() -> list[Tap]:
    taps = [
        # hel-1: mostly unhappy the week before, all happy this week: a significant change.
        *weekdays_at("hel-1", PREVIOUS[0], range(9, 17), [0] * 30 + [3] * 10),
        *weekdays_at("hel-1", CURRENT[0], range(9, 17), [3] * 40),
        # hel-2: 21/40 -> 20/40 positive: no significant change.
        *weekdays_at("hel-2", PREVIOUS[0], range(10, 18), [3, 1] * 19 + [3, 3]),
        *weekdays_at("hel-2", CURRENT[0], range(10, 18), [3, 1] * 20),
        # sto-1: a weekend, and a 0-10 question with a reason that a spreadsheet would run.
        *[Tap("sto-1", datetime(2026, 3, 14, 11 + i), v) for i, v in enumerate([2, 3, 1, 0])],
        Tap("sto-1", datetime(2026, 3, 15, 12), 10, "nps", 11),
        Tap("sto-1", datetime(2026, 3, 15, 13), 9, "nps", 11),
        Tap("sto-1", datetime(2026, 3, 15, 14), 7, "nps", 11, reason="price"),
        Tap("sto-1", datetime(2026, 3, 15, 15), 3, "nps", 11, reason=EVIL),
        # nyc-1: late evening and just after midnight, local days; the previous week has the DST switch.
        Tap("nyc-1", datetime(2026, 3, 9, 23, 30), 0, reason="+1"),
        Tap("nyc-1", datetime(2026, 3, 10, 0, 30), 1, reason="-2"),
        Tap("nyc-1", datetime(2026, 3, 15, 8, 15), 3, reason="@SUM(A1)"),
        Tap("nyc-1", datetime(2026, 3, 7, 23, 45), 0, reason="queue"),
        Tap("nyc-1", datetime(2026, 3, 8, 10, 0), 2),
        # pop-up: a misuse press is stored, never counted.
        Tap("pop-up", datetime(2026, 3, 11, 10, 0), 3),
        Tap("pop-up", datetime(2026, 3, 11, 10, 0, 2), 0, misuse=True),
        Tap("pop-up", datetime(2026, 3, 12, 18, 0), 1, reason="queue"),
        # outside both periods
        Tap("hel-1", datetime(2026, 3, 16, 9), 0),
        Tap("hel-1", datetime(2026, 3, 1, 9), 0),
        Tap("lab-1", datetime(2026, 1, 15, 12), 2),
    ]
    return [with_hel1_reason(t) for t in taps]


def with_hel1_reason(tap: Tap) -> Tap:
    """hel-1 gives reasons too: "queue" after a 0 at 09:00, "friendly staff" after a 3 at 12:00."""
    if tap.location != "hel-1" or (tap.value, tap.local.hour) not in ((0, 9), (3, 12)):
        return tap
    reason = "queue" if tap.value == 0 else "friendly staff"
    return Tap(tap.location, tap.local, tap.value, tap.question, tap.scale, reason, tap.misuse)


TAPS = recorded_taps()


def cut(region: str | None, level: int | None) -> str:
    if region is None:
        return "(none)"
    return region if level is None else "/".join(region.split("/")[:level])


def expected(group_by: str, span: tuple[date, date], level: int | None = None) -> dict[tuple[object, ...], list[int]]:
    """Counts per (keys..., question, scale), straight from the recorded taps."""
    out: dict[tuple[object, ...], list[int]] = {}
    for t in TAPS:
        if t.misuse or not span[0] <= t.local.date() <= span[1]:
            continue
        keys: tuple[object, ...] = {
            "location": (t.location,),
            "region": (cut(REGION[t.location], level),),
            "day": (t.location, t.local.date().isoformat()),
            "hour": (t.location, t.local.hour),
            "weekday_hour": (t.local.weekday(), t.local.hour),
            "all": (),
        }[group_by]
        counts = out.setdefault((*keys, t.question, t.scale), [0] * t.scale)
        counts[t.value] += 1
    return out


@dataclass
class HQ:
    hub: Hub
    broker: MosquittoBroker
    workdir: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, scope: str | None = None, role: str = "analyst") -> str:
        """A token of ``role``, limited to the region ``scope`` if given."""
        key = f"{role}:{scope}"
        if key not in self.tokens:
            args = [sys.executable, "-m", "hub.cli", "token", "create", "--db", str(self.hub.db), "--role", role]
            args += ["--region", scope] if scope else []
            out = subprocess.run(args, check=True, capture_output=True, text=True, env=ENV).stdout
            self.tokens[key] = out.strip().splitlines()[-1]
        return self.tokens[key]

    def call(self, path: str, scope: str | None = None, role: str = "analyst", **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(scope, role)}"}
        return httpx.get(self.hub.url + path, params=params, headers=headers, timeout=30)

    def rows(self, path: str, scope: str | None = None, **params: Any) -> list[dict[str, Any]]:
        response = self.call(path, scope, **params)
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["rows"]
        return rows


def record(workdir: Path, broker: MosquittoBroker, site: Site, taps: list[Tap], **sync: Any) -> tuple[Agent, Path]:
    """Write the taps into a device store, as a kiosk would, and return its (not yet started) agent."""
    config_path = write_device_config(
        workdir, f"dev-{site.location_id}", site.location_id, site.zone, broker.url, **sync
    )
    store_path = load_config(config_path).store.path
    with DeviceStore(store_path, site.zone, synchronous="NORMAL") as store:  # test back-fill
        for t in taps:
            when = t.local.replace(tzinfo=ZoneInfo(site.zone))
            store.record(t.value, t.question, t.scale, reason=t.reason, misuse=t.misuse, now=when)
    return Agent(config_path), store_path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hq(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[HQ]:
    """One hub for the module, on each backend: ``touchpoint-hub serve --db postgresql://...`` for the second."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run scripts/test (it installs it) or apt-get install mosquitto")
    today = datetime.now(UTC).date()
    assert today > CURRENT[1] + timedelta(days=1), f"the taps are dated March 2026; on {today} the hub quarantines them"
    base = tmp_path_factory.mktemp("hq")
    broker = MosquittoBroker(MosquittoConfig(free_port(), data_dir=base / "broker", persistence=False))
    broker.start()
    (base / "hub").mkdir()
    db = None
    if request.param == "postgresql":
        db = request.getfixturevalue("pg_cluster").create_database(f"hq_{uuid.uuid4().hex[:8]}")
    hub = Hub(base / "hub", broker.url, db)
    hub.start()
    state = HQ(hub, broker, base)
    agents: list[Agent] = []
    try:
        for site in SITES:
            if site.region is not None:
                body = {"location_id": site.location_id, "name": site.location_id.upper(), "region": site.region}
                response = hub.request("POST", "/api/v1/locations", json={**body, "timezone": site.zone})
                assert response.status_code == 201, response.text
        stores = []
        for site in SITES:
            agent, store = record(base / "devices", broker, site, [t for t in TAPS if t.location == site.location_id])
            agent.start()
            agents.append(agent)
            stores.append(store)
        wait_until(lambda: all(backlog(s) == 0 for s in stores), 60, "every agent to sync its taps")
        assert hub.sql("SELECT COUNT(*) FROM events")[0][0] == len(TAPS)
        yield state
    finally:
        for agent in agents:
            agent.stop()
        hub.stop()
        broker.stop()


def as_counts(rows: list[dict[str, Any]], keys: list[str]) -> dict[tuple[object, ...], list[int]]:
    return {(*(r[k] for k in keys), r["question_id"], r["scale"]): r["counts"] for r in rows}


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


# --- events export -------------------------------------------------------------------------------------


def test_csv_export_escapes_formulas_and_has_every_event_of_the_local_days(hq: HQ) -> None:
    response = hq.call("/api/v1/events", format="csv", **{"from": "2026-03-09", "to": "2026-03-15"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    in_range = [t for t in TAPS if CURRENT[0] <= t.local.date() <= CURRENT[1]]
    assert len(rows) == len(in_range)  # misuse presses included, flagged
    assert sum(r["misuse"] == "1" for r in rows) == 1
    reasons = {r["reason"] for r in rows}
    assert {"'" + EVIL, "'+1", "'-2", "'@SUM(A1)", "price", "friendly staff"} <= reasons
    assert EVIL not in reasons and "+1" not in reasons
    nyc = sorted((r["local_day"], r["local_hour"], r["ts"]) for r in rows if r["location_id"] == "nyc-1")
    assert nyc[:2] == [
        ("2026-03-09", "23", "2026-03-10T03:30:00.000Z"),
        ("2026-03-10", "0", "2026-03-10T04:30:00.000Z"),
    ]
    days = [(r["local_day"], r["location_id"]) for r in rows]
    assert days == sorted(days)  # by local day, then location


def test_json_pages_cover_the_range_exactly_once(hq: HQ) -> None:
    span = {"from": "2026-03-02", "to": "2026-03-15"}
    ids: list[str] = []
    cursor = None
    while True:
        page = hq.call("/api/v1/events", limit=7, **span, **({"cursor": cursor} if cursor else {})).json()
        ids += [r["id"] for r in page["rows"]]
        if (cursor := page["next_cursor"]) is None:
            break
    in_range = [t for t in TAPS if PREVIOUS[0] <= t.local.date() <= CURRENT[1]]
    assert len(ids) == len(set(ids)) == len(in_range)
    expected_ids = {
        r[0] for r in hq.hub.sql("SELECT id FROM events WHERE local_day BETWEEN '2026-03-02' AND '2026-03-15'")
    }
    assert set(ids) == expected_ids


def test_json_pagination_while_a_device_is_still_syncing(hq: HQ) -> None:
    """Pages are taken while an agent syncs 600 taps in small batches: no event twice, none skipped."""
    site = Site("sync-1", "Europe/Helsinki", None)
    start = datetime(2026, 2, 10, 8, 0)
    taps = [Tap("sync-1", start + timedelta(seconds=37 * i), i % 4) for i in range(600)]
    agent, store = record(hq.workdir / "devices", hq.broker, site, taps, batch_size=10, max_inflight_batches=1)
    span = {"from": "2026-02-10", "to": "2026-02-11", "location": "sync-1"}

    def at_hub() -> int:
        return int(hq.hub.sql("SELECT COUNT(*) FROM events WHERE location_id = 'sync-1'")[0][0])

    agent.start()
    try:
        wait_until(lambda: at_hub() >= 100, 30, "the first taps to reach the hub")
        before = at_hub()
        ids: list[str] = []
        cursor = None
        while True:
            page = hq.call("/api/v1/events", limit=50, **span, **({"cursor": cursor} if cursor else {})).json()
            ids += [r["id"] for r in page["rows"]]
            if (cursor := page["next_cursor"]) is None:
                break
            time.sleep(0.02)
        during = at_hub()
        assert len(ids) == len(set(ids)), "an event came twice"
        assert before < during, "the agent was not syncing while the pages were read"
        # Nothing skipped: every event up to the last one returned came, newer ones are for the next export.
        last = ids[-1]
        upto = {
            r[0]
            for r in hq.hub.sql(
                "SELECT id FROM events WHERE location_id = 'sync-1' AND pk <= (SELECT pk FROM events WHERE id = ?)",
                (last,),
            )
        }
        assert set(ids) == upto and len(ids) >= before
        wait_until(lambda: backlog(store) == 0, 60, "the agent to finish syncing")
    finally:
        agent.stop()
    every = []
    cursor = None
    while True:
        page = hq.call("/api/v1/events", limit=400, **span, **({"cursor": cursor} if cursor else {})).json()
        every += [r["id"] for r in page["rows"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(every) == len(set(every)) == 600
