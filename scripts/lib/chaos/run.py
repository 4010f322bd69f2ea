"""``scripts/chaos``: run the fleet under random faults, then compare the devices with the hub."""

from __future__ import annotations

import argparse
import bisect
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from chaos import check, plan
from chaos.faults import Injector
from chaos.stack import Stack
from chaos.table import render
from hub.broker import find_mosquitto

EPILOG = """what it does:
  starts Mosquitto (persistence off), the hub and, per device, a real `touchpoint-agent run` and a
  tapper recording taps at random into the device's own store. Each device and the hub reach the
  broker through a link that can be cut or stalled. During the fault window it injects, at random:
  kill -9 of agents and of the hub, broker restarts, broker outages, link cuts and stalls, and
  replays of captured batches in a shuffled order. Each device also lives through a clock fault:
  booting days behind and NTP syncing later (taps re-dated), a reboot before NTP (taps quarantined),
  or a clock that claims to be synchronised but is a day ahead or in 2024 (quarantined by the hub).
  Then it heals everything, lets the devices drain, and compares.

exit status: 0 when nothing was lost or double-counted, the rollups match, the quarantine holds
exactly the taps it should and no tap is counted on a wrong day; 1 otherwise; 2 on a setup error.

examples:
  scripts/chaos --short                 # CI, under 5 minutes
  scripts/chaos --long                  # an hour
  scripts/chaos --short --seed 42 --keep
  scripts/chaos --db postgresql --workers 2   # two hub workers on a shared subscription over PostgreSQL
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/chaos",
        description="Chaos test: real agents, Mosquitto and hub under random faults; exact counts or exit 1.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--short", dest="mode", action="store_const", const="short", help="4 devices, ~2.5 min (default)")
    mode.add_argument("--long", dest="mode", action="store_const", const="long", help="8 devices, an hour")
    p.set_defaults(mode="short")
    p.add_argument("--devices", type=int, help="number of devices (short 4, long 8)")
    p.add_argument("--duration", type=float, help="seconds of fault injection (short 100, long 3300)")
    p.add_argument("--rate", type=float, help="taps per second per device (short 3, long 2)")
    p.add_argument("--seed", type=int, help="random seed (default: a fresh one, printed)")
    p.add_argument("--workdir", type=Path, help="where stores, databases and logs go (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (it is always kept on failure)")
    p.add_argument(
        "--db",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="the hub's database: a SQLite file, or a private PostgreSQL started under the work dir (default sqlite)",
    )
    p.add_argument("--workers", type=int, default=1, help="hub workers on the share group `hub` (default 1)")
    args = p.parse_args(argv)
    if not 1 <= args.workers <= 8:
        p.error("--workers must be 1..8")
    if args.devices is not None and not 1 <= args.devices <= 50:
        p.error("--devices must be 1..50")
    if args.duration is not None and not 10 <= args.duration <= 86_400:
        p.error("--duration must be 10..86400 seconds")
    return args


class Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def say(self, msg: str) -> None:
        print(f"[chaos {time.monotonic() - self.start:7.1f}s] {msg}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if find_mosquitto() is None:
        print("error: mosquitto is not installed (apt-get install mosquitto)", file=sys.stderr)
        return 2
    mode = plan.MODES[args.mode]
    window = args.duration or mode.window_s
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="touchpoint-chaos-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    clock = Clock()
    specs = plan.devices(mode, args.devices or mode.devices, rng, datetime.now(UTC))
    hub = f"{args.workers} hub worker{'s' if args.workers > 1 else ''} on {args.db}"
    clock.say(f"{mode.name} run, seed {seed}: {len(specs)} devices, {hub}, {window:.0f} s of faults")
    clock.say(f"work dir {workdir}")
    for spec in specs:
        clock.say(f"  {spec.device_id} at {spec.location_id} ({spec.timezone}), clock scenario: {spec.scenario}")
    stack = Stack(workdir, specs, args.rate or mode.taps_per_s, seed, args.db, args.workers)
    try:
        stack.start()
        injector = Injector(stack, rng, clock.say)
        _fault_window(stack, injector, mode, window, rng, clock)
        injector.heal_all()
        for device in stack.devices:
            device.tapper.stop()
        clock.say("fault window over: everything healed, tappers stopped; waiting for the devices to drain")
        drained = _drain(stack, mode.drain_timeout_s, clock.say)
        report = check.compare(stack.devices, stack.db, _api_totals(stack))
        report.api_disagreements = _workers_disagreeing(stack)
    finally:
        stack.close()
    title = f"chaos {mode.name} (seed {seed}, {len(specs)} devices, {hub}, {window:.0f} s of faults)"
    print(render(title, report, injector.counts, injector.replayed_batches, drained), flush=True)
    ok = report.ok and drained
    if ok and not args.keep and args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"work dir kept: {workdir}", flush=True)
    return 0 if ok else 1


def _fault_window(
    stack: Stack, injector: Injector, mode: plan.Mode, window: float, rng: random.Random, clock: Clock
) -> None:
    for device in stack.devices:
        first, *later = device.spec.phases
        if first.fault:
            injector.counts[first.fault] += 1
        for phase in later:
            injector.later(phase.at * window, "clock", injector.clock_switch(device, phase))
    pending = plan.fault_schedule(mode, window, rng)
    progress_every = 10.0 if window < 600 else 60.0
    start = time.monotonic()
    next_progress = progress_every
    while (elapsed := time.monotonic() - start) < window:
        injector.tick()
        while pending and pending[0][0] <= elapsed:
            _, kind = pending.pop(0)
            if not injector.inject(kind) and elapsed < 0.9 * window:
                bisect.insort(pending, (elapsed + 2.0, kind))  # nothing to break right now: try again soon
        if elapsed >= next_progress:
            next_progress += progress_every
            taps = sum(d.taps_logged() for d in stack.devices)
            clock.say(f"progress: {taps} taps, {sum(injector.counts.values())} faults, hub at {_hub_total(stack)}")
        time.sleep(0.05)


def _hub_total(stack: Stack) -> int:
    """Events counted plus quarantined at the hub (read from its file; -1 while unreadable)."""
    try:
        rows = check.read_rows(stack.db, "SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM quarantine)")
        return int(str(rows[0][0]))
    except Exception:
        return -1


def _drain(stack: Stack, timeout: float, say: Callable[[str], None]) -> bool:
    deadline = time.monotonic() + timeout
    last = (-1, -1)
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        backlog = sum(d.backlog() for d in stack.devices)
        state = (backlog, _hub_total(stack))
        if state != last:
            last, stable_since = state, time.monotonic()
        if backlog == 0 and stack.healthy() and time.monotonic() - stable_since > 3.0:
            say(f"drained: backlogs 0, {state[1]} taps at the hub")
            return True
        time.sleep(0.25)
    say(f"NOT drained after {timeout:.0f} s: backlog {last[0]}, hub at {last[1]}")
    return False


def _api_totals(stack: Stack) -> dict[str, int]:
    """What an operator sees: the admin API's quarantine and dead-letter totals."""
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    out: dict[str, int] = {}
    for key, path in (("quarantine", "/api/v1/quarantine"), ("dead_letters", "/api/v1/dead-letters")):
        try:
            response = httpx.get(f"{stack.hub.url}{path}?limit=1", headers=headers, timeout=10)
            out[key] = int(response.json()["total"])
        except (httpx.HTTPError, KeyError, ValueError):
            pass
    return out


def _workers_disagreeing(stack: Stack) -> int:
    """Workers whose scores and quarantine totals differ from the first worker's (0 with one worker)."""
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    scores = "/api/v1/scores?group_by=location&from=2020-01-01&to=2029-12-31"
    answers = []
    for worker in stack.workers:
        try:
            got = [
                httpx.get(worker.url + path, headers=headers, timeout=10).json()
                for path in (scores, "/api/v1/quarantine?limit=1")
            ]
        except (httpx.HTTPError, ValueError):
            got = None
        answers.append(got)
    return sum(1 for answer in answers[1:] if answer is None or answer != answers[0])
