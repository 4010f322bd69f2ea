"""The ``praise`` rule kind: good hours are seen too; real SQLite, the real evaluator, a real HTTP receiver."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent.protocol import Event
from edge_agent.scores import score
from hub.services.alert_checks import Tally, check_praise
from hub.services.alert_rules import Praise, RuleInput, new_spec, parse_params
from hub.services.alerts import AlertEvaluator
from hub.services.errors import InputError
from hub.services.webhooks import WebhookSender
from hub.storage.base import IncomingBatch
from hub.storage.sqlite import SqliteStorage
from tests.integration.test_alerts import WebhookReceiver

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
_seq = iter(range(1, 1_000_000))


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[SqliteStorage]:
    s = SqliteStorage(tmp_path / "hub.sqlite")
    yield s
    s.close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    yield r
    r.close()


def taps(storage: SqliteStorage, values: list[int], at: datetime, scale: int = 4) -> None:
    n = next(_seq)
    events = [
        Event(id=f"0190a5e4-7c1d-7abc-8def-{(n := next(_seq)):012x}", seq=n, ts=at, tz="Europe/Helsinki",
              clock_ok=True, question_id="q1", scale=scale, value=v, source="touch")
        for v in values
    ]  # fmt: skip
    storage.ingest([IncomingBatch("dev-1", "loc-1", f"b-{n}", events)], [], [], at)


def tally(*counts: int, scale: int = 4) -> Tally:
    return Tally.of(("q", scale, value, n) for value, n in enumerate(counts) if n)


def test_praise_counts_the_top_two_box_like_the_score_module() -> None:
    counts = [1, 1, 2, 3, 3, 2, 1, 2, 3, 5, 7]  # NPS: 9-10 are positive
    t = tally(*counts, scale=11)
    assert t.positive == 12 and t.pct_positive == pytest.approx(score(counts, 11).pct_positive)
    assert tally(1, 1, 4, 14).pct_positive == pytest.approx(score([1, 1, 4, 14], 4).pct_positive)  # faces 2-3
    assert Tally().pct_positive is None


def test_praise_fires_at_the_threshold_with_enough_answers_only() -> None:
    p = Praise(min_n=20, threshold_pct=90)
    assert check_praise(p, tally(1, 1, 0, 18)) is not None  # 18 of 20 = 90%: at the bar
    assert check_praise(p, tally(1, 2, 0, 17)) is None  # 85%
    assert check_praise(p, tally(0, 0, 0, 19)) is None  # 100% but n = 19 < 20
    verdict = check_praise(p, tally(0, 1, 5, 24))
    assert verdict is not None
    assert verdict.message == "97% positive (29 of 30) in the last 60 min (praise at ≥ 90% with n ≥ 20)"
    assert verdict.details == {"n": 30, "positive": 29, "pct_positive": 96.67, "happy_index": 92.22, "window_min": 60}


def test_praise_params_have_defaults_and_name_a_bad_field() -> None:
    spec = new_spec(RuleInput(kind="praise"))
    assert spec.params == {"window_min": 60, "question_id": None, "min_n": 20, "threshold_pct": 90}
    assert spec.name == "praise at all locations"
    with pytest.raises(InputError, match=r"params\.threshold_pct"):
        parse_params("praise", {"threshold_pct": 0})


def test_a_good_hour_fires_one_praise_episode_delivered_as_good_news(
    storage: SqliteStorage, receiver: WebhookReceiver
) -> None:
    spec = new_spec(RuleInput(name="Good hour", kind="praise", webhook_url=receiver.url))
    rule_id = storage.create_rule(spec, NOW).rule_id
    evaluator = AlertEvaluator(storage, interval_s=1)
    taps(storage, [3] * 15 + [2] * 3 + [1, 0], NOW - timedelta(minutes=50))  # 18 of 20 positive
    taps(storage, [1, 0, 1], NOW - timedelta(minutes=40))  # now 18 of 23: 78%, a fine but ordinary hour
    assert evaluator.run_once(NOW) == (0, 0)
    taps(storage, [3] * 12, NOW - timedelta(minutes=10))  # 30 of 35 = 86%
    assert evaluator.run_once(NOW) == (0, 0)
    taps(storage, [3] * 15, NOW - timedelta(minutes=5))  # 45 of 50 = 90%
    assert evaluator.run_once(NOW) == (1, 0)
    assert evaluator.run_once(NOW + timedelta(minutes=1)) == (0, 0)  # one episode while the hour stays good
    [episode] = storage.firing_alerts()
    assert episode.key.rule_id == rule_id
    assert "loc-1: 90% positive (45 of 50) in the last 60 min" in episode.message
    sender = WebhookSender(storage, retry_base_s=1, max_attempts=2, timeout_s=5)
    assert sender.send_due() == 1
    [body] = receiver.received()
    assert body["text"].startswith(":tada: Good news from Touchpoint: Good hour (loc-1): loc-1: 90% positive")
    assert "rotating_light" not in body["text"] and "alert" not in body["text"]  # good news, not an alarm
    assert body["alert"]["kind"] == "praise" and body["alert"]["details"]["pct_positive"] == 90.0
    assert receiver.keys[0] is not None and receiver.keys[0].startswith("touchpoint-alert-")
    # An hour later the window has moved past the good answers: the episode resolves.
    assert evaluator.run_once(NOW + timedelta(minutes=70)) == (0, 1)
    assert storage.firing_alerts() == []
