"""The dashboard's small pure parts: throttling, date ranges, redirects, SVG output and session storage."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from hub.dashboard.auth import safe_next
from hub.dashboard.charts import ci_bar, heat_colour, heatmap, trend_chart
from hub.dashboard.period import Period, parse_period
from hub.dashboard.ratelimit import LoginLimiter
from hub.dashboard.render import ago, signed
from hub.storage.sqlite import SqliteStorage
from tests.dashboard.stack import plan_taps

TODAY = date(2026, 11, 22)


def test_the_limiter_blocks_after_the_limit_and_forgets_after_the_window(tmp_path: Path) -> None:
    start = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    now = [start]
    storage = SqliteStorage(tmp_path / "hub.sqlite")
    limiter = LoginLimiter(limit=3, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after(storage, "a") == 0
        limiter.failed(storage, "a")
    assert limiter.retry_after(storage, "a") == 60
    assert limiter.retry_after(storage, "b") == 0
    now[0] = start + timedelta(seconds=59.5)
    assert limiter.retry_after(storage, "a") == 1
    now[0] = start + timedelta(seconds=60)
    assert limiter.retry_after(storage, "a") == 0
    storage.close()


def test_the_limit_holds_across_workers_and_old_failures_are_dropped(tmp_path: Path) -> None:
    """Two hub workers (two storages on one database) share the count; the table keeps only the window."""
    start = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    now = [start]
    one, two = SqliteStorage(tmp_path / "hub.sqlite"), SqliteStorage(tmp_path / "hub.sqlite")
    limiter = LoginLimiter(limit=2, window_s=10, clock=lambda: now[0])
    for i in range(50):
        now[0] = start + timedelta(seconds=i)
        limiter.failed(one if i % 2 else two, f"10.0.0.{i}")
    assert len(one.login_failures("10.0.0.49", start)) == 1
    limiter.failed(one, "10.0.0.1")
    assert limiter.retry_after(two, "10.0.0.1") == 0
    limiter.failed(two, "10.0.0.1")
    assert limiter.retry_after(one, "10.0.0.1") == 10
    kept = one._reader().execute("SELECT COUNT(*) FROM login_failures").fetchone()[0]
    assert kept <= 12  # the window's failures, not all 52
    one.close()
    two.close()


def test_periods_default_to_the_last_28_days_and_explain_bad_input() -> None:
    assert parse_period(None, None, TODAY) == (Period(date(2026, 10, 26), TODAY), None)
    period, note = parse_period("2026-11-01", "2026-11-07", TODAY)
    assert (period, note) == (Period(date(2026, 11, 1), date(2026, 11, 7)), None)
    assert period.previous() == Period(date(2026, 10, 25), date(2026, 10, 31))
    for start, end in (("2026-11-07", "2026-11-01"), ("yesterday", None), ("2020-01-01", "2026-01-01")):
        period, note = parse_period(start, end, TODAY)
        assert period.days == 28 and note


def test_only_local_paths_are_followed_after_login() -> None:
    assert safe_next("/devices?x=1") == "/devices?x=1"
    for bad in (None, "", "https://evil.example/", "//evil.example/", "/\\evil.example", "devices"):
        assert safe_next(bad) == "/"


def test_display_helpers() -> None:
    assert [signed(v) for v in (1.234, -2.0, 0.01, None)] == ["+1.2", "\u22122.0", "±0.0", "—"]
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert ago("2026-11-22T11:55:00.000Z", now) == "5 min ago"
    assert ago("2026-11-20T12:00:00Z", now) == "2 d ago"
    assert ago(None, now) == "never"


def test_charts_escape_text_and_have_one_mark_per_datum() -> None:
    days = [TODAY - timedelta(days=i) for i in range(6, -1, -1)]
    rows = {
        d.isoformat(): {"happy_index": 60.0 + i, "happy_index_ci": [50.0, 70.0 + i], "n": 40, "small_sample": False}
        for i, d in enumerate(days)
        if i != 3  # a gap splits the line in two
    }
    svg = str(trend_chart(days, rows))
    assert svg.count('data-testid="trend-point"') == 6
    assert svg.count('class="line"') == 2
    cells = {(0, 9): {"happy_index": 12.5, "n": 3}, (6, 23): {"happy_index": 99.0, "n": 1}}
    heat = str(heatmap(cells))
    assert heat.count('data-testid="heat-cell"') == 168
    assert heat.count('data-n="0"') == 166
    bar = str(ci_bar({"happy_index": 50.0, "happy_index_ci": [40.0, 60.0]}, 'x"><script>'))
    assert "<script>" not in bar
    assert heat_colour(0) != heat_colour(50) != heat_colour(100)


def test_sessions_store_only_a_hash_expire_and_die_with_their_token(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "hub.sqlite")
    try:
        info, _secret = storage.create_token("t", "analyst", "europe")
        now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
        digest = hashlib.sha256(b"session-id").hexdigest()
        storage.create_session(digest, info.token_id, now, now + timedelta(hours=12))
        found = storage.session_token(digest, now + timedelta(hours=1))
        assert found is not None and found[0].region == "europe"
        assert storage.session_token(digest, now + timedelta(hours=12)) is None, "expired"
        storage.revoke_token(info.token_id)
        assert storage.session_token(digest, now) is None, "revoked token"
        assert storage.delete_session(digest) is True
        assert storage.delete_session(digest) is False
    finally:
        storage.close()


@pytest.mark.parametrize("utc_hour", range(24))
def test_the_fleets_planned_taps_are_all_in_the_past_at_any_hour(utc_hour: int) -> None:
    """The hub quarantines taps from the future: a fleet planned from UTC's date broke the suite at 00:30 UTC."""
    now = datetime(2026, 11, 28, utc_hour, 19, tzinfo=UTC)
    assert [t for t in plan_taps(now) if t.at > now] == []
