"""Every number a page shows equals the API's JSON for the same range; charts have the expected shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.dashboard.conftest import api_get, login
from tests.dashboard.stack import (
    OFFLINE_DEVICE,
    SITES,
    SKEWED_CLOCK_DEVICE,
    Fleet,
    local_days,
    local_slots,
    negative_reasons,
)

pytestmark = pytest.mark.integration
Api = Callable[..., Any]


def value(page: Page, testid: str) -> str:
    got = page.get_by_test_id(testid).get_attribute("data-value")
    assert got is not None, f"{testid} has no data-value"
    return got


def text(page: Page, testid: str) -> str:
    return page.get_by_test_id(testid).inner_text().strip()


def data_of(page: Page, chart: str, mark: str) -> list[dict[str, str]]:
    """The data-* attributes of every mark in a chart, in document order, in one round trip."""
    marks = page.get_by_test_id(chart).get_by_test_id(mark)
    return list(marks.evaluate_all("els => els.map(e => ({...e.dataset}))"))


def form_range(page: Page) -> dict[str, str]:
    return {
        "from": page.get_by_test_id("filter-from").input_value(),
        "to": page.get_by_test_id("filter-to").input_value(),
    }


def assert_score_shown(page: Page, prefix: str, suffix: str, row: dict[str, Any]) -> None:
    """Happy Index, n and % positive as data (exact API value) and as text (1 decimal)."""
    assert float(value(page, f"{prefix}hi{suffix}")) == row["happy_index"]
    assert text(page, f"{prefix}hi{suffix}") == f"{row['happy_index']:.1f}"
    assert int(value(page, f"{prefix}n{suffix}")) == row["n"]
    assert text(page, f"{prefix}n{suffix}").split()[0] == f"{row['n']:,}"
    assert float(value(page, f"{prefix}pos{suffix}")) == row["pct_positive"]
    assert text(page, f"{prefix}pos{suffix}") == f"{row['pct_positive']:.1f}%"


def test_fleet_leaderboard_equals_the_api(fleet: Fleet, page: Page, api: Api) -> None:
    login(page, fleet.hub.url, fleet.tokens["admin"])
    period = form_range(page)
    start, end = date.fromisoformat(period["from"]), date.fromisoformat(period["to"])
    assert (end - start).days == 27, "the default range is the last 28 days"
    rows = {r["location_id"]: r for r in api("/api/v1/scores", **period)["rows"] if r["question_id"] == "default"}
    assert set(rows) == {s.location_id for s in SITES}
    assert page.get_by_test_id("leaderboard").locator("tbody tr").count() == len(rows)
    for location_id, row in rows.items():
        assert_score_shown(page, "", f"-{location_id}", row)
        small = page.get_by_test_id(f"small-{location_id}").count() == 1
        assert small is row["small_sample"], location_id
        assert page.get_by_test_id(f"ci-{location_id}").locator("path").count() == 1, "one CI whisker per row"
    assert rows["tyo-shibuya"]["small_sample"] is True
    (total,) = [r for r in api("/api/v1/scores", group_by="all", **period)["rows"] if r["question_id"] == "default"]
    assert_score_shown(page, "fleet-", "", total)


def test_fleet_change_against_the_previous_period_equals_the_api(fleet: Fleet, page: Page, api: Api) -> None:
    login(page, fleet.hub.url, fleet.tokens["admin"])
    page.get_by_test_id("filter-from").fill("2020-01-01")  # the GET form drives the range
    page.get_by_test_id("filter-to").fill("2020-01-31")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert form_range(page) == {"from": "2020-01-01", "to": "2020-01-31"}
    assert page.get_by_test_id("leaderboard").locator("tbody tr.no-data").count() == len(SITES)
    page.goto(fleet.hub.url + "/")
    period = form_range(page)
    rows = api("/api/v1/scores", question="default", compare="previous_period", **period)["rows"]
    assert len(rows) == len(SITES)
    for row in rows:
        badge = page.get_by_test_id(f"delta-{row['location_id']}")
        assert float(badge.get_attribute("data-value") or "nan") == row["delta"]["happy_index"]
        assert badge.get_attribute("data-significant") == str(row["significant"]["happy_index"]).lower()
        assert ("*" in badge.inner_text()) is row["significant"]["happy_index"]
    assert "▼" in text(page, "delta-nyc-5th") and "▲" in text(page, "delta-hel-kamppi")


def test_location_pages_equal_the_api_with_trend_and_heat_map(fleet: Fleet, page: Page, api: Api) -> None:
    login(page, fleet.hub.url, fleet.tokens["admin"])
    devices = {d["device_id"]: d for d in api("/api/v1/devices")["rows"]}
    for site in SITES:
        page.goto(f"{fleet.hub.url}/locations/{site.location_id}")
        assert text(page, "location-title") == site.name
        period = form_range(page)
        first, last = date.fromisoformat(period["from"]), date.fromisoformat(period["to"])
        (row,) = api("/api/v1/scores", location=site.location_id, question="default", **period)["rows"]
        assert_score_shown(page, "loc-", "", row)
        days = api("/api/v1/scores", group_by="day", location=site.location_id, question="default", **period)["rows"]
        points = data_of(page, "trend-chart", "trend-point")
        assert len(points) == len(days) == len(local_days(fleet.taps, site.location_id, first, last))
        assert [(p["day"], float(p["value"])) for p in points] == [(d["day"], d["happy_index"]) for d in days]
        cells = data_of(page, "heatmap", "heat-cell")
        assert len(cells) == 7 * 24
        shown = {(int(c["weekday"]), int(c["hour"])): int(c["n"]) for c in cells if c["n"] != "0"}
        slots = local_slots(fleet.taps, site.location_id, first, last)  # the taps' own truth, not the hub's
        assert shown == dict(slots), site.location_id
        for device_id in site.devices:
            expected = "true" if devices[device_id]["online"] else "false"
            assert page.get_by_test_id(f"online-{device_id}").get_attribute("data-online") == expected
        reasons = api("/api/v1/reasons", location=site.location_id, question="default", polarity="negative", **period)[
            "rows"
        ][:5]
        shown_reasons = (
            page.get_by_test_id("reasons")
            .locator("li")
            .evaluate_all("els => els.map(e => [e.dataset.reason, Number(e.querySelector('.reason-n').dataset.value)])")
        )
        assert shown_reasons == [[r["reason"], r["n"]] for r in reasons]
        truth = negative_reasons(fleet.taps, site.location_id, first, last)  # from the taps themselves
        assert {r["reason"]: r["n"] for r in reasons} == dict(truth.most_common(5)), site.location_id
        alerts = api("/api/v1/alerts", location=site.location_id)["rows"]
        shown_alerts = page.locator("[data-testid^=alert-]").evaluate_all("els => els.map(e => e.dataset.testid)")
        assert shown_alerts == [f"alert-{a['alert_id']}" for a in alerts]
        assert bool(alerts) is (site.location_id == "hel-kamppi"), "only Helsinki has a kiosk offline"


def test_devices_page_equals_the_api(fleet: Fleet, page: Page, api: Api) -> None:
    login(page, fleet.hub.url, fleet.tokens["admin"], "/login?next=/devices")
    rows = api("/api/v1/devices")["rows"]
    assert page.get_by_test_id("devices").locator("tbody tr").count() == len(rows) == 4
    for d in rows:
        device_id = d["device_id"]
        assert page.get_by_test_id(f"online-{device_id}").get_attribute("data-online") == str(d["online"]).lower()
        assert value(page, f"backlog-{device_id}") == str(d["backlog"])
        assert text(page, f"version-{device_id}") == d["version"]
        clock = page.get_by_test_id(f"clock-{device_id}").get_attribute("data-clock-ok")
        assert clock == str(d["clock_ok"]).lower()
        assert int(value(page, f"received-{device_id}")) == d["events_received"]
    by_id = {d["device_id"]: d for d in rows}
    assert by_id[OFFLINE_DEVICE]["online"] is False and by_id[SKEWED_CLOCK_DEVICE]["clock_ok"] is False
    assert "row-warn" in (page.get_by_test_id(f"device-{SKEWED_CLOCK_DEVICE}").get_attribute("class") or "")
    assert "row-bad" in (page.get_by_test_id(f"device-{OFFLINE_DEVICE}").get_attribute("class") or "")
    assert int(value(page, "devices-online")) == sum(1 for d in rows if d["online"])


def test_an_analyst_limited_to_a_region_sees_only_that_region(fleet: Fleet, page: Page) -> None:
    login(page, fleet.hub.url, fleet.tokens["nordics"])
    assert text(page, "viewer-role") == "analyst · europe"
    board = page.get_by_test_id("leaderboard").locator("tbody tr")
    assert board.count() == 1
    assert board.first.get_attribute("data-testid") == "row-hel-kamppi"
    period = form_range(page)  # the API, asked with the same token, agrees on every number
    (row,) = api_get(fleet, "nordics", "/api/v1/scores", question="default", **period)["rows"]
    assert_score_shown(page, "", "-hel-kamppi", row)
    (total,) = api_get(fleet, "nordics", "/api/v1/scores", group_by="all", question="default", **period)["rows"]
    assert_score_shown(page, "fleet-", "", total)
    options = page.get_by_test_id("filter-region").locator("option").all_inner_texts()
    assert options == ["All of europe", "europe", "europe/nordics"]
    response = page.goto(f"{fleet.hub.url}/locations/nyc-5th")
    assert response is not None and response.status == 404
    page.goto(fleet.hub.url + "/?region=americas")  # a region outside the scope is ignored, not widened
    assert page.get_by_test_id("leaderboard").locator("tbody tr").count() == 1
    page.goto(fleet.hub.url + "/devices")
    shown = page.get_by_test_id("devices").locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.testid)")
    assert shown == [f"device-{d['device_id']}" for d in api_get(fleet, "nordics", "/api/v1/devices")["rows"]]
    assert shown == ["device-hel-1", "device-hel-2"]


def test_the_region_filter_narrows_the_fleet(fleet: Fleet, page: Page) -> None:
    login(page, fleet.hub.url, fleet.tokens["admin"])
    page.get_by_test_id("filter-region").select_option("americas")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert "region=americas" in page.url
    rows = page.get_by_test_id("leaderboard").locator("tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-testid") == "row-nyc-5th"
