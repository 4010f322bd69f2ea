"""The digest's actions and forecast sections on both backends, checked against the services the API uses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hub.services.action_insights import week_ahead
from hub.services.analytics_scope import Scope
from hub.services.digest import DigestTarget
from hub.services.digest_compose import compose, last_complete_week, local_midnight
from hub.services.digest_insights import INSIGHT_SECTIONS
from hub.services.digest_text import render_text
from hub.storage.base import Storage
from hub.storage.base_actions import ActionRecord
from tests.hub.action_data import TREATED, fill

NOW = datetime.now(UTC)
WEEK = last_complete_week(NOW, ["Europe/Helsinki"])
STARTED = WEEK.end + timedelta(days=1 - 28)  # four complete weeks after it by the digest's week end


def action(action_id: str, location: str, text: str, reason: str | None, started: date) -> ActionRecord:
    stamp = "2026-01-01T00:00:00.000Z"
    return ActionRecord(action_id, location, text, None, reason, started, None, "HQ", None, stamp, stamp)


def test_a_location_digest_reports_its_actions_effects_and_next_weeks_forecast(storage: Storage) -> None:
    fill(storage, NOW, started=STARTED)
    storage.create_action(action("a-1", TREATED, "A second till at lunch.", "queue", STARTED))
    storage.create_action(action("a-2", TREATED, "Old signs.", None, STARTED - timedelta(weeks=30)))
    storage.create_action(action("a-3", "hel-2", "Not this store.", None, STARTED))
    digest = compose(storage, DigestTarget("location", TREATED), NOW, sections=INSIGHT_SECTIONS, week=WEEK)
    sections = {s.key: s for s in digest.sections}
    assert list(sections) == ["actions", "forecast"]
    [row] = [r for r in sections["actions"].rows or () if r["action"] == "A second till at lunch."]
    assert (row["verdict"], row["measure"], row["reason"], row["started_on"]) == (
        "improved", "reason_share", "queue", STARTED.isoformat(),
    )  # fmt: skip
    assert str(row["change"]).startswith("-") and "95% CI" in str(row["change"])
    assert {r["action"] for r in sections["actions"].rows or ()} == {"A second till at lunch.", "Old signs."}

    days = sections["forecast"].rows or ()
    assert [r["day"] for r in days] == [(WEEK.end + timedelta(days=i)).isoformat() for i in range(1, 8)]
    as_of = local_midnight(WEEK.end + timedelta(days=1), "Europe/Helsinki")
    api = week_ahead(storage, Scope(), TREATED, as_of, 7)
    assert [r["answers"] for r in days] == [round(d.answers.expected, 1) for d in api.days]
    text = render_text(digest)
    assert "A second till at lunch." in text and "improved" in text and "not available yet" not in text


def test_a_region_digest_sums_each_locations_week_and_says_which_cannot_be_forecast(storage: Storage) -> None:
    fill(storage, NOW, started=STARTED)
    digest = compose(storage, DigestTarget("region", "nordics"), NOW, sections=INSIGHT_SECTIONS, week=WEEK)
    forecast = next(s for s in digest.sections if s.key == "forecast")
    rows = {r["location_id"]: r for r in forecast.rows or ()}
    assert sorted(rows) == ["hel-1", "hel-2", "hel-3", "hel-4"]
    assert all(300 < float(str(r["answers"])) < 560 for r in rows.values())  # about 60 a day, 7 days
    actions = next(s for s in digest.sections if s.key == "actions")
    assert actions.rows == () and actions.note == "no actions were in place in the last weeks"
