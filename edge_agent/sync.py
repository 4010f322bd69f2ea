"""The sync daemon: publishes pending taps to the hub and marks them synced on its ack.

A PUBACK only means the broker holds a message, so an event stays pending
until the hub's application-level ack says it is committed. The number of
batches awaiting that ack is bounded, which also bounds paho's QoS 1 queue
(paho silently loses messages past 65,535 outstanding) and our memory while
the hub or broker is away for days: the backlog waits on disk, not in RAM.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import paho.mqtt.client as mqtt

from edge_agent import __version__, clock, clock_advice, redate, sdnotify
from edge_agent.action_sync import action_sender
from edge_agent.alert_note_sync import alert_note_sender
from edge_agent.config import DeviceConfig
from edge_agent.config_push import store_pushed_config
from edge_agent.connection import FailureLog, build_client, describe_connect_failure, describe_refusal
from edge_agent.mqtt import session_kwargs
from edge_agent.protocol import Ack, Status, decode, encode_sparse, format_ts, topic
from edge_agent.store import DeviceStore

log = logging.getLogger("touchpoint.agent")
PRUNE_EVERY_S = 3600.0
PROGRESS_EVERY_S = 10.0
REDATE_EVERY_S = 1.0  # how often to look for held taps to re-date once the clock is trusted
CLOCK_NOTE_EVERY_S = 300.0  # while taps are held for an untrusted clock, say so (and the fix) this often


def send_without_delay(client: mqtt.Client) -> None:
    """Turn Nagle off on the broker connection (paho leaves it on): a small publish right after our PUBACK
    otherwise waits for the broker's delayed TCP ACK, about 40 ms on Linux."""
    sock = client.socket()
    with contextlib.suppress(OSError, AttributeError):  # not a TCP socket (e.g. a test double)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[union-attr]


@dataclass
class InflightBatch:
    batch_id: str
    ids: list[str]
    max_seq: int
    payload: bytes
    first_sent: float
    next_retry: float
    attempts: int = 1


@dataclass
class SyncStats:
    batches_sent: int = 0
    batches_resent: int = 0
    events_synced: int = 0
    events_rejected: int = 0
    acks: int = 0
    ack_latency_ms: list[float] = field(default_factory=list)


class SyncAgent:
    """Runs in the calling thread; paho's network loop runs in its own thread."""

    def __init__(self, config: DeviceConfig, store: DeviceStore | None = None) -> None:
        self.config = config
        self.store = store or DeviceStore.for_device(config)
        self.inflight: dict[str, InflightBatch] = {}
        self.stats = SyncStats()
        self.connected = threading.Event()
        self._inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._ack_topic = topic(config.location_id, config.device_id, "ack")
        self._events_topic = topic(config.location_id, config.device_id, "events")
        self._status_topic = topic(config.location_id, config.device_id, "status")
        self._config_topic = topic(config.location_id, config.device_id, "config")  # hub-pushed survey, retained
        self._acked_since_status = False
        self._failures = FailureLog(log)  # connect failures, said once, not per retry
        self._next_redate = 0.0
        self.client = self._build_client()
        self.actions = action_sender(config, self.store, self._publish_qos1)  # the manager's actions, beside the taps
        self.alert_notes = alert_note_sender(config, self.store, self._publish_qos1)  # acks/comments on alerts

    # --- MQTT plumbing (paho's thread) ---------------------------------------

    def _build_client(self) -> mqtt.Client:
        client = build_client(self.config.broker, self.config.device_id)  # ConfigError names a bad file
        client.will_set(self._status_topic, self._status_payload(online=False), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        if reason.is_failure:
            self._failures.report(logging.ERROR, describe_refusal(reason, self.config.broker))
            return
        self._failures.reset()
        send_without_delay(client)  # a batch published right after acking an ack would wait ~40 ms
        client.subscribe(self._ack_topic, qos=1)
        client.subscribe(self._config_topic, qos=1)
        self.connected.set()
        self._inbox.put(("connected", None))

    def _on_connect_fail(self, _c: mqtt.Client, _u: object) -> None:
        # paho calls this inside its `except OSError`, so the exception (e.g. a TLS verify error) is current.
        self._failures.report(*describe_connect_failure(sys.exc_info()[1], self.config.broker))

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        if self.connected.is_set():
            self._inbox.put(("disconnected", str(reason)))
        self.connected.clear()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        kind = "config" if message.topic == self._config_topic else "message"
        self._inbox.put((kind, message.payload))

    # --- the loop (caller's thread) ------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Sync until ``stop`` is set; then say offline and disconnect cleanly."""
        broker = self.config.broker
        log.info(
            "agent %s at %s: store %s, broker %s, backlog %d",
            self.config.device_id, self.config.location_id, self.store.path, broker.url, self.store.backlog(),
        )  # fmt: skip
        self.client.connect_async(
            broker.host,
            broker.port,
            keepalive=broker.keepalive_s,
            **session_kwargs(broker.mqtt_version, self.config.sync.session_expiry_s),
        )
        self.note_clock(at_start=True)
        self.client.loop_start()
        sdnotify.notify("READY=1")
        watchdog = sdnotify.Watchdog()  # systemd restarts a hung loop (WatchdogSec= in the unit)
        next_status = next_prune = next_progress = 0.0
        next_clock_note = time.monotonic() + CLOCK_NOTE_EVERY_S
        synced_at_progress = 0
        try:
            while not stop.is_set():
                watchdog.ping()
                self._handle_inbox(timeout=self.config.sync.flush_interval_ms / 1000)
                now = time.monotonic()
                if self.connected.is_set():
                    self._redate_if_trusted(now)
                    self._resend_due(now)
                    self._fill_window(now)
                    self.actions.tick(now)
                    self.alert_notes.tick(now)
                    # Tell HQ promptly when a backlog has drained, not only every status interval.
                    drained = self._acked_since_status and not self.inflight
                    if now >= next_status or drained:
                        self.publish_status()
                        next_status = now + self.config.sync.status_interval_s
                if now >= next_prune:
                    pruned = self.store.prune(self.config.store.retention_days)
                    if pruned:
                        log.info(
                            "pruned %d synced events older than %d days",
                            pruned,
                            self.config.store.retention_days,
                        )
                    next_prune = now + PRUNE_EVERY_S
                if now >= next_progress:
                    if self.stats.events_synced != synced_at_progress:
                        log.info(
                            "synced %d events in the last %.0f s; backlog %d, %d batches awaiting ack",
                            self.stats.events_synced - synced_at_progress, PROGRESS_EVERY_S,
                            self.store.backlog(), len(self.inflight),
                        )  # fmt: skip
                        synced_at_progress = self.stats.events_synced
                    next_progress = now + PROGRESS_EVERY_S
                if now >= next_clock_note:
                    self.note_clock(at_start=False)
                    next_clock_note = now + CLOCK_NOTE_EVERY_S
        finally:
            self._shutdown()

    def _handle_inbox(self, timeout: float) -> None:
        try:
            kind, data = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            if kind == "message":
                acks = [data]  # acks waiting together are marked in one store transaction: one fsync, not one each
                while (item := self._inbox_nowait()) is not None and item[0] == "message":
                    acks.append(item[1])
                self._handle_acks(acks)
                if item is None:
                    return
                kind, data = item
                continue
            if kind == "config":
                store_pushed_config(
                    self.store, data, self.config.location_id
                )  # logs what it received or why it refused it
            if kind in ("connected", "disconnected"):
                self.store.set_meta("agent_connected", "1" if kind == "connected" else "0")
            if kind == "connected":
                log.info("connected to %s; %d batches to resend", self.config.broker.url, len(self.inflight))
                now = time.monotonic()
                for batch in self.inflight.values():
                    batch.next_retry = now
                self.actions.reconnected(now)
                self.alert_notes.reconnected(now)
            elif kind == "disconnected":
                log.warning("disconnected from broker (%s); taps keep being stored locally", data)
            try:
                kind, data = self._inbox.get_nowait()
            except queue.Empty:
                return

    def _inbox_nowait(self) -> tuple[str, Any] | None:
        try:
            return self._inbox.get_nowait()
        except queue.Empty:
            return None

    def _handle_acks(self, payloads: list[bytes]) -> None:
        """Acks in arrival order; each run of acks without rejections is marked synced in one transaction."""
        run: list[Ack] = []
        for payload in [*payloads, None]:
            ack = None
            if payload is not None:
                try:
                    ack = decode(payload, Ack)
                except (ValueError, RecursionError) as exc:  # Invalid, not JSON, not UTF-8, too deep
                    log.error("ignored a malformed ack (%d bytes): %s", len(payload), exc)
                    continue
                if self.actions.handle_ack(ack) or self.alert_notes.handle_ack(ack):
                    continue
                if not ack.rejected:
                    run.append(ack)
                    continue
            self._mark_synced([i for a in run for i in (*a.accepted, *a.duplicates)])
            for done in run:
                self._handle_ack(done, marked=True)
            run = []
            if ack is not None:  # one with rejections: on its own, so marks keep their order
                self._handle_ack(ack)

    def _mark_synced(self, ids: list[str]) -> None:
        """``store.mark_synced`` without waiting for an fsync, so the write lock is free again at once.

        A mark lost in a power cut only sends those events again, and the hub acks them as duplicates;
        while the lock is held for an fsync, a tap on the kiosk waits (SQLite's busy handler sleeps 1, 2,
        5 ms ...). Every other write of the agent, and every tap, stays synchronous=FULL.
        """
        if not ids:
            return
        conn = self.store.db
        level = conn.execute("PRAGMA synchronous").fetchone()[0]
        conn.execute("PRAGMA synchronous = NORMAL")
        try:
            self.store.mark_synced(ids)
        finally:
            conn.execute(f"PRAGMA synchronous = {int(level)}")

    def _handle_ack(self, ack: Ack, marked: bool = False) -> None:
        done = ack.accepted + ack.duplicates
        if not marked:
            self._mark_synced(done)
        if ack.rejected:
            self.store.mark_rejected((r.id, r.error) for r in ack.rejected)
            for r in ack.rejected[:5]:
                log.warning("hub rejected event %s: %s", r.id, r.error)
        batch = self.inflight.pop(ack.batch_id, None)
        self._acked_since_status = True
        self.stats.acks += 1
        self.stats.events_synced += len(done)
        self.stats.events_rejected += len(ack.rejected)
        if batch is not None:
            self.stats.ack_latency_ms.append((time.monotonic() - batch.first_sent) * 1000)
            del self.stats.ack_latency_ms[:-1000]
            missing = set(batch.ids) - set(done) - {r.id for r in ack.rejected}
            if missing:
                # Not fatal: they stay pending and go out again with a later batch.
                log.warning("ack %s did not mention %d events; they will be resent", ack.batch_id, len(missing))

    def _cursor(self) -> int:
        """Highest seq in flight; with nothing in flight, sweep from the start."""
        return max((b.max_seq for b in self.inflight.values()), default=0)

    def _fill_window(self, now: float) -> None:
        sync = self.config.sync
        while len(self.inflight) < sync.max_inflight_batches:
            events = self.store.pending_after(self._cursor(), sync.batch_size, hold_unclocked=self._hold_window())
            if not events:
                return
            batch_id = clock.uuid7()
            body = {
                "v": 1,
                "device_id": self.config.device_id,
                "location_id": self.config.location_id,
                "batch_id": batch_id,
                "events": events,
            }
            batch = InflightBatch(
                batch_id=batch_id,
                ids=[str(e["id"]) for e in events],
                max_seq=max(int(str(e["seq"])) for e in events),
                payload=msgspec.json.encode(body),
                first_sent=now,
                next_retry=now + sync.ack_timeout_s,
            )
            self.inflight[batch_id] = batch
            self._publish(batch)
            self.stats.batches_sent += 1

    @staticmethod
    def _hold_window() -> tuple[str, int]:
        """This boot's untrusted taps younger than ``redate.HOLD_S`` wait for a trusted clock."""
        return redate.hold_window(clock.boot_id(), clock.monotonic_ms())

    def note_clock(self, at_start: bool) -> None:
        """Log why taps are held, and the fix: at start, then every CLOCK_NOTE_EVERY_S while any are."""
        verdict = self.store.clock_verdict()
        held = 0 if verdict.ok else self.store.held_count(self._hold_window())
        if not verdict.ok and (at_start or held):
            log.warning(clock_advice.agent_note(verdict, held))
        elif at_start:
            log.info(clock_advice.agent_note(verdict, held))

    def _redate_if_trusted(self, now: float) -> None:
        """Once the wall clock is trusted, re-date this boot's held taps before they leave the device."""
        if now < self._next_redate:
            return
        self._next_redate = now + REDATE_EVERY_S
        if not self.store.clock_verdict().ok:
            return
        in_flight = {i for b in self.inflight.values() for i in b.ids}
        n = redate.redate_pending(self.store, clock.now(), clock.monotonic_ms(), clock.boot_id(), in_flight)
        if n:
            log.info("re-dated %d taps recorded before the clock was trusted, from this boot's monotonic clock", n)

    def _resend_due(self, now: float) -> None:
        sync = self.config.sync
        for batch in self.inflight.values():
            if now < batch.next_retry:
                continue
            self._publish(batch)
            self.stats.batches_resent += 1
            delay = min(sync.max_backoff_s, sync.ack_timeout_s * 2 ** min(batch.attempts, 16))
            batch.attempts += 1
            batch.next_retry = now + delay * random.uniform(0.8, 1.2)

    def _publish(self, batch: InflightBatch) -> None:
        info = self.client.publish(self._events_topic, batch.payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.debug("publish of batch %s deferred: rc=%s", batch.batch_id, info.rc)

    def _publish_qos1(self, name: str, payload: bytes) -> None:
        self.client.publish(name, payload, qos=1)

    def _status_payload(self, online: bool) -> bytes:
        status = Status(
            online=online,
            device_id=self.config.device_id,
            location_id=self.config.location_id,
            version=__version__,
            backlog=self.store.backlog() if online else None,
            last_sync=self.store.last_sync() if online else None,
            clock_ok=self.store.clock_verdict().ok,
            held=self.store.held_count(self._hold_window()) if online else None,
            ts=format_ts(datetime.now(UTC)),
        )
        return encode_sparse(status)

    def publish_status(self) -> None:
        """Retained, so HQ sees the latest state of a device even while it is offline."""
        self._acked_since_status = False
        self.client.publish(self._status_topic, self._status_payload(online=True), qos=1, retain=True)

    def _shutdown(self) -> None:
        try:
            if self.connected.is_set():
                info = self.client.publish(self._status_topic, self._status_payload(online=False), qos=1, retain=True)
                info.wait_for_publish(timeout=2)
            self.client.disconnect()
        finally:
            self.client.loop_stop()
            self.store.set_meta("agent_connected", "0")
            log.info(
                "agent stopped: %d events synced this run, backlog %d",
                self.stats.events_synced, self.store.backlog(),
            )  # fmt: skip
