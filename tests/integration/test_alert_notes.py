"""A store manager's ack and comment on a kiosk reach the real hub once: real agent, Mosquitto and hub.

The hub pushes the store's open alerts with the config; the notes made on the device go up on
``.../alert_notes``, are stored once by their ids (a resent batch is acked as duplicates), and the
hub's next push carries the acknowledgement back down.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.alert_inbox import PENDING, REJECTED, SYNCED, note_alert, open_alerts, pending_notes
from edge_agent.config import load_config
from edge_agent.protocol import Ack, AlertNoteBatch, decode, encode, topic
from edge_agent.store import DeviceStore
from hub.broker import MosquittoBroker
from hub.storage.base_alerts import AlertKey, NewAlert, RuleSpec
from hub.storage.sqlite import SqliteStorage
from tests.conftest import AgentFactory
from tests.integration.test_alerts import record
from tests.support import Hub, wait_until

pytestmark = pytest.mark.integration


def note_states(store: DeviceStore) -> dict[int, int]:
    return {int(k): int(n) for k, n in store.db.execute("SELECT sync_state, COUNT(*) FROM alert_notes GROUP BY 1")}


@pytest.fixture
def hub(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[Hub]:
    """A hub whose evaluator will not run again during the test: the episodes made here stay firing."""
    workdir = tmp_path / "hub"
    workdir.mkdir()
    process = Hub(workdir, mosquitto.url)
    process.args += ["--alert-interval-s", "3600"]
    process.start()
    yield process
    process.stop()


def test_notes_made_on_the_kiosk_reach_the_hub_once_and_the_ack_comes_back_down(
    hub: Hub, mosquitto: MosquittoBroker, make_agent: AgentFactory
) -> None:
    agent, config_path = make_agent("kiosk-1", "store-1", "Europe/Helsinki")
    config = load_config(config_path)
    agent.start()
    record(config_path, [3, 2])
    wait_until(lambda: hub.sql("SELECT COUNT(*) FROM events")[0][0] == 2, 20, "the taps at the hub")
    storage = SqliteStorage(Path(hub.db))
    now = datetime.now(UTC)
    rule = storage.create_rule(RuleSpec("Queue complaints", "pct_negative", "all", None, {}, None), now)
    mine = storage.fire_alert(NewAlert(AlertKey(rule.rule_id, "store-1"), "40% negative", {}), now, None, str)
    theirs = storage.fire_alert(NewAlert(AlertKey(rule.rule_id, "store-2"), "elsewhere", {}), now, None, str)
    storage.close()
    assert mine is not None and theirs is not None
    store = DeviceStore.for_device(config)
    wait_until(lambda: [a.alert.alert_id for a in open_alerts(store.db)] == [mine.alert_id], 30, "the pushed alert")
    pushed = open_alerts(store.db)[0]
    assert (pushed.alert.rule_name, pushed.alert.message, pushed.acknowledged) == (
        "Queue complaints",
        "40% negative",
        False,
    )

    # Offline first: the ack shows at once on the device, before the hub has it.
    note_alert(store, mine.alert_id, "ack", author="manager@kiosk-1")
    note_alert(store, mine.alert_id, "comment", author="manager@kiosk-1", text="Opened a second till.")
    note_alert(store, theirs.alert_id, "comment", author="manager@kiosk-1", text="Not ours.")
    assert open_alerts(store.db)[0].acknowledged
    sent = pending_notes(store)
    wait_until(lambda: note_states(store) == {SYNCED: 2, REJECTED: 1}, 30, "the notes acked by the hub")
    assert store.db.execute("SELECT sync_error FROM alert_notes WHERE sync_state = ?", (REJECTED,)).fetchone()[0] == (
        f"alert {theirs.alert_id} is not this location's"
    )
    thread = hub.get(f"/api/v1/alerts/{mine.alert_id}")
    assert (thread["inbox"], thread["acknowledged_by"]) == ("acknowledged", "manager@kiosk-1")
    assert [(c["author"], c["text"]) for c in thread["comments"]] == [("manager@kiosk-1", "Opened a second till.")]
    assert hub.get(f"/api/v1/alerts/{theirs.alert_id}")["notes"] == []

    # The same batch again (a resend whose ack was lost): acked as duplicates, stored once.
    acks: list[Ack] = []
    got = threading.Event()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="replay", protocol=mqtt.MQTTv5)

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        ack = decode(message.payload, Ack)
        if ack.batch_id == "replayed-batch":
            acks.append(ack)
            got.set()

    client.on_message = on_message
    client.connect(mosquitto.host, mosquitto.port)
    client.subscribe(topic("store-1", "kiosk-1", "ack"), qos=1)
    client.loop_start()
    try:
        replay = AlertNoteBatch(1, "kiosk-1", "store-1", "replayed-batch", sent[:2])
        client.publish(topic("store-1", "kiosk-1", "alert_notes"), encode(replay), qos=1).wait_for_publish(5)
        assert got.wait(15), "no ack for the replayed batch"
    finally:
        client.disconnect()
        client.loop_stop()
    assert sorted(acks[0].duplicates) == sorted(n.id for n in sent[:2]) and acks[0].accepted == []
    assert hub.sql("SELECT COUNT(*) FROM alert_notes")[0][0] == 2

    # The hub's next push carries its acknowledgement and the comment down; nothing is pending any more.
    wait_until(lambda: open_alerts(store.db)[0].alert.acknowledged_at is not None, 30, "the acknowledged alert pushed")
    down = open_alerts(store.db)[0]
    assert down.alert.acknowledged_by == "manager@kiosk-1" and down.pending_comments == []
    assert [c.text for c in down.alert.comments] == ["Opened a second till."]
    assert note_states(store).get(PENDING, 0) == 0
    store.close()
