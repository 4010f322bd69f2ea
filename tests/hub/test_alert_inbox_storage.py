"""The alert inbox and digest subscriptions in storage, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hub.storage.base import Storage
from hub.storage.base_alerts import AlertEvent, AlertKey, AlertQuery, NewAlert, RuleSpec
from hub.storage.base_digests import SubscriptionSpec
from hub.storage.base_inbox import AlertNote, InboxState

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def fire(storage: Storage, location: str, rule_name: str = "low", at: datetime = NOW) -> AlertEvent:
    rule = storage.create_rule(RuleSpec(rule_name, "index_below", "all", None, {}, None), at)
    event = storage.fire_alert(NewAlert(AlertKey(rule.rule_id, location), "low index", {}), at, None, str)
    assert event is not None
    return event


def note(
    alert_id: int, kind: str = "comment", text: str | None = "seen", author: str = "ann", **kw: object
) -> AlertNote:
    return AlertNote(str(uuid.uuid4()), alert_id, kind, author, text, kw.pop("at", NOW), **kw)  # type: ignore[arg-type]


def test_ack_assign_and_comments_thread_and_first_ack_stands(storage: Storage) -> None:
    a = fire(storage, "store-1")
    assert storage.alert_inbox([a.alert_id]) == {}
    first = note(a.alert_id, "ack", None, "ann", at=NOW + timedelta(minutes=1))
    outcomes = storage.add_alert_notes(
        [first, note(a.alert_id, "assign", "bob@example.com", "ann"), note(a.alert_id, text="on it", author="bob")],
        NOW,
    )
    assert outcomes == ["accepted", "accepted", "accepted"]
    later = note(a.alert_id, "ack", None, "carl", at=NOW + timedelta(minutes=5))
    assert storage.add_alert_notes([later], NOW) == ["accepted"]
    state = storage.alert_inbox([a.alert_id])[a.alert_id]
    assert state == InboxState("2026-11-23T12:01:00.000Z", "ann", "bob@example.com", "2026-11-23T12:00:00.000Z", "ann")
    thread = storage.alert_notes([a.alert_id])[a.alert_id]
    assert [(n.kind, n.author, n.text) for n in thread] == [
        ("ack", "ann", None), ("assign", "ann", "bob@example.com"), ("comment", "bob", "on it"), ("ack", "carl", None),
    ]  # fmt: skip
    assert thread[0].created_at == NOW + timedelta(minutes=1)
    storage.add_alert_notes([note(a.alert_id, "assign", None)], NOW)  # unassign
    assert storage.alert_inbox([a.alert_id])[a.alert_id].assignee is None


def test_a_note_sent_twice_is_stored_once_and_a_device_note_stays_in_its_location(storage: Storage) -> None:
    a, b = fire(storage, "store-1"), fire(storage, "store-2", "other")
    comment = note(a.alert_id, text="checked the till", source="device")
    assert storage.add_alert_notes([comment], NOW, location_id="store-1") == ["accepted"]
    assert storage.add_alert_notes([comment, note(b.alert_id), note(999)], NOW, location_id="store-1") == [
        "duplicate", "wrong_location", "no_alert",
    ]  # fmt: skip
    assert len(storage.alert_notes([a.alert_id])[a.alert_id]) == 1
    assert storage.alert_notes([b.alert_id]) == {}
    assert storage.alert(a.alert_id) == a and storage.alert(999) is None


def test_history_filters_open_acknowledged_and_assignee_and_what_stores_see(storage: Storage) -> None:
    a, b = fire(storage, "store-1"), fire(storage, "store-2", "other")
    old = fire(storage, "store-3", "old", at=NOW - timedelta(days=10))
    storage.resolve_alert(old.alert_id, NOW - timedelta(days=9))
    storage.add_alert_notes([note(a.alert_id, "ack", None), note(a.alert_id, "assign", "dee")], NOW)

    def ids(**kw: object) -> list[int]:
        return [e.alert_id for e in storage.alert_history(AlertQuery(**kw))]  # type: ignore[arg-type]

    assert ids(inbox="open") == [old.alert_id, b.alert_id] and ids(inbox="acknowledged") == [a.alert_id]
    assert ids(assignee="dee") == [a.alert_id] and ids(assignee="nobody") == []
    storage.resolve_alert(a.alert_id, NOW)
    storage.resolve_alert(b.alert_id, NOW)
    # acknowledged and resolved: done; unacknowledged and recent: still for the store; older: gone
    assert [e.alert_id for e in storage.open_location_alerts(NOW - timedelta(days=7))] == [b.alert_id]


def test_digest_subscriptions_and_a_slot_claimed_by_one_caller_only(storage: Storage) -> None:
    spec = SubscriptionSpec("location", "store-1", "email", "m@example.com", 0, 8, "Europe/Helsinki")
    sub = storage.create_subscription(spec, NOW, 7)
    assert (sub.spec, sub.created_at, sub.created_by_token, sub.last_sent_at) == (spec, NOW, 7, None)
    assert storage.digest_subscriptions() == [sub] and storage.digest_subscription(sub.subscription_id) == sub
    slot = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert storage.claim_digest_slot(sub.subscription_id, None, slot)
    assert not storage.claim_digest_slot(sub.subscription_id, None, slot)  # the other worker loses
    storage.finish_digest_slot(sub.subscription_id, slot, None, NOW, "SMTP down")  # failed: the claim is given back
    failed = storage.digest_subscription(sub.subscription_id)
    assert failed is not None and (failed.last_sent_at, failed.last_error) == (None, "SMTP down")
    assert storage.claim_digest_slot(sub.subscription_id, None, slot)
    storage.finish_digest_slot(sub.subscription_id, slot, None, NOW, None)
    sent = storage.digest_subscription(sub.subscription_id)
    assert sent is not None and (sent.last_sent_at, sent.last_delivered_at, sent.last_error) == (slot, NOW, None)
    assert not storage.claim_digest_slot(sub.subscription_id, None, slot + timedelta(weeks=1))  # stale previous
    assert storage.claim_digest_slot(sub.subscription_id, slot, slot + timedelta(weeks=1))
    assert storage.delete_subscription(sub.subscription_id) and not storage.delete_subscription(sub.subscription_id)
    assert storage.digest_subscriptions() == []
