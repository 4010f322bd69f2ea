"""``touchpoint-hub effect simulate``: how often the action-effect verdict is right, on seeded simulated stores.

Each run simulates one region (:mod:`hub.services.effect_sim`) and judges store 0's action with
the hub's own :func:`hub.services.effect.effect`, so the rates are those of the verdicts the hub gives.
"""

from __future__ import annotations

import argparse
import json
import sys

from hub.services.effect_sim import SCENARIOS, Fleet, study

EXAMPLES = """examples:
  touchpoint-hub effect simulate                          # 200 runs per scenario, seed 1
  touchpoint-hub effect simulate --answers-per-hour 8 --runs 500 --json

Scenarios (the action is at store 0 of --stores stores; --weeks weeks before and after):
  improvement  the store loses half its queue complaints after the start: should be "improved"
  placebo      nothing changes anywhere: "improved" or "worse" is a false alarm
  placebo-negative  the same for an action without a reason (% negative is measured)
  season       every store gets 6 points happier after the start (% negative measured), the action
               does nothing: "improved" would credit the action with the season. naive_improved is how
               often the store's own before/after test (two-proportion z) would have said improved.
"""


def add_effect_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``effect simulate``, under the main parser's sub-commands."""
    cmd = sub.add_parser(
        "effect",
        help="action effects: check the difference-in-differences verdicts on simulated stores",
        description="The action-effect verdicts (difference-in-differences against peer stores) on simulated stores.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = cmd.add_subparsers(dest="effect_command", required=True, metavar="ACTION")
    sim = actions.add_parser(
        "simulate",
        help="detection and false-alarm rates of the verdicts, on seeded simulated regions",
        description="Rates of each verdict per scenario, on seeded simulated regions.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("--runs", type=int, default=200, help="simulated regions per scenario (default 200)")
    sim.add_argument("--seed", type=int, default=1, help="the same seed gives the same rates (default 1)")
    sim.add_argument("--stores", type=int, default=Fleet.stores, help="stores per region, the treated one included (6)")
    sim.add_argument(
        "--answers-per-hour", type=float, default=Fleet.answers_per_hour, help="answers per open hour per store (20)"
    )
    sim.add_argument("--weeks", type=int, default=Fleet.weeks, help="weeks before and after the start (default 4)")
    sim.add_argument("--json", action="store_true", help="print JSON rows instead of a table")


def run_effect(args: argparse.Namespace) -> int:
    if args.runs < 1 or args.stores < 2 or args.answers_per_hour <= 0 or args.weeks < 2:
        print(
            "error: --runs >= 1, --stores >= 2, --answers-per-hour > 0 and --weeks >= 2 are required", file=sys.stderr
        )
        return 2
    fleet = Fleet(stores=args.stores, answers_per_hour=args.answers_per_hour, weeks=args.weeks)
    rows = [study(scenario, args.runs, args.seed, fleet).as_dict() for scenario in SCENARIOS]
    if args.json:
        print(json.dumps({"seed": args.seed, "fleet": vars(fleet), "rows": rows}, indent=1))
        return 0
    columns = ("improved", "no_detectable_change", "worse", "too_early", "naive_improved")
    print(f"| scenario | runs | {' | '.join(columns)} |")
    print(f"|---|---:|{'---:|' * len(columns)}")
    for row in rows:
        cells = " | ".join(f"{float(row[c]) * 100:.1f}%" for c in columns)  # type: ignore[arg-type]
        print(f"| {row['scenario']} | {row['runs']} | {cells} |")
    return 0
