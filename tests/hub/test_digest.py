"""The weekly digest on a real SQLite hub filled through ingest: local weeks far from UTC, the API's numbers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge_agent.scores import score
from hub.services.alert_rules import RuleInput, new_spec
from hub.services.alerts import AlertEvaluator
from hub.services.digest import DigestSection, DigestTarget, Week
from hub.services.digest_compose import DigestError, compose, last_complete_week
from hub.services.digest_html import chart_css, render_html
from hub.services.digest_text import bar, render_text
from hub.storage.sqlite import SqliteStorage
from tests.hub.digest_data import AS_OF, AUCKLAND, NEW_YORK, PREVIOUS, WEEK, api_get, expected_counts, fill

AKL = DigestTarget("location", "akl-1")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "hub.sqlite"


@pytest.fixture
def storage(db: Path) -> Iterator[SqliteStorage]:
    s = fill(db)
    yield s
    s.close()


def test_the_last_complete_week_is_local_and_a_region_waits_for_its_last_zone() -> None:
    assert last_complete_week(AS_OF, [AUCKLAND]) == Week(WEEK[0])  # Monday 00:30 there: last week is over
    assert last_complete_week(AS_OF, ["UTC"]) == Week(PREVIOUS[0])  # still Sunday in UTC
    assert last_complete_week(AS_OF, [AUCKLAND, NEW_YORK]) == Week(PREVIOUS[0])  # New York's Sunday is not over
    assert last_complete_week(AS_OF - timedelta(hours=1), [AUCKLAND]) == Week(PREVIOUS[0])  # Sunday 23:30 there
    with pytest.raises(ValueError, match="starts on a Monday"):
        Week(date(2026, 11, 17))


def test_a_location_digest_counts_its_local_week_and_shows_the_apis_numbers(storage: SqliteStorage, db: Path) -> None:
    digest = compose(storage, AKL, AS_OF)
    assert (digest.week.start, digest.week.end) == WEEK
    assert digest.name == "Auckland Queen St" and digest.timezones == (AUCKLAND,)
    main = digest.main
    assert main is not None and main.question_id == "default"
    # Counted independently from the taps' local days: Monday 00:30 and Sunday 23:30 are in, next Monday is out.
    now, before = expected_counts("akl-1", *WEEK), expected_counts("akl-1", *PREVIOUS)
    assert main.current["counts"] == now == [6, 1, 6, 17]
    assert main.current["previous"]["counts"] == before == [9, 4, 4, 4]  # type: ignore[index]
    mine = score(now, 4)
    assert main.current["happy_index"] == round(mine.happy_index or 0, 2)
    assert main.current["pct_positive"] == round(mine.pct_positive or 0, 2)
    # The very rows of GET /api/v1/scores and /reasons for the same week.
    week = {"from": WEEK[0].isoformat(), "to": WEEK[1].isoformat(), "location": "akl-1"}
    api = api_get(db, "/api/v1/scores", group_by="all", compare="previous_period", **week)
    assert [dict(main.current)] == api["rows"]
    daily = api_get(db, "/api/v1/scores", group_by="day", question="default", **{**week, "from": "2026-11-09"})
    assert {r["day"]: r for r in daily["rows"]} == dict(main.days)
    assert set(main.days) == {"2026-11-10", "2026-11-15", "2026-11-16", "2026-11-18", "2026-11-22"}
    reasons = api_get(db, "/api/v1/reasons", group_by="all", polarity="negative", **week)
    assert [dict(r) for r in digest.reasons] == reasons["rows"]
    assert [(r["reason"], r["n"]) for r in digest.reasons] == [("queue", 4), ("staff", 1)]
    assert digest.locations == ()  # a location digest has no league table


def test_a_region_digest_pools_its_locations_and_ranks_them(storage: SqliteStorage) -> None:
    digest = compose(storage, DigestTarget("region", "apac"), AS_OF)
    assert (digest.week.start, digest.timezones) == (WEEK[0], (AUCKLAND,))
    main = digest.main
    assert main is not None
    pooled = [a + b for a, b in zip(expected_counts("akl-1", *WEEK), expected_counts("akl-2", *WEEK), strict=True)]
    assert main.current["counts"] == pooled
    assert [r["location_id"] for r in digest.locations] == ["akl-2", "akl-1"]  # 83.3 before 71.1
    wed = date(2026, 11, 18)  # both stores answered: the day pools them, as group_by=all for that day would
    both = [a + b for a, b in zip(expected_counts("akl-1", wed, wed), expected_counts("akl-2", wed, wed), strict=True)]
    assert main.days[wed.isoformat()]["counts"] == both and main.days[wed.isoformat()]["n"] == 25
    assert main.days[wed.isoformat()]["happy_index"] == round(score(both, 4).happy_index or 0, 2)
    americas = compose(storage, DigestTarget("region", "americas"), AS_OF)
    assert americas.week == Week(PREVIOUS[0]) and americas.scores == ()  # New York's week is not over yet
    assert "No answers this week." in render_text(americas)


def test_open_alerts_and_praise_come_from_the_alert_history(storage: SqliteStorage) -> None:
    zone = ZoneInfo(AUCKLAND)
    praise = new_spec(RuleInput(name="Good hour", kind="praise", params={"min_n": 10}))
    trouble = new_spec(RuleInput(name="Night", kind="pct_negative", params={"min_n": 2, "window_min": 30}))
    storage.create_rule(praise, AS_OF - timedelta(days=30))
    storage.create_rule(trouble, AS_OF - timedelta(days=30))
    evaluator = AlertEvaluator(storage, interval_s=1)
    assert evaluator.run_once(datetime(2026, 11, 18, 13, 5, tzinfo=zone)) == (1, 0)  # 15 of 15 positive
    assert evaluator.run_once(datetime(2026, 11, 18, 15, 0, tzinfo=zone)) == (0, 1)  # the negatives came in
    assert evaluator.run_once(AS_OF) == (1, 0)  # two negative taps at 00:10 on Monday
    digest = compose(storage, AKL, AS_OF)
    assert [(a.rule_name, a.kind) for a in digest.open_alerts] == [("Night", "pct_negative")]
    assert [(a.rule_name, a.kind) for a in digest.praise] == [("Good hour", "praise")]
    assert "100% positive (15 of 15)" in digest.praise[0].message
    text = render_text(digest)
    assert "Open alerts (1):\n  - Night [pct_negative] at akl-1" in text
    assert "Good news: praise this week (1):\n  - Good hour [praise] at akl-1" in text


def test_text_and_html_show_the_same_numbers_with_the_dashboards_chart(storage: SqliteStorage) -> None:
    digest = compose(storage, AKL, AS_OF)
    assert digest.main is not None
    row = digest.main.current
    text, html = render_text(digest), render_html(digest)
    index = f"{row['happy_index']:.1f}"
    ci = row["happy_index_ci"]
    assert f"Happy Index  {index} (95% CI {ci[0]:.1f}\u2013{ci[1]:.1f})" in text  # type: ignore[index]
    assert f"% positive   {row['pct_positive']:.1f}" in text
    assert "1. queue: 4 (80.0%)" in text
    assert "Mon 16 Nov" in text and "Sun 22 Nov" in text and "Mon 23 Nov" not in text
    assert text.count("not available yet") == 2
    assert f'data-testid="happy-index" style="font-size:30px;font-weight:700;color:#2a9d6f">{index}<' in html  # green
    assert 'data-testid="trend-chart"' in html and html.count('data-testid="trend-point"') == 5
    assert 'data-testid="digest-cibar"' in html and 'data-testid="daily-bars"' in html
    assert html.count("<tr>") >= 14  # the table-bar fallback: one row per day of both weeks
    assert ".chart .line { fill: none; stroke: #2a9d6f" in chart_css() and "var(--" not in chart_css()
    assert 'data-testid="section-forecast"' in html and "not available yet" in html


def test_html_escapes_what_came_from_shoppers_and_admins(storage: SqliteStorage) -> None:
    evil = new_spec(RuleInput(name="<script>x</script>", kind="pct_negative", params={"min_n": 2, "window_min": 30}))
    storage.create_rule(evil, AS_OF)
    AlertEvaluator(storage, interval_s=1).run_once(AS_OF)
    html = render_html(compose(storage, AKL, AS_OF))
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


def test_optional_sections_plug_in_and_a_failing_one_does_not_stop_the_digest(storage: SqliteStorage) -> None:
    def forecast(_storage: object, target: DigestTarget, week: Week) -> DigestSection:
        nxt = week.end + timedelta(days=1)
        return DigestSection("forecast", "Next week's forecast", ({"day": nxt.isoformat(), "answers": 42},))

    def effects(_storage: object, target: DigestTarget, week: Week) -> DigestSection:
        raise RuntimeError("no actions table yet")

    digest = compose(storage, AKL, AS_OF, sections=[forecast, effects])
    keys = [(s.key, s.available) for s in digest.sections]
    assert keys == [("actions", False), ("forecast", True), ("error", False)]
    text = render_text(digest)
    assert "Next week's forecast:\n  - day: 2026-11-23, answers: 42" in text
    assert "could not be computed (no actions table yet)" in text
    assert digest.as_dict()["sections"][1]["rows"] == [{"day": "2026-11-23", "answers": 42}]  # type: ignore[index]
    assert "<td" in render_html(digest).split('data-testid="section-forecast"')[1]


def test_unknown_targets_are_refused_by_name(storage: SqliteStorage) -> None:
    with pytest.raises(DigestError, match="unknown location 'nowhere'"):
        compose(storage, DigestTarget("location", "nowhere"), AS_OF)
    with pytest.raises(DigestError, match="no locations in region 'emea'"):
        compose(storage, DigestTarget("region", "emea"), AS_OF)
    with pytest.raises(ValueError, match="region: region 'Bad Region'"):
        DigestTarget("region", "Bad Region")


def test_text_bars_grow_in_eighths() -> None:
    assert bar(100, width=4) == "\u2588" * 4 and bar(None) == "" and bar(0) == ""
    assert bar(50, width=1) == "\u258c"  # half a block
