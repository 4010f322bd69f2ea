"""Behind a misconfigured broker the hub still refuses a device speaking for another location or device.

The broker here is anonymous with no ACL at all (the `mosquitto` fixture): only the hub's registry
check stands between a spoofed topic and the counts. Refused batches are dead-lettered, never acked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent.clock import uuid7
from edge_agent.protocol import format_ts, topic
from hub.broker import MosquittoBroker
from hub.storage.sqlite import SqliteStorage
from tests.security.support import Client, hub_cli_ok
from tests.support import Hub, wait_until

pytestmark = pytest.mark.integration
MakeHub = Callable[[str], Hub]


def batch(location_id: str, device_id: str, n: int = 2) -> bytes:
    events = [
        {
            "id": uuid7(),
            "seq": 1_800_000_000_000 + i,
            "ts": format_ts(datetime.now(UTC)),  # not before provisioning: the hub would quarantine it
            "tz": "UTC",
            "clock_ok": True,
            "question_id": "default",
            "scale": 4,
            "value": i % 4,
            "source": "sim",
        }
        for i in range(n)
    ]
    body = {"v": 1, "device_id": device_id, "location_id": location_id, "batch_id": uuid7(), "events": events}
    return json.dumps(body).encode()


def status(location_id: str, device_id: str, online: bool) -> bytes:
    return json.dumps({"v": 1, "online": online, "device_id": device_id, "location_id": location_id}).encode()


def provision(db: Path, device_id: str, location_id: str, out: Path) -> None:
    hub_cli_ok(
        "device", "add", "--db", str(db), "--location", location_id, "--device", device_id, "--out", str(out),
        "--broker-url", "mqtt://127.0.0.1:1883", "--timezone", "UTC",
    )  # fmt: skip


@pytest.fixture
def make_hub(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[MakeHub]:
    hubs: list[Hub] = []

    def factory(registry: str) -> Hub:
        workdir = tmp_path / f"hub-{registry}"
        workdir.mkdir()
        hub = Hub(workdir, mosquitto.url)
        hub.args += ["--registry", registry]
        SqliteStorage(hub.db).close()  # the hub's database, as `touchpoint-hub serve` would create it
        provision(hub.db, "kiosk-a", "store-1", tmp_path / f"bundles-{registry}")
        provision(hub.db, "kiosk-gone", "store-1", tmp_path / f"bundles-{registry}")
        hub_cli_ok("device", "revoke", "--db", str(hub.db), "kiosk-gone")
        hub.start()
        hubs.append(hub)
        return hub

    yield factory
    for hub in hubs:
        hub.stop()


def dead_letters(hub: Hub) -> list[tuple[str, str]]:
    return [(str(t), str(r)) for t, r in hub.sql("SELECT topic, reason FROM dead_letters ORDER BY pk")]


def test_open_registry_refuses_spoofed_locations_and_revoked_devices(
    make_hub: MakeHub, mosquitto: MosquittoBroker
) -> None:
    hub = make_hub("open")
    spy = Client(mosquitto.port, None, None, None)
    try:
        assert spy.connected() == "Success"
        spy.subscribe("touchpoint/v1/+/+/ack")
        # kiosk-a is registered at store-1: a batch claiming store-2 (topic and payload agree) is refused.
        spoofed = topic("store-2", "kiosk-a", "events")
        spy.publish(spoofed, batch("store-2", "kiosk-a"))
        spy.publish(topic("store-1", "kiosk-gone", "events"), batch("store-1", "kiosk-gone"))
        spy.publish(topic("store-1", "kiosk-a", "status"), status("store-1", "kiosk-a", online=True))
        spy.publish(topic("store-2", "kiosk-a", "status"), status("store-2", "kiosk-a", online=False))
        # The real kiosk-a at its own store, and an unregistered device (open mode), are accepted.
        spy.publish(topic("store-1", "kiosk-a", "events"), batch("store-1", "kiosk-a"))
        spy.publish(topic("store-9", "kiosk-new", "events"), batch("store-9", "kiosk-new"))
        wait_until(lambda: hub.sql("SELECT COUNT(*) FROM events")[0][0] == 4, 15, "the two good batches")
        wait_until(lambda: len(dead_letters(hub)) == 3, 15, "three dead letters")
        acks = [t for t, _ in spy.messages(wait=1.0)]
    finally:
        spy.close()
    letters = dead_letters(hub)
    assert letters[0] == (
        spoofed,
        "registry: device 'kiosk-a' is registered at location 'store-1' but published as location 'store-2'",
    )
    assert letters[1][1].startswith("registry: device 'kiosk-gone' was revoked at ")
    assert letters[2] == (
        topic("store-2", "kiosk-a", "status"),
        "registry: device 'kiosk-a' is registered at location 'store-1' but published as location 'store-2'",
    )
    assert sorted(acks) == [topic("store-1", "kiosk-a", "ack"), topic("store-9", "kiosk-new", "ack")]
    assert hub.sql("SELECT DISTINCT location_id FROM events ORDER BY 1") == [("store-1",), ("store-9",)]
    # The spoofed offline status did not mark the real kiosk-a offline.
    assert hub.sql("SELECT location_id, online FROM devices WHERE device_id = 'kiosk-a'") == [("store-1", 1)]
    assert "dead letter from touchpoint/v1/store-2/kiosk-a/events: registry:" in hub.log()


def test_enforce_registry_also_refuses_unknown_devices(make_hub: MakeHub, mosquitto: MosquittoBroker) -> None:
    hub = make_hub("enforce")
    spy = Client(mosquitto.port, None, None, None)
    try:
        assert spy.connected() == "Success"
        spy.publish(topic("store-9", "kiosk-new", "events"), batch("store-9", "kiosk-new"))
        spy.publish(topic("store-1", "kiosk-a", "events"), batch("store-1", "kiosk-a"))
        wait_until(lambda: hub.sql("SELECT COUNT(*) FROM events")[0][0] == 2, 15, "kiosk-a's batch")
        wait_until(lambda: len(dead_letters(hub)) == 1, 15, "a dead letter")
    finally:
        spy.close()
    assert dead_letters(hub) == [
        (
            topic("store-9", "kiosk-new", "events"),
            "registry: device 'kiosk-new' is not registered at this hub (registry=enforce); "
            "provision it with `touchpoint-hub device add`",
        )
    ]
