"""``python -m demo``: see ``scripts/demo --help``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from demo.run import Demo

from simulate import DEMO_LOCATIONS

EPILOG = """what you get:
  a Mosquitto broker, the hub (API + dashboard), and one real touchpoint-agent per store
  with weeks of history; live taps; alert rules (the recommended shift rule: a rise in
  negative answers against the store's own weekday x hour usual; HappyOrNot's 50% negative
  in 15 min; a kiosk offline for a minute) whose webhooks go to a local receiver that prints
  each delivery; New York has a queue out of the door for the first 5 minutes, so alerts
  fire; one store's network drops for a while.

examples:
  scripts/demo                       # until Ctrl-C
  scripts/demo --duration 30         # stops by itself 30 s after start-up
  scripts/demo --port 0 --no-outage  # any free HTTP port; every kiosk stays online
  scripts/demo --postgres            # PostgreSQL (started under the data dir) and two hub workers

with --postgres, a private PostgreSQL server runs under <data-dir>/postgres and two hub workers
(--share-group) share it, each on its own port; the demo prints both and which one leads. Stopping
the demo stops the server too.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/demo",
        description="Run the whole Touchpoint system on this machine until Ctrl-C (or --duration).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--duration",
        type=float,
        default=0,
        help="stop by itself this many seconds after start-up (default: run until Ctrl-C)",
    )
    p.add_argument("--port", type=int, default=8000, help="hub HTTP port (default 8000; 0 = any free port)")
    p.add_argument("--broker-port", type=int, default=0, help="MQTT port (default: any free port)")
    p.add_argument(
        "--locations",
        type=int,
        default=3,
        choices=range(1, len(DEMO_LOCATIONS) + 1),
        help="how many stores, one kiosk each (default 3)",
    )
    p.add_argument(
        "--history-days", type=int, default=56, help="days of past taps each store starts with (default 56: 8 weeks)"
    )
    p.add_argument("--taps-per-second", type=float, default=2.0, help="live taps per second, per store (default 2)")
    p.add_argument(
        "--queue-s", type=float, default=300,
        help="New York has a queue out of the door for this many seconds of live taps (default 300; 0 = never)",
    )  # fmt: skip
    p.add_argument(
        "--outage-after-s",
        type=float,
        default=20,
        help="the last store's link drops this long after start (default 20)",
    )
    p.add_argument("--outage-s", type=float, default=150, help="and stays down this long (default 150)")
    p.add_argument("--no-outage", action="store_true", help="keep every kiosk online")
    p.add_argument(
        "--data-dir", type=Path, default=Path("demo-data"), help="wiped and recreated on each run (default demo-data)"
    )
    p.add_argument("--embedded-broker", action="store_true", help="use the embedded amqtt broker")
    p.add_argument(
        "--postgres",
        action="store_true",
        help="run the hub on a local PostgreSQL with two workers sharing it (default: one hub on SQLite)",
    )
    args = p.parse_args(argv)
    if min(args.history_days, args.taps_per_second, args.queue_s, args.outage_s, args.outage_after_s) < 0:
        p.error("--history-days, --taps-per-second, --queue-s and the outage times must not be negative")
    return args


if __name__ == "__main__":
    sys.exit(Demo(parse_args()).run())
