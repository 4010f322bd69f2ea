"""Sending the actions logged on this device to the hub, exactly once, beside the taps.

Actions are few (a manager logs one now and then), so one batch at a time is enough: the pending
actions go out on ``.../actions`` and stay pending until the hub's :class:`~edge_agent.protocol.Ack`
with that batch id names them, sent after its commit. Unacked batches are sent again with the same
backoff as event batches; the hub acks an action it already has as a duplicate.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from edge_agent import clock
from edge_agent.actions import mark_actions_rejected, mark_actions_synced, pending_actions
from edge_agent.config import DeviceConfig
from edge_agent.protocol import MAX_BATCH_ACTIONS, Ack, ActionBatch, encode, topic
from edge_agent.store import DeviceStore

log = logging.getLogger("touchpoint.agent.actions")
CHECK_EVERY_S = 1.0  # how often to look for newly logged actions: a cheap indexed query


@dataclass
class _Inflight:
    batch_id: str
    ids: list[str]
    payload: bytes
    next_retry: float
    attempts: int = 1


class ActionSender:
    """One action batch in flight at a time; ``publish(topic, payload)`` is the MQTT client's QoS 1 publish."""

    def __init__(self, config: DeviceConfig, store: DeviceStore, publish: Callable[[str, bytes], None]) -> None:
        self.config = config
        self.store = store
        self._publish = publish
        self._topic = topic(config.location_id, config.device_id, "actions")
        self.inflight: _Inflight | None = None
        self.synced = 0
        self._next_check = 0.0

    def tick(self, now: float) -> None:
        """Resend a batch whose ack is overdue, or send the pending actions (connected only)."""
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
        actions = pending_actions(self.store, MAX_BATCH_ACTIONS)
        if not actions:
            return
        batch_id = clock.uuid7()
        message = ActionBatch(1, self.config.device_id, self.config.location_id, batch_id, actions)
        self.inflight = _Inflight(batch_id, [a.id for a in actions], encode(message), now + sync.ack_timeout_s)
        self._publish(self._topic, self.inflight.payload)
        log.info("sent %d actions to the hub (batch %s)", len(actions), batch_id)

    def reconnected(self, now: float) -> None:
        """The broker connection is back: resend the batch in flight at once."""
        if self.inflight is not None:
            self.inflight.next_retry = now

    def handle_ack(self, ack: Ack) -> bool:
        """Apply ``ack`` if it answers the action batch in flight; False if it is not ours (an event ack)."""
        batch = self.inflight
        if batch is None or ack.batch_id != batch.batch_id:
            return False
        self.inflight = None
        self._next_check = 0.0  # more may have been logged meanwhile
        done = [*ack.accepted, *ack.duplicates]
        self.synced += mark_actions_synced(self.store, done)
        if ack.rejected:
            mark_actions_rejected(self.store, ((r.id, r.error) for r in ack.rejected))
            for r in ack.rejected[:5]:
                log.warning("hub rejected action %s: %s", r.id, r.error)
        missing = set(batch.ids) - set(done) - {r.id for r in ack.rejected}
        if missing:
            log.warning("ack %s did not mention %d actions; they will be resent", ack.batch_id, len(missing))
        log.info("hub acked %d actions (batch %s)", len(done), ack.batch_id)
        return True
