"""Sending what a manager logged on this device (actions, notes on alerts) to the hub, exactly once.

These are few, so one batch at a time is enough: the pending items go out on their own topic and stay
pending until the hub's :class:`~edge_agent.protocol.Ack` with that batch id names them, sent after its
commit. An unacked batch is sent again with the event batches' backoff; the hub acks an item it already
has as a duplicate. What differs per kind of item is an :class:`Outbox`; the sending is this one class.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from msgspec import Struct

from edge_agent import clock
from edge_agent.config import DeviceConfig
from edge_agent.protocol import Ack, Kind, encode, topic
from edge_agent.store import DeviceStore

CHECK_EVERY_S = 1.0  # how often to look for newly logged items: a cheap indexed query


class _Item(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Item)


@dataclass(frozen=True)
class Outbox(Generic[T]):
    """One kind of item: its topic, its batch message, and how the device store lists and marks it."""

    noun: str  # in log lines: "actions", "alert notes"
    topic_name: Kind
    max_batch: int
    pending: Callable[[DeviceStore, int], list[T]]
    batch: Callable[[str, str, str, list[T]], Struct]  # (device id, location id, batch id, items) -> message
    mark_synced: Callable[[DeviceStore, Iterable[str]], int]
    mark_rejected: Callable[[DeviceStore, Iterable[tuple[str, str]]], int]
    log: logging.Logger


@dataclass
class _Inflight:
    batch_id: str
    ids: list[str]
    payload: bytes
    next_retry: float
    attempts: int = 1


class AckedSender(Generic[T]):
    """One batch in flight at a time; ``publish(topic, payload)`` is the MQTT client's QoS 1 publish."""

    def __init__(
        self, outbox: Outbox[T], config: DeviceConfig, store: DeviceStore, publish: Callable[[str, bytes], None]
    ) -> None:
        self.outbox = outbox
        self.config = config
        self.store = store
        self._publish = publish
        self._topic = topic(config.location_id, config.device_id, outbox.topic_name)
        self.inflight: _Inflight | None = None
        self.synced = 0
        self._next_check = 0.0

    def tick(self, now: float) -> None:
        """Resend a batch whose ack is overdue, or send the pending items (connected only)."""
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
        items = self.outbox.pending(self.store, self.outbox.max_batch)
        if not items:
            return
        batch_id = clock.uuid7()
        message = self.outbox.batch(self.config.device_id, self.config.location_id, batch_id, items)
        self.inflight = _Inflight(batch_id, [i.id for i in items], encode(message), now + sync.ack_timeout_s)
        self._publish(self._topic, self.inflight.payload)
        self.outbox.log.info("sent %d %s to the hub (batch %s)", len(items), self.outbox.noun, batch_id)

    def reconnected(self, now: float) -> None:
        """The broker connection is back: resend the batch in flight at once."""
        if self.inflight is not None:
            self.inflight.next_retry = now

    def handle_ack(self, ack: Ack) -> bool:
        """Apply ``ack`` if it answers the batch in flight; False if it is not ours (an event ack, say)."""
        batch = self.inflight
        if batch is None or ack.batch_id != batch.batch_id:
            return False
        self.inflight = None
        self._next_check = 0.0  # more may have been logged meanwhile
        done = [*ack.accepted, *ack.duplicates]
        self.synced += self.outbox.mark_synced(self.store, done)
        log, noun = self.outbox.log, self.outbox.noun
        if ack.rejected:
            self.outbox.mark_rejected(self.store, ((r.id, r.error) for r in ack.rejected))
            for r in ack.rejected[:5]:
                log.warning("hub rejected %s %s: %s", noun, r.id, r.error)
        missing = set(batch.ids) - set(done) - {r.id for r in ack.rejected}
        if missing:
            log.warning("ack %s did not mention %d %s; they will be resent", ack.batch_id, len(missing), noun)
        log.info("hub acked %d %s (batch %s)", len(done), noun, ack.batch_id)
        return True
