"""The actions API, an action's effect and the forecast, against a real hub process on each backend.

The hub's database is filled through the storage contract first (tests/hub/action_data.py: eight
weeks of answers, one store that fixed its queues four weeks ago), then ``touchpoint-hub serve``
serves it over real HTTP. Tokens: admin, an unlimited analyst, and analysts limited to a region.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hub.broker import MosquittoBroker, MosquittoConfig, free_port
from hub.storage import open_storage
from tests.hub.action_data import TREATED, fill, start_day
from tests.support import ENV, Hub

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)
STARTED = start_day(NOW)


@dataclass
class Api:
    hub: Hub
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, who: str) -> str:
        """``admin``, ``analyst`` (no region), or ``nordics`` / ``americas`` (analysts limited to that region)."""
        if who not in self.tokens:
            role = "admin" if who == "admin" else "analyst"
            args = [sys.executable, "-m", "hub.cli", "token", "create", "--db", str(self.hub.db), "--role", role,
                    "--name", f"{who} team"]  # fmt: skip
            args += ["--region", who] if who in ("nordics", "americas") else []
            out = subprocess.run(args, check=True, capture_output=True, text=True, env=ENV).stdout
            self.tokens[who] = out.strip().splitlines()[-1]
        return self.tokens[who]

    def call(self, method: str, path: str, who: str = "admin", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(who)}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.hub.url + path, headers=headers, timeout=60, **kwargs)

    def ok(self, method: str, path: str, who: str = "admin", expect: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, who, **kwargs)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Api]:
    base = tmp_path_factory.mktemp("actions-api")
    db: str = str(base / "hub.sqlite")
    if request.param == "postgresql":
        db = request.getfixturevalue("pg_cluster").create_database(f"act_{uuid.uuid4().hex[:8]}")
    storage = open_storage(db)
    try:
        fill(storage, NOW)
    finally:
        storage.close()
    broker = MosquittoBroker(MosquittoConfig(free_port(), data_dir=base / "broker", persistence=False))
    broker.start()
    hub = Hub(base, broker.url, db if request.param == "postgresql" else None)
    hub.start()
    try:
        yield Api(hub)
    finally:
        hub.stop()
        broker.stop()


def action(location: str = TREATED, **kw: Any) -> dict[str, Any]:
    body = {"location_id": location, "text": "We opened a second till at lunch.", "reason": "queue",
            "started_on": STARTED.isoformat(), "ended_on": None}  # fmt: skip
    return {**body, **kw}


def test_logging_listing_editing_and_deleting_actions_by_role_and_region(api: Api) -> None:
    created = api.ok("POST", "/api/v1/actions", json=action(texts={"fi": "Avasimme toisen kassan."}), expect=201)
    uuid.UUID(created["id"])
    assert created["logged_by"] == "admin team"
    assert (created["location_id"], created["reason"], created["started_on"]) == (TREATED, "queue", str(STARTED))
    assert created["texts"] == {"fi": "Avasimme toisen kassan."}
    # A region-limited token logs in its region only; an analyst without a region reads only.
    mine = api.ok("POST", "/api/v1/actions", "nordics", json=action("hel-2", reason=None, text="New signs."),
                  expect=201)  # fmt: skip
    assert mine["logged_by"] == "nordics team"
    outside = api.call("POST", "/api/v1/actions", "nordics", json=action("nyc-1"))
    assert outside.status_code == 403 and "outside this token's region" in outside.text
    reader = api.call("POST", "/api/v1/actions", "analyst", json=action())
    assert reader.status_code == 403 and "region-limited token" in reader.text
    us = api.ok("POST", "/api/v1/actions", "americas", json=action("nyc-1", text="Faster tills."), expect=201)

    def listed(who: str, **params: str) -> set[str]:
        return {r["id"] for r in api.ok("GET", "/api/v1/actions", who, params=params)["rows"]}

    assert {created["id"], mine["id"], us["id"]} <= listed("analyst")
    assert listed("nordics") & {created["id"], mine["id"], us["id"]} == {created["id"], mine["id"]}
    assert listed("admin", location="nyc-1") == {us["id"]}
    assert api.call("GET", "/api/v1/actions", "nordics", params={"location": "nyc-1"}).status_code == 403
    assert api.call("GET", f"/api/v1/actions/{us['id']}", "nordics").status_code == 403
    assert api.ok("GET", f"/api/v1/actions/{mine['id']}", "nordics")["text"] == "New signs."

    ended = (STARTED + timedelta(days=60)).isoformat()
    patched = api.ok("PATCH", f"/api/v1/actions/{mine['id']}", "nordics", json={"ended_on": ended, "reason": "staff"})
    assert (patched["ended_on"], patched["reason"], patched["text"]) == (ended, "staff", "New signs.")
    assert api.call("PATCH", f"/api/v1/actions/{mine['id']}", "americas", json={"text": "x"}).status_code == 403
    assert api.call("DELETE", f"/api/v1/actions/{mine['id']}", "analyst").status_code == 403
    assert api.call("DELETE", f"/api/v1/actions/{mine['id']}", "nordics").status_code == 204
    assert api.call("GET", f"/api/v1/actions/{mine['id']}").status_code == 404
    assert api.call("DELETE", f"/api/v1/actions/{mine['id']}").status_code == 404
    assert mine["id"] not in listed("admin")
    assert api.hub.sql("SELECT COUNT(*) FROM actions WHERE id = ? AND deleted_at IS NOT NULL", (mine["id"],)) == [(1,)]
    api.ok("DELETE", f"/api/v1/actions/{us['id']}", expect=204)
    api.ok("DELETE", f"/api/v1/actions/{created['id']}", expect=204)


BAD = [
    (action(location="nowhere"), "location_id: no location 'nowhere'"),
    (action(started_on="22.11.2026"), "started_on: expected a date YYYY-MM-DD"),
    (action(started_on="2026-02-30"), "started_on: expected a date YYYY-MM-DD"),
    (action(ended_on=(STARTED - timedelta(days=1)).isoformat()), "is before started_on"),
    (action(reason="parking"), "reason: 'parking' is not a reason of hel-1's survey (queue, staff"),
    (action(text="   "), "text: must not be empty"),
    (action(text="x" * 301), "text: at most 300 characters"),
    (action(texts={"finnish!": "x"}), "texts: 'finnish!' is not a language code"),
    (action(texts={"FI": "x"}), "texts: 'FI' is not a language code"),
    (action(started_on="0001-01-01"), "started_on: 0001-01-01 is not between 2000-01-01 and 2099-12-31"),
    (action(text="\ud800"), "text: not valid Unicode text"),
    (action(reason=["queue"]), "reason: ['queue'] is not a reason"),
    (action(ended_on=5), "ended_on: expected a date YYYY-MM-DD (got 5)"),
    (action(colour="red"), "colour: is not a known field"),
    ({k: v for k, v in action().items() if k != "text"}, "text: required"),
]


@pytest.mark.parametrize(("body", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_input_is_refused_with_a_message_naming_the_field(api: Api, body: dict[str, Any], message: str) -> None:
    raw = json.dumps(body)  # ASCII JSON: a lone surrogate travels as its escape, as a client could send it
    response = api.call("POST", "/api/v1/actions", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


def test_bad_edits_are_refused(api: Api) -> None:
    created = api.ok("POST", "/api/v1/actions", json=action("hel-3", reason=None), expect=201)
    try:
        path = f"/api/v1/actions/{created['id']}"
        early = (STARTED - timedelta(days=3)).isoformat()
        edits = [
            ({"ended_on": early}, "is before started_on"),
            ({"location_id": "hel-2"}, "location_id: is not a known field"),
            ({"text": ""}, "text: must not be empty"),
        ]
        for body, message in edits:
            response = api.call("PATCH", path, json=body)
            assert response.status_code == 422 and message in response.text, response.text
        assert api.call("PATCH", "/api/v1/actions/no-such-id", json={"text": "x"}).status_code == 404
    finally:
        api.ok("DELETE", f"/api/v1/actions/{created['id']}", expect=204)


def test_the_effect_of_the_queue_fix_is_improved_against_peers_without_actions_of_their_own(api: Api) -> None:
    fix = api.ok("POST", "/api/v1/actions", json=action(), expect=201)
    other = api.ok("POST", "/api/v1/actions", json=action("hel-4", reason="staff",
                   started_on=(STARTED - timedelta(days=7)).isoformat()), expect=201)  # fmt: skip
    try:
        found = api.ok("GET", f"/api/v1/actions/{fix['id']}/effect", "nordics")
        assert found["verdict"] == "improved", found
        assert found["primary"]["measure"] == "reason_share"
        low, high = found["primary"]["ci95"]
        assert high < 0 and low <= found["primary"]["estimate"] <= high
        assert found["peers"] == ["hel-2", "hel-3"]  # same region; hel-4 has an overlapping action
        assert found["excluded_peers"] == ["hel-4"]
        n = found["n"]
        assert min(n["treated_before"], n["treated_after"]) > 1000 and n["peers_before"] > 2000
        assert (found["weeks_before"], found["weeks_after"]) == (4, 4)
        assert found["happy_index"]["estimate"] > 0

        chosen = api.ok("GET", f"/api/v1/actions/{fix['id']}/effect", params={"peers": "hel-3", "weeks": 3})
        assert (chosen["peers"], chosen["weeks_before"]) == (["hel-3"], 3)
        # hel-2's unchanged weeks: nothing to see.
        placebo = api.ok("POST", "/api/v1/actions", json=action("hel-2"), expect=201)
        try:
            assert api.ok("GET", f"/api/v1/actions/{placebo['id']}/effect")["verdict"] == "no detectable change"
        finally:
            api.ok("DELETE", f"/api/v1/actions/{placebo['id']}", expect=204)
        # Too early: it started last week.
        late = api.ok("POST", "/api/v1/actions", json=action("hel-3", started_on=str(STARTED + timedelta(days=25))),
                      expect=201)  # fmt: skip
        try:
            assert api.ok("GET", f"/api/v1/actions/{late['id']}/effect")["verdict"] == "too early to tell"
        finally:
            api.ok("DELETE", f"/api/v1/actions/{late['id']}", expect=204)

        assert api.call("GET", f"/api/v1/actions/{fix['id']}/effect", "americas").status_code == 403
        assert api.call("GET", f"/api/v1/actions/{fix['id']}/effect", params={"weeks": 1}).status_code == 422
        refused = api.call("GET", f"/api/v1/actions/{fix['id']}/effect", "nordics", params={"peers": "nyc-1"})
        assert refused.status_code == 403, refused.text
        assert api.call("GET", f"/api/v1/actions/{fix['id']}/effect", params={"peers": "zzz"}).status_code == 404
        assert api.call("GET", "/api/v1/actions/nope/effect").status_code == 404
    finally:
        api.ok("DELETE", f"/api/v1/actions/{fix['id']}", expect=204)
        api.ok("DELETE", f"/api/v1/actions/{other['id']}", expect=204)


def test_the_forecast_covers_each_local_day_and_hour_with_bands(api: Api) -> None:
    found = api.ok("GET", "/api/v1/forecast", "nordics", params={"location": "hel-2", "days": 7})
    assert len(found["days"]) == 7 and len(found["hours"]) == 7 * 24
    first = datetime.fromisoformat(found["from"]).date()
    assert [d["day"] for d in found["days"]] == [str(first + timedelta(days=i)) for i in range(7)]
    for day in found["days"]:
        a = day["answers"]
        assert a["p95"][0] <= a["p80"][0] <= a["expected"] <= a["p80"][1] <= a["p95"][1]
        assert 40 < a["expected"] < 80  # about 60 answers a day (10 open hours x 6)
        assert 0 <= day["happy_index"]["p95"][0] <= day["happy_index"]["expected"] <= 100
    closed = [h for h in found["hours"] if h["hour"] not in range(9, 19)]
    assert all(h["answers"]["expected"] == 0 for h in closed)
    assert api.call("GET", "/api/v1/forecast", "americas", params={"location": "hel-2"}).status_code == 403
    assert api.call("GET", "/api/v1/forecast", params={"location": "nowhere"}).status_code == 404
    assert api.call("GET", "/api/v1/forecast", params={"location": "hel-2", "days": 0}).status_code == 422
