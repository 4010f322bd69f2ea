"""MQTT ingest of the kiosk's acks and comments on alerts (``.../alert_notes``): commit, then ack.

The ingest worker hands these messages over before it classifies the rest
(:meth:`AlertNoteIngest.take`). Each batch is checked (payload ids equal to the
topic's, the registry's verdict), its notes stored once by their device-made
ids, only on alerts of the device's own location, and then answered with an
:class:`~edge_agent.protocol.Ack` naming accepted, duplicate and rejected note
ids, and PUBACKed. A batch that cannot be stored is PUBACKed without an ack:
the device sends it again (a message never PUBACKed would hold one place of
the broker's receive window to the hub for the rest of the connection).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import paho.mqtt.client as mqtt

from edge_agent.protocol import (
    Ack,
    AlertNoteBatch,
    Invalid,
    Rejection,
    TopicError,
    decode,
    describe_error,
    encode,
    parse_topic,
    topic,
)
from hub.provisioning.gate import RegistryGate
from hub.storage.base import DeadLetter, Storage
from hub.storage.base_inbox import AlertNote

log = logging.getLogger("touchpoint.hub.ingest")
KIND = "alert_notes"
_REASONS = {"no_alert": "no alert {id} at the hub", "wrong_location": "alert {id} is not this location's"}


def is_alert_note(message: mqtt.MQTTMessage) -> bool:
    return message.topic.rsplit("/", 1)[-1] == KIND


class AlertNoteIngest:
    def __init__(self, storage: Storage, client: mqtt.Client, registry: RegistryGate) -> None:
        self.storage = storage
        self.client = client
        self.registry = registry
        self.notes_stored = 0

    def take(self, group: list[mqtt.MQTTMessage]) -> list[mqtt.MQTTMessage]:
        """Handle the alert-note messages of ``group``; return the others for the regular ingest."""
        rest = []
        for message in group:
            if not is_alert_note(message):
                rest.append(message)
                continue
            try:
                self._handle(message)
            except Exception:
                log.exception("could not store alert notes from %s; the device sends them again", message.topic)
            self.client.ack(message.mid, message.qos)
        return rest

    def _dead(self, message: mqtt.MQTTMessage, reason: str) -> bool:
        log.warning("dead letter from %s: %s", message.topic, reason)
        self.storage.ingest([], [], [DeadLetter(message.topic, reason, bytes(message.payload))], datetime.now(UTC))
        return True

    def _handle(self, message: mqtt.MQTTMessage) -> bool:
        payload = bytes(message.payload)
        try:
            location_id, device_id, _kind = parse_topic(message.topic)
            batch = decode(payload, AlertNoteBatch)
        except TopicError as exc:
            return self._dead(message, str(exc))
        except Invalid as exc:
            return self._dead(message, f"invalid alert notes: {describe_error(exc)}")
        except (ValueError, RecursionError) as exc:
            return self._dead(message, f"alert notes: malformed JSON: {str(exc)[:200]}")
        if (batch.location_id, batch.device_id) != (location_id, device_id):
            return self._dead(message, "alert notes: payload device_id/location_id differ from the topic's")
        problem = self.registry.problem(location_id, device_id)
        if problem is not None:
            return self._dead(message, problem)
        notes = [
            AlertNote(n.id, n.alert_id, n.kind, n.author, n.text, n.created_at, "device") for n in batch.notes
        ]  # fmt: skip
        outcomes = self.storage.add_alert_notes(notes, datetime.now(UTC), location_id=location_id)
        ack = Ack(batch_id=batch.batch_id)
        for note, outcome in zip(batch.notes, outcomes, strict=True):
            if outcome == "accepted":
                ack.accepted.append(note.id)
            elif outcome == "duplicate":
                ack.duplicates.append(note.id)
            else:
                ack.rejected.append(Rejection(note.id, _REASONS[outcome].format(id=note.alert_id)))
        self.notes_stored += len(ack.accepted)
        self.client.publish(topic(location_id, device_id, "ack"), encode(ack), qos=1)
        log.info("alert notes from %s: %d stored, %d duplicates, %d rejected", device_id, len(ack.accepted),
                 len(ack.duplicates), len(ack.rejected))  # fmt: skip
        return True
