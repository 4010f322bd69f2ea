"""The location page's actions, their effect, the markers on the trend chart and the week-ahead forecast.

A real hub process serves a database filled through the storage contract (tests/hub/action_data.py:
hel-1 fixed its queues four weeks ago); actions are logged over the API; headless Chromium reads the
page, and every number is compared with the API's answer for the same thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from hub.broker import MosquittoBroker, MosquittoConfig, free_port
from hub.storage.sqlite import SqliteStorage
from tests.dashboard.conftest import LAPTOP, SCREENSHOTS, login
from tests.hub.action_data import TREATED, fill, start_day
from tests.support import Hub

NOW = datetime.now(UTC)


@dataclass
class Site:
    hub: Hub
    admin: str
    nordics: str

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.admin}"}
        response = httpx.request(method, self.hub.url + path, headers=headers, timeout=60, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("actions-page")
    storage = SqliteStorage(base / "hub.sqlite")
    try:
        fill(storage, NOW)
        admin = storage.create_token("HQ admin", "admin", None)[1]
        nordics = storage.create_token("Nordics team", "analyst", "nordics")[1]
    finally:
        storage.close()
    broker = MosquittoBroker(MosquittoConfig(free_port(), data_dir=base / "broker", persistence=False))
    broker.start()
    hub = Hub(base, broker.url)
    hub.start()
    try:
        yield Site(hub, admin, nordics)
    finally:
        hub.stop()
        broker.stop()


def test_actions_are_listed_with_their_verdict_and_marked_on_the_trend(site: Site, browser: Browser) -> None:
    started = start_day(NOW)
    fix = site.api("POST", "/api/v1/actions", json={
        "location_id": TREATED, "text": "A second till at lunch <b>now</b>.", "reason": "queue",
        "started_on": started.isoformat(), "ended_on": None,
    })  # fmt: skip
    later = site.api("POST", "/api/v1/actions", json={
        "location_id": TREATED, "text": "Cleaner tables.", "reason": None,
        "started_on": (NOW.date() - timedelta(days=3)).isoformat(),
    })  # fmt: skip
    try:
        context = browser.new_context(viewport=LAPTOP)  # type: ignore[arg-type]
        page = context.new_page()
        login(page, site.hub.url, site.nordics)
        period = {"from": (started - timedelta(days=14)).isoformat(), "to": NOW.date().isoformat()}
        page.goto(f"{site.hub.url}/locations/{TREATED}?from={period['from']}&to={period['to']}")
        rows = page.get_by_test_id("actions").locator("tbody tr")
        assert rows.count() == 2
        first = page.get_by_test_id(f"action-{fix['id']}")
        assert first.get_by_test_id("action-text").inner_text() == "A second till at lunch <b>now</b>."  # escaped
        assert first.get_by_test_id("action-started").inner_text() == started.isoformat()
        assert first.get_by_test_id("action-logged-by").inner_text() == "HQ admin"
        effect = site.api("GET", f"/api/v1/actions/{fix['id']}/effect")
        assert effect["verdict"] == "improved"
        assert first.get_by_test_id("action-verdict").get_attribute("data-value") == "improved"
        assert f"{effect['primary']['estimate']:+.1f} points vs peers" in first.inner_text()
        recent = page.get_by_test_id(f"action-{later['id']}").get_by_test_id("action-verdict")
        assert recent.get_attribute("data-value") == "too early to tell"
        markers = page.get_by_test_id("trend-chart").get_by_test_id("action-marker")
        assert sorted(m.get_attribute("data-day") or "" for m in markers.all()) == sorted(
            [started.isoformat(), later["started_on"]]
        )
        # The marker sits on its day's point of the trend line.
        point = page.locator(f'[data-testid="trend-point"][data-day="{started.isoformat()}"]')
        line = page.locator(f'[data-testid="action-marker"][data-day="{started.isoformat()}"] line')
        assert abs(float(point.get_attribute("cx") or 0) - float(line.get_attribute("x1") or -1)) < 0.2
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "dashboard-actions-1280x800.png"), full_page=True)
        context.close()
    finally:
        site.api("DELETE", f"/api/v1/actions/{fix['id']}")
        site.api("DELETE", f"/api/v1/actions/{later['id']}")


def test_the_forecast_for_the_coming_week_matches_the_api(site: Site, page: Page) -> None:
    login(page, site.hub.url, site.nordics)
    page.goto(f"{site.hub.url}/locations/hel-2")
    days = page.get_by_test_id("forecast-chart").get_by_test_id("forecast-day")
    expected = site.api("GET", "/api/v1/forecast", params={"location": "hel-2", "days": 7})["days"]
    assert days.count() == 7
    for shown, want in zip(days.all(), expected, strict=True):
        assert shown.get_attribute("data-day") == want["day"]
        assert float(shown.get_attribute("data-expected") or -1) == pytest.approx(want["answers"]["expected"], abs=0.01)
        lo, hi = (float(v) for v in (shown.get_attribute("data-p95") or "").split(","))
        assert (lo, hi) == pytest.approx(tuple(want["answers"]["p95"]), abs=0.01)
        assert float(shown.get_attribute("data-happy-index") or -1) == pytest.approx(
            want["happy_index"]["expected"], abs=0.01
        )
    assert page.get_by_test_id("empty-actions").is_visible()


def test_a_location_without_history_says_why_there_is_no_forecast(site: Site, page: Page, tmp_path: Path) -> None:
    site.api("POST", "/api/v1/locations", json={"location_id": "new-1", "name": "New", "timezone": "UTC",
                                               "region": "nordics"})  # fmt: skip
    login(page, site.hub.url, site.admin)
    page.goto(f"{site.hub.url}/locations/new-1")
    assert "has no answers" in page.get_by_test_id("empty-forecast").inner_text()
