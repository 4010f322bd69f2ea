"""The alert evaluator and webhook sender against a real SQLite hub store, with a fixed clock and a fake receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from edge_agent.protocol import Event, Status
from hub.services.alert_rules import RuleInput, new_spec
from hub.services.alerts import AlertEvaluator
from hub.services.webhooks import WebhookSender
from hub.storage import open_storage
from hub.storage.base import IncomingBatch, StatusUpdate, Storage
from hub.storage.base_alerts import AlertQuery

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HELSINKI = ZoneInfo("Europe/Helsinki")
_seq = iter(range(1, 1_000_000))


@pytest.fixture
def storage(db: str) -> Iterator[Storage]:
    s = open_storage(db)
    yield s
    s.close()


def taps(storage: Storage, values: list[int], at: datetime, location: str = "loc-1") -> None:
    events = []
    for value in values:
        n = next(_seq)
        events.append(
            Event(
                id=f"0190a5e4-7c1d-7abc-8def-{n:012x}",
                seq=n,
                ts=at,
                tz="Europe/Helsinki",
                clock_ok=True,
                question_id="q1",
                scale=4,
                value=value,
                source="touch",
            )
        )
    storage.ingest([IncomingBatch("dev-1", location, f"b-{n}", events)], [], [], at)


def status(storage: Storage, online: bool, at: datetime) -> None:
    update = StatusUpdate(Status(online=online, device_id="dev-1", location_id="loc-1"))
    storage.ingest([], [update], [], at)


def rule(storage: Storage, kind: str, **params: object) -> int:
    spec = new_spec(RuleInput(kind=kind, params=params, webhook_url="http://receiver.example/hook"))  # type: ignore[arg-type]
    return storage.create_rule(spec, NOW).rule_id


def test_a_negative_burst_fires_once_per_episode_then_resolves(storage: Storage) -> None:
    rule_id = rule(storage, "pct_negative")
    evaluator = AlertEvaluator(storage, interval_s=1)
    taps(storage, [0, 0, 1, 3], NOW - timedelta(minutes=2))
    assert evaluator.run_once(NOW) == (1, 0)
    assert evaluator.run_once(NOW + timedelta(seconds=5)) == (0, 0)  # still firing: nothing new
    taps(storage, [0, 0], NOW)
    assert evaluator.run_once(NOW + timedelta(seconds=10)) == (0, 0)
    [alert] = storage.alert_history(AlertQuery())
    assert (alert.key.rule_id, alert.key.location_id, alert.state) == (rule_id, "loc-1", "firing")
    assert "75% negative (3 of 4)" in alert.message
    assert storage.ops_counts()["deliveries_pending"] == 1
    # 20 minutes later the 15-minute window is empty: the episode resolves; a new burst is a new episode.
    assert evaluator.run_once(NOW + timedelta(minutes=20)) == (0, 1)
    taps(storage, [0, 0, 0, 0], NOW + timedelta(minutes=21))
    assert evaluator.run_once(NOW + timedelta(minutes=22)) == (1, 0)
    states = [a.state for a in storage.alert_history(AlertQuery())]
    assert states == ["firing", "resolved"]


def test_old_taps_synced_late_do_not_fire(storage: Storage) -> None:
    rule(storage, "pct_negative")
    taps(storage, [0, 0, 0, 0], NOW - timedelta(hours=3))  # a backlog from a device that was offline
    assert AlertEvaluator(storage, interval_s=1).run_once(NOW) == (0, 0)


def test_scope_limits_a_rule_to_its_location(storage: Storage) -> None:
    spec = new_spec(RuleInput(kind="pct_negative", scope_kind="location", scope="loc-2"))
    storage.create_rule(spec, NOW)
    taps(storage, [0, 0, 0, 0], NOW - timedelta(minutes=1), location="loc-1")
    assert AlertEvaluator(storage, interval_s=1).run_once(NOW) == (0, 0)
    taps(storage, [0, 0, 0, 0], NOW - timedelta(minutes=1), location="loc-2")
    assert AlertEvaluator(storage, interval_s=1).run_once(NOW) == (1, 0)


def test_device_offline_fires_after_its_minutes_and_resolves_when_back(storage: Storage) -> None:
    rule(storage, "device_offline", minutes=1)
    evaluator = AlertEvaluator(storage, interval_s=1)
    status(storage, online=False, at=NOW)
    assert evaluator.run_once(NOW + timedelta(seconds=30)) == (0, 0)
    assert evaluator.run_once(NOW + timedelta(seconds=61)) == (1, 0)
    [alert] = storage.firing_alerts()
    assert alert.key.device_id == "dev-1"
    status(storage, online=True, at=NOW + timedelta(minutes=2))
    assert evaluator.run_once(NOW + timedelta(minutes=2)) == (0, 1)


def test_disabling_a_rule_resolves_its_alerts(storage: Storage) -> None:
    rule_id = rule(storage, "device_offline", minutes=0)
    status(storage, online=False, at=NOW)
    evaluator = AlertEvaluator(storage, interval_s=1)
    assert evaluator.run_once(NOW) == (1, 0)
    current = storage.alert_rule(rule_id)
    assert current is not None
    storage.update_rule(rule_id, current.spec.__class__(**{**current.spec.__dict__, "enabled": False}))
    assert evaluator.run_once(NOW) == (0, 1)


def test_baseline_drop_compares_with_the_same_weekday_hour(storage: Storage) -> None:
    rule(storage, "baseline_drop", window_min=60, min_n=10, min_baseline_n=30)
    local_now = NOW.astimezone(HELSINKI)
    for weeks in range(1, 9):  # the same local Monday hour in each of 8 weeks (across the end of DST)
        day = (local_now - timedelta(weeks=weeks)).date()
        taps(storage, [3, 3, 3, 2, 0], datetime.combine(day, local_now.time(), HELSINKI))
    evaluator = AlertEvaluator(storage, interval_s=1)
    taps(storage, [3, 3, 3, 3, 3, 3, 2, 2, 0, 3], NOW - timedelta(minutes=5))  # as usual: 10% negative
    assert evaluator.run_once(NOW) == (0, 0)
    taps(storage, [0, 0, 1, 0, 1, 0, 0, 0, 1, 1], NOW - timedelta(minutes=4))  # now 55% negative
    assert evaluator.run_once(NOW) == (1, 0)
    [alert] = storage.firing_alerts()
    assert alert.details["baseline_n"] == 40


def history(storage: Storage, values: list[int], weeks: int) -> None:
    """The same taps at this local weekday and hour in each of the previous ``weeks`` weeks."""
    local_now = NOW.astimezone(HELSINKI)
    for back in range(1, weeks + 1):
        day = (local_now - timedelta(weeks=back)).date()
        taps(storage, values, datetime.combine(day, local_now.time(), HELSINKI) - timedelta(minutes=10))


def test_minute_counts_group_the_window_by_minute_with_each_answers_local_hour(storage: Storage) -> None:
    taps(storage, [0, 3], NOW - timedelta(seconds=50))
    taps(storage, [3], NOW - timedelta(seconds=10))
    taps(storage, [1], NOW + timedelta(seconds=5))  # after the window
    rows = storage.minute_counts("loc-1", ["2026-11-23"], NOW - timedelta(minutes=5), NOW, None)
    assert rows == [
        ("2026-11-23T11:59", "2026-11-23", 13, "q1", 4, 0, 1),  # 13:59 in Helsinki
        ("2026-11-23T11:59", "2026-11-23", 13, "q1", 4, 3, 2),
    ]
    history(storage, [0, 3, 3], weeks=2)
    days = ["2026-11-16", "2026-11-09", "2026-11-02"]
    assert sorted(storage.day_counts("loc-1", days, None)) == [("q1", 4, 0, 2), ("q1", 4, 3, 4)]
    assert storage.day_counts("loc-1", days, "other-question") == []


def test_shift_fires_against_the_usual_share_for_the_weekday_and_hour_then_resolves(storage: Storage) -> None:
    rule(storage, "shift", threshold=3, weeks=2)
    history(storage, [0, 1, 2, 3, 3, 3, 3, 3, 3, 3] * 2, weeks=2)  # 20% negative, as usual
    evaluator = AlertEvaluator(storage, interval_s=1)
    taps(storage, [3, 3, 2, 0, 3], NOW - timedelta(minutes=20))  # 1 of 5 negative: the sum stays at 0
    assert evaluator.run_once(NOW) == (0, 0)
    taps(storage, [0, 0, 1, 0, 1], NOW - timedelta(minutes=5))  # 5 x ln 2 = 3.47 >= 3
    assert evaluator.run_once(NOW) == (1, 0)
    [alert] = storage.firing_alerts()
    assert "100% negative (5 of 5) since 11:55 UTC against 20% usual for this weekday and hour" in alert.message
    assert evaluator.run_once(NOW + timedelta(minutes=1)) == (0, 0)  # still one episode
    assert evaluator.run_once(NOW + timedelta(hours=3)) == (0, 1)  # the rise has left the 3-hour look-back


def test_a_past_day_replays_from_the_answers_up_to_each_moment(storage: Storage) -> None:
    """run_once(now) sees only answers up to ``now`` and stamps episodes with ``now``: history can be replayed."""
    rule(storage, "pct_negative")
    rule(storage, "shift", threshold=3)
    taps(storage, [0, 0, 0, 0, 0, 0], NOW - timedelta(minutes=30))
    taps(storage, [0, 0, 0, 0], NOW + timedelta(minutes=30))
    evaluator = AlertEvaluator(storage, interval_s=1)
    moments = [NOW + timedelta(minutes=m) for m in range(-40, 41)]
    outcomes = {m: evaluator.run_once(m) for m in moments}
    changes = {int((m - NOW).total_seconds() // 60): o for m, o in outcomes.items() if o != (0, 0)}
    # -30: both fire; -14: the taps are older than pct_negative's 15 minutes; +30: it fires again.
    assert changes == {-30: (2, 0), -14: (0, 1), 30: (1, 0)}
    fired = [(a.fired_at, a.resolved_at) for a in reversed(storage.alert_history(AlertQuery()))]
    assert fired == [
        ("2026-11-23T11:30:00.000Z", "2026-11-23T11:46:00.000Z"),
        ("2026-11-23T11:30:00.000Z", None),
        ("2026-11-23T12:30:00.000Z", None),
    ]


class FakeReceiver:
    def __init__(self, *results: str | None) -> None:
        self.results = list(results)
        self.bodies: list[dict[str, object]] = []
        self.keys: list[str] = []

    def __call__(self, url: str, body: str, timeout_s: float, key: str) -> str | None:
        self.bodies.append(json.loads(body))
        self.keys.append(key)
        return self.results.pop(0) if self.results else None


def test_failed_deliveries_are_retried_then_delivered(storage: Storage) -> None:
    rule(storage, "device_offline", minutes=0)
    status(storage, online=False, at=datetime.now(UTC))
    AlertEvaluator(storage, interval_s=1).run_once(datetime.now(UTC))
    receiver = FakeReceiver("HTTP 500", "HTTP 500", None)
    sender = WebhookSender(storage, retry_base_s=0.01, max_attempts=5, timeout_s=1, post=receiver)
    for _ in range(100):
        sender.send_due()
        if storage.ops_counts()["deliveries_delivered"]:
            break
        time.sleep(0.01)
    assert len(receiver.bodies) == 3 and sender.stats.retries == 2
    [key] = set(receiver.keys)  # every retry of the delivery carries the same idempotency key, in the body too
    assert key.startswith("touchpoint-alert-") and {b["idempotency_key"] for b in receiver.bodies} == {key}
    [alert] = storage.firing_alerts()
    delivery = storage.alert_deliveries([alert.alert_id])[alert.alert_id]
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 3, None)


def test_a_delivery_fails_for_good_after_max_attempts(storage: Storage) -> None:
    rule(storage, "device_offline", minutes=0)
    status(storage, online=False, at=datetime.now(UTC))
    AlertEvaluator(storage, interval_s=1).run_once(datetime.now(UTC))
    sender = WebhookSender(storage, retry_base_s=0.01, max_attempts=2, timeout_s=1, post=FakeReceiver(*["boom"] * 9))
    for _ in range(100):
        sender.send_due()
        if storage.ops_counts()["deliveries_failed"]:
            break
        time.sleep(0.01)
    counts = storage.ops_counts()
    assert (counts["deliveries_failed"], counts["deliveries_pending"], sender.stats.attempts) == (1, 0, 2)


def test_a_crashing_receiver_never_crashes_the_sender(storage: Storage) -> None:
    rule(storage, "device_offline", minutes=0)
    status(storage, online=False, at=datetime.now(UTC))
    AlertEvaluator(storage, interval_s=1).run_once(datetime.now(UTC))

    def explode(url: str, body: str, timeout_s: float, key: str) -> str | None:
        raise RuntimeError("receiver bug")

    sender = WebhookSender(storage, retry_base_s=10, max_attempts=3, timeout_s=1, post=explode)
    assert sender.send_due() == 1
    [alert] = storage.firing_alerts()
    delivery = storage.alert_deliveries([alert.alert_id])[alert.alert_id]
    assert delivery.status == "pending" and "receiver bug" in (delivery.last_error or "")
