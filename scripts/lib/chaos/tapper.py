"""A kiosk stand-in: taps at random into one device store, through the real Recorder.

Each tap whose ``record()`` returned is logged as one JSON line, with the real
wall-clock time it happened (the device's own clock may be faked through
``TOUCHPOINT_CLOCK_OFFSET_S``). The log is the ground truth for the day a tap
belongs to. Some negative answers get a follow-up reason, some are left to
time out, and quick repeats are stored as misuse, as on a kiosk.

    python -m chaos.tapper --config kiosk-0.toml --log kiosk-0.taps.jsonl --rate 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

from msgspec.structs import replace

from edge_agent.config import load_config
from edge_agent.recorder import Recorder
from edge_agent.store import DeviceStore, StoreError
from edge_agent.survey import default_survey

REASONS = (None, "queue", "staff", "price", "cleanliness")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m chaos.tapper", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, required=True, help="the device config (store path and zone)")
    p.add_argument("--log", type=Path, required=True, help="JSON lines, one per stored tap")
    p.add_argument("--rate", type=float, default=3.0, help="taps per second on average")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    config = load_config(args.config)
    # A short response interval, so that some quick repeats are misuse and most taps count.
    survey = replace(default_survey(), response_interval_s=0.05, idle_timeout_s=3.0)
    rng = random.Random(args.seed * 1_000_003 + os.getpid())
    offset = float(os.environ.get("TOUCHPOINT_CLOCK_OFFSET_S") or 0)
    with DeviceStore.for_device(config) as store, args.log.open("a") as log:
        recorder = Recorder(store, lambda: survey)
        while not stop.wait(rng.expovariate(args.rate)):
            value = rng.choices(range(4), weights=(2, 2, 3, 4))[0]
            real = time.time()
            try:
                tap = recorder.tap(value, "sim")
            except StoreError as exc:  # a kiosk shows an error and does not thank; nothing to log
                print(f"tap not stored: {exc}", file=sys.stderr, flush=True)
                continue
            line = {"id": tap.event.id, "real": real, "offset_s": offset, "clock_ok": tap.event.clock_ok}
            log.write(json.dumps(line) + "\n")
            log.flush()
            if tap.follow_up and rng.random() < 0.8:  # else the hold times out and it syncs without a reason
                recorder.answer_follow_up(tap, rng.choice(REASONS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
