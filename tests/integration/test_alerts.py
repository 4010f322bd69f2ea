"""Alerts end to end: real agents and taps, the hub's evaluator, and a real HTTP webhook receiver in this process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_agent.config import load_config
from edge_agent.store import DeviceStore
from hub.broker import MosquittoBroker
from tests.conftest import AgentFactory
from tests.support import ENV, Hub, wait_until

pytestmark = pytest.mark.integration


class WebhookReceiver:
    """A real HTTP server on a free loopback port that records every POST and answers with scripted statuses."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.bodies: list[dict[str, Any]] = []
        self.keys: list[str | None] = []  # each POST's Idempotency-Key header
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.bodies.append(json.loads(raw))
                    receiver.keys.append(self.headers.get("Idempotency-Key"))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"receiver says no")

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/secret-path"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.bodies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.fixture
def hub(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[Hub]:
    """The real hub, evaluating every 0.5 s and retrying webhooks after ~0.3 s, ~0.6 s, ..."""
    workdir = tmp_path / "hub"
    workdir.mkdir()
    process = Hub(workdir, mosquitto.url)
    process.args += ["--alert-interval-s", "0.5", "--webhook-retry-base-s", "0.3", "--webhook-max-attempts", "5"]
    process.start()
    yield process
    process.stop()


def create_rule(hub: Hub, **rule: Any) -> int:
    response = hub.request("POST", "/api/v1/alerts/rules", json=rule)
    assert response.status_code == 201, response.text
    return int(response.json()["rule_id"])


def record(config_path: Path, values: list[int], at: datetime | None = None) -> None:
    """Taps recorded into the device's store by this process (now, or ``at``); the agent process syncs them."""
    config = load_config(config_path)
    with DeviceStore(config.store.path, config.timezone) as store:
        for value in values:
            store.record(value, "default", 4, source="sim", now=at)


def alerts(hub: Hub, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = hub.get("/api/v1/alerts", **params)["rows"]
    return rows


def evaluations(hub: Hub) -> int:
    """The hub's count of alert evaluation passes, from /metrics."""
    for line in hub.request("GET", "/metrics").text.splitlines():
        if line.startswith("touchpoint_alert_evaluations_total "):
            return int(float(line.split()[1]))
    raise AssertionError("no touchpoint_alert_evaluations_total in /metrics")


def test_negative_burst_fires_once_with_one_slack_style_delivery(
    hub: Hub, make_agent: AgentFactory, receiver: WebhookReceiver
) -> None:
    registered = hub.request(
        "POST", "/api/v1/locations",
        json={"location_id": "store-n", "name": "Store N", "timezone": "Europe/Helsinki", "region": "nordics/finland"},
    )  # fmt: skip
    assert registered.status_code == 201, registered.text
    agent, config = make_agent("dev-n", "store-n", "Europe/Helsinki")
    agent.start()
    rule_id = create_rule(
        hub, name="Checkout mood", kind="pct_negative", scope_kind="location", scope="store-n", webhook_url=receiver.url
    )
    record(config, [3, 3, 2])  # a fine start: no alert
    record(config, [0, 0, 1, 0, 1, 0])  # then a burst of negative taps: 6 of 9
    wait_until(receiver.received, 15, "the webhook delivery")
    record(config, [0, 0, 0])  # more while it is firing: still one episode
    wait_until(lambda: hub.sql("SELECT COUNT(*) FROM events")[0][0] == 12, 10, "all taps to reach the hub")
    target = evaluations(hub) + 3
    wait_until(lambda: evaluations(hub) >= target, 10, "three more evaluation passes after the last taps")

    [delivery] = receiver.received()
    assert delivery["text"].startswith(":rotating_light: Touchpoint alert: Checkout mood (store-n)")
    alert = delivery["alert"]
    assert (alert["rule_id"], alert["kind"], alert["state"], alert["location_id"]) == (
        rule_id, "pct_negative", "firing", "store-n",
    )  # fmt: skip
    assert alert["details"]["n"] >= 4 and alert["details"]["pct_negative"] >= 50
    [row] = alerts(hub, location="store-n")
    assert row["state"] == "firing" and row["webhook"]["status"] == "delivered" and row["webhook"]["attempts"] == 1
    assert "secret-path" not in json.dumps(row)

    # An analyst limited to a region sees its alerts only; another region's analyst sees none.
    nordics, americas = region_token(hub, "nordics"), region_token(hub, "americas")
    assert [a["alert_id"] for a in scoped_alerts(hub, nordics)] == [row["alert_id"]]
    assert scoped_alerts(hub, americas) == []
    outside = httpx.get(
        hub.url + "/api/v1/alerts", params={"location": "store-n"}, headers={"Authorization": f"Bearer {americas}"}
    )
    assert outside.status_code == 403


def test_a_rise_in_live_negative_taps_fires_one_shift_alert_delivered_once(
    hub: Hub, make_agent: AgentFactory, receiver: WebhookReceiver
) -> None:
    agent, config = make_agent("dev-s", "store-s", "Europe/Helsinki")
    record(config, [3, 3, 2, 3, 3, 3, 0, 3, 2, 3] * 3, at=datetime.now(UTC) - timedelta(days=7))  # usual: 10%
    agent.start()
    wait_until(lambda: hub.sql("SELECT COUNT(*) FROM events")[0][0] == 30, 15, "last week's taps to reach the hub")
    rule_id = create_rule(
        hub, name="Rise in negative answers", kind="shift", scope_kind="location", scope="store-s",
        webhook_url=receiver.url,
    )  # fmt: skip
    record(config, [3, 2, 3, 0, 3])  # as usual: the sum stays near 0
    wait_until(lambda: hub.sql("SELECT COUNT(*) FROM events")[0][0] == 35, 10, "the usual taps to reach the hub")
    target = evaluations(hub) + 3
    wait_until(lambda: evaluations(hub) >= target, 10, "three evaluation passes over the usual taps")
    assert receiver.received() == []
    record(config, [0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0])  # 12 negative taps: 12 x ln 2 = 8.3 >= 6.5
    [delivery] = wait_until(receiver.received, 15, "the shift webhook")
    record(config, [0, 0, 1])  # still rising: the same episode
    wait_until(lambda: hub.sql("SELECT COUNT(*) FROM events")[0][0] == 50, 10, "all taps to reach the hub")
    target = evaluations(hub) + 3
    wait_until(lambda: evaluations(hub) >= target, 10, "three more evaluation passes after the last taps")

    assert len(receiver.received()) == 1
    alert = delivery["alert"]
    assert (alert["rule_id"], alert["kind"], alert["location_id"]) == (rule_id, "shift", "store-s")
    assert alert["details"]["negative"] >= 12 and alert["details"]["cusum"] >= 6.5
    assert alert["details"]["usual_pct_negative"] < 20  # this store's own 10%, pulled towards the 20% prior
    assert "usual for this weekday and hour" in delivery["text"]
    [row] = alerts(hub, location="store-s")
    assert row["state"] == "firing" and row["webhook"]["status"] == "delivered" and row["webhook"]["attempts"] == 1


def region_token(hub: Hub, region: str) -> str:
    args = [sys.executable, "-m", "hub.cli", "token", "create", "--db", str(hub.db), "--role", "analyst"]
    out = subprocess.run([*args, "--region", region], check=True, capture_output=True, text=True, env=ENV).stdout
    return out.strip().splitlines()[-1]


def scoped_alerts(hub: Hub, token: str) -> list[dict[str, Any]]:
    response = httpx.get(hub.url + "/api/v1/alerts", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


def test_a_failing_webhook_is_retried_until_delivered(hub: Hub, make_agent: AgentFactory) -> None:
    receiver = WebhookReceiver(statuses=[500, 500, 200])
    try:
        agent, config = make_agent("dev-r", "store-r")
        agent.start()
        create_rule(hub, kind="pct_negative", scope_kind="location", scope="store-r", webhook_url=receiver.url)
        record(config, [0, 0, 0, 0])
        wait_until(lambda: len(receiver.received()) >= 3, 20, "two failed attempts and a third that succeeds")
        row = wait_until(
            lambda: next((a for a in alerts(hub) if a["webhook"]["status"] == "delivered"), None),
            10,
            "the delivery to be recorded as delivered",
        )
    finally:
        receiver.close()
    assert row["webhook"]["attempts"] == 3 and row["webhook"]["last_error"] is None
    assert len(receiver.received()) == 3
    assert receiver.received()[0] == receiver.received()[2], "every retry sends the same body"
    [key] = set(receiver.keys)  # and the same idempotency key, in the header and the body
    assert key and key.startswith("touchpoint-alert-") and receiver.received()[0]["idempotency_key"] == key
    assert "HTTP 500: receiver says no" in hub.log() and "secret-path" not in hub.log()


def test_a_killed_device_fires_device_offline_after_its_last_will(
    hub: Hub, make_agent: AgentFactory, receiver: WebhookReceiver
) -> None:
    agent, _config = make_agent("dev-o", "store-o")
    agent.start()
    create_rule(hub, kind="device_offline", params={"minutes": 0}, webhook_url=receiver.url)
    online = wait_until(lambda: [d for d in hub.get("/api/v1/devices")["rows"] if d["online"]], 15, "dev-o online")
    assert [d["device_id"] for d in online] == ["dev-o"]
    agent.kill()  # SIGKILL: no goodbye; the broker publishes the last will after 1.5 x keepalive (5 s)
    [delivery] = wait_until(receiver.received, 20, "the device_offline webhook")
    assert (delivery["alert"]["kind"], delivery["alert"]["device_id"]) == ("device_offline", "dev-o")
    agent.start()
    wait_until(lambda: [a["state"] for a in alerts(hub)] == ["resolved"], 15, "the alert to resolve once it is back")
    assert len(receiver.received()) == 1


def test_alert_rule_api_validates_and_scopes(hub: Hub) -> None:
    bad = hub.request("POST", "/api/v1/alerts/rules", json={"kind": "pct_negative", "params": {"min_n": 0}})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("params.min_n: Input should be greater")
    assert hub.request("POST", "/api/v1/alerts/rules", json={"kind": "nope"}).status_code == 422
    rule_id = create_rule(hub, kind="index_below", scope_kind="region", scope="nordics")
    listed = hub.get("/api/v1/alerts/rules", role="admin")
    assert listed["kinds"]["pct_negative"] == {
        "window_min": 15.0,
        "question_id": None,
        "min_n": 4,
        "threshold_pct": 50.0,
    }
    patched = hub.request("PATCH", f"/api/v1/alerts/rules/{rule_id}", json={"params": {"threshold": 40}})
    assert patched.json()["params"]["threshold"] == 40 and patched.json()["scope"] == "nordics"
    assert hub.request("GET", "/api/v1/alerts/rules", role="analyst").status_code == 403
    assert hub.request("GET", "/api/v1/alerts", role="analyst").status_code == 200
    assert hub.request("GET", "/api/v1/alerts", params={"from": "2026-13-01"}).status_code == 422
    assert hub.request("DELETE", f"/api/v1/alerts/rules/{rule_id}").status_code == 204
    assert hub.request("DELETE", f"/api/v1/alerts/rules/{rule_id}").status_code == 404
