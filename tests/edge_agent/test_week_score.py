"""The score of the week from the device's own store: rolling weeks, misuse excluded, enough answers to show."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent.store import DeviceStore
from edge_agent.week_score import week_days, week_score

HELSINKI = "Europe/Helsinki"
TODAY = date(2026, 11, 22)  # a Sunday


@pytest.fixture(autouse=True)
def _clock_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "1")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DeviceStore]:
    with DeviceStore(tmp_path / "device.sqlite", HELSINKI, synchronous="NORMAL") as s:
        yield s


def answer(store: DeviceStore, day: date, counts: list[int], question: str = "q", misuse: bool = False) -> None:
    at = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)  # 12:00 in Helsinki
    for value, n in enumerate(counts):
        for _ in range(n):
            store.record(value, question, len(counts), source="cli", misuse=misuse, now=at)


def test_weeks_are_the_last_seven_local_days_and_the_seven_before() -> None:
    assert week_days(TODAY) == ((date(2026, 11, 16), TODAY), (date(2026, 11, 9), date(2026, 11, 15)))


def test_the_week_against_last_week_by_hand(store: DeviceStore) -> None:
    answer(store, TODAY, [1, 2, 3, 4])  # this week, spread over its first and last day
    answer(store, TODAY - timedelta(days=6), [1, 1, 10, 10])
    answer(store, TODAY - timedelta(days=7), [5, 5, 10, 10])  # last week's last day
    answer(store, TODAY - timedelta(days=13), [0, 0, 0, 0])
    answer(store, TODAY - timedelta(days=14), [9, 9, 9, 9])  # before last week: not counted
    answer(store, TODAY, [9, 9, 0, 0], misuse=True)  # misuse: never counted
    answer(store, TODAY, [9, 0, 0, 0], question="other")
    week = week_score(store, "q", 4, today=TODAY)
    assert week.this_week.counts == [2, 3, 13, 14] and week.this_week.n == 32
    assert week.last_week.counts == [5, 5, 10, 10] and week.last_week.n == 30
    assert week.this_week.pct_positive == pytest.approx(27 / 32 * 100)  # 84.375
    assert week.last_week.pct_positive == pytest.approx(20 / 30 * 100)
    # Happy Index: mean answer (0*2 + 1*3 + 2*13 + 3*14) / 32 = 71/32, on 0..100: 71/32/3*100
    assert week.this_week.happy_index == pytest.approx(71 / 32 / 3 * 100)
    assert week.showable and week.comparable
    assert week.change == pytest.approx(27 / 32 * 100 - 20 / 30 * 100)
    assert (week.first_day, week.last_day) == (date(2026, 11, 16), TODAY)


def test_too_few_answers_are_not_shown_nor_compared(store: DeviceStore) -> None:
    answer(store, TODAY, [0, 0, 10, 19])  # 29: one short
    answer(store, TODAY - timedelta(days=8), [0, 0, 20, 20])
    week = week_score(store, "q", 4, today=TODAY)
    assert not week.showable and not week.comparable and week.change is None
    answer(store, TODAY, [0, 0, 0, 1])
    week = week_score(store, "q", 4, today=TODAY)
    assert week.showable and week.comparable and week.change == pytest.approx(0.0)


def test_no_answers_at_all_and_another_scale(store: DeviceStore) -> None:
    empty = week_score(store, "q", 5, today=TODAY)
    assert empty.this_week.n == 0 and empty.this_week.pct_positive is None and not empty.showable
    answer(store, TODAY, [0, 0, 0, 0, 0, 0, 0, 5, 5, 10, 20])
    nps = week_score(store, "q", 11, today=TODAY)
    assert nps.this_week.n == 40 and nps.this_week.pct_positive == pytest.approx(75.0)  # promoters 9-10
    assert not nps.comparable
