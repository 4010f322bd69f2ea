"""When a digest subscription is due: weekday and local hour in its own zone, once per slot, catching up once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.services.digest import DigestTarget
from hub.services.digest_schedule import DigestSubscription, due, latest_slot

AKL = ZoneInfo("Pacific/Auckland")
HEL = ZoneInfo("Europe/Helsinki")
CREATED = datetime(2026, 11, 1, tzinfo=UTC)


def sub(
    sid: int = 1, weekday: int = 0, hour: int = 8, zone: str = "Pacific/Auckland", **kw: object
) -> DigestSubscription:
    return DigestSubscription(sid, DigestTarget("location", "akl-1"), "email", "m@example.com", weekday, hour, zone,
                              kw.pop("created_at", CREATED), **kw)  # type: ignore[arg-type]  # fmt: skip


def test_due_at_the_local_weekday_and_hour_not_the_utc_one() -> None:
    monday_8 = datetime(2026, 11, 23, 8, 0, tzinfo=AKL)  # Sunday 19:00 UTC
    s = sub(last_sent_at=monday_8 - timedelta(weeks=1) + timedelta(minutes=1))  # last week's went out
    assert due([s], monday_8 - timedelta(minutes=1)) == []
    assert due([s], monday_8) == [s]
    assert due([s], monday_8 + timedelta(hours=30)) == [s]  # still unsent: sent late rather than never
    assert latest_slot(s, monday_8 + timedelta(days=3)) == monday_8.astimezone(UTC)


def test_once_per_slot_and_a_long_outage_sends_once() -> None:
    monday_8 = datetime(2026, 11, 23, 8, 0, tzinfo=AKL)
    sent = sub(last_sent_at=monday_8 + timedelta(minutes=2))
    assert due([sent], monday_8 + timedelta(days=6)) == []
    assert due([sent], monday_8 + timedelta(weeks=1)) == [sent]
    stale = sub(last_sent_at=monday_8 - timedelta(weeks=5))  # the hub was down for weeks
    assert due([stale], monday_8 + timedelta(hours=1)) == [stale]
    assert latest_slot(stale, monday_8 + timedelta(hours=1)) == monday_8.astimezone(UTC)  # only the latest slot


def test_a_new_subscription_waits_for_its_first_slot() -> None:
    created = datetime(2026, 11, 24, 9, 0, tzinfo=AKL)  # Tuesday, after Monday's slot
    s = sub(created_at=created)
    assert due([s], created + timedelta(hours=1)) == []
    assert due([s], datetime(2026, 11, 30, 8, 0, tzinfo=AKL)) == [s]


def test_disabled_ones_are_skipped_and_due_ones_come_in_id_order() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=AKL)
    a, b, off = sub(3), sub(2, hour=7), sub(1, enabled=False)
    assert due([a, off, b], now) == [b, a]


def test_a_skipped_hour_at_the_spring_change_still_happens_once() -> None:
    # Helsinki: Sunday 29 March 2026, clocks go from 03:00 to 04:00; a Sunday 03:00 slot does not exist.
    s = sub(weekday=6, hour=3, zone="Europe/Helsinki", last_sent_at=datetime(2026, 3, 22, 1, 0, tzinfo=UTC))
    slot = latest_slot(s, datetime(2026, 3, 29, 12, 0, tzinfo=UTC))
    assert slot == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 at the winter offset = 04:00 summer time
    assert due([s], datetime(2026, 3, 29, 0, 59, tzinfo=UTC)) == []
    assert due([s], datetime(2026, 3, 29, 1, 0, tzinfo=UTC)) == [s]
    autumn = latest_slot(s, datetime(2026, 10, 25, 12, 0, tzinfo=UTC))  # 03:00 happens twice: the first one
    assert autumn == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"weekday": 7}, "weekday: must be 0"),
        ({"hour": 24}, "hour: must be 0 to 23"),
        ({"zone": "Mars/Base"}, "timezone: 'Mars/Base' is not an IANA"),
        ({"created_at": datetime(2026, 11, 1)}, "created_at: must be timezone-aware"),
    ],
)
def test_bad_subscriptions_name_the_field(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sub(**kw)  # type: ignore[arg-type]


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="now: must be timezone-aware"):
        due([sub()], datetime(2026, 11, 23, 8))
