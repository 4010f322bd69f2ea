"""A message the hub cannot store, whatever it tries, must not stall ingest for the whole fleet.

The poison is real: an SQLite trigger in the hub's own file that fails every write for one device.
The hub retries, splits its group to find the message, keeps it as a dead letter (never acked to the
device, which would send it again later) and goes on counting everyone else's taps.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent.protocol import format_ts, topic
from hub.broker import MosquittoBroker
from hub.storage.sqlite import SqliteStorage
from tests.chaos.mqtt_client import Publisher
from tests.support import Hub, wait_until

pytestmark = pytest.mark.integration


def batch(device_id: str, n: int = 3) -> bytes:
    now = format_ts(datetime.now(UTC))
    events = [
        {"id": str(uuid.uuid4()), "seq": 1000 + i, "ts": now, "tz": "UTC", "clock_ok": True,
         "question_id": "default", "scale": 4, "value": i % 4, "source": "sim"}
        for i in range(n)
    ]  # fmt: skip
    return json.dumps(
        {"v": 1, "device_id": device_id, "location_id": "store-p", "batch_id": "b", "events": events}
    ).encode()


def test_a_poison_message_is_dead_lettered_and_the_rest_is_counted(tmp_path: Path, mosquitto: MosquittoBroker) -> None:
    hub = Hub(tmp_path, mosquitto.url)
    SqliteStorage(hub.db).close()
    conn = sqlite3.connect(hub.db)
    conn.execute(
        "CREATE TRIGGER poison BEFORE INSERT ON devices WHEN NEW.device_id = 'kiosk-poison' "
        "BEGIN SELECT RAISE(FAIL, 'this device cannot be stored'); END"
    )
    conn.commit()
    conn.close()
    hub.start()
    publisher = Publisher(mosquitto)
    try:
        sent = [  # all at once, so that the hub takes them in one group
            publisher.client.publish(topic("store-p", device, "events"), batch(device), qos=1)
            for device in ("kiosk-a", "kiosk-poison", "kiosk-b", "kiosk-c")
        ]
        for info in sent:
            info.wait_for_publish(10)
        wait_until(lambda: hub.sql("SELECT COUNT(*) FROM events")[0][0] == 9, 30, "the healthy kiosks' taps")
        letters = wait_until(lambda: hub.sql("SELECT topic, reason FROM dead_letters"), 30, "the poison's dead letter")
    finally:
        publisher.close()
        hub.stop()
    [(letter_topic, reason)] = letters
    assert letter_topic.endswith("/kiosk-poison/events") and "internal error while storing" in reason
    assert "this device cannot be stored" in reason
    assert {a.batch_id for a in publisher.acks} == {"b"} and len(publisher.acks) == 3  # no ack for the poison
