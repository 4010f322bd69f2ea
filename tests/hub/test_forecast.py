"""The forecast maths by hand, its backtest on seeded simulated traffic, and both read from a real hub SQLite file."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from edge_agent.protocol import Event
from hub.cli import main
from hub.services.effect_reads import EffectRequest, effect_input, window
from hub.services.forecast import ForecastSettings, HourlyHistory, count_quantiles, dispersion, forecast, lags
from hub.services.forecast_backtest import backtest, naive_scale
from hub.services.forecast_reads import hourly_history
from hub.services.traffic import OPEN_HOURS, hourly_rate
from hub.storage.base import IncomingBatch, ScoreQuery
from hub.storage.base_analytics import LocationSpec
from hub.storage.sqlite import SqliteStorage

FIRST = date(2026, 1, 5)  # a Monday


def history_of(per_day: dict[date, dict[int, tuple[int, ...]]], last: date) -> HourlyHistory:
    counts = {(d, h): c for d, hours in per_day.items() for h, c in hours.items()}
    return HourlyHistory(4, min(per_day), last, counts)


def test_the_expected_count_is_the_decayed_mean_of_the_same_weekday_and_hour() -> None:
    # three Mondays with 12, 8 and 4 answers at 09:00 (newest first), decay 0.5: (12 + 4 + 1) / 1.75
    days = {FIRST + timedelta(days=7 * i): {9: (0, 0, 0, n)} for i, n in enumerate((4, 8, 12))}
    history = history_of(days, FIRST + timedelta(days=20))
    settings = ForecastSettings(weeks=3, decay=0.5)
    hours = forecast(history, days=7, settings=settings)
    monday_9 = next(h for h in hours if h.day.weekday() == 0 and h.hour == 9)
    assert monday_9.answers.expected == pytest.approx(17 / 1.75)
    assert next(h for h in hours if h.day.weekday() == 1 and h.hour == 9).answers.expected == 0
    # the mood of that hour pools every answer: all top faces
    assert monday_9.happy_index is not None and monday_9.happy_index.expected == pytest.approx(100)
    assert monday_9.pct_negative is not None and monday_9.pct_negative.expected == pytest.approx(0)


def test_lags_beyond_a_week_skip_the_days_not_yet_seen() -> None:
    history = history_of({FIRST: {}}, FIRST + timedelta(days=27))
    target = history.last + timedelta(days=9)  # 9 days ahead: last week's same day is not in the history yet
    assert lags(history, target, ForecastSettings(weeks=2)) == [
        target - timedelta(days=14),
        target - timedelta(days=21),
    ]


def test_poisson_quantiles_are_spread_evenly_over_each_integer() -> None:
    # Poisson(10): F(9) = 0.45793, pmf(10) = 0.12511, so the median is 9.5 + (0.5 - 0.45793) / 0.12511
    assert count_quantiles(10, 10, [0.5]) == pytest.approx([9.5 + (0.5 - 0.4579297) / 0.1251100], abs=1e-5)
    # F(5) = 0.067086, pmf(6) = 0.063055: the 10% quantile is 5.5 + (0.1 - 0.067086) / 0.063055
    assert count_quantiles(10, 10, [0.1]) == pytest.approx([5.5 + (0.1 - 0.0670860) / 0.0630555], abs=1e-5)
    assert count_quantiles(0, 0, [0.1, 0.9]) == [0.0, 0.0]
    wide = count_quantiles(10, 30, [0.1, 0.9])  # over-dispersed: negative binomial, wider
    assert wide[0] < 5.5 and wide[1] > 14.5


def test_dispersion_is_zero_for_steady_counts_and_found_in_spread_ones() -> None:
    steady = {FIRST + timedelta(days=i): {9: (0, 0, 0, 10)} for i in range(28)}
    assert dispersion(history_of(steady, FIRST + timedelta(days=27)), ForecastSettings()) == 0
    # alternating 0 and 20 (mean 10, variance 400/3 over 4 weeks): phi = (133.3 - 10) / 100
    spread = {FIRST + timedelta(days=i): {9: (0, 0, 0, 20 * ((i // 7) % 2))} for i in range(28)}
    assert dispersion(history_of(spread, FIRST + timedelta(days=27)), ForecastSettings()) == pytest.approx(
        (400 / 3 - 10) / 100
    )


def test_naive_scale_is_the_in_sample_error_of_same_hour_last_week() -> None:
    days = {FIRST + timedelta(days=i): {9: (0, 0, 0, 10 + (i >= 7) * 4)} for i in range(14)}
    # week 2 differs from week 1 by 4 at one hour of 24, on 7 days
    assert naive_scale(history_of(days, FIRST + timedelta(days=13))) == pytest.approx(4 / 24)


def simulated(weeks: int, answers_per_hour: float, seed: int, overdispersion: float = 0.0) -> HourlyHistory:
    """The demo's traffic (hub.services.traffic), Poisson arrivals or gamma-Poisson when over-dispersed."""
    rng = np.random.default_rng(seed)
    counts: dict[tuple[date, int], tuple[int, ...]] = {}
    for i in range(7 * weeks):
        day = FIRST + timedelta(days=i)
        for hour in OPEN_HOURS:
            rate = hourly_rate(answers_per_hour, hour)
            if overdispersion:
                rate = rng.gamma(1 / overdispersion, rate * overdispersion)
            n = int(rng.poisson(rate))
            faces = rng.multinomial(n, [0.08, 0.12, 0.4, 0.4])
            counts[(day, hour)] = tuple(int(c) for c in faces)
    return HourlyHistory(4, FIRST, FIRST + timedelta(days=7 * weeks - 1), counts)


@pytest.mark.parametrize(("answers_per_hour", "overdispersion"), [(23.0, 0.0), (6.0, 0.0), (23.0, 0.05)])
def test_backtest_beats_the_seasonal_naive_forecast_with_honest_intervals(
    answers_per_hour: float, overdispersion: float
) -> None:
    tally = backtest(simulated(8, answers_per_hour, seed=7, overdispersion=overdispersion), weeks=2)
    assert tally.mase < 1 and tally.relative_mae < 0.9
    c80, c95, hours = tally.coverage("answers")
    assert hours > 1000
    assert abs(c80 - 0.80) <= 0.05 and abs(c95 - 0.95) <= 0.05, (c80, c95)


# --- read through the storage contract from a real SQLite file ---------------------------------------


def build_hub(path: Path, weeks: int, now: datetime) -> None:
    """Three stores in one region; events through the real ingest, one batch per store-day."""
    storage = SqliteStorage(path)
    tz = ZoneInfo("Europe/Helsinki")
    rng = np.random.default_rng(3)
    seq = 0
    try:
        for store in ("a", "b", "c"):
            storage.register_location(LocationSpec(store, store, "Europe/Helsinki", "nordics"), now)
            for i in range(7 * weeks):
                day = FIRST + timedelta(days=i)
                events = []
                for hour in OPEN_HOURS:
                    for _ in range(int(rng.poisson(hourly_rate(4, hour)))):
                        seq += 1
                        value = int(rng.choice(4, p=[0.1, 0.1, 0.4, 0.4]))
                        reason = "queue" if value <= 1 and rng.random() < 0.5 else None
                        ts = datetime.combine(day, time(hour, int(rng.integers(60))), tz)
                        events.append(Event(
                            id=str(uuid.uuid4()), seq=seq, ts=ts, tz="Europe/Helsinki", clock_ok=True,
                            question_id="q", scale=4, value=value, reason=reason, source="touch", misuse=False,
                        ))  # fmt: skip
                storage.ingest([IncomingBatch(f"dev-{store}", store, str(uuid.uuid4()), events)], [], [], now)
    finally:
        storage.close()


@pytest.fixture(scope="module")
def hub_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hub") / "hub.sqlite"
    build_hub(path, weeks=6, now=datetime(2026, 2, 16, 12, tzinfo=UTC))
    return path


def test_history_and_effect_weeks_are_read_through_the_storage_contract(hub_db: Path) -> None:
    storage = SqliteStorage(hub_db)
    try:
        last = FIRST + timedelta(days=41)
        history = hourly_history(storage, "a", last, 42)
        assert history.first == FIRST and history.scale == 4
        total = storage.score_counts(ScoreQuery(FIRST, last, group_by="location", location_id="a"))
        assert sum(sum(c) for c in history.counts.values()) == sum(total[0].counts)
        assert {h for _, h in history.counts} <= set(OPEN_HOURS)

        started = FIRST + timedelta(days=21)
        as_of = datetime(2026, 2, 16, 12, tzinfo=UTC)  # local 2026-02-16: the third after-week ends 02-15
        data = effect_input(storage, EffectRequest("a", started, reason="queue", weeks=3, exclude=("c",)), as_of)
        assert [p.location_id for p in data.peers] == ["b"]
        assert len(data.treated.before) == 3 and len(data.treated.after) == 3
        week0 = data.treated.after[0]
        days = [started + timedelta(days=i) for i in range(7)]
        assert week0.n == sum(history.n(d, h) for d in days for h in range(24))
        assert 0 < week0.reason < week0.n
    finally:
        storage.close()


def test_only_complete_weeks_count_as_after() -> None:
    blocks = window(date(2026, 3, 2), 4, today=date(2026, 3, 16))  # 2 weeks done: 03-02..08, 03-09..15
    assert blocks.before[0] == (date(2026, 2, 2), date(2026, 2, 8)) and blocks.before[-1][1] == date(2026, 3, 1)
    assert blocks.after == [(date(2026, 3, 2), date(2026, 3, 8)), (date(2026, 3, 9), date(2026, 3, 15))]


def test_backtest_command_on_a_hub_database(hub_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["forecast", "backtest", "--db", str(hub_db), "--location", "a", "--weeks", "2", "--until", "2026-02-15"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["all"]["forecasts"] > 0 and out["all"]["mase"] < 1
    assert main(["forecast", "backtest", "--db", str(hub_db.parent / "missing.sqlite")]) == 2
    assert "--db: no hub database" in capsys.readouterr().err
    assert main(["forecast", "backtest", "--db", str(hub_db), "--decay", "2"]) == 2
    assert "--decay" in capsys.readouterr().err
