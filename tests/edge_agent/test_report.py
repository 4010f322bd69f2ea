"""edge_agent.report: the manager's figures from a real device store, and their text rendering."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge_agent.report import day_report, format_report, manager_summary
from edge_agent.store import DeviceStore

TZ = "Europe/Helsinki"  # UTC+2 in early March
DAY = "2026-03-10"


@pytest.fixture(autouse=True)
def _clock_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "1")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DeviceStore]:
    with DeviceStore(tmp_path / "device.sqlite", TZ) as s:
        yield s


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def busy_store(store: DeviceStore) -> DeviceStore:
    """A day of answers around DAY, with misuse, reasons, other days and sync outcomes."""
    ids = []

    def tap(value: int, when: datetime, **kw: Any) -> None:
        ids.append(store.record(value, kw.pop("q", "default"), kw.pop("scale", 4), now=when, **kw).id)

    tap(3, at(9, 22, 30))  # 00:30 local on DAY: belongs to DAY, not to the UTC day
    tap(3, at(10, 8, 15))  # 10:15 local
    tap(3, at(10, 8, 45))
    tap(0, at(10, 9, 30), reason="queue")  # 11:30 local
    tap(1, at(10, 9, 31), reason="queue")
    tap(0, at(10, 9, 32), reason="staff")
    tap(2, at(10, 9, 33), reason="price")  # a reason behind a positive answer: not a negative reason
    tap(0, at(10, 9, 34), reason="queue", misuse=True)  # stored, never counted
    tap(4, at(10, 11, 0), q="exit", scale=5)
    tap(3, at(9, 12, 0))  # yesterday
    tap(1, at(4, 12, 0))  # 6 days before: inside the last 7 days
    tap(0, at(3, 12, 0))  # 7 days before: outside
    store.mark_synced(ids[:2], now=datetime(2026, 3, 10, 10, 0, 0, 250_000, tzinfo=UTC))
    store.mark_rejected([(ids[2], "test rejection")])
    store.set_meta("agent_connected", "1")
    return store


def test_summary_scores_the_local_day_per_question(busy_store: DeviceStore) -> None:
    s = manager_summary(busy_store, DAY)
    assert (s["day"], s["timezone"]) == (DAY, TZ)
    default, exit_q = s["questions"]
    assert default["question_id"] == "default"
    assert (default["scale"], default["n"], default["counts"]) == (4, 7, [2, 1, 1, 3])
    assert default["happy_index"] == 57.14  # (0*2 + 1 + 2 + 3*3) / 7 / 3 * 100
    assert default["pct_positive"] == 57.14
    assert default["pct_negative"] == 42.86
    assert default["small_sample"] is True
    assert "nps" not in default
    assert (exit_q["question_id"], exit_q["scale"], exit_q["counts"], exit_q["happy_index"]) == (
        "exit",
        5,
        [0, 0, 0, 0, 1],
        100.0,
    )


def test_summary_hours_are_local_and_only_those_with_answers(busy_store: DeviceStore) -> None:
    hours = manager_summary(busy_store, DAY)["hours"]
    assert sorted(hours) == ["default", "exit"]
    assert [(h["hour"], h["n"], h["counts"], h["happy_index"]) for h in hours["default"]] == [
        (0, 1, [0, 0, 0, 1], 100.0),
        (10, 2, [0, 0, 0, 2], 100.0),
        (11, 4, [2, 1, 1, 0], 25.0),
    ]
    assert [(h["hour"], h["n"]) for h in hours["exit"]] == [(13, 1)]


def test_summary_negative_reasons_skip_misuse_and_positive_answers(busy_store: DeviceStore) -> None:
    assert manager_summary(busy_store, DAY)["negative_reasons"] == [
        {"reason": "queue", "n": 2},
        {"reason": "staff", "n": 1},
    ]


def test_summary_yesterday_and_the_last_7_days(busy_store: DeviceStore) -> None:
    s = manager_summary(busy_store, DAY)
    assert [(q["question_id"], q["counts"], q["happy_index"]) for q in s["yesterday"]] == [
        ("default", [0, 0, 0, 1], 100.0)
    ]
    week = {q["question_id"]: q for q in s["last_7_days"]}
    assert week["default"]["counts"] == [2, 2, 1, 4]  # today + yesterday + 6 days before, not 7 days before
    assert week["default"]["happy_index"] == 59.26
    assert week["exit"]["n"] == 1


def test_summary_sync_health(busy_store: DeviceStore) -> None:
    assert manager_summary(busy_store, DAY)["sync"] == {
        "connected": True,
        "backlog": 9,
        "synced": 2,
        "rejected": 1,
        "last_sync": "2026-03-10T10:00:00.250Z",
        "clock_ok": True,
        "clock": "ok",
    }


def test_an_empty_store_has_no_scores_and_no_sync(store: DeviceStore) -> None:
    s = manager_summary(store, DAY)
    assert (s["questions"], s["hours"], s["negative_reasons"], s["yesterday"], s["last_7_days"]) == ([], {}, [], [], [])
    assert s["sync"]["connected"] is False
    assert s["sync"]["last_sync"] is None
    assert s["sync"]["backlog"] == 0


def test_the_default_day_is_today_in_the_device_zone(store: DeviceStore) -> None:
    store.record(2, "default", 4)
    s = manager_summary(store)
    assert s["day"] == datetime.now(UTC).astimezone(store.tz).date().isoformat()
    assert s["questions"][0]["counts"] == [0, 0, 1, 0]
    assert day_report(store) == s


def test_summary_is_json_ready(busy_store: DeviceStore) -> None:
    s = manager_summary(busy_store, DAY)
    assert json.loads(json.dumps(s)) == s


def test_format_report_text(busy_store: DeviceStore) -> None:
    text = format_report(manager_summary(busy_store, DAY), "kiosk-1", "store-1")
    lines = text.splitlines()
    assert lines[0] == "Touchpoint store-1 / kiosk-1 - 2026-03-10 (Europe/Helsinki)"
    assert lines[1] == "  question default (4-point), n = 7"
    assert lines[2] == "    counts (most negative first): 2 1 1 3"
    assert re.fullmatch(r"    Happy Index 57\.1  \(95% CI \d+\.\d-\d+\.\d\)", lines[3])
    assert re.fullmatch(r"    % positive  57\.1  \(95% CI \d+\.\d-\d+\.\d\)", lines[4])
    assert lines[5] == "    (fewer than 30 answers: treat with care)"
    assert lines[6:9] == [
        "      00:00  n=1    index  100  #",
        "      10:00  n=2    index  100  ##",
        "      11:00  n=4    index   25  ####",
    ]
    assert "  reasons behind negative answers: queue (2), staff (1)" in lines
    assert "  yesterday: default n = 1, Happy Index 100.0" in lines
    assert "  last 7 days: default n = 9, Happy Index 59.3" in lines
    assert "  last 7 days: exit n = 1, Happy Index 100.0" in lines
    assert lines[-1] == (
        "  sync: connected, backlog 9, synced 2, rejected 1, last sync 2026-03-10T10:00:00.250Z, clock ok"
    )


def test_format_report_of_an_empty_day_and_an_unsynchronised_clock(
    store: DeviceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOUCHPOINT_CLOCK_OK", "0")
    text = format_report(manager_summary(store, DAY), "k", "s")
    assert text.splitlines() == [
        "Touchpoint s / k - 2026-03-10 (Europe/Helsinki)",
        "  no answers yet today",
        "  sync: not connected, backlog 0, synced 0, rejected 0, last sync never, "
        "clock NOT TRUSTED (TOUCHPOINT_CLOCK_OK=0)",
    ]


def test_format_report_shows_nps_on_the_0_to_10_scale(store: DeviceStore) -> None:
    for value in (10, 10, 9, 0):
        store.record(value, "nps", 11, now=at(10, 10))
    text = format_report(manager_summary(store, DAY), "k", "s")
    assert re.search(r"^    NPS         50\.0  \(95% CI -?\d+\.\d--?\d+\.\d\)$", text, re.M)
    assert "    counts (most negative first): 1 0 0 0 0 0 0 0 0 1 2" in text
