"""``GET /metrics`` on a real hub: Prometheus text whose counters move with real ingest, and no secrets in it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge_agent.config import load_config
from edge_agent.protocol import topic
from edge_agent.store import DeviceStore
from hub.broker import MosquittoBroker
from tests.conftest import AgentFactory
from tests.integration.test_wire import example_batch
from tests.support import ENV, Hub, backlog, wait_until

pytestmark = pytest.mark.integration


def scrape(hub: Hub | str) -> dict[str, float]:
    """Every sample as {'name{labels}': value}, parsed by prometheus_client's own parser (which fails on bad text)."""
    url = hub if isinstance(hub, str) else hub.url
    response = httpx.get(url + "/metrics", timeout=10)  # no token: open by default
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return samples


def mosquitto_pub(broker: MosquittoBroker, topic_name: str, payload: bytes) -> None:
    subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv5", "-q", "1", "-t", topic_name,
         "-s"],
        input=payload, check=True, timeout=10,
    )  # fmt: skip


def test_metrics_count_real_ingest_and_leak_no_secrets(
    hub: Hub, make_agent: AgentFactory, mosquitto: MosquittoBroker
) -> None:
    before = scrape(hub)
    assert before["touchpoint_mqtt_connected"] == 1
    assert before["touchpoint_ingest_events_inserted_total"] == 0

    agent, config_path = make_agent("dev-m", "store-m")
    config = load_config(config_path)
    with DeviceStore(config.store.path, config.timezone) as store:
        for i in range(20):
            store.record(i % 4, "default", 4, source="sim")
    agent.start()
    wait_until(lambda: backlog(config.store.path) == 0, 20, "the agent to sync 20 taps")
    batch = json.dumps(example_batch()).encode()
    for _ in range(2):  # the same batch twice: 2 new events, then 2 duplicates
        mosquitto_pub(mosquitto, topic("store-1", "dev-1", "events"), batch)
    mosquitto_pub(mosquitto, topic("store-1", "dev-1", "events"), b"{not json")
    wait_until(lambda: scrape(hub)["touchpoint_ingest_duplicates_total"] == 2, 10, "the duplicate batch to be acked")
    wait_until(lambda: scrape(hub)["touchpoint_dead_letters_total"] == 1, 10, "the malformed payload's dead letter")

    after = scrape(hub)
    assert after["touchpoint_ingest_events_inserted_total"] == 22
    assert after["touchpoint_ingest_dead_letters_total"] == 1
    assert after["touchpoint_ingest_messages_total"] >= before["touchpoint_ingest_messages_total"] + 4
    assert after["touchpoint_ingest_commits_total"] > before["touchpoint_ingest_commits_total"]
    assert after["touchpoint_ingest_acks_published_total"] >= 3
    assert after["touchpoint_ack_latency_seconds_count"] >= 3
    assert after['touchpoint_ack_latency_seconds_bucket{le="+Inf"}'] == after["touchpoint_ack_latency_seconds_count"]
    assert 0 < after["touchpoint_ack_latency_seconds_sum"] < after["touchpoint_ack_latency_seconds_count"] * 5
    assert after["touchpoint_devices_online"] == 1
    assert after['touchpoint_webhook_deliveries{status="pending"}'] == 0
    assert after["touchpoint_alerts_firing"] == 0

    # Secrets live in the same database: none may show up in the scrape.
    token = hub.token("admin")
    url = "https://hooks.example.com/services/T000/B000/very-secret-path"
    created = hub.request("POST", "/api/v1/alerts/rules", json={"kind": "device_offline", "webhook_url": url})
    assert created.status_code == 201
    text = httpx.get(hub.url + "/metrics", timeout=10).text
    assert "very-secret" not in text and "hooks.example.com" not in text and token not in text
    assert scrape(hub)["touchpoint_alert_rules_enabled"] == 1


def test_metrics_can_require_an_api_token(
    tmp_path: Path, mosquitto: MosquittoBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ENV, "TOUCHPOINT_HUB_METRICS_AUTH", "true")
    hub = Hub(tmp_path, mosquitto.url)
    hub.start()
    try:
        assert httpx.get(hub.url + "/metrics", timeout=10).status_code == 401
        scraped = hub.request("GET", "/metrics", role="analyst")
        assert scraped.status_code == 200 and "touchpoint_ingest_events_inserted_total 0" in scraped.text
        assert httpx.get(hub.url + "/healthz", timeout=10).status_code == 200  # stays open
    finally:
        hub.stop()
