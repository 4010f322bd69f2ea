"""``touchpoint-hub forecast backtest|show``: the week-ahead forecast, and how well it did on the hub's own data.

History is read through the storage contract only (:mod:`hub.services.forecast_reads`), so the
commands work on any storage backend the hub runs on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

from hub.services.analytics_errors import AnalyticsError
from hub.services.forecast import DEFAULT_DAYS, ForecastSettings, forecast
from hub.services.forecast_backtest import MIN_TRAINING_WEEKS, Tally, backtest
from hub.services.forecast_reads import MAX_HISTORY_DAYS, hourly_history, local_yesterday
from hub.storage.base import Storage

EXAMPLES = f"""examples:
  touchpoint-hub forecast backtest --db hub.sqlite                 # every location, the last 3 weeks of origins
  touchpoint-hub forecast backtest --db hub.sqlite --location new-york-5th --weeks 6 --json
  touchpoint-hub forecast show --db hub.sqlite --location helsinki-central --days 7

The forecast of a weekday and hour is the weighted mean of the same weekday and hour over the last
--history-weeks weeks (each older week weighs --decay of the next newer one), with negative-binomial
intervals for answers and normal ones for the Happy Index and % negative (hub/services/forecast.py).

backtest: every local day of the last --weeks weeks (that still has --days days after it in the
history, and at least {MIN_TRAINING_WEEKS} weeks before it) is an origin: the forecast sees only the
history up to it and forecasts the next --days days. It prints
  - MASE: absolute errors over the in-sample error of the seasonal naive forecast (same hour last
    week); below 1 beats it. The naive forecast's own MASE on the same hours is printed beside it;
  - coverage: how often the answers (and the Happy Index and % negative of hours with answers) fell
    inside the 80% and 95% intervals, over the hours a store is open.
"""


def add_forecast_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``forecast backtest | show``, under the main parser's sub-commands."""
    cmd = sub.add_parser(
        "forecast",
        help="forecast answers, Happy Index and %% negative per hour; backtest it on the hub's data",
        description="The week-ahead forecast per location, local day and hour, and its rolling-origin backtest.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = cmd.add_subparsers(dest="forecast_command", required=True, metavar="ACTION")
    back = actions.add_parser(
        "backtest",
        help="rolling-origin backtest: MASE against same-hour-last-week, interval coverage",
        description="Rolling-origin backtest of the forecast on the hub's own history.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show = actions.add_parser(
        "show",
        help="print the forecast of the coming days for one location",
        description="The forecast of one location's coming local days, hour by hour (open hours only).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for p in (back, show):
        p.add_argument(
            "--db", default="hub.sqlite", help="the hub's SQLite file or postgresql:// URL (default hub.sqlite)"
        )
        p.add_argument("--days", type=int, default=DEFAULT_DAYS, help="days forecast ahead (default 7)")
        p.add_argument("--question", help="question id (default: the one each location answered most)")
        p.add_argument(
            "--history-weeks",
            type=int,
            default=ForecastSettings.weeks,
            help="weeks of the same weekday read (default 8)",
        )
        p.add_argument("--decay", type=float, default=ForecastSettings.decay, help="weight of each older week (0.85)")
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.add_argument(
            "--until", type=date.fromisoformat, help="last local day of history, YYYY-MM-DD (default: yesterday)"
        )
    back.add_argument("--location", action="append", help="only this location (repeatable; default: every one)")
    back.add_argument("--weeks", type=int, default=3, help="weeks of origins to backtest (default 3)")
    show.add_argument("--location", required=True, help="the location to forecast")


def _settings(args: argparse.Namespace) -> ForecastSettings:
    if not 1 <= args.history_weeks <= 52:
        raise AnalyticsError(f"--history-weeks: expected 1..52 (got {args.history_weeks})")
    if not 0 < args.decay <= 1:
        raise AnalyticsError(f"--decay: expected a number in (0, 1] (got {args.decay})")
    if not 1 <= args.days <= 31:
        raise AnalyticsError(f"--days: expected 1..31 (got {args.days})")
    return ForecastSettings(weeks=args.history_weeks, decay=args.decay)


def _open(db: str) -> Storage:
    from hub.storage import NoDatabase, open_existing

    try:
        return open_existing(db)
    except NoDatabase as e:
        raise AnalyticsError(str(e)) from None


def _progress(label: str) -> Callable[[int, int], None]:
    """Prints ``label: done/total`` to stderr at most every 2 s, and at the end of a long run."""
    started = last = time.monotonic()

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= 2 or (done == total and now - started >= 2):
            print(f"  {label}: {done}/{total} ({now - started:.0f} s)", file=sys.stderr, flush=True)
            last = now

    return report


def _row(location: str, tally: Tally) -> dict[str, object]:
    out: dict[str, object] = {
        "location": location,
        "forecasts": tally.forecasts,
        "open_hours": tally.open_hours,
        "mase": round(tally.mase, 3),
        "mase_seasonal_naive": round(tally.mase_naive, 3),
        "relative_mae": round(tally.relative_mae, 3),
    }
    for name in ("answers", "happy_index", "pct_negative"):
        c80, c95, n = tally.coverage(name)
        out[f"coverage_{name}"] = {"p80": round(c80 * 100, 1), "p95": round(c95 * 100, 1), "hours": n}
    return out


def _text(row: dict[str, object]) -> str:
    cov = {k.removeprefix("coverage_"): v for k, v in row.items() if k.startswith("coverage_")}
    parts = [f"{name} {c['p80']}%/{c['p95']}%" for name, c in cov.items() if isinstance(c, dict)]
    return (
        f"{row['location']:<24} MASE {row['mase']:.3f} (seasonal naive {row['mase_seasonal_naive']:.3f}, "
        f"MAE ratio {row['relative_mae']:.3f})  coverage 80%/95%: {', '.join(parts)}  [{row['forecasts']} hours]"
    )


def _backtest(storage: Storage, args: argparse.Namespace, settings: ForecastSettings) -> int:
    if args.weeks < 1:
        raise AnalyticsError(f"--weeks: expected at least 1 (got {args.weeks})")
    locations = args.location or [r.location_id for r in storage.location_records()]
    if not locations:
        raise AnalyticsError("the hub has no locations yet")
    now = datetime.now(UTC)
    history_days = min(MAX_HISTORY_DAYS, 7 * (args.weeks + settings.weeks) + args.days)
    total, rows = Tally(), []
    for location in locations:
        print(f"[forecast] backtesting {location} ...", file=sys.stderr, flush=True)
        history = hourly_history(
            storage, location, args.until or local_yesterday(storage, location, now), history_days, args.question
        )
        try:
            tally = backtest(history, args.weeks, args.days, settings, progress=_progress(f"{location} origins"))
        except ValueError as exc:
            raise AnalyticsError(f"{location}: {exc}") from None
        total.add(tally)
        rows.append(_row(location, tally))
        if not args.json:
            print(_text(rows[-1]), flush=True)
    overall = _row("all locations", total)
    if args.json:
        print(json.dumps({"weeks": args.weeks, "days": args.days, "locations": rows, "all": overall}, indent=1))
    else:
        print(_text(overall))
        goal = "meets" if total.mase < 1 else "does NOT meet"
        print(f"MASE < 1 against the seasonal naive forecast: {goal} it")
    return 0


def _show(storage: Storage, args: argparse.Namespace, settings: ForecastSettings) -> int:
    last = args.until or local_yesterday(storage, args.location, datetime.now(UTC))
    history = hourly_history(storage, args.location, last, min(MAX_HISTORY_DAYS, 7 * settings.weeks), args.question)
    hours = forecast(history, args.days, settings)
    if args.json:
        print(json.dumps({"location": args.location, "hours": [h.as_dict() for h in hours]}, indent=1))
        return 0
    print(f"{'day':<11} {'hour':>4}  {'answers (80%; 95%)':<28} {'Happy Index (80%)':<22} % negative (80%)")
    for h in hours:
        if h.answers.expected == 0:
            continue
        a = h.answers
        answers = f"{a.expected:5.1f} ({a.p80[0]:.0f}-{a.p80[1]:.0f}; {a.p95[0]:.0f}-{a.p95[1]:.0f})"
        index = (
            "-"
            if h.happy_index is None
            else f"{h.happy_index.expected:5.1f} ({h.happy_index.p80[0]:.0f}-{h.happy_index.p80[1]:.0f})"
        )
        neg = (
            "-"
            if h.pct_negative is None
            else f"{h.pct_negative.expected:5.1f} ({h.pct_negative.p80[0]:.0f}-{h.pct_negative.p80[1]:.0f})"
        )
        print(f"{h.day.isoformat():<11} {h.hour:>4}  {answers:<28} {index:<22} {neg}")
    return 0


def run_forecast(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
        storage = _open(args.db)
        try:
            if args.forecast_command == "backtest":
                return _backtest(storage, args, settings)
            return _show(storage, args, settings)
        finally:
            storage.close()
    except AnalyticsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
