"""The alert inbox page in headless Chromium: alerts fired by a real hub from real taps, worked through the page.

Its own small fleet (Mosquitto, the hub, a kiosk in New York and one in Helsinki), so the alerts made here
do not show up in the shared fleet's location pages: a burst of negative taps in New York fires a
``pct_negative`` alert, a run of happy taps in Helsinki a ``praise`` one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from edge_agent.config import load_config
from edge_agent.store import DeviceStore
from hub.broker import MosquittoBroker, MosquittoConfig, find_mosquitto, free_port
from tests.dashboard.conftest import LAPTOP, SCREENSHOTS, TABLET, login
from tests.dashboard.stack import SITES, create_token, register_sites
from tests.dashboard.test_screenshots import shoot
from tests.support import Agent, Hub, wait_until, write_device_config

pytestmark = pytest.mark.integration
COMMENT = "Second till opened at 14:10; queue gone by 14:25."


@dataclass
class InboxFleet:
    broker: MosquittoBroker
    hub: Hub
    agents: list[Agent] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    negative: int = 0  # New York's pct_negative episode
    praise: int = 0  # Helsinki's praise episode

    def api(self, method: str, path: str, who: str = "admin", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        response = httpx.request(method, self.hub.url + path, headers=headers, timeout=10, **kwargs)
        assert response.is_success, response.text
        return response.json()

    def stop(self) -> None:
        for agent in self.agents:
            agent.stop()
        self.hub.stop()
        self.broker.stop()


def _tap(config: Path, values: list[int]) -> None:
    """Taps recorded now into the kiosk's store; its agent process sends them to the hub."""
    loaded = load_config(config)
    with DeviceStore(loaded.store.path, loaded.timezone) as store:
        for value in values:
            store.record(value, "default", 4, source="sim")


def _fired(fleet: InboxFleet, kind: str) -> int:
    rows = [r for r in fleet.api("GET", "/api/v1/alerts")["rows"] if r["kind"] == kind and r["state"] == "firing"]
    return int(rows[0]["alert_id"]) if rows else 0


@pytest.fixture(scope="module")
def inbox_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InboxFleet]:
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run scripts/test (it installs it) or apt-get install mosquitto")
    workdir = tmp_path_factory.mktemp("inbox")
    broker = MosquittoBroker(MosquittoConfig(free_port(), data_dir=workdir / "broker", persistence=False))
    broker.start()
    (workdir / "hub").mkdir()
    hub = Hub(workdir / "hub", broker.url)
    hub.args += ["--alert-interval-s", "0.3"]
    fleet = InboxFleet(broker, hub)
    try:
        hub.start()
        fleet.tokens = {
            "admin": create_token(hub, "admin", "HQ admin"),
            "nordics": create_token(hub, "analyst", "Nordics analyst", "europe"),
        }
        register_sites(hub, fleet.tokens["admin"])
        rules = [
            {"name": "Checkout mood", "kind": "pct_negative", "scope_kind": "location", "scope": "nyc-5th"},
            {"name": "Great hour", "kind": "praise", "scope_kind": "location", "scope": "hel-kamppi",
             "params": {"min_n": 6}},
        ]  # fmt: skip
        for rule in rules:
            fleet.api("POST", "/api/v1/alerts/rules", json=rule)
        sites = {s.location_id: s for s in SITES}
        configs = {}
        for device, location in (("nyc-1", "nyc-5th"), ("hel-1", "hel-kamppi")):
            tz = sites[location].timezone
            configs[device] = write_device_config(workdir / "devices", device, location, tz, broker.url)
            fleet.agents.append(Agent(configs[device]))
            fleet.agents[-1].start()
        _tap(configs["nyc-1"], [3, 2, 0, 0, 1, 0, 1, 0])  # 6 of 8 negative: at least 50% of at least 4
        _tap(configs["hel-1"], [3, 3, 2, 3, 3, 3, 2, 3])  # all positive: at least 90% of at least 6
        fleet.negative = wait_until(lambda: _fired(fleet, "pct_negative"), 30, "New York's negative alert")
        fleet.praise = wait_until(lambda: _fired(fleet, "praise"), 30, "Helsinki's praise alert")
    except BaseException:
        fleet.stop()
        raise
    yield fleet
    fleet.stop()


def shown(page: Page) -> list[int]:
    """The episode ids the inbox page lists, in order."""
    ids = page.locator("details.episode").evaluate_all("els => els.map(e => e.id)")
    return [int(i.removeprefix("alert-")) for i in ids]


def api_ids(fleet: InboxFleet, who: str = "admin", **params: Any) -> list[int]:
    return [r["alert_id"] for r in fleet.api("GET", "/api/v1/alerts", who, params=params)["rows"]]


def test_an_alert_is_acknowledged_assigned_and_commented_on_through_the_page(
    inbox_fleet: InboxFleet, page: Page
) -> None:
    fleet, alert = inbox_fleet, inbox_fleet.negative
    login(page, fleet.hub.url, fleet.tokens["admin"])
    page.get_by_test_id("nav-alerts").click()
    page.wait_for_url(fleet.hub.url + "/alerts")
    assert shown(page) == api_ids(fleet, inbox="open")
    assert set(shown(page)) == {fleet.praise, alert}
    row = page.get_by_test_id(f"inbox-{alert}")
    assert row.get_attribute("data-inbox") == "open" and row.get_attribute("data-state") == "firing"
    assert row.get_by_test_id(f"rule-{alert}").inner_text() == "Checkout mood"
    assert row.get_by_test_id(f"location-{alert}").inner_text() == "New York 5th Ave"
    assert row.locator("summary .pill").get_attribute("data-pill") == "firing"
    assert not page.get_by_test_id(f"ack-{alert}").is_visible(), "the detail opens on a click"
    row.locator("summary").click()
    page.get_by_test_id(f"ack-{alert}").click()
    page.wait_for_url(f"{fleet.hub.url}/alerts/{alert}?show=open#alert-{alert}")
    assert page.get_by_test_id(f"acked-{alert}").inner_text() == "acknowledged by HQ admin"
    assert page.get_by_test_id(f"ack-{alert}").count() == 0, "acknowledged once is enough"
    page.get_by_test_id(f"assignee-input-{alert}").fill("  mia@example.com ")
    page.get_by_test_id(f"assign-{alert}").click()
    page.wait_for_load_state()
    page.get_by_test_id(f"comment-input-{alert}").fill(COMMENT)
    page.get_by_test_id(f"comment-{alert}").click()
    page.wait_for_load_state()
    notes = page.get_by_test_id(f"thread-{alert}").locator("li")
    assert notes.evaluate_all("els => els.map(e => [e.dataset.kind, e.dataset.author])") == [
        ["ack", "HQ admin"], ["assign", "HQ admin"], ["comment", "HQ admin"],
    ]  # fmt: skip
    assert notes.nth(1).get_by_test_id("note-assignee").inner_text() == "mia@example.com"
    assert notes.nth(2).get_by_test_id("note-text").inner_text() == COMMENT

    # The API tells the same story.
    got = fleet.api("GET", f"/api/v1/alerts/{alert}")
    assert (got["inbox"], got["acknowledged_by"], got["assignee"]) == ("acknowledged", "HQ admin", "mia@example.com")
    assert [(c["author"], c["text"]) for c in got["comments"]] == [("HQ admin", COMMENT)]
    assert [n["kind"] for n in got["notes"]] == ["ack", "assign", "comment"]

    # Back to the open inbox: it has left it; the acknowledged tab and the assignee filter find it.
    page.get_by_test_id("back-to-inbox").click()
    page.wait_for_url(fleet.hub.url + "/alerts?show=open")
    assert shown(page) == api_ids(fleet, inbox="open") == [fleet.praise]
    page.get_by_test_id("tab-acknowledged").click()
    page.wait_for_load_state()
    assert shown(page) == api_ids(fleet, inbox="acknowledged") == [alert]
    assert page.get_by_test_id(f"assignee-{alert}").inner_text() == "→ mia@example.com"
    page.get_by_test_id("tab-all").click()
    page.get_by_test_id("filter-assignee").fill("mia@example.com")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert "show=all" in page.url and "assignee=mia%40example.com" in page.url
    assert shown(page) == api_ids(fleet, assignee="mia@example.com") == [alert]

    # Assigning nobody unassigns.
    page.goto(f"{fleet.hub.url}/alerts/{alert}")
    page.get_by_test_id(f"assignee-input-{alert}").fill("")
    page.get_by_test_id(f"assign-{alert}").click()
    page.wait_for_load_state()
    assert fleet.api("GET", f"/api/v1/alerts/{alert}")["assignee"] is None
    assert page.get_by_test_id(f"inbox-{alert}").get_attribute("data-assignee") == ""


def test_a_region_limited_login_sees_and_works_only_its_region(
    inbox_fleet: InboxFleet, page: Page, context: BrowserContext
) -> None:
    fleet = inbox_fleet
    login(page, fleet.hub.url, fleet.tokens["nordics"])
    page.goto(fleet.hub.url + "/alerts?show=all")
    assert shown(page) == api_ids(fleet, "nordics") == [fleet.praise]
    assert fleet.negative in api_ids(fleet), "the admin sees New York's alert"
    page.goto(fleet.hub.url + "/alerts?show=all&location=nyc-5th")  # out of scope: ignored, not widened
    assert shown(page) == [fleet.praise]
    options = page.get_by_test_id("filter-location").locator("option").evaluate_all("os => os.map(o => o.value)")
    assert options == ["", "hel-kamppi"]
    response = page.goto(f"{fleet.hub.url}/alerts/{fleet.negative}")
    assert response is not None and response.status == 404, "another region's alert looks like an unknown one"
    before = fleet.api("GET", f"/api/v1/alerts/{fleet.negative}")["notes"]
    (cookie,) = [c for c in context.cookies() if c["name"] == "tp_session"]
    for action, form in (("ack", {}), ("assign", {"assignee": "me"}), ("comments", {"text": "mine now"})):
        posted = httpx.post(
            f"{fleet.hub.url}/alerts/{fleet.negative}/{action}",
            data=form,
            cookies={"tp_session": cookie["value"]},
            headers={"Origin": fleet.hub.url},
            follow_redirects=False,
        )
        assert posted.status_code == 404, (action, posted.text)
    assert fleet.api("GET", f"/api/v1/alerts/{fleet.negative}")["notes"] == before, "nothing changed"
    # Its own region's alert it can work.
    page.goto(f"{fleet.hub.url}/alerts/{fleet.praise}")
    page.get_by_test_id(f"comment-input-{fleet.praise}").fill("Thanked the morning shift.")
    page.get_by_test_id(f"comment-{fleet.praise}").click()
    page.wait_for_load_state()
    thread = fleet.api("GET", f"/api/v1/alerts/{fleet.praise}", "nordics")
    last = thread["comments"][-1]
    assert (last["author"], last["text"]) == ("Nordics analyst", "Thanked the morning shift.")


def test_praise_shows_a_green_good_news_pill_in_the_inbox_and_on_the_location_page(
    inbox_fleet: InboxFleet, page: Page
) -> None:
    fleet = inbox_fleet
    login(page, fleet.hub.url, fleet.tokens["admin"])
    page.goto(fleet.hub.url + "/alerts?show=all")
    good = page.get_by_test_id(f"inbox-{fleet.praise}").locator("summary .pill")
    bad = page.get_by_test_id(f"inbox-{fleet.negative}").locator("summary .pill")
    assert (good.get_attribute("data-pill"), good.inner_text().strip()) == ("good-news", "good news")
    assert (bad.get_attribute("data-pill"), bad.inner_text().strip()) == ("firing", "firing")
    colour = "e => getComputedStyle(e).backgroundColor"
    assert good.evaluate(colour) == "rgb(223, 245, 232)", "green"
    assert bad.evaluate(colour) == "rgb(251, 228, 231)", "red"
    page.goto(fleet.hub.url + "/locations/hel-kamppi")
    pill = page.get_by_test_id(f"alert-{fleet.praise}").locator(".pill")
    assert (pill.get_attribute("data-pill"), pill.inner_text().strip()) == ("good-news", "good news")
    page.goto(fleet.hub.url + "/locations/nyc-5th")
    pill = page.get_by_test_id(f"alert-{fleet.negative}").locator(".pill")
    assert (pill.get_attribute("data-pill"), pill.inner_text().strip()) == ("firing", "firing")
    page.get_by_test_id(f"alert-{fleet.negative}").get_by_role("link").click()  # on to the episode in the inbox
    page.wait_for_url(f"{fleet.hub.url}/alerts/{fleet.negative}")
    assert page.get_by_test_id(f"inbox-{fleet.negative}").get_attribute("open") is not None


def test_bad_input_and_cross_site_posts_are_refused(
    inbox_fleet: InboxFleet, page: Page, context: BrowserContext
) -> None:
    fleet, alert = inbox_fleet, inbox_fleet.praise
    login(page, fleet.hub.url, fleet.tokens["admin"])
    before = fleet.api("GET", f"/api/v1/alerts/{alert}")["notes"]
    page.goto(f"{fleet.hub.url}/alerts/{alert}")
    page.get_by_test_id(f"comment-input-{alert}").fill("   ")
    with page.expect_navigation() as sent:
        page.get_by_test_id(f"comment-{alert}").click()
    response = sent.value
    assert response is not None and response.status == 422
    assert page.get_by_role("status").inner_text() == "comment: must not be blank"
    (cookie,) = [c for c in context.cookies() if c["name"] == "tp_session"]
    forged = httpx.post(
        f"{fleet.hub.url}/alerts/{alert}/ack",
        cookies={"tp_session": cookie["value"]},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    anonymous = httpx.post(f"{fleet.hub.url}/alerts/{alert}/ack", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == f"/login?next=%2Falerts%2F{alert}"
    assert page.goto(f"{fleet.hub.url}/alerts/not-a-number") is not None
    assert page.get_by_role("heading").inner_text() == "Not found"
    assert fleet.api("GET", f"/api/v1/alerts/{alert}")["notes"] == before, "nothing changed"


@pytest.mark.parametrize("viewport", [LAPTOP, TABLET], ids=["laptop", "tablet"])
def test_screenshots_of_the_inbox(inbox_fleet: InboxFleet, browser: Browser, viewport: dict[str, int]) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        login(page, inbox_fleet.hub.url, inbox_fleet.tokens["admin"], "/login?next=%2Falerts%3Fshow%3Dall")
        page.locator("summary").first.click()
        shoot(page, "alerts")
    finally:
        context.close()
