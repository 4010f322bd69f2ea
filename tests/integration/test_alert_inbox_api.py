"""The alert inbox and digest subscriptions over HTTP, against a real ``touchpoint-hub serve`` (uvicorn)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.storage.base_alerts import AlertKey, NewAlert, RuleSpec
from hub.storage.base_analytics import LocationSpec
from hub.storage.sqlite import SqliteStorage
from tests.support import Hub

pytestmark = pytest.mark.integration


@dataclass
class Inbox:
    hub: Hub
    tokens: dict[str, str]
    alerts: dict[str, int]  # location -> its firing episode

    def call(self, method: str, path: str, who: str = "admin", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.request(method, self.hub.url + path, headers=headers, timeout=10, **kwargs)


@pytest.fixture
def inbox(hub: Hub) -> Iterator[Inbox]:
    storage = SqliteStorage(Path(hub.db))
    now = datetime.now(UTC)
    storage.register_location(LocationSpec("hel-1", "Helsinki", "Europe/Helsinki", "nordics/finland"), now)
    storage.register_location(LocationSpec("nyc-1", "New York", "America/New_York", "americas/us"), now)
    low = storage.create_rule(RuleSpec("Low index", "index_below", "all", None, {}, None), now)
    good = storage.create_rule(RuleSpec("Good hours", "praise", "all", None, {}, None), now)
    alerts = {}
    for location, rule in (("hel-1", low), ("nyc-1", good)):
        event = storage.fire_alert(NewAlert(AlertKey(rule.rule_id, location), f"{location}: look", {}), now, None, str)
        assert event is not None
        alerts[location] = event.alert_id
    tokens = {
        "admin": storage.create_token("Ann Admin", "admin", None)[1],
        "nordics": storage.create_token("Nora Nordics", "analyst", "nordics")[1],
        "analyst": storage.create_token("Al Analyst", "analyst", None)[1],
    }
    storage.close()
    yield Inbox(hub, tokens, alerts)


def test_acknowledge_assign_and_comment_then_read_the_thread(inbox: Inbox) -> None:
    hel = inbox.alerts["hel-1"]
    fresh = inbox.call("GET", f"/api/v1/alerts/{hel}").json()
    assert (fresh["inbox"], fresh["acknowledged_by"], fresh["assignee"], fresh["comments"]) == ("open", None, None, [])
    assert fresh["kind"] == "index_below" and fresh["rule_name"] == "Low index"
    acked = inbox.call("POST", f"/api/v1/alerts/{hel}/ack", who="nordics")
    assert acked.status_code == 200 and acked.json()["inbox"] == "acknowledged"
    assert acked.json()["acknowledged_by"] == "Nora Nordics"
    again = inbox.call("POST", f"/api/v1/alerts/{hel}/ack", who="admin").json()
    assert again["acknowledged_by"] == "Nora Nordics" and again["acknowledged_at"] == acked.json()["acknowledged_at"]
    assigned = inbox.call("POST", f"/api/v1/alerts/{hel}/assign", json={"assignee": " mia@example.com "}).json()
    assert assigned["assignee"] == "mia@example.com"
    posted = inbox.call("POST", f"/api/v1/alerts/{hel}/comments", json={"text": "Second till opened."}, who="nordics")
    assert posted.status_code == 201
    thread = inbox.call("GET", f"/api/v1/alerts/{hel}", who="nordics").json()
    assert [(c["author"], c["text"]) for c in thread["comments"]] == [("Nora Nordics", "Second till opened.")]
    assert [(n["kind"], n["author"]) for n in thread["notes"]] == [
        ("ack", "Nora Nordics"), ("ack", "Ann Admin"), ("assign", "Ann Admin"), ("comment", "Nora Nordics"),
    ]  # fmt: skip
    # The list: inbox state on every row, and the open / acknowledged / assignee filters.
    rows = inbox.call("GET", "/api/v1/alerts").json()["rows"]
    assert {r["alert_id"]: r["inbox"] for r in rows} == {hel: "acknowledged", inbox.alerts["nyc-1"]: "open"}
    assert [r["alert_id"] for r in inbox.call("GET", "/api/v1/alerts", params={"inbox": "open"}).json()["rows"]] == [
        inbox.alerts["nyc-1"]
    ]
    mine = inbox.call("GET", "/api/v1/alerts", params={"assignee": "mia@example.com"}).json()["rows"]
    assert [r["alert_id"] for r in mine] == [hel]
    unassigned = inbox.call("POST", f"/api/v1/alerts/{hel}/assign", json={"assignee": None}).json()
    assert unassigned["assignee"] is None


def test_region_limited_tokens_work_only_their_region_and_bad_input_is_named(inbox: Inbox) -> None:
    nyc = inbox.alerts["nyc-1"]
    for method, path, body in (
        ("GET", f"/api/v1/alerts/{nyc}", None),
        ("POST", f"/api/v1/alerts/{nyc}/ack", None),
        ("POST", f"/api/v1/alerts/{nyc}/comments", {"text": "hi"}),
        ("POST", f"/api/v1/alerts/{nyc}/assign", {"assignee": "me"}),
    ):
        response = inbox.call(method, path, who="nordics", json=body)
        assert response.status_code == 403, (path, response.text)
        assert f"alert {nyc} is outside this token's region 'nordics'" in response.json()["detail"]
    assert inbox.call("GET", f"/api/v1/alerts/{nyc}").json()["inbox"] == "open"  # nothing happened
    missing = inbox.call("POST", "/api/v1/alerts/99999/ack")
    assert missing.status_code == 404 and missing.json()["detail"] == "no alert 99999"
    blank = inbox.call("POST", f"/api/v1/alerts/{nyc}/comments", json={"text": "   "})
    assert blank.status_code == 422 and "text" in str(blank.json()["detail"])
    extra = inbox.call("POST", f"/api/v1/alerts/{nyc}/assign", json={"assignee": "x", "by": "y"})
    assert extra.status_code == 422 and "by" in str(extra.json()["detail"])
    assert inbox.call("GET", "/api/v1/alerts/rules").status_code == 200  # still the rules, not an episode


def test_digest_subscriptions_for_admins_and_within_a_region(inbox: Inbox) -> None:
    body = {"location": "hel-1", "channel": "email", "address": "mgr@example.com", "weekday": "mon", "hour": 8}
    created = inbox.call("POST", "/api/v1/digest/subscriptions", json=body, who="nordics")
    assert created.status_code == 201, created.text
    sub = created.json()
    assert (sub["target_kind"], sub["target"], sub["weekday"], sub["hour"], sub["timezone"]) == (
        "location", "hel-1", 0, 8, "Europe/Helsinki",
    )  # fmt: skip
    hook = {"region": "americas", "channel": "webhook", "address": "https://hooks.example.com/T0/secret",
            "weekday": 4, "hour": 17, "timezone": "America/New_York"}  # fmt: skip
    outside = inbox.call("POST", "/api/v1/digest/subscriptions", json=hook, who="nordics")
    assert outside.status_code == 403 and "region 'americas' is outside this token's region" in outside.text
    us = inbox.call("POST", "/api/v1/digest/subscriptions", json=hook).json()
    assert us["address"] == hook["address"]  # the admin sees it whole
    assert inbox.call("GET", "/api/v1/digest/subscriptions", who="analyst").status_code == 403
    seen = inbox.call("GET", "/api/v1/digest/subscriptions", who="nordics").json()["rows"]
    assert [r["subscription_id"] for r in seen] == [sub["subscription_id"]]
    everything = inbox.call("GET", "/api/v1/digest/subscriptions").json()["rows"]
    assert [r["subscription_id"] for r in everything] == [sub["subscription_id"], us["subscription_id"]]
    gone = inbox.call("DELETE", f"/api/v1/digest/subscriptions/{us['subscription_id']}", who="nordics")
    assert gone.status_code == 404  # not theirs to see
    assert inbox.call("DELETE", f"/api/v1/digest/subscriptions/{us['subscription_id']}").status_code == 204
    assert (
        inbox.call("DELETE", f"/api/v1/digest/subscriptions/{sub['subscription_id']}", who="nordics").status_code == 204
    )
    assert inbox.call("GET", "/api/v1/digest/subscriptions").json()["rows"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"location": None}, "give exactly one of 'location' and 'region'"),
        ({"location": "nowhere"}, "location: no location 'nowhere'"),
        ({"address": "not-an-address"}, "address: 'not-an-address' is not an e-mail address"),
        ({"channel": "webhook", "address": "ftp://x/y"}, "address: must be an http:// or https:// URL"),
        ({"weekday": 7}, "weekday: must be 0 (Monday) to 6 (Sunday)"),
        ({"hour": 24}, "hour"),
        ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not an IANA time zone"),
        ({"location": None, "region": "nordics"}, "timezone: required for a region's digest"),
        ({"location": None, "region": "Bad Region", "timezone": "UTC"}, "region: region 'Bad Region' must be"),
    ],
)
def test_bad_subscriptions_are_4xx_naming_the_field(inbox: Inbox, change: dict[str, Any], message: str) -> None:
    body = {"location": "hel-1", "channel": "email", "address": "m@example.com", "weekday": 0, "hour": 8, **change}
    response = inbox.call("POST", "/api/v1/digest/subscriptions", json=body)
    assert 400 <= response.status_code < 500 and message in str(response.json()["detail"]), response.text
