"""edge_agent.store, edge_agent.migrate and edge_agent.clock against real SQLite files."""

from __future__ import annotations

import math
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent import clock
from edge_agent.migrate import Migration, SchemaTooNewError, current_version, migrate
from edge_agent.protocol import Event, convert, format_ts
from edge_agent.store import DeviceStore, StoreError, SyncCounts
from edge_agent.store_schema import MIGRATIONS
from edge_agent.sync_state import PENDING, REJECTED, SYNCED

HELSINKI = "Europe/Helsinki"
T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "1")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "device.sqlite"


@pytest.fixture
def store(db_path: Path) -> Iterator[DeviceStore]:
    with DeviceStore(db_path, HELSINKI) as s:
        yield s


def raw(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Read through a separate connection, as another process would."""
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# --- recording --------------------------------------------------------------


def test_record_returns_the_stored_event(store: DeviceStore) -> None:
    event = store.record(2, "q1", 4, source="button", reason="queue", survey_version=3, now=T0)
    assert isinstance(event, Event)
    assert event.value == 2
    assert event.scale == 4
    assert event.question_id == "q1"
    assert event.source == "button"
    assert event.reason == "queue"
    assert event.survey_version == 3
    assert event.tz == HELSINKI
    assert event.ts == T0
    assert event.clock_ok is True
    assert event.misuse is False
    assert event.boot_id == clock.boot_id()
    assert event.mono_ms is not None and event.mono_ms >= 0
    parsed = uuid.UUID(event.id)
    assert parsed.version == 7
    assert parsed.int >> 80 == int(T0.timestamp() * 1000)


def test_seq_increases_by_one_per_tap(store: DeviceStore) -> None:
    seqs = [store.record(i % 4, "q", 4, now=T0).seq for i in range(5)]
    assert seqs == list(range(seqs[0], seqs[0] + 5))


def test_seq_starts_at_the_store_creation_time_in_ms(db_path: Path) -> None:
    before = math.floor(time.time())
    with DeviceStore(db_path) as store:
        after = math.ceil(time.time())
        seq = store.record(0, "q", 4).seq
    assert before * 1000 < seq <= after * 1000 + 1


def test_the_row_is_in_the_file_when_record_returns(store: DeviceStore, db_path: Path) -> None:
    event = store.record(3, "q1", 5, now=T0)
    rows = raw(db_path, "SELECT id, seq, ts, value, scale, question_id, sync_state, tz FROM events")
    assert rows == [(event.id, event.seq, "2026-11-22T12:00:00.000Z", 3, 5, "q1", PENDING, HELSINKI)]
    counts = raw(db_path, "SELECT day, hour, question_id, scale, value, count FROM daily_counts")
    assert counts == [("2026-11-22", 14, "q1", 5, 3, 1)]


def test_store_uses_wal_and_full_sync(store: DeviceStore, db_path: Path) -> None:
    assert raw(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_synchronous_normal_is_opt_in_and_checked(db_path: Path) -> None:
    with DeviceStore(db_path, synchronous="NORMAL") as store:
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    with pytest.raises(ValueError, match="synchronous must be FULL or NORMAL, not 'OFF'"):
        DeviceStore(db_path, synchronous="OFF")


@pytest.mark.parametrize(
    ("value", "scale", "source", "message"),
    [
        (4, 4, "touch", "value must be 0..3 on a 4-point scale, got 4"),
        (-1, 5, "touch", "value must be 0..4 on a 5-point scale, got -1"),
        (11, 11, "touch", "value must be 0..10 on a 11-point scale, got 11"),
        (0, 3, "touch", "scale must be one of (4, 5, 11), got 3"),
        (0, 10, "touch", "scale must be one of (4, 5, 11), got 10"),
        (0, 4, "pen", "source must be one of ('touch', 'button', 'cli', 'sim'), got 'pen'"),
    ],
)
def test_invalid_taps_raise_and_store_nothing(
    store: DeviceStore, db_path: Path, value: int, scale: int, source: str, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        store.record(value, "q", scale, source=source)
    assert str(info.value) == message
    assert raw(db_path, "SELECT COUNT(*) FROM events") == [(0,)]
    assert raw(db_path, "SELECT COUNT(*) FROM daily_counts") == [(0,)]


@pytest.mark.parametrize(
    "kwargs",
    [{"question_id": "bad id!"}, {"question_id": "q", "reason": "x" * 201}, {"question_id": "q", "survey_version": -1}],
)
def test_a_tap_that_raises_is_not_stored(store: DeviceStore, db_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        store.record(1, scale=4, **kwargs)  # type: ignore[arg-type]
    assert raw(db_path, "SELECT COUNT(*) FROM events") == [(0,)]


@pytest.mark.parametrize(
    ("now", "day", "hour"),
    [
        (datetime(2026, 11, 22, 21, 30, tzinfo=UTC), "2026-11-22", 23),
        (datetime(2026, 11, 22, 22, 30, tzinfo=UTC), "2026-11-23", 0),
        (datetime(2026, 11, 22, 21, 59, 59, 999000, tzinfo=UTC), "2026-11-22", 23),
        (datetime(2026, 11, 22, 22, 0, tzinfo=UTC), "2026-11-23", 0),
        # summer time (UTC+3) and the spring-forward night (01:00Z, 03:00 -> 04:00 local)
        (datetime(2026, 6, 30, 21, 30, tzinfo=UTC), "2026-07-01", 0),
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), "2026-03-29", 2),
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "2026-03-29", 4),
    ],
)
def test_local_day_and_hour_use_the_device_zone(
    store: DeviceStore, db_path: Path, now: datetime, day: str, hour: int
) -> None:
    event = store.record(1, "q", 4, now=now)
    assert raw(db_path, "SELECT local_day, local_hour FROM events WHERE id = ?", (event.id,)) == [(day, hour)]
    assert store.day_counts(day) == {("q", 4): [0, 1, 0, 0]}
    assert raw(db_path, "SELECT day, hour FROM daily_counts") == [(day, hour)]


def test_utc_store_buckets_by_utc(db_path: Path) -> None:
    with DeviceStore(db_path) as store:
        store.record(0, "q", 4, now=datetime(2026, 11, 22, 22, 30, tzinfo=UTC))
        assert store.day_counts("2026-11-22") == {("q", 4): [1, 0, 0, 0]}
        assert store.timezone == "UTC"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    instants=st.lists(
        st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
        min_size=1,
        max_size=5,
    ),
    tz=st.sampled_from(["Europe/Helsinki", "America/St_Johns", "Asia/Kathmandu", "Pacific/Chatham", "UTC"]),
)
def test_local_bucketing_matches_zoneinfo(instants: list[datetime], tz: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, DeviceStore(Path(tmp) / "s.sqlite", tz) as store:
        for now in instants:
            event = store.record(0, "q", 4, now=now)
            local = now.astimezone(ZoneInfo(tz))
            row = store.db.execute("SELECT local_day, local_hour FROM events WHERE id = ?", (event.id,)).fetchone()
            assert row == (local.date().isoformat(), local.hour)
        days = {local.astimezone(ZoneInfo(tz)).date().isoformat() for local in instants}
        assert sum(store.day_counts(day)[("q", 4)][0] for day in days) == len(instants)


def test_misuse_is_stored_but_not_counted(store: DeviceStore, db_path: Path) -> None:
    store.record(3, "q", 4, now=T0)
    abuse = store.record(0, "q", 4, misuse=True, now=T0)
    assert abuse.misuse is True
    assert raw(db_path, "SELECT misuse FROM events ORDER BY seq") == [(0,), (1,)]
    assert store.day_counts("2026-11-22") == {("q", 4): [0, 0, 0, 1]}
    pending = store.pending_after(0, 10)
    assert [p["misuse"] for p in pending] == [False, True]


def test_day_counts_by_question_and_scale(store: DeviceStore) -> None:
    for value in (0, 3, 3, 2):
        store.record(value, "smile", 4, now=T0)
    for value in (10, 9, 0):
        store.record(value, "nps", 11, now=T0)
    store.record(1, "smile", 4, now=T0 + timedelta(days=1))
    assert store.day_counts("2026-11-22") == {
        ("smile", 4): [1, 0, 1, 2],
        ("nps", 11): [1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
    }
    assert store.day_counts("2026-11-22", question_id="nps") == {("nps", 11): [1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]}
    assert store.day_counts("2026-11-23") == {("smile", 4): [0, 1, 0, 0]}
    assert store.day_counts("2026-11-24") == {}


def test_today_is_in_the_device_zone(store: DeviceStore) -> None:
    assert store.today() == datetime.now(ZoneInfo(HELSINKI)).date().isoformat()


def test_clock_ok_is_recorded(store: DeviceStore, monkeypatch: pytest.MonkeyPatch, db_path: Path) -> None:
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "0")
    assert store.record(1, "q", 4, now=T0).clock_ok is False
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "1")
    assert store.record(1, "q", 4, now=T0).clock_ok is True
    assert raw(db_path, "SELECT clock_ok FROM events ORDER BY seq") == [(0,), (1,)]


def test_an_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(StoreError, match="cannot open device store"):
        DeviceStore(tmp_path / "dir.sqlite")


# --- sync bookkeeping -------------------------------------------------------


def test_pending_after_returns_protocol_events_in_seq_order(store: DeviceStore) -> None:
    events = [store.record(i % 4, "q", 4, now=T0 + timedelta(minutes=i)) for i in range(6)]
    pending = store.pending_after(0, 100)
    assert [p["id"] for p in pending] == [e.id for e in events]
    # the dicts are valid wire events, equal to what record() returned
    assert [convert(p, Event) for p in pending] == events
    assert pending[0]["ts"] == "2026-11-22T12:00:00.000Z"
    assert pending[0]["clock_ok"] is True
    assert [p["id"] for p in store.pending_after(events[2].seq, 2)] == [events[3].id, events[4].id]
    assert store.pending_after(events[-1].seq, 10) == []


def test_mark_synced_and_rejected(store: DeviceStore, db_path: Path) -> None:
    a, b, c, d = (store.record(i, "q", 4, now=T0) for i in range(4))
    assert store.sync_counts() == SyncCounts(pending=4, synced=0, rejected=0)
    assert store.backlog() == 4
    assert store.last_sync() is None

    synced_at = datetime(2026, 11, 22, 12, 5, 0, 123456, tzinfo=UTC)
    assert store.mark_synced([a.id, b.id, "0190a5e4-7c1d-7abc-8def-000000000000"], now=synced_at) == 2
    assert store.last_sync() == "2026-11-22T12:05:00.123Z"
    assert store.mark_synced([a.id], now=synced_at + timedelta(seconds=1)) == 0  # already synced
    assert store.last_sync() == "2026-11-22T12:05:01.123Z"

    assert store.mark_rejected([(c.id, "value: nope " + "x" * 600), (a.id, "too late")]) == 1
    assert store.sync_counts() == SyncCounts(pending=1, synced=2, rejected=1)
    assert store.backlog() == 1
    assert [p["id"] for p in store.pending_after(0, 10)] == [d.id]
    assert store.mark_synced([c.id]) == 0  # rejected stays rejected

    rows = {r[0]: r[1] for r in raw(db_path, "SELECT id, sync_state FROM events")}
    assert rows == {a.id: SYNCED, b.id: SYNCED, c.id: REJECTED, d.id: PENDING}
    error = raw(db_path, "SELECT sync_error FROM events WHERE id = ?", (c.id,))[0][0]
    assert isinstance(error, str) and len(error) == 500 and error.startswith("value: nope")
    assert raw(db_path, "SELECT synced_at FROM events WHERE id = ?", (a.id,)) == [("2026-11-22T12:05:00.123Z",)]


def test_mark_synced_of_nothing_changes_nothing(store: DeviceStore) -> None:
    store.record(1, "q", 4)
    assert store.mark_synced([]) == 0
    assert store.last_sync() is None
    assert store.backlog() == 1


def test_mark_synced_handles_more_ids_than_one_chunk(store: DeviceStore) -> None:
    ids = [store.record(i % 4, "q", 4, now=T0).id for i in range(1203)]
    assert store.mark_synced(ids) == 1203
    assert store.sync_counts() == SyncCounts(0, 1203, 0)


def test_hold_keeps_an_event_back_until_set_reason(store: DeviceStore) -> None:
    plain = store.record(3, "q", 4, now=T0)
    held = store.record(0, "q", 4, hold_s=60, now=T0)
    assert [p["id"] for p in store.pending_after(0, 10)] == [plain.id]
    assert store.backlog() == 2  # held events are still pending
    later = [p["id"] for p in store.pending_after(0, 10, now=time.time() + 61)]
    assert later == [plain.id, held.id]

    assert store.set_reason(held.id, "long queue") is True
    pending = store.pending_after(0, 10)
    assert [p["id"] for p in pending] == [plain.id, held.id]
    assert pending[1]["reason"] == "long queue"


def test_set_reason_only_touches_pending_events(store: DeviceStore) -> None:
    event = store.record(0, "q", 4, hold_s=60)
    store.mark_synced([event.id])
    assert store.set_reason(event.id, "too late") is False
    assert store.set_reason("0190a5e4-7c1d-7abc-8def-000000000000", "unknown") is False
    assert store.db.execute("SELECT reason FROM events").fetchone() == (None,)


def test_prune_deletes_only_old_synced_events_and_keeps_counts(store: DeviceStore, db_path: Path) -> None:
    now = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
    old = now - timedelta(days=40)
    old_synced = store.record(1, "q", 4, now=old)
    old_pending = store.record(2, "q", 4, now=old)
    old_rejected = store.record(3, "q", 4, now=old)
    edge_synced = store.record(0, "q", 4, now=now - timedelta(days=30) + timedelta(milliseconds=1))
    new_synced = store.record(0, "q", 4, now=now - timedelta(days=1))
    store.mark_synced([old_synced.id, edge_synced.id, new_synced.id])
    store.mark_rejected([(old_rejected.id, "bad")])
    old_day = old.astimezone(ZoneInfo(HELSINKI)).date().isoformat()
    counts_before = store.day_counts(old_day)

    assert store.prune(30, now=now) == 1
    remaining = {r[0] for r in raw(db_path, "SELECT id FROM events")}
    assert remaining == {old_pending.id, old_rejected.id, edge_synced.id, new_synced.id}
    assert store.day_counts(old_day) == counts_before == {("q", 4): [0, 1, 1, 1]}
    assert store.prune(30, now=now) == 0


def test_seq_never_goes_backwards_after_reopen_and_prune(db_path: Path) -> None:
    with DeviceStore(db_path, HELSINKI) as store:
        events = [store.record(1, "q", 4, now=T0) for _ in range(3)]
        last = events[-1].seq
    with DeviceStore(db_path, HELSINKI) as store:
        after_reopen = store.record(1, "q", 4, now=T0)
        assert after_reopen.seq == last + 1
        store.mark_synced([e.id for e in [*events, after_reopen]])
        assert store.prune(1, now=T0 + timedelta(days=10)) == 4
        assert raw(db_path, "SELECT COUNT(*) FROM events") == [(0,)]
    with DeviceStore(db_path, HELSINKI) as store:
        after_prune = store.record(1, "q", 4, now=T0)
    assert after_prune.seq == last + 2


# --- migrations -------------------------------------------------------------


def test_reopening_is_a_no_op_migration(db_path: Path) -> None:
    DeviceStore(db_path).close()
    assert raw(db_path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    conn = sqlite3.connect(str(db_path))
    try:
        assert current_version(conn) == len(MIGRATIONS) == 4  # 2: re-dating, 3: actions, 4: alerts and notes
        assert migrate(conn, MIGRATIONS, "device store") == []
        assert set(table_names(conn)) >= {"events", "daily_counts", "meta", "actions", "alerts", "alert_notes"}
    finally:
        conn.close()
    with DeviceStore(db_path) as store:  # and a second open keeps the data
        store.record(1, "q", 4)
    with DeviceStore(db_path) as store:
        assert store.backlog() == 1


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    DeviceStore(db_path).close()
    conn = sqlite3.connect(str(db_path))
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(SchemaTooNewError, match=r"schema version 5, newer than this release knows \(4\)"):
        DeviceStore(db_path)


def table_names(db: sqlite3.Connection) -> list[str]:
    return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


def _steps(*versions: int) -> list[Migration]:
    def make(v: int) -> Migration:
        def apply(db: sqlite3.Connection) -> None:
            db.execute(f"CREATE TABLE t{v} (x INTEGER)")

        return Migration(v, f"t{v}", apply)

    return [make(v) for v in versions]


def test_migrate_applies_steps_in_order_once(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "m.sqlite")
    assert migrate(db, _steps(1, 2), "test") == [1, 2]
    assert current_version(db) == 2
    assert migrate(db, _steps(1, 2), "test") == []
    assert migrate(db, _steps(1, 2, 3), "test") == [3]
    assert {"t1", "t2", "t3"} <= set(table_names(db))
    with pytest.raises(SchemaTooNewError):
        migrate(db, _steps(1, 2), "test")


def test_a_failing_migration_is_rolled_back(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "m.sqlite")
    migrate(db, _steps(1), "test")

    def broken(d: sqlite3.Connection) -> None:
        d.execute("CREATE TABLE half (x INTEGER)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        migrate(db, [*_steps(1), Migration(2, "broken", broken)], "test")
    assert current_version(db) == 1
    assert "half" not in table_names(db)


@pytest.mark.parametrize("versions", [(2,), (1, 1), (2, 1), (0, 1), (1, 3, 2)])
def test_bad_migration_numbering_is_refused(tmp_path: Path, versions: tuple[int, ...]) -> None:
    db = sqlite3.connect(tmp_path / "m.sqlite")
    with pytest.raises(ValueError, match="must be numbered 1, 2, 3"):
        migrate(db, _steps(*versions), "test")
    assert current_version(db) == 0


@pytest.mark.parametrize("versions", [(1, 3), ()])
def test_gapped_or_empty_migration_numbering_is_refused(tmp_path: Path, versions: tuple[int, ...]) -> None:
    db = sqlite3.connect(tmp_path / "m.sqlite")
    with pytest.raises(ValueError, match="must be numbered 1, 2, 3"):
        migrate(db, _steps(*versions), "test")


# --- two processes on one file ----------------------------------------------


def test_kiosk_and_agent_stores_interleave(db_path: Path) -> None:
    kiosk = DeviceStore(db_path, HELSINKI)
    agent = DeviceStore(db_path, HELSINKI)
    try:
        recorded = []
        for i in range(20):
            recorded.append(kiosk.record(i % 4, "q", 4, now=T0))
            if i % 3 == 2:
                pending = agent.pending_after(0, 100)
                assert agent.mark_synced([str(p["id"]) for p in pending]) == len(pending)
        assert agent.sync_counts() == SyncCounts(pending=2, synced=18, rejected=0)
        assert kiosk.backlog() == 2
        assert len({e.seq for e in recorded}) == 20
        assert kiosk.day_counts("2026-11-22") == {("q", 4): [5, 5, 5, 5]}
        assert kiosk.last_sync() == agent.last_sync() is not None
    finally:
        kiosk.close()
        agent.close()


def test_kiosk_and_agent_in_threads_do_not_fail_busy(db_path: Path) -> None:
    DeviceStore(db_path).close()
    errors: list[BaseException] = []
    done = threading.Event()

    def kiosk() -> None:
        try:
            with DeviceStore(db_path) as s:
                for i in range(60):
                    s.record(i % 4, "q", 4)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    def agent() -> None:
        try:
            with DeviceStore(db_path) as s:
                while True:
                    finished = done.is_set()
                    s.mark_synced([str(p["id"]) for p in s.pending_after(0, 50)])
                    if finished and s.backlog() == 0:
                        return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=kiosk), threading.Thread(target=agent)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert errors == []
    assert raw(db_path, "SELECT sync_state, COUNT(*) FROM events GROUP BY 1") == [(SYNCED, 60)]


# --- clock ------------------------------------------------------------------


def test_uuid7_layout() -> None:
    ms = 1_790_000_000_123
    value = uuid.UUID(clock.uuid7(ms))
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert value.int >> 80 == ms
    assert clock.uuid7(ms) != clock.uuid7(ms)


def test_uuid7_is_monotonic_in_its_ms_prefix() -> None:
    ids = [clock.uuid7() for _ in range(200)]
    prefixes = [uuid.UUID(i).int >> 80 for i in ids]
    assert prefixes == sorted(prefixes)
    now_ms = int(time.time() * 1000)
    assert now_ms - 10_000 < prefixes[0] <= prefixes[-1] <= now_ms


@given(st.lists(st.integers(min_value=0, max_value=2**48 - 1), min_size=2, max_size=20, unique=True))
def test_uuid7_text_sorts_by_time(times: list[int]) -> None:
    ids = {clock.uuid7(t): t for t in times}
    assert [ids[i] for i in sorted(ids)] == sorted(times)


def test_boot_id_and_monotonic_ms() -> None:
    assert clock.boot_id() == clock.boot_id()
    assert uuid.UUID(clock.boot_id())
    first = clock.monotonic_ms()
    assert clock.monotonic_ms() >= first >= 0


def test_record_before_2025_is_marked_clock_not_ok(store: DeviceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOUCHPOINT_CLOCK_OK")
    event = store.record(1, "q", 4, now=datetime(1970, 1, 1, 0, 5, tzinfo=UTC))
    assert event.clock_ok is False
    assert store.pending_after(0, 1)[0]["ts"] == format_ts(datetime(1970, 1, 1, 0, 5, tzinfo=UTC))
