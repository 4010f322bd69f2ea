"""Sending the manager's acks and comments on alerts to the hub, exactly once (as ``action_sync`` does actions).

Pending notes go out on ``.../alert_notes`` one batch at a time and stay pending until the hub's
:class:`~edge_agent.protocol.Ack` with that batch id names them, sent after its commit. Unacked
batches are sent again with the event batches' backoff; the hub acks a note it has as a duplicate.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from edge_agent import clock
from edge_agent.alert_inbox import mark_notes_rejected, mark_notes_synced, pending_notes
from edge_agent.config import DeviceConfig
from edge_agent.protocol import MAX_BATCH_NOTES, Ack, AlertNoteBatch, encode, topic
from edge_agent.store import DeviceStore

log = logging.getLogger("touchpoint.agent.alerts")
CHECK_EVERY_S = 1.0


@dataclass
class _Inflight:
    batch_id: str
    ids: list[str]
    payload: bytes
    next_retry: float
    attempts: int = 1


class AlertNoteSender:
    """One note batch in flight at a time; ``publish(topic, payload)`` is the MQTT client's QoS 1 publish."""

    def __init__(self, config: DeviceConfig, store: DeviceStore, publish: Callable[[str, bytes], None]) -> None:
        self.config = config
        self.store = store
        self._publish = publish
        self._topic = topic(config.location_id, config.device_id, "alert_notes")
        self.inflight: _Inflight | None = None
        self.synced = 0
        self._next_check = 0.0

    def tick(self, now: float) -> None:
        """Resend a batch whose ack is overdue, or send the pending notes (connected only)."""
        sync = self.config.sync
        batch = self.inflight
        if batch is not None:
            if now >= batch.next_retry:
                self._publish(self._topic, batch.payload)
                delay = min(sync.max_backoff_s, sync.ack_timeout_s * 2 ** min(batch.attempts, 16))
                batch.attempts += 1
                batch.next_retry = now + delay * random.uniform(0.8, 1.2)
            return
        if now < self._next_check:
            return
        self._next_check = now + CHECK_EVERY_S
        notes = pending_notes(self.store, MAX_BATCH_NOTES)
        if not notes:
            return
        batch_id = clock.uuid7()
        message = AlertNoteBatch(1, self.config.device_id, self.config.location_id, batch_id, notes)
        self.inflight = _Inflight(batch_id, [n.id for n in notes], encode(message), now + sync.ack_timeout_s)
        self._publish(self._topic, self.inflight.payload)
        log.info("sent %d alert notes to the hub (batch %s)", len(notes), batch_id)

    def reconnected(self, now: float) -> None:
        if self.inflight is not None:
            self.inflight.next_retry = now

    def handle_ack(self, ack: Ack) -> bool:
        """Apply ``ack`` if it answers the note batch in flight; False if it is not ours."""
        batch = self.inflight
        if batch is None or ack.batch_id != batch.batch_id:
            return False
        self.inflight = None
        self._next_check = 0.0
        self.synced += mark_notes_synced(self.store, [*ack.accepted, *ack.duplicates])
        if ack.rejected:
            mark_notes_rejected(self.store, ((r.id, r.error) for r in ack.rejected))
            for r in ack.rejected[:5]:
                log.warning("hub rejected alert note %s: %s", r.id, r.error)
        log.info("hub acked %d alert notes (batch %s)", len(ack.accepted) + len(ack.duplicates), ack.batch_id)
        return True
