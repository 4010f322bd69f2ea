"""The hub's quarantine: untrusted timestamps are kept, acked, visible, and never counted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from msgspec.structs import replace

from edge_agent.protocol import Event
from hub.domain.quarantine import FUTURE_TOLERANCE, verdict
from hub.storage import open_storage
from hub.storage.base import IncomingBatch, Storage
from tests.hub.backends import backend, db, raw

RECEIVED = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
GOOD_TS = RECEIVED - timedelta(hours=3)


def ev(seq: int, ts: datetime = GOOD_TS, clock_ok: bool = True, value: int = 2) -> Event:
    return Event(
        id=str(uuid.uuid4()), seq=seq, ts=ts, tz="Europe/Helsinki", clock_ok=clock_ok, question_id="q",
        scale=4, value=value, source="touch",
    )  # fmt: skip


def batch(events: list[Event], batch_id: str = "b-1", device: str = "dev-1") -> IncomingBatch:
    return IncomingBatch(device, "loc-1", batch_id, events)


@pytest.fixture
def storage(db: str) -> Iterator[Storage]:
    s = open_storage(db)
    yield s
    s.close()


__all__ = ["backend", "db"]  # the fixtures: every test here runs on both backends


def count(storage: Storage, sql: str) -> int:
    return int(raw(storage, sql)[0][0] or 0)  # type: ignore[call-overload]


def test_verdicts() -> None:
    assert verdict(ev(1), RECEIVED) is None
    assert verdict(ev(1, RECEIVED + FUTURE_TOLERANCE), RECEIVED) is None
    checks = {
        "clock_not_ok": ev(1, clock_ok=False),
        "future": ev(1, RECEIVED + FUTURE_TOLERANCE + timedelta(seconds=1)),
        "before_floor": ev(1, datetime(2024, 12, 31, 23, 0, tzinfo=UTC)),
    }
    for cause, event in checks.items():
        found = verdict(event, RECEIVED)
        assert found is not None and found.cause == cause and found.detail
    provisioned = RECEIVED - timedelta(days=1)
    early = verdict(ev(1, provisioned - timedelta(hours=1)), RECEIVED, provisioned)
    assert early is not None and early.cause == "before_provisioning"
    assert verdict(ev(1, provisioned + timedelta(hours=1)), RECEIVED, provisioned) is None


def test_quarantined_events_are_acked_kept_and_never_counted(storage: Storage) -> None:
    good, unclocked, ahead = ev(1, value=3), ev(2, clock_ok=False, value=0), ev(3, RECEIVED + timedelta(days=2))
    result = storage.ingest([batch([good, unclocked, ahead])], [], [], RECEIVED)
    [ack] = result.acks
    assert set(ack.accepted) == {good.id, unclocked.id, ahead.id} and not ack.rejected
    assert (result.inserted, result.quarantined) == (1, 2)
    assert count(storage, "SELECT COUNT(*) FROM events") == 1
    assert count(storage, "SELECT SUM(count) FROM rollup_day") == 1
    assert count(storage, "SELECT SUM(count) FROM rollup_hour") == 1
    summary = storage.quarantine_summary()
    assert summary == {"total": 2, "by_cause": {"clock_not_ok": 1, "future": 1}, "by_device": {"dev-1": 2}}
    rows = storage.quarantine_list(10)
    assert [r["id"] for r in rows] == [ahead.id, unclocked.id]  # newest first
    assert rows[0]["claimed_day"] == "2026-11-25" and rows[0]["cause"] == "future"
    assert storage.quarantine_list(10, cause="clock_not_ok")[0]["id"] == unclocked.id
    assert storage.quarantine_list(10, device_id="other") == []
    assert [r["id"] for r in storage.quarantine_list(10, before=int(str(rows[0]["pk"])))] == [unclocked.id]


def test_a_quarantined_event_sent_again_is_a_duplicate_even_once_plausible(storage: Storage) -> None:
    ahead = ev(1, RECEIVED + timedelta(minutes=30))
    storage.ingest([batch([ahead])], [], [], RECEIVED)
    later = RECEIVED + timedelta(hours=1)  # the same copy is no longer in the future
    [ack] = storage.ingest([batch([ahead], "b-2")], [], [], later).acks
    assert ack.duplicates == [ahead.id] and ack.accepted == []
    assert count(storage, "SELECT COUNT(*) FROM events") == 0
    assert storage.quarantine_summary()["total"] == 1


def test_a_counted_event_sent_again_with_a_bad_clock_stays_counted_once(storage: Storage) -> None:
    good = ev(1)
    storage.ingest([batch([good])], [], [], RECEIVED)
    again = replace(good, clock_ok=False)
    [ack] = storage.ingest([batch([again, again], "b-2")], [], [], RECEIVED).acks
    assert ack.duplicates == [good.id, good.id]
    assert storage.quarantine_summary()["total"] == 0


def test_the_provisioning_date_is_a_floor_for_registered_devices(storage: Storage) -> None:
    provisioned = RECEIVED - timedelta(days=2)
    with storage._write() as conn:  # type: ignore[attr-defined]
        conn.execute(
            "INSERT INTO broker_accounts (username, role, password_hash, created_at, location_id) "
            "VALUES ('dev-1', 'device', 'x', ?, 'loc-1')",
            (provisioned.strftime("%Y-%m-%dT%H:%M:%S.000Z"),),
        )
    before, after = ev(1, provisioned - timedelta(days=1)), ev(2, provisioned + timedelta(hours=1))
    unregistered = ev(3, provisioned - timedelta(days=1))
    storage.ingest([batch([before, after]), batch([unregistered], "b-2", device="dev-2")], [], [], RECEIVED)
    assert storage.quarantine_summary()["by_cause"] == {"before_provisioning": 1}
    assert count(storage, "SELECT COUNT(*) FROM events") == 2  # history before first contact is fine


def test_a_device_heard_from_before_it_was_registered_keeps_its_earlier_history(storage: Storage) -> None:
    storage.ingest([batch([ev(1, RECEIVED - timedelta(days=9))])], [], [], RECEIVED - timedelta(days=5))
    with storage._write() as conn:  # type: ignore[attr-defined]  # registered (`device add`) after it had been sending under registry=open
        conn.execute(
            "INSERT INTO broker_accounts (username, role, password_hash, created_at, location_id) "
            "VALUES ('dev-1', 'device', 'x', ?, 'loc-1')",
            (RECEIVED.strftime("%Y-%m-%dT%H:%M:%S.000Z"),),
        )
    late_backlog, older = ev(2, RECEIVED - timedelta(days=3)), ev(3, RECEIVED - timedelta(days=6))
    storage.ingest([batch([late_backlog, older], "b-2")], [], [], RECEIVED)
    assert storage.quarantine_summary()["by_cause"] == {"before_provisioning": 1}
    assert storage.quarantine_list(1)[0]["id"] == older.id
