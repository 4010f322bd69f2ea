"""Alert rule logic as pure functions of fixed inputs: tallies, checks, opening hours, params, backoff."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.services.alert_checks import (
    Tally,
    baseline_days,
    check_baseline_drop,
    check_device_offline,
    check_index_below,
    check_pct_negative,
    check_response_count,
    is_open,
    open_throughout,
    parse_hours,
    window_days,
)
from hub.services.alert_rules import (
    BaselineDrop,
    DeviceOffline,
    IndexBelow,
    PctNegative,
    ResponseCount,
    RuleInput,
    RulePatch,
    new_spec,
    parse_params,
    patched_spec,
    redact_url,
)
from hub.services.errors import InputError
from hub.services.webhooks import backoff_delay, slack_body
from hub.storage.base_alerts import AlertEvent, AlertKey, AlertRule

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday
HELSINKI = ZoneInfo("Europe/Helsinki")


def tally(*counts: int, scale: int = 4) -> Tally:
    return Tally.of(("q", scale, value, n) for value, n in enumerate(counts) if n)


# --- tallies ---------------------------------------------------------------------------------


def test_tally_pools_questions_with_each_scales_negative_boxes() -> None:
    t = Tally.of([("a", 4, 0, 2), ("a", 4, 1, 1), ("a", 4, 3, 1), ("nps", 11, 6, 1), ("nps", 11, 9, 1)])
    assert (t.n, t.negative) == (6, 4)  # faces 0-1 and NPS 0-6 are negative
    assert t.pct_negative == pytest.approx(400 / 6)
    assert t.happy_index == pytest.approx((0 + 0 + 100 / 3 + 100 + 60 + 90) / 6)


def test_an_empty_tally_has_no_scores() -> None:
    assert Tally().pct_negative is None and Tally().happy_index is None


# --- checks ----------------------------------------------------------------------------------


def test_pct_negative_default_is_half_negative_of_at_least_four() -> None:
    p = PctNegative()
    assert (p.window_min, p.min_n, p.threshold_pct) == (15, 4, 50)
    fired = check_pct_negative(p, tally(1, 1, 1, 1))
    assert fired is not None and "50% negative (2 of 4)" in fired.message
    assert check_pct_negative(p, tally(2, 1, 0, 0)) is None  # n = 3 is too few
    assert check_pct_negative(p, tally(1, 0, 1, 1)) is None  # 33%


def test_index_below() -> None:
    p = IndexBelow(threshold=50, min_n=4)
    fired = check_index_below(p, tally(2, 2, 0, 0))
    assert fired is not None and fired.details["happy_index"] == pytest.approx(16.67)
    assert check_index_below(p, tally(0, 0, 2, 2)) is None
    assert check_index_below(p, tally(1, 1, 0, 0)) is None  # n below min_n


def test_response_count_only_while_open() -> None:
    p = ResponseCount(fewer_than=5)
    assert check_response_count(p, 2, open_whole_window=True) is not None
    assert check_response_count(p, 2, open_whole_window=False) is None
    assert check_response_count(p, 5, open_whole_window=True) is None


def test_device_offline_after_its_minutes() -> None:
    p = DeviceOffline(minutes=5)
    since = NOW - timedelta(minutes=6)
    assert check_device_offline(p, False, since, NOW) is not None
    assert check_device_offline(p, False, NOW - timedelta(minutes=4), NOW) is None
    assert check_device_offline(p, True, since, NOW) is None
    assert check_device_offline(p, None, since, NOW) is None  # never sent a status: unknown, not offline
    assert check_device_offline(DeviceOffline(minutes=0), False, NOW, NOW) is not None


def test_baseline_drop_needs_a_significant_rise_in_negative_share() -> None:
    p = BaselineDrop(min_n=10, min_baseline_n=30)
    baseline = tally(10, 10, 90, 90)  # 10% negative over 200
    fired = check_baseline_drop(p, tally(5, 3, 5, 7), baseline)  # 40% negative over 20
    assert fired is not None
    assert fired.details["baseline_pct_negative"] == 10.0 and fired.details["p_value"] < 0.05  # type: ignore[operator]
    assert check_baseline_drop(p, tally(1, 1, 9, 9), baseline) is None  # same share
    assert check_baseline_drop(p, tally(0, 0, 10, 10), baseline) is None  # better is never an alert
    assert check_baseline_drop(p, tally(5, 3, 5, 7), tally(1, 1, 5, 5)) is None  # baseline too small
    assert check_baseline_drop(p, tally(3, 3, 1, 1), baseline) is None  # window too small (8)


def test_baseline_drop_is_one_sided_at_its_confidence() -> None:
    # z = 1.77 for 22.5% vs 12.5%: significant one-sided at 95% (1.645), not two-sided (1.96).
    baseline = tally(25, 25, 150, 200)
    current = tally(5, 4, 15, 16)
    fired = check_baseline_drop(BaselineDrop(), current, baseline)
    assert fired is not None and 1.645 < float(fired.details["z"]) < 1.96  # type: ignore[arg-type]
    assert check_baseline_drop(BaselineDrop(confidence=0.99), current, baseline) is None


# --- time --------------------------------------------------------------------------------------


def test_windows_across_local_midnight_touch_two_days() -> None:
    end = datetime(2026, 11, 22, 22, 10, tzinfo=UTC)  # 00:10 in Helsinki
    assert window_days(end - timedelta(minutes=15), end, HELSINKI) == ["2026-11-22", "2026-11-23"]
    assert window_days(end - timedelta(minutes=5), end, HELSINKI) == ["2026-11-23"]


def test_baseline_is_the_same_weekday_in_previous_weeks() -> None:
    assert baseline_days(date(2026, 11, 23), 3) == ["2026-11-16", "2026-11-09", "2026-11-02"]


HOURS = {"mon": ["08:00", "21:00"], "sat": ["22:00", "02:00"]}


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 11, 23, 8, 0), True),  # Monday, opening minute
        (datetime(2026, 11, 23, 20, 59), True),
        (datetime(2026, 11, 23, 21, 0), False),  # closing time
        (datetime(2026, 11, 24, 12, 0), False),  # Tuesday: not listed, closed
        (datetime(2026, 11, 28, 23, 0), True),  # Saturday night
        (datetime(2026, 11, 29, 1, 30), True),  # ... running past midnight into Sunday
        (datetime(2026, 11, 29, 2, 30), False),
    ],
)
def test_opening_hours(local: datetime, expected: bool) -> None:
    assert is_open(HOURS, local) is expected


def test_no_or_unreadable_hours_mean_always_open() -> None:
    assert is_open(None, datetime(2026, 11, 24, 3, 0))
    assert parse_hours(None) is None and parse_hours("not json") is None
    assert parse_hours(json.dumps(HOURS)) == HOURS


def test_a_window_must_lie_wholly_within_opening_hours() -> None:
    utc = ZoneInfo("UTC")
    open_at = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    assert not open_throughout(HOURS, open_at - timedelta(minutes=60), open_at, utc)  # starts before 08:00
    assert open_throughout(HOURS, open_at, open_at + timedelta(minutes=60), utc)


# --- params and rule input -------------------------------------------------------------------


def test_params_fill_defaults_and_name_bad_fields() -> None:
    assert parse_params("device_offline", {}).model_dump() == {"minutes": 10}
    with pytest.raises(InputError, match=r"params\.threshold_pct: Input should be less than or equal to 100"):
        parse_params("pct_negative", {"threshold_pct": 120})
    with pytest.raises(InputError, match=r"params\.windw_min: is not a known field"):
        parse_params("pct_negative", {"windw_min": 5})


def test_rule_input_validates_scope_and_webhook() -> None:
    spec = new_spec(RuleInput(kind="pct_negative", scope_kind="region", scope="nordics/finland"))
    assert spec.name == "pct_negative at region nordics/finland"
    assert spec.params["min_n"] == 4
    with pytest.raises(InputError, match="scope: a location id is required"):
        new_spec(RuleInput(kind="pct_negative", scope_kind="location"))
    with pytest.raises(InputError, match="scope: must be empty"):
        new_spec(RuleInput(kind="pct_negative", scope="x"))
    with pytest.raises(InputError, match="webhook_url: must be an http"):
        new_spec(RuleInput(kind="pct_negative", webhook_url="ftp://example.com/x"))


def test_patch_merges_params_and_a_new_kind_starts_from_its_defaults() -> None:
    spec = new_spec(RuleInput(kind="pct_negative", params={"min_n": 8}, webhook_url="https://h.example/x"))
    merged = patched_spec(spec, RulePatch(params={"threshold_pct": 70}))
    assert (merged.params["min_n"], merged.params["threshold_pct"]) == (8, 70)
    assert merged.webhook_url == "https://h.example/x"
    changed = patched_spec(spec, RulePatch(kind="device_offline", params={"minutes": 1}, webhook_url=None))
    assert changed.params == {"minutes": 1} and changed.webhook_url is None


def test_webhook_urls_are_redacted_to_their_host() -> None:
    assert redact_url("https://hooks.slack.com/services/T0/B0/secret") == "https://hooks.slack.com/…"
    assert redact_url("http://127.0.0.1:9000/") == "http://127.0.0.1:9000/"


# --- delivery -------------------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    mid = [backoff_delay(a, 2.0, rng=lambda lo, hi: (lo + hi) / 2) for a in (1, 2, 3, 4)]
    assert mid == [2.0, 4.0, 8.0, 16.0]
    assert backoff_delay(1, 2.0, rng=lambda lo, hi: lo) == pytest.approx(1.6)
    assert backoff_delay(1, 2.0, rng=lambda lo, hi: hi) == pytest.approx(2.4)
    assert backoff_delay(40, 2.0, rng=lambda lo, hi: 1.0) == 3600.0


def test_webhook_body_is_slack_text_plus_structured_fields() -> None:
    rule = AlertRule(7, "t", new_spec(RuleInput(name="Queue alarm", kind="pct_negative")))
    event = AlertEvent(3, AlertKey(7, "hel-1"), "firing", "2026-11-23T12:00:00.000Z", None, "hel-1: 75%", {"n": 4})
    body = json.loads(slack_body(rule, event))
    assert body["text"].startswith(":rotating_light: Touchpoint alert: Queue alarm (hel-1)")
    assert body["alert"] == {
        "alert_id": 3, "state": "firing", "rule_id": 7, "rule_name": "Queue alarm", "kind": "pct_negative",
        "location_id": "hel-1", "device_id": None, "fired_at": "2026-11-23T12:00:00.000Z", "message": "hel-1: 75%",
        "details": {"n": 4},
    }  # fmt: skip
