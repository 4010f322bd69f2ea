"""edge_agent.recorder.Recorder on a real store: misuse interval, follow-up holds, failures, threads."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.recorder import HOLD_MARGIN_S, Recorder
from edge_agent.store import DeviceStore, StoreError
from edge_agent.survey import FollowUp, Question, Reason, Survey, default_survey


@pytest.fixture(autouse=True)
def _clock_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "1")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "device.sqlite"


@pytest.fixture
def store(db_path: Path) -> Iterator[DeviceStore]:
    with DeviceStore(db_path, "Europe/Helsinki") as s:
        yield s


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read through a separate connection, as the sync agent would."""
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def survey(interval: float = 5.0, follow_up: FollowUp | None = None, version: int = 4) -> Survey:
    return Survey(
        version=version,
        languages=["en"],
        question=Question(id="entrance", scale=5, text={"en": "How was it?"}, follow_up=follow_up),
        response_interval_s=interval,
        idle_timeout_s=10.0,
    )


def test_misuse_is_measured_from_the_last_counted_press(store: DeviceStore, db_path: Path) -> None:
    clock = FakeClock()
    recorder = Recorder(store, lambda: survey(interval=5.0), clock=clock)
    flags = []
    for t in (0.0, 3.0, 4.9, 5.0, 9.0, 9.99, 10.0):
        clock.now = 500.0 + t
        flags.append(recorder.tap(4, "touch").misuse)
    # 4.9 is within 5 s of 0; 5.0 counts; 9.0 is within 5 s of 5.0 (not of 4.9, which was misuse); 10.0 counts.
    assert flags == [False, True, True, False, True, True, False]
    assert [r[0] for r in rows(db_path, "SELECT misuse FROM events ORDER BY seq")] == [0, 1, 1, 0, 1, 1, 0]
    assert store.day_counts(store.today()) == {("entrance", 5): [0, 0, 0, 0, 3]}


def test_a_zero_interval_never_flags_misuse(store: DeviceStore) -> None:
    clock = FakeClock()
    recorder = Recorder(store, lambda: survey(interval=0.0), clock=clock)
    assert [recorder.tap(1, "button").misuse for _ in range(3)] == [False, False, False]


def test_the_row_carries_the_surveys_question_version_and_source(store: DeviceStore, db_path: Path) -> None:
    current = [survey(version=4)]
    recorder = Recorder(store, lambda: current[0], clock=FakeClock())
    first = recorder.tap(2, "button")
    current[0] = default_survey()  # the survey changes between taps
    second = recorder.tap(0, "touch")
    assert rows(db_path, "SELECT id, question_id, scale, value, source, survey_version FROM events ORDER BY seq") == [
        (first.event.id, "entrance", 5, 2, "button", 4),
        (second.event.id, "default", 4, 0, "touch", 0),
    ]


def test_follow_up_flag_follows_the_question(store: DeviceStore) -> None:
    reasons = [Reason(id="queue", text={"en": "Queue"})]
    clock = FakeClock()
    default_negative = Recorder(store, lambda: survey(interval=0, follow_up=FollowUp(reasons=reasons)), clock=clock)
    assert [default_negative.tap(v, "touch").follow_up for v in range(5)] == [True, True, False, False, False]
    chosen = FollowUp(ask_for=[2, 4], reasons=reasons)
    explicit = Recorder(store, lambda: survey(interval=0, follow_up=chosen), clock=clock)
    assert [explicit.tap(v, "touch").follow_up for v in range(5)] == [False, False, True, False, True]
    none = Recorder(store, lambda: survey(interval=0), clock=clock)
    assert [none.tap(v, "touch").follow_up for v in range(5)] == [False] * 5


def test_a_follow_up_tap_is_held_until_answered_then_syncs_with_its_reason(store: DeviceStore, db_path: Path) -> None:
    recorder = Recorder(store, default_survey, clock=FakeClock())
    tap = recorder.tap(0, "touch")
    assert tap.follow_up is True
    assert store.pending_after(0, 10) == []  # held: the reason may still come
    hold_until = rows(db_path, "SELECT hold_until FROM events")[0][0]
    assert isinstance(hold_until, float)
    expected = time.time() + default_survey().idle_timeout_s + HOLD_MARGIN_S
    assert hold_until == pytest.approx(expected, abs=5)
    # Without an answer it syncs by itself once the hold is over.
    assert [e["id"] for e in store.pending_after(0, 10, now=hold_until)] == [tap.event.id]
    assert recorder.answer_follow_up(tap, "queue") is True
    pending = store.pending_after(0, 10)
    assert [(e["id"], e["reason"]) for e in pending] == [(tap.event.id, "queue")]


def test_skip_stores_no_reason_and_releases_the_hold(store: DeviceStore, db_path: Path) -> None:
    recorder = Recorder(store, default_survey, clock=FakeClock())
    tap = recorder.tap(1, "touch")
    assert recorder.answer_follow_up(tap, None) is True
    assert rows(db_path, "SELECT reason, hold_until FROM events") == [(None, None)]
    assert [e["reason"] for e in store.pending_after(0, 10)] == [None]


def test_a_positive_tap_is_not_held(store: DeviceStore) -> None:
    recorder = Recorder(store, default_survey, clock=FakeClock())
    tap = recorder.tap(3, "touch")
    assert tap.follow_up is False
    assert [e["id"] for e in store.pending_after(0, 10)] == [tap.event.id]


def test_a_reason_for_an_already_synced_tap_is_refused(store: DeviceStore) -> None:
    recorder = Recorder(store, default_survey, clock=FakeClock())
    tap = recorder.tap(0, "touch")
    store.mark_synced([tap.event.id])
    assert recorder.answer_follow_up(tap, "queue") is False


def test_a_tap_that_could_not_be_stored_raises_and_does_not_start_the_interval(
    store: DeviceStore, db_path: Path
) -> None:
    """Another connection holds the write lock longer than our busy timeout: a real SQLITE_BUSY."""
    clock = FakeClock()
    recorder = Recorder(store, lambda: survey(interval=5.0), clock=clock)
    store.db.execute("PRAGMA busy_timeout = 50")
    blocker = sqlite3.connect(str(db_path), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="database is locked"):
            recorder.tap(4, "touch")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    clock.now += 1.0
    # The lost tap started no misuse interval: this one counts.
    assert recorder.tap(4, "touch").misuse is False
    assert rows(db_path, "SELECT COUNT(*), SUM(misuse) FROM events") == [(1, 0)]


def test_an_invalid_value_raises_value_error_and_stores_nothing(store: DeviceStore, db_path: Path) -> None:
    recorder = Recorder(store, default_survey, clock=FakeClock())
    with pytest.raises(ValueError, match=r"value must be 0..3"):
        recorder.tap(4, "button")
    assert rows(db_path, "SELECT COUNT(*) FROM events") == [(0,)]


def test_concurrent_taps_are_all_stored_with_unique_seq(store: DeviceStore, db_path: Path) -> None:
    recorder = Recorder(store, lambda: survey(interval=0.0))
    threads, per_thread = 8, 25
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def tapper(value: int) -> None:
        start.wait()
        try:
            for _ in range(per_thread):
                recorder.tap(value, "button")
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=tapper, args=(i % 5,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    seqs = [r[0] for r in rows(db_path, "SELECT seq FROM events")]
    assert len(seqs) == threads * per_thread
    assert len(set(seqs)) == len(seqs)
    assert max(seqs) - min(seqs) == len(seqs) - 1  # no gaps: no half-written tap
    assert rows(db_path, "SELECT COUNT(DISTINCT id) FROM events") == [(threads * per_thread,)]
    assert sum(store.day_counts(store.today())[("entrance", 5)]) == threads * per_thread


def test_concurrent_taps_share_one_misuse_interval(store: DeviceStore, db_path: Path) -> None:
    """The interval check and the insert are atomic together: exactly one of a burst counts."""
    recorder = Recorder(store, lambda: survey(interval=3600.0))
    start = threading.Barrier(6)

    def tapper() -> None:
        start.wait()
        for _ in range(10):
            recorder.tap(2, "touch")

    workers = [threading.Thread(target=tapper) for _ in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert rows(db_path, "SELECT COUNT(*), SUM(misuse) FROM events") == [(60, 59)]
