"""Re-dating on the device: taps recorded before the clock was trusted move to their true day."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent import clock, redate
from edge_agent.protocol import Event, convert
from edge_agent.store import DeviceStore

TZ = "America/New_York"
THREE_DAYS = 3 * 86_400


@pytest.fixture
def store(tmp_path: Path) -> DeviceStore:
    return DeviceStore(tmp_path / "device.sqlite", TZ)


def bad_clock(monkeypatch: pytest.MonkeyPatch, offset_s: float, boot: str | None = None) -> None:
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "0")
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OFFSET_S", str(offset_s))
    if boot is None:
        monkeypatch.delenv("TOUCHPOINT_BOOT_ID", raising=False)
    else:
        monkeypatch.setenv("TOUCHPOINT_BOOT_ID", boot)


def ntp_synced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "1")
    monkeypatch.delenv("TOUCHPOINT_CLOCK_OFFSET_S", raising=False)


def rows(store: DeviceStore, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(str(store.path))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def run_redate(store: DeviceStore, skip: tuple[str, ...] = ()) -> int:
    return redate.redate_pending(store, clock.now(), clock.monotonic_ms(), clock.boot_id(), skip)


def test_the_clock_seam_shifts_the_wall_clock_and_fakes_a_boot(monkeypatch: pytest.MonkeyPatch) -> None:
    bad_clock(monkeypatch, -THREE_DAYS, boot="fake-boot")
    assert abs((datetime.now(UTC) - clock.now()).total_seconds() - THREE_DAYS) < 5
    assert clock.boot_id() == "fake-boot" and clock.clock_ok("rtc") is False
    monkeypatch.delenv("TOUCHPOINT_BOOT_ID")
    assert clock.boot_id() != "fake-boot"


def test_taps_of_this_boot_move_to_their_true_day(store: DeviceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    bad_clock(monkeypatch, -THREE_DAYS)
    taps = [store.record(v, "default", 4) for v in (0, 3, 3)]
    misuse = store.record(1, "default", 4, misuse=True)
    wrong_day = taps[0].ts.astimezone(store.tz).date().isoformat()
    assert store.day_counts(wrong_day) == {("default", 4): [1, 0, 0, 2]}
    ntp_synced(monkeypatch)
    assert run_redate(store) == 4
    today = datetime.now(store.tz).date().isoformat()
    assert store.day_counts(wrong_day) == {}
    assert store.day_counts(today) == {("default", 4): [1, 0, 0, 2]}  # the misuse tap is still not counted
    for ts, day, clock_ok, redated in rows(store, "SELECT ts, local_day, clock_ok, redated FROM events"):
        assert abs((datetime.fromisoformat(str(ts)) - datetime.now(UTC)).total_seconds()) < 5
        assert (day, clock_ok, redated) == (today, 1, 1)
    pending = store.pending_after(0, 10)
    assert [p["id"] for p in pending] == [t.id for t in [*taps, misuse]]
    assert all(p["redated"] is True and p["clock_ok"] is True for p in pending)
    assert all(convert(p, Event).redated for p in pending)  # the optional wire field
    assert run_redate(store) == 0  # once only


def test_a_tap_keeps_its_position_in_the_boot(store: DeviceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    bad_clock(monkeypatch, +2 * 86_400)
    first = store.record(2, "default", 4)
    # the same tap recorded 90 s of uptime earlier: push its monotonic stamp back
    with store.write() as conn:
        conn.execute("UPDATE events SET mono_ms = mono_ms - 90000 WHERE id = ?", (first.id,))
    ntp_synced(monkeypatch)
    run_redate(store)
    [(ts,)] = rows(store, "SELECT ts FROM events")
    age = datetime.now(UTC) - datetime.fromisoformat(str(ts))
    assert timedelta(seconds=89) < age < timedelta(seconds=95)


def test_taps_of_an_earlier_boot_and_taps_in_flight_stay(store: DeviceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    bad_clock(monkeypatch, -THREE_DAYS, boot="an-earlier-boot")
    earlier = store.record(1, "default", 4)
    bad_clock(monkeypatch, -THREE_DAYS)
    in_flight = store.record(2, "default", 4)
    ntp_synced(monkeypatch)
    assert run_redate(store, skip=(in_flight.id,)) == 0
    assert rows(store, "SELECT clock_ok, redated FROM events") == [(0, 0), (0, 0)]
    sent = {p["id"]: p for p in store.pending_after(0, 10)}
    assert sent[earlier.id]["clock_ok"] is False and "redated" not in sent[earlier.id]


def test_untrusted_taps_of_this_boot_wait_for_the_clock(store: DeviceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    bad_clock(monkeypatch, -THREE_DAYS, boot="boot-a")
    old_boot = store.record(1, "default", 4)
    bad_clock(monkeypatch, -THREE_DAYS, boot="boot-b")
    held = store.record(2, "default", 4)
    ntp_synced(monkeypatch)
    monkeypatch.setenv("TOUCHPOINT_BOOT_ID", "boot-b")
    good = store.record(3, "default", 4)
    window = redate.hold_window("boot-b", clock.monotonic_ms())
    assert [p["id"] for p in store.pending_after(0, 10, hold_unclocked=window)] == [old_boot.id, good.id]
    assert [p["id"] for p in store.pending_after(0, 10)] == [old_boot.id, held.id, good.id]


@pytest.mark.parametrize(
    ("age_ms", "hold_s", "sent"),
    [
        (0, 0.0, True),  # no hold at all, even for a tap of this very millisecond
        (0, redate.HOLD_S, False),
        (int(redate.HOLD_S * 1000) - 1, redate.HOLD_S, False),
        (int(redate.HOLD_S * 1000), redate.HOLD_S, True),  # held for exactly HOLD_S, then sent as it is
    ],
)
def test_a_hold_ends_exactly_when_the_tap_is_hold_s_old(
    store: DeviceStore, monkeypatch: pytest.MonkeyPatch, age_ms: int, hold_s: float, sent: bool
) -> None:
    bad_clock(monkeypatch, -THREE_DAYS, boot="boot-b")
    tap = store.record(2, "default", 4)
    assert tap.mono_ms is not None
    window = redate.hold_window("boot-b", tap.mono_ms + age_ms, hold_s=hold_s)  # "now", in the tap's own ms
    assert [p["id"] for p in store.pending_after(0, 10, hold_unclocked=window)] == ([tap.id] if sent else [])


def test_held_count_is_what_pending_after_holds_back(store: DeviceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    bad_clock(monkeypatch, -THREE_DAYS, boot="boot-a")
    store.record(1, "default", 4)  # an earlier boot: cannot be re-dated, so never held
    bad_clock(monkeypatch, -THREE_DAYS, boot="boot-b")
    held = [store.record(v, "default", 4) for v in (0, 2)]
    ntp_synced(monkeypatch)
    monkeypatch.setenv("TOUCHPOINT_BOOT_ID", "boot-b")
    store.record(3, "default", 4)  # a trusted tap
    window = redate.hold_window("boot-b", clock.monotonic_ms())
    sent = {p["id"] for p in store.pending_after(0, 10, hold_unclocked=window)}
    assert store.held_count(window) == 2 == store.backlog() - len(sent)
    assert not sent & {t.id for t in held}
    store.mark_synced([held[0].id])
    assert store.held_count(window) == 1  # only pending taps are held
