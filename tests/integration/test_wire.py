"""The wire protocol against a real hub: outside clients, duplicates, dead letters, local days, auth."""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_agent.config import load_config
from edge_agent.mqtt import make_client
from edge_agent.protocol import topic
from edge_agent.store import DeviceStore
from hub.broker import MosquittoBroker
from tests.conftest import AgentFactory
from tests.support import Hub, backlog, wait_until

pytestmark = pytest.mark.integration
DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def example_batch() -> dict[str, Any]:
    """The batch example of docs/protocol.md, exactly as an outside developer would copy it."""
    text = DOCS.read_text()
    match = re.search(r"<!-- example-batch -->\s*```json\n(.*?)```", text, re.S)
    assert match, "docs/protocol.md lost its example batch"
    batch: dict[str, Any] = json.loads(match.group(1))
    return batch


class AckListener:
    """A plain paho client subscribed to one device's ack topic."""

    def __init__(self, broker: MosquittoBroker, location_id: str, device_id: str) -> None:
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client = make_client(f"test-listener-{device_id}")
        self.client.on_message = lambda _c, _u, m: self.acks.put(json.loads(m.payload))
        subscribed = queue.Queue[bool]()
        self.client.on_subscribe = lambda *_: subscribed.put(True)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.client.subscribe(topic(location_id, device_id, "ack"), qos=1)
        subscribed.get(timeout=5)

    def publish(self, topic_name: str, payload: bytes) -> None:
        self.client.publish(topic_name, payload, qos=1).wait_for_publish(5)

    def next_ack(self) -> dict[str, Any]:
        return self.acks.get(timeout=15)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def total_n(hub: Hub, **params: str) -> int:
    rows = hub.get("/api/v1/scores", **{"from": "2020-01-01", "to": "2029-12-31", **params})["rows"]
    return sum(int(r["n"]) for r in rows)


def test_same_batch_twice_is_counted_once_and_both_acks_list_the_ids(hub: Hub, mosquitto: MosquittoBroker) -> None:
    batch = example_batch()
    ids = [e["id"] for e in batch["events"]]
    listener = AckListener(mosquitto, "store-1", "dev-1")
    try:
        payload = json.dumps(batch).encode()
        listener.publish(topic("store-1", "dev-1", "events"), payload)
        first = listener.next_ack()
        listener.publish(topic("store-1", "dev-1", "events"), payload)
        second = listener.next_ack()
    finally:
        listener.close()
    assert first["batch_id"] == second["batch_id"] == batch["batch_id"]
    assert sorted(first["accepted"]) == sorted(ids) and first["duplicates"] == []
    assert sorted(second["duplicates"]) == sorted(ids) and second["accepted"] == []
    assert total_n(hub, location="store-1") == 2
    assert hub.sql("SELECT COUNT(*) FROM events")[0][0] == 2


def test_outside_client_mosquitto_pub_with_the_documented_example(
    hub: Hub, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    assert shutil.which("mosquitto_pub") and shutil.which("mosquitto_sub"), "install mosquitto-clients"
    batch_file = tmp_path / "batch.json"
    batch_file.write_text(json.dumps(example_batch(), indent=2))
    port = str(mosquitto.port)
    sub = subprocess.Popen(
        # stdbuf: line-buffered, so SUBACK is seen before we publish.
        ["stdbuf", "-oL", "mosquitto_sub", "-d", "-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "-q", "1",
         "-C", "1", "-W", "20", "-t", "touchpoint/v1/store-1/dev-1/ack"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert sub.stdout is not None
    lines = iter(sub.stdout.readline, "")
    assert any("SUBACK" in line for line in lines), "mosquitto_sub did not subscribe"
    subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "-q", "1",
         "-t", "touchpoint/v1/store-1/dev-1/events", "-f", str(batch_file)],
        check=True, timeout=10,
    )  # fmt: skip
    out = next(line for line in lines if line.startswith("{"))
    sub.wait(timeout=25)
    ack = json.loads(out)
    assert ack["batch_id"] == example_batch()["batch_id"]
    assert len(ack["accepted"]) == 2 and ack["rejected"] == []
    row = hub.get(
        "/api/v1/scores", group_by="location", location="store-1", **{"from": "2026-11-22", "to": "2026-11-22"}
    )
    assert row["rows"][0]["counts"] == [1, 0, 0, 1]


def test_malformed_payloads_are_dead_lettered_and_the_hub_keeps_serving(hub: Hub, mosquitto: MosquittoBroker) -> None:
    listener = AckListener(mosquitto, "store-1", "dev-1")
    events_topic = topic("store-1", "dev-1", "events")
    try:
        listener.publish(events_topic, b"{not json")
        listener.publish(events_topic, b"\xff\xfe\x00garbage")
        listener.publish(events_topic, json.dumps({**example_batch(), "device_id": "dev-2"}).encode())
        bad_value = example_batch()
        bad_value["events"][1]["value"] = 9
        listener.publish(events_topic, json.dumps(bad_value).encode())
        ack = listener.next_ack()
    finally:
        listener.close()
    assert ack["accepted"] == [bad_value["events"][0]["id"]]
    assert ack["rejected"][0]["id"] == bad_value["events"][1]["id"]
    assert "outside the scale" in ack["rejected"][0]["error"]
    letters = wait_until(lambda: hub.get("/api/v1/dead-letters", role="admin")["rows"], 10, "dead letters")
    reasons = " | ".join(r["reason"] for r in letters)
    assert len(letters) == 4, reasons
    assert "malformed JSON" in reasons
    assert "payload says location 'store-1' device 'dev-2'" in reasons
    assert "outside the scale" in reasons
    assert httpx.get(hub.url + "/healthz").json()["status"] == "ok"
    assert hub.running
    assert total_n(hub) == 1


def test_a_tap_late_in_the_evening_lands_on_the_local_day(hub: Hub, make_agent: AgentFactory) -> None:
    """Helsinki is UTC+2 in November: 23:30 local is 21:30Z the same day; 00:30 local is 22:30Z the day before."""
    agent, config_path = make_agent("dev-tz", "store-tz", "Europe/Helsinki")
    config = load_config(config_path)
    with DeviceStore(config.store.path, config.timezone) as store:
        # A past year: the hub quarantines taps stamped more than 10 minutes ahead of its own clock.
        store.record(3, "default", 4, now=datetime(2025, 11, 22, 21, 30, tzinfo=UTC))  # 23:30 on the 22nd
        store.record(0, "default", 4, now=datetime(2025, 11, 22, 22, 30, tzinfo=UTC))  # 00:30 on the 23rd
    agent.start()
    wait_until(lambda: backlog(config.store.path) == 0, 20, "the agent to sync")
    days = hub.get("/api/v1/scores", group_by="day", **{"from": "2025-11-21", "to": "2025-11-24"})["rows"]
    assert [(r["day"], r["counts"]) for r in days] == [("2025-11-22", [0, 0, 0, 1]), ("2025-11-23", [1, 0, 0, 0])]
    hours = hub.get("/api/v1/scores", group_by="hour", **{"from": "2025-11-22", "to": "2025-11-23"})["rows"]
    assert sorted((r["hour"], r["n"]) for r in hours) == [(0, 1), (23, 1)]


def test_api_needs_a_token(hub: Hub) -> None:
    for path in ("/api/v1/scores?from=2026-01-01&to=2026-01-02", "/api/v1/locations", "/api/v1/devices"):
        assert httpx.get(hub.url + path).status_code == 401
        bad = httpx.get(hub.url + path, headers={"Authorization": "Bearer tp_not-a-real-token"})
        assert bad.status_code == 401
        assert "tp_not-a-real-token" not in bad.text
    analyst = {"Authorization": f"Bearer {hub.token('analyst')}"}
    assert httpx.get(hub.url + "/api/v1/dead-letters", headers=analyst).status_code == 403
    assert httpx.get(hub.url + "/api/v1/locations", headers=analyst).status_code == 200
    assert httpx.get(hub.url + "/healthz").status_code == 200
    bad_range = httpx.get(hub.url + "/api/v1/scores?from=2026-02-01&to=2026-01-01", headers=analyst)
    assert bad_range.status_code == 422 and "'to' must not be before 'from'" in bad_range.text


def test_device_status_reaches_the_fleet_view_and_the_last_will_marks_it_offline(
    hub: Hub, make_agent: AgentFactory
) -> None:
    agent, _ = make_agent("dev-s", "store-s", "Europe/Helsinki")
    agent.start()

    def device() -> dict[str, Any] | None:
        rows = [r for r in hub.get("/api/v1/devices")["rows"] if r["device_id"] == "dev-s"]
        return rows[0] if rows else None

    online = wait_until(lambda: (d := device()) and d["online"] and d, 15, "the device to report online")
    assert online["location_id"] == "store-s" and online["version"]
    agent.kill()  # no goodbye: the broker publishes the last will after the keepalive lapses
    wait_until(lambda: (d := device()) and d["online"] is False, 60, "the last will to mark the device offline")
