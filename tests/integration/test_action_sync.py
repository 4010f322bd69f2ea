"""Actions logged on a device reach the hub exactly once: a real agent process, a real Mosquitto, and a
small subscriber in the test that acks on ``.../ack`` as the hub will (after its commit), or not at all.

The hub's own ingest of ``.../actions`` is not written yet (see the TODO in hub/ingest.py); this test
pins down the device's side of the contract in docs/protocol.md.
"""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.actions import PENDING, SYNCED, action_counts, log_action
from edge_agent.config import load_config
from edge_agent.protocol import Ack, ActionBatch, decode, encode, subscription, topic
from edge_agent.store import DeviceStore
from hub.broker import MosquittoBroker
from tests.conftest import AgentFactory
from tests.support import wait_until


class FakeHub:
    """Receives action batches; acks each only when told to, as the hub acks only after its commit."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.batches: list[ActionBatch] = []
        self.ack_next = False
        self._lock = threading.Lock()
        version = CallbackAPIVersion.VERSION2
        self.client = mqtt.Client(callback_api_version=version, client_id="fake-hub", protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(subscription("actions"), qos=1)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        batch = decode(message.payload, ActionBatch)
        with self._lock:
            self.batches.append(batch)
            if not self.ack_next:
                return  # as if the hub died before committing: no ack
        seen = {a.id for b in self.batches[:-1] for a in b.actions}
        ids = [a.id for a in batch.actions]
        ack = Ack(
            batch_id=batch.batch_id,
            accepted=[i for i in ids if i not in seen],
            duplicates=[i for i in ids if i in seen],
        )
        self.client.publish(topic(batch.location_id, batch.device_id, "ack"), encode(ack), qos=1)

    def received(self) -> list[str]:
        with self._lock:
            return [a.id for b in self.batches for a in b.actions]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_actions_stay_pending_until_the_hubs_ack_and_are_then_synced_once(
    mosquitto: MosquittoBroker, make_agent: AgentFactory, tmp_path: Path
) -> None:
    agent, config_path = make_agent("kiosk-1", "store-1", "Europe/Helsinki")  # ack_timeout_s = 2
    config = load_config(config_path)
    store = DeviceStore.for_device(config)
    logged = [
        log_action(store, text, location_id="store-1", logged_by="manager@kiosk-1", reason="queue")
        for text in ("We opened a second till at lunch.", "More staff at the tills at busy hours.")
    ]
    hub = FakeHub(mosquitto)
    try:
        agent.start()
        # Sent, and sent again, but never acked: still pending on the device.
        wait_until(lambda: len(hub.batches) >= 2, 30, "the action batch sent again without an ack")
        assert {b.batch_id for b in hub.batches} == {hub.batches[0].batch_id}  # the same batch, resent
        assert [a.id for a in hub.batches[0].actions] == [a.id for a in logged]
        assert hub.batches[0].actions == logged  # exactly what the device stored
        assert action_counts(store) == {PENDING: 2}

        hub.ack_next = True  # the hub is back and commits
        wait_until(lambda: action_counts(store) == {SYNCED: 2}, 30, "both actions marked synced after the ack")

        # Logged while the agent runs (as the kiosk does): sent on its own, acked, synced; never sent twice after.
        third = log_action(store, "Cleaner tables.", location_id="store-1", logged_by="manager@kiosk-1")
        wait_until(lambda: action_counts(store) == {SYNCED: 3}, 30, "the third action synced")
        sent = hub.received()
        assert sent.count(third.id) == 1
        assert set(sent) == {a.id for a in [*logged, third]}
        batches_after = len(hub.batches)
        wait_until(lambda: "hub acked 1 actions" in agent.log(), 10, "the agent's log of the ack")
        assert len(hub.batches) == batches_after  # nothing pending: nothing more goes out
    finally:
        hub.close()
        agent.stop()
        store.close()
    assert "sent 2 actions to the hub" in agent.log()
