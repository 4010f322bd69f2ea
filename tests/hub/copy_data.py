"""A hub database made the way ``scripts/demo`` makes one, for the ``db copy`` tests, with a row in every table.

The demo's own code (scripts/lib/demo/stores.py) records weeks of history in each kiosk's store;
each store's pending taps then go through the hub's real message classification and ingest, in
batches as an agent sends them. Around that: what a running hub also keeps (tokens, a session,
a failed login, a registered location, a survey and its assignment, alert rules with a firing
and a resolved episode and their webhook deliveries, broker accounts, a quarantined tap, a dead
letter, device statuses), each through the storage API the hub itself uses.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.classify import classify
from hub.domain.accounts import BrokerAccount
from hub.services.surveys import parse_survey_body
from hub.storage.base import IncomingBatch, StatusUpdate
from hub.storage.base_actions import ActionRecord
from hub.storage.base_alerts import AlertKey, NewAlert, RuleSpec
from hub.storage.base_analytics import LocationSpec
from hub.storage.base_digests import SubscriptionSpec
from hub.storage.base_inbox import AlertNote
from hub.storage.sqlite import SqliteStorage

LIB = str(Path(__file__).resolve().parents[2] / "scripts" / "lib")
if LIB not in sys.path:
    sys.path.insert(0, LIB)

from demo.stores import DemoDevice, fill_history, make_device  # noqa: E402  (scripts/lib)

from simulate import DEMO_LOCATIONS  # noqa: E402

BATCH = 500  # events per message, as an agent sends them


def ingest_store(storage: SqliteStorage, device: DemoDevice, received_at: datetime) -> int:
    """Every pending tap of the device's store, through the hub's classification and ingest; how many it counted."""
    store = device.open_store()
    loc = device.loc.location_id
    sent, after, number = 0, 0, 0
    try:
        while pending := store.pending_after(after, BATCH):
            number += 1
            payload = {"v": 1, "device_id": device.device_id, "location_id": loc,
                       "batch_id": f"{device.device_id}-{number}", "events": pending}  # fmt: skip
            item, letters = classify(f"touchpoint/v1/{loc}/{device.device_id}/events", json.dumps(payload).encode())
            assert isinstance(item, IncomingBatch) and not letters, letters
            result = storage.ingest([item], [], [], received_at)
            store.mark_synced(result.acks[0].accepted)
            after = int(pending[-1]["seq"])  # type: ignore[call-overload]
            sent += result.inserted
    finally:
        store.close()
    return sent


def status(device: DemoDevice, online: bool) -> StatusUpdate:
    body = {"v": 1, "online": online, "device_id": device.device_id, "location_id": device.loc.location_id,
            "version": "0.1.0", "backlog": 0, "ts": "2026-01-01T00:00:00Z"}  # fmt: skip
    topic = f"touchpoint/v1/{device.loc.location_id}/{device.device_id}/status"
    item, _ = classify(topic, json.dumps(body).encode())
    assert isinstance(item, StatusUpdate)
    return item


def build_demo_hub(db: Path, workdir: Path, days: int = 14, stores: int = 3) -> list[DemoDevice]:
    """The demo's stores with ``days`` of history each, ingested into the SQLite hub at ``db``."""
    now = datetime.now(UTC)
    devices = []
    storage = SqliteStorage(db)
    try:
        for i, loc in enumerate(DEMO_LOCATIONS[:stores]):
            device = make_device(workdir, i, loc, "mqtt://127.0.0.1:1883", "5", "rtc")
            fill_history(device, days, seed=i, now=now)
            ingest_store(storage, device, now)
            devices.append(device)
        add_the_rest(storage, devices, now)
    finally:
        storage.close()
    return devices


def add_the_rest(storage: SqliteStorage, devices: list[DemoDevice], now: datetime) -> None:
    """A row in every other table, as a running hub would have them."""
    first, last = devices[0], devices[-1]
    storage.ingest([], [status(d, d is not last) for d in devices], [], now)
    admin, _ = storage.create_token("it", "admin", None)
    storage.create_token("analysts", "analyst", "nordics")
    revoked, _ = storage.create_token("old", "analyst", None)
    storage.revoke_token(revoked.token_id)
    storage.create_session("f" * 64, admin.token_id, now, now + timedelta(hours=8))
    storage.record_login_failure("203.0.113.9", now, now - timedelta(hours=1))
    spec = LocationSpec(first.loc.location_id, "Helsinki Central", first.loc.timezone, "nordics/finland")
    storage.register_location(spec, now)
    survey = parse_survey_body(
        {"languages": ["en"], "question": {"id": "checkout", "scale": 4, "text": {"en": "How was checkout?"}}}
    )
    storage.add_survey_version("checkout", survey, "it", now)
    storage.replace_assignments("checkout", [first.loc.location_id], ["nordics"], now)
    storage.record_published(first.device_id, "checkout", 1, now)
    hook = "http://127.0.0.1:9/hooks/alerts"
    rule = storage.create_rule(RuleSpec("Many negative", "pct_negative", "all", None, {}, hook), now)
    offline = storage.create_rule(RuleSpec("Offline", "device_offline", "all", None, {"minutes": 1}, hook), now)
    for key, text in ((AlertKey(rule.rule_id, last.loc.location_id), "négatif ✓ 80% (4 of 5)"),
                      (AlertKey(offline.rule_id, last.loc.location_id, last.device_id), "offline")):  # fmt: skip
        storage.fire_alert(NewAlert(key, text, {"n": 5}), now, hook, lambda a: json.dumps({"text": a.message}))
    firing = storage.firing_alerts()[0]
    alert_id = firing.alert_id
    notes = [AlertNote("note-ack-1", alert_id, "ack", "it", None, now),
             AlertNote("note-assign-1", alert_id, "assign", "it", "mia@example.com", now),
             AlertNote("note-comment-1", alert_id, "comment", "manager@kiosk-1", "Till 2", now, "device")]  # fmt: skip
    storage.add_alert_notes(notes, now)
    spec = SubscriptionSpec("location", first.loc.location_id, "email", "mia@example.com", 0, 8, first.loc.timezone)
    storage.create_subscription(spec, now, admin.token_id)
    resolved = storage.firing_alerts()[-1]
    storage.resolve_alert(resolved.alert_id, now + timedelta(minutes=5))
    (claimed,) = storage.claim_deliveries(now, 30, 1)
    storage.finish_delivery(claimed.delivery_id, now, None, None)
    hashed = "$7$101$c2FsdA==$aGFzaA=="
    storage.add_account(BrokerAccount(first.device_id, "device", hashed, now.isoformat(), first.loc.location_id))
    storage.add_account(BrokerAccount("hub", "hub", hashed, now.isoformat()))
    storage.set_registry_setting("broker_url", "mqtts://hub.example.com:8883")
    loc_id = first.loc.location_id
    # "You said, we did": one live action and one deleted at HQ (a soft delete must come over as such).
    for n, action_id in enumerate(("4b0e8c5e-0000-4000-8000-000000000001", "4b0e8c5e-0000-4000-8000-000000000002")):
        day = (now - timedelta(days=7 * (n + 1))).date()
        texts = {"fi": "Avasimme toisen kassan"}
        stamp = now.isoformat()
        record = ActionRecord(
            action_id, loc_id, "We opened a second till", texts, "queue", day, None, "it", None, stamp, stamp
        )
        storage.create_action(record)
    storage.delete_action("4b0e8c5e-0000-4000-8000-000000000002", now)
    # A tap whose clock the device does not trust: acked, kept in quarantine, never counted.
    untrusted = {"id": "0190a5e4-7c1d-7abc-8def-00000000abcd", "seq": 10**6, "ts": now.isoformat(), "tz": "UTC",
                 "clock_ok": False, "question_id": "default", "scale": 4, "value": 0, "source": "touch"}  # fmt: skip
    loc = first.loc.location_id
    payload = {"v": 1, "device_id": first.device_id, "location_id": loc, "batch_id": "q-1", "events": [untrusted]}
    batch, _ = classify(f"touchpoint/v1/{loc}/{first.device_id}/events", json.dumps(payload).encode())
    assert isinstance(batch, IncomingBatch)
    _, letters = classify(f"touchpoint/v1/{loc}/{first.device_id}/events", b"\x00not json\xff")
    storage.ingest([batch], [], letters, now)
