"""MQTT ingest: validate, commit, then ack, in that order.

paho delivers messages on its network thread; a single worker drains them
in groups, commits each group in one transaction (group commit amortises the
fsync), and only then publishes the application acks and sends the MQTT
PUBACKs (``manual_ack``). A hub killed before its commit therefore leaves
every message unacked: the broker redelivers it to the persistent session
and the device resends it, and the event-id key makes both harmless.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.mqtt import make_client, session_kwargs
from edge_agent.protocol import Ack, encode, subscription, topic
from hub.alert_note_ingest import AlertNoteIngest
from hub.classify import classify
from hub.core.config import HubSettings
from hub.provisioning.gate import RegistryGate
from hub.services.metrics import ack_latency_histogram
from hub.storage.base import DeadLetter, IncomingBatch, IngestResult, StatusUpdate, Storage
from hub.storage.base_actions import IncomingActions

log = logging.getLogger("touchpoint.hub.ingest")
POISON_ATTEMPTS = 3  # failed commits of one group before it is split to isolate a message that cannot be stored
# Short, so the broker notices a worker cut off from it within 15 s (1.5 x keepalive) and stops handing it a share
# of the group's messages; with 30 s it kept doing so for 45 s, and each device waited out its resend backoff.
BROKER_KEEPALIVE_S = 10


def receive_window(group: int) -> int:
    """Unacked messages the broker may send the hub (MQTT v5 ReceiveMaximum; Mosquitto's own default is 20).

    PUBACKs go out only after each group's commit, so the window must span several groups, or the broker
    stalls while a group commits and the worker then idles while the next one arrives. Memory stays bounded
    by the window times the payload size (1 MB at most).
    """
    return min(max(4 * group, 100), 65_535)


def send_without_delay(client: mqtt.Client) -> None:
    """Turn Nagle off on the broker connection (paho leaves it on): a small publish right after our PUBACK
    otherwise waits for the broker's delayed TCP ACK, about 40 ms on Linux."""
    sock = client.socket()
    with contextlib.suppress(OSError, AttributeError):  # not a TCP socket (e.g. a test double)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[union-attr]


@dataclass
class IngestStats:
    messages: int = 0
    events_inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    dead_letters: int = 0
    quarantined: int = 0  # accepted into quarantine: untrusted timestamps, never counted
    acks_published: int = 0
    actions_inserted: int = 0
    commits: int = 0
    commit_failures: int = 0
    last_commit_at: str | None = None


class IngestService:
    """Owns the hub's MQTT connection and its single ingest worker."""

    def __init__(self, storage: Storage, settings: HubSettings) -> None:
        self.storage = storage
        self.settings = settings
        self.stats = IngestStats()
        self.registry = RegistryGate(storage, settings.registry)  # topic ids vs the device registry
        # --- operations hooks: ack latency for /metrics; devices heard from, for config push ---
        self.ack_latency = ack_latency_histogram()  # seconds from MQTT receive to the ack publish
        self.device_hooks: list[Callable[[Iterable[str]], None]] = []
        self.action_hooks: list[Callable[[set[str]], None]] = []  # locations with new actions, for config push
        self.connected = threading.Event()
        self._queue: queue.Queue[mqtt.MQTTMessage] = queue.Queue(maxsize=20_000)
        self._stop = threading.Event()
        self._paused = threading.Event()  # out of the share group while storage fails (see _storage_failed)
        self._worker = threading.Thread(target=self._work, name="ingest-worker", daemon=True)
        # A worker of a shared group uses a clean session: Mosquitto keeps rotating messages to a member whose
        # session outlives it, where they wait for a worker that may never return. With a clean session a
        # dead worker's unacked batches are dropped by the broker and resent by their devices to a live one.
        self.clean_session = settings.share_group is not None
        self.client = make_client(
            settings.client_id,
            version=settings.mqtt_version,
            username=settings.broker_username,
            password=settings.broker_password,
            ca_file=settings.broker_ca_file,
            tls=settings.broker_tls,
            manual_ack=True,
            clean=self.clean_session,
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.alert_notes = AlertNoteIngest(storage, self.client, self.registry)  # kiosk acks/comments on alerts

    def _subscriptions(self) -> list[str]:
        subs = [subscription("events"), subscription("status"), subscription("actions"), subscription("alert_notes")]
        if self.settings.share_group:
            return [f"$share/{self.settings.share_group}/{s}" for s in subs]
        return subs

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        if reason.is_failure:
            log.error("broker %s refused the hub: %s", self.settings.broker_url, reason)
            return
        send_without_delay(client)  # acks leave at once, not 40 ms later behind a PUBACK
        if not self._paused.is_set():
            for sub in self._subscriptions():
                client.subscribe(sub, qos=1)
        self.connected.set()
        log.info(
            "connected to %s (%s session), %s %s",
            self.settings.broker_url,
            "clean" if self.clean_session else "persistent",
            "NOT subscribing while storage fails:" if self._paused.is_set() else "subscribed to",
            ", ".join(self._subscriptions()),
        )

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        if self.connected.is_set():
            log.warning("disconnected from broker: %s; reconnecting", reason)
        self.connected.clear()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        self._queue.put(message)  # blocks paho when the worker falls behind: backpressure, not RAM

    def start(self) -> None:
        session = session_kwargs(self.settings.mqtt_version, self.settings.session_expiry_s, clean=self.clean_session)
        if "properties" in session:  # MQTT v5: the broker's window of unacked messages to us (see receive_window)
            session["properties"].ReceiveMaximum = receive_window(self.settings.max_group_messages)
        self.client.connect_async(
            self.settings.broker_host,
            self.settings.broker_port,
            keepalive=BROKER_KEEPALIVE_S,
            **session,
        )
        self.client.loop_start()
        self._worker.start()

    def stop(self) -> None:
        self._stop.set()
        self._worker.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            group = [first]
            while len(group) < self.settings.max_group_messages:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._process(group)
            except Exception:
                # The worker must outlive any one group: a dead worker leaves paho taking the broker's messages
                # into a queue nobody reads, and the broker, still counting it in the share group, keeps
                # sending it a share of every device's batches. PUBACKed so its receive window stays open;
                # nothing is lost: each device resends what the hub has not acked.
                log.exception("ingest failed on a group of %d messages; their devices send them again", len(group))
                for message in group:
                    with contextlib.suppress(Exception):
                        self.client.ack(message.mid, message.qos)

    def _process(self, group: list[mqtt.MQTTMessage]) -> None:
        group = self.alert_notes.take(group)  # own commit, ack and PUBACK (hub/alert_note_ingest.py)
        if not group:
            return
        while True:
            try:
                parts = self._sort(group)
                break
            except Exception:  # the registry lives in storage: a read that fails is retried like a commit
                log.exception("could not read the device registry for %d messages; retrying in 1 s", len(group))
                self._storage_failed()
                if self._stop.wait(1.0):
                    return
        self._store_and_ack(group, *parts)

    def _sort(
        self, group: list[mqtt.MQTTMessage]
    ) -> tuple[list[IncomingBatch], list[StatusUpdate], list[IncomingActions], list[DeadLetter], list[float]]:
        """Each message classified and screened against the device registry: batches, statuses, actions,
        dead letters, and each batch's receive time."""
        batches: list[IncomingBatch] = []
        statuses: list[StatusUpdate] = []
        action_batches: list[IncomingActions] = []
        letters: list[DeadLetter] = []
        received: list[float] = []  # paho's monotonic receive time of each batch
        for message in group:
            try:
                item, dead = classify(message.topic, bytes(message.payload))
            except Exception as exc:  # a validator bug must not kill ingest: keep the message, say why
                log.exception("could not classify a message on %s", message.topic)
                item, dead = (
                    None,
                    [DeadLetter(message.topic, f"internal error while validating: {exc!r}", bytes(message.payload))],
                )
            item, dead = self.registry.screen(message.topic, bytes(message.payload), item, dead)
            letters.extend(dead)
            if isinstance(item, IncomingBatch):
                batches.append(item)
                received.append(message.timestamp)
            elif isinstance(item, StatusUpdate):
                statuses.append(item)
            elif isinstance(item, IncomingActions):
                action_batches.append(item)
        for letter in letters:
            log.warning("dead letter from %s: %s", letter.topic, letter.reason)
        return batches, statuses, action_batches, letters, received

    def _store_and_ack(
        self,
        group: list[mqtt.MQTTMessage],
        batches: list[IncomingBatch],
        statuses: list[StatusUpdate],
        action_batches: list[IncomingActions],
        letters: list[DeadLetter],
        received: list[float],
    ) -> None:
        """Commit, retrying until it succeeds (or the group is split to isolate a poison message); then ack."""
        attempts = 0
        while True:
            try:
                result, action_acks = self._commit(batches, statuses, action_batches, letters)
                break
            except Exception as exc:
                # Without a commit there is no ack; retry rather than drop what the broker handed us.
                self.stats.commit_failures += 1
                attempts += 1
                log.exception("ingest commit failed for %d messages; retrying in 1 s", len(group))
                self._storage_failed()
                if attempts >= POISON_ATTEMPTS and (batches or statuses or action_batches):
                    # The same failure again and again: one poison message must not stall the fleet.
                    if len(group) > 1:
                        for message in group:  # one commit each, to find it
                            self._process([message])
                        return
                    # Kept as a dead letter, never acked to its device: a genuine batch comes again later.
                    batches, statuses, action_batches, received = [], [], [], []
                    reason = f"internal error while storing: {exc!r}"[:1000]
                    letters = [DeadLetter(group[0].topic, reason, bytes(group[0].payload))]
                if self._stop.wait(1.0):
                    return
        self._storage_back()
        for batch, ack in zip(batches, result.acks, strict=True):
            ack_topic = topic(batch.location_id, batch.device_id, "ack")
            self.client.publish(ack_topic, encode(ack), qos=1)
        for action_batch, ack in zip(action_batches, action_acks, strict=True):
            ack_topic = topic(action_batch.location_id, action_batch.device_id, "ack")
            self.client.publish(ack_topic, encode(ack), qos=1)
        acked_at = time.monotonic()
        for started in received:
            self.ack_latency.observe(acked_at - started)
        for message in group:
            self.client.ack(message.mid, message.qos)
        s = self.stats
        s.messages += len(group)
        s.events_inserted += result.inserted
        s.duplicates += result.duplicates
        s.rejected += result.rejected
        s.dead_letters += result.dead_letters
        s.quarantined += result.quarantined
        s.acks_published += len(result.acks) + len(action_acks)
        s.actions_inserted += sum(len(a.accepted) for a in action_acks)
        s.commits += 1
        s.last_commit_at = datetime.now(UTC).isoformat()
        if self.device_hooks and (batches or statuses):
            seen = {b.device_id for b in batches} | {u.status.device_id for u in statuses}
            for hook in self.device_hooks:
                hook(seen)  # must be cheap and never raise: it runs on the ingest worker
        changed = {b.location_id for b, a in zip(action_batches, action_acks, strict=True) if a.accepted}
        for action_hook in self.action_hooks if changed else []:
            action_hook(changed)  # the location's other kiosks get the new action with their config

    def _storage_failed(self) -> None:
        """In a share group, stop taking messages while storage fails, so the broker gives them all to the
        workers that can store them; the group in hand is retried meanwhile (see ``_storage_back``).

        Without this, the broker keeps handing this worker its share of every device's batches, which it
        cannot ack: each waits in its device for the ack timeout and backoff, then goes round again.
        """
        if self.settings.share_group is None or self._paused.is_set():
            return  # a lone hub keeps its subscriptions: there is nobody else to take its messages
        self._paused.set()
        self.client.unsubscribe(self._subscriptions())
        log.warning("storage is failing: this worker leaves share group %r until it stores again",
                    self.settings.share_group)  # fmt: skip

    def _storage_back(self) -> None:
        if not self._paused.is_set():
            return
        self._paused.clear()
        for sub in self._subscriptions():  # while disconnected, _on_connect subscribes instead
            self.client.subscribe(sub, qos=1)
        log.info("storage is back: this worker takes messages of share group %r again", self.settings.share_group)

    def _commit(
        self,
        batches: list[IncomingBatch],
        statuses: list[StatusUpdate],
        action_batches: list[IncomingActions],
        letters: list[DeadLetter],
    ) -> tuple[IngestResult, list[Ack]]:
        """Events (with statuses and dead letters), then actions: each committed before anything is acked.

        Two transactions, both idempotent: if the second fails, the retry stores the events as duplicates.
        """
        now = datetime.now(UTC)
        result = self.storage.ingest(batches, statuses, letters, now)
        return result, self.storage.ingest_actions(action_batches, now) if action_batches else []


def wait_connected(service: IngestService, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.connected.wait(0.1):
            return True
    return False
