"""``touchpoint-hub alerts simulate``: how often each rule kind fires by chance, how fast it catches a real rise.

Simulated stores run through the evaluator's own rule code (see
:mod:`hub.services.alert_sim`), so the numbers are those of the rules the hub runs,
with their defaults or with parameters given as ``--param KIND.NAME=VALUE``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from hub.services.alert_sim import KINDS, SimConfig, simulate, table
from hub.services.errors import InputError

EXAMPLES = """examples:
  touchpoint-hub alerts simulate                       # the README's table (seed 1)
  touchpoint-hub alerts simulate --json --seed 7       # machine-readable rows, another seed
  touchpoint-hub alerts simulate --param shift.threshold=5 --param pct_negative.min_n=8
  touchpoint-hub alerts simulate --step-pct 60         # a jump to 60% negative: a broken till

Per traffic level (average answers per open hour) it simulates --stores stores for --weeks weeks after
8 weeks of history, with the demo's hourly pattern, and counts each rule's false alarm episodes on the
steady weeks. Each simulated day also gets a step change at a random minute: the negative share rises
from --baseline-pct to twice that, or by 30 points, whichever is smaller. A step is caught if an
episode starts within 2 h; delays are over all steps, an uncaught one counting as later than 2 h.
"""


def add_alert_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    alerts = sub.add_parser("alerts", help="alert rules: simulate their false alarms and detection delays")
    actions = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    sim = actions.add_parser(
        "simulate",
        help="replay simulated traffic through every rule kind",
        description="False alarms per location-week and detection delays of each rule kind, on simulated stores.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("--seed", type=int, default=SimConfig.seed, help="the same seed gives the same rows (default 1)")
    sim.add_argument("--json", action="store_true", help="print JSON rows instead of a Markdown table")
    levels = ",".join(f"{v:g}" for v in SimConfig.levels)
    sim.add_argument("--levels", default=levels, help=f"answers per open hour, comma-separated (default {levels})")
    sim.add_argument("--stores", type=int, default=SimConfig.stores, help="simulated stores per level (default 20)")
    sim.add_argument("--weeks", type=int, default=SimConfig.weeks, help="evaluated weeks per store (default 4)")
    sim.add_argument("--baseline-pct", type=float, default=SimConfig.baseline_pct, help="negative share (default 20)")
    sim.add_argument("--step-pct", type=float, help="negative share after a step (default: 2x baseline, at most +30)")
    sim.add_argument("--param", action="append", default=[], metavar="KIND.NAME=VALUE", help="replace a default")
    sim.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default 2)")


def _overrides(items: list[str]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for item in items:
        target, sep, raw = item.partition("=")
        kind, dot, name = target.partition(".")
        if not sep or not dot or kind not in KINDS:
            raise InputError(f"--param: expected KIND.NAME=VALUE with KIND one of {', '.join(KINDS)} (got {item!r})")
        try:
            value: object = json.loads(raw)
        except ValueError:
            value = raw
        out.setdefault(kind, {})[name] = value
    return out


def _config(args: argparse.Namespace) -> SimConfig:
    try:
        levels = tuple(float(v) for v in args.levels.split(","))
    except ValueError:
        raise InputError(f"--levels: expected numbers like 8,20,60 (got {args.levels!r})") from None
    if any(v <= 0 for v in levels) or args.stores < 1 or args.weeks < 1 or args.jobs < 1:
        raise InputError("--levels, --stores, --weeks and --jobs must be positive")
    if not 0 < args.baseline_pct < 100 or not 0 < (args.step_pct or 50) < 100:
        raise InputError("--baseline-pct and --step-pct must be between 0 and 100")
    config = SimConfig(
        seed=args.seed, levels=levels, stores=args.stores, weeks=args.weeks, baseline_pct=args.baseline_pct,
        step_to_pct=args.step_pct, params=_overrides(args.param), jobs=args.jobs,
    )  # fmt: skip
    config.rules()  # InputError names a bad parameter
    return config


def run_alerts(args: argparse.Namespace) -> int:
    try:
        config = _config(args)
        rows = simulate(config)
    except (InputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.json:
        print(table(rows, config))
        return 0
    location_weeks = config.stores * config.weeks
    meta: dict[str, object] = {"seed": config.seed, "location_weeks_per_level": location_weeks}
    meta |= {"steps_per_level": 7 * location_weeks, "baseline_pct": config.baseline_pct, "step_pct": config.step_pct}
    print(json.dumps({**meta, "horizon_min": config.horizon_min, "rows": rows}, indent=1))
    return 0
