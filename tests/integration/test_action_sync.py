"""Actions between a real agent and the real hub over a real Mosquitto, both ways.

Device to hub: an action logged on the device stays pending until the hub's ack, which the hub sends
only after its commit; it is stored at the hub exactly once, however often the device sends it.
Hub to device: an action logged, edited or deleted at HQ reaches the device store with the pushed
config (``docs/protocol.md`` "Actions" and "Config").
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from edge_agent.actions import PENDING, SYNCED, action_counts, log_action
from edge_agent.config import load_config
from edge_agent.protocol import topic
from edge_agent.store import DeviceStore
from hub.broker import MosquittoBroker
from tests.chaos.mqtt_client import Publisher
from tests.conftest import AgentFactory
from tests.support import Hub, wait_until


def device_actions(store_path: Path) -> dict[str, tuple[Any, ...]]:
    """The device store's actions: id -> (text, ended_on, origin, sync_state), read on a connection of our own."""
    conn = sqlite3.connect(store_path, timeout=10)
    try:
        rows = conn.execute("SELECT id, text, ended_on, origin, sync_state FROM actions").fetchall()
    finally:
        conn.close()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_actions_logged_on_the_device_reach_the_hub_once_after_it_comes_up(
    mosquitto: MosquittoBroker, make_agent: AgentFactory, tmp_path: Path
) -> None:
    agent, config_path = make_agent("kiosk-1", "store-1", "Europe/Helsinki")  # ack_timeout_s = 2
    config = load_config(config_path)
    store = DeviceStore.for_device(config)
    logged = [
        log_action(store, text, location_id="store-1", logged_by="manager@kiosk-1", reason="queue")
        for text in ("We opened a second till at lunch.", "More staff at the tills at busy hours.")
    ]
    (tmp_path / "hub").mkdir()
    hub = Hub(tmp_path / "hub", mosquitto.url)
    try:
        agent.start()
        # No hub yet: sent, sent again, never acked, so still pending on the device.
        wait_until(lambda: agent.log().count("sent 2 actions to the hub") >= 1, 30, "the agent to send its actions")
        wait_until(lambda: "actions" in agent.log() and action_counts(store) == {PENDING: 2}, 5, "still pending")
        hub.start()
        wait_until(lambda: action_counts(store) == {SYNCED: 2}, 30, "both actions synced after the hub's ack")
        rows = hub.sql("SELECT id, location_id, text, reason, logged_by, device_id FROM actions ORDER BY text")
        assert sorted(rows) == sorted((a.id, "store-1", a.text, "queue", "manager@kiosk-1", "kiosk-1") for a in logged)
        # Logged while everything runs, as the kiosk does: on its own batch, stored once, never resent.
        third = log_action(store, "Cleaner tables.", location_id="store-1", logged_by="manager@kiosk-1")
        wait_until(lambda: action_counts(store) == {SYNCED: 3}, 30, "the third action synced")
        assert hub.sql("SELECT COUNT(*) FROM actions WHERE id = ?", (third.id,)) == [(1,)]
        assert hub.sql("SELECT COUNT(*) FROM actions") == [(3,)]
        listed = hub.get("/api/v1/actions", location="store-1")["rows"]
        assert {r["id"] for r in listed} == {a.id for a in [*logged, third]}
        assert "dead letter" not in hub.log()
    finally:
        hub.stop()
        agent.stop()
        store.close()


def test_actions_logged_edited_and_deleted_at_hq_reach_the_device(
    hub: Hub, make_agent: AgentFactory, mosquitto: MosquittoBroker
) -> None:
    response = hub.request("POST", "/api/v1/locations", json={
        "location_id": "store-1", "name": "Store 1", "region": "nordics", "timezone": "Europe/Helsinki",
    })  # fmt: skip
    assert response.status_code == 201, response.text
    agent, config_path = make_agent("kiosk-1", "store-1", "Europe/Helsinki")
    store_path = load_config(config_path).store.path
    agent.start()
    wait_until(lambda: hub.sql("SELECT COUNT(*) FROM devices")[0][0] == 1, 30, "the hub to hear from the kiosk")
    body = {"location_id": "store-1", "text": "We opened a second till at lunch.", "reason": "queue",
            "started_on": "2026-11-22", "ended_on": None, "texts": {"fi": "Avasimme toisen kassan."}}  # fmt: skip
    created = hub.request("POST", "/api/v1/actions", json=body)
    assert created.status_code == 201, created.text
    action_id = created.json()["id"]
    wait_until(lambda: action_id in device_actions(store_path), 30, "the HQ action in the device store")
    assert device_actions(store_path)[action_id] == (body["text"], None, "hub", SYNCED)

    patched = hub.request("PATCH", f"/api/v1/actions/{action_id}", json={"ended_on": "2026-12-31"})
    assert patched.status_code == 200, patched.text
    wait_until(lambda: device_actions(store_path)[action_id][1] == "2026-12-31", 30, "the edit on the device")

    # A kiosk's own action comes back to it from the hub as synced, and stays once.
    with DeviceStore(store_path, "Europe/Helsinki") as store:
        own = log_action(store, "Cleaner tables.", location_id="store-1", logged_by="manager@kiosk-1")
    wait_until(lambda: device_actions(store_path).get(own.id, ())[-1:] == (SYNCED,), 30, "the kiosk's own action acked")

    deleted = hub.request("DELETE", f"/api/v1/actions/{action_id}")
    assert deleted.status_code == 204, deleted.text
    wait_until(lambda: action_id not in device_actions(store_path), 30, "the deleted action gone from the device")
    assert set(device_actions(store_path)) == {own.id}
    assert hub.sql("SELECT COUNT(*) FROM actions WHERE deleted_at IS NOT NULL") == [(1,)]


def test_bad_action_batches_are_dead_letters_and_bad_actions_are_rejected_by_name(
    hub: Hub, mosquitto: MosquittoBroker
) -> None:
    good = {
        "id": "01a202b2-cf00-7a1b-9c2d-3e4f5a6b7c8d", "location_id": "store-1", "text": "Cleaner tables.",
        "started_on": "2026-11-22", "logged_by": "manager@dev-1", "created_at": "2026-11-22T10:00:05.120Z",
    }  # fmt: skip
    backwards = {**good, "id": "01a202b2-cf00-7a1b-9c2d-3e4f5a6b7c8e", "ended_on": "2026-11-01"}
    elsewhere = {**good, "id": "01a202b2-cf00-7a1b-9c2d-3e4f5a6b7c8f", "location_id": "store-2"}
    envelope = {"v": 1, "device_id": "dev-1", "location_id": "store-1", "batch_id": "b-1"}
    where = topic("store-1", "dev-1", "actions")
    client = Publisher(mosquitto)
    try:
        client.publish(where, json.dumps({**envelope, "actions": [good, backwards, elsewhere]}).encode())
        client.publish(where, b"{not json")
        client.publish(where, json.dumps({**envelope, "device_id": "dev-9", "actions": [good]}).encode())
        client.publish(where, json.dumps({**envelope, "batch_id": "b-2", "actions": [good]}).encode())
        wait_until(lambda: len(client.acks) == 2, 20, "acks of the two batches that have valid envelopes")
        first, second = sorted(client.acks, key=lambda a: a.batch_id)
    finally:
        client.close()
    assert (first.batch_id, first.accepted, first.duplicates) == ("b-1", [good["id"]], [])
    assert {r.id: r.error for r in first.rejected} == {
        backwards["id"]: "ended_on: 2026-11-01 is before started_on 2026-11-22",
        elsewhere["id"]: "location_id: 'store-2' is not this device's location 'store-1'",
    }
    assert (second.batch_id, second.accepted, second.duplicates) == ("b-2", [], [good["id"]])
    assert hub.sql("SELECT id FROM actions") == [(good["id"],)]
    letters = [r[0] for r in hub.sql("SELECT reason FROM dead_letters ORDER BY reason")]
    assert len(letters) == 4, letters
    assert any("malformed JSON" in r for r in letters)
    assert any("payload says location 'store-1' device 'dev-9'" in r for r in letters)
    assert sum(f"action batch b-1 action {i}" in r for r in letters for i in (backwards["id"], elsewhere["id"])) == 2
