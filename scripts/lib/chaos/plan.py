"""The shape of a chaos run: devices, zones, clock scenarios, the fault window and the fault mix."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

DAY_S = 86_400.0
# Zones whose local days end at different UTC instants (one with a half-hour offset).
ZONES = ("Pacific/Auckland", "America/Los_Angeles", "Europe/Helsinki", "Asia/Kolkata", "America/St_Johns")

# Random faults; clock faults are scheduled per device by its scenario.
KILL_AGENT = "kill -9 agent"
KILL_HUB = "kill -9 hub"
BROKER_RESTART = "broker restart (persistence off)"
BROKER_OUTAGE = "partition: broker stopped"
LINK_CUT = "partition: link cut"
LINK_STALL = "partition: link stalled"
REPLAY = "replayed + reordered batches"
RANDOM_FAULTS = (KILL_AGENT, KILL_HUB, BROKER_RESTART, BROKER_OUTAGE, LINK_CUT, LINK_STALL, REPLAY)

WRONG_AT_BOOT = "clock: wrong at boot"
NTP_JUMP = "clock: NTP sync jump"
REBOOT = "clock: reboot before NTP"
LYING_AHEAD = "clock: ahead, claims ok"
LYING_OLD = "clock: before 2025, claims ok"


@dataclass(frozen=True)
class ClockPhase:
    """From ``at`` (a fraction of the fault window) the device's processes run with this clock."""

    at: float
    offset_s: float
    ok: bool
    boot: int  # a fake boot number: taps of an earlier boot cannot be re-dated
    fault: str | None  # the fault kind this phase counts as


@dataclass(frozen=True)
class DeviceSpec:
    device_id: str
    location_id: str
    timezone: str
    scenario: str
    phases: tuple[ClockPhase, ...]


@dataclass(frozen=True)
class Mode:
    name: str
    devices: int
    window_s: float  # faults are injected during this long
    taps_per_s: float  # per device
    mean_fault_gap_s: float
    drain_timeout_s: float
    clock_cycles: int = 1  # each device lives its clock scenario this many times, a new boot each time


MODES = {
    "short": Mode("short", devices=4, window_s=100.0, taps_per_s=3.0, mean_fault_gap_s=5.0, drain_timeout_s=90.0),
    "long": Mode(
        "long", devices=8, window_s=3300.0, taps_per_s=2.0, mean_fault_gap_s=15.0, drain_timeout_s=300.0, clock_cycles=5
    ),
}
SCENARIOS = ("ntp-late", "reboot-before-ntp", "ahead", "before-2025", "steady")


def clock_phases(scenario: str, rng: random.Random, now: datetime, cycles: int = 1) -> tuple[ClockPhase, ...]:
    """The clocks a device lives through, ``cycles`` times over; each cycle ends with a good clock."""
    phases: list[ClockPhase] = []
    for cycle in range(cycles):
        start, span = cycle / cycles, 1 / cycles
        for phase in _one_cycle(scenario, rng, now, boot=2 * cycle + 1):
            phases.append(ClockPhase(start + phase.at * span, phase.offset_s, phase.ok, phase.boot, phase.fault))
        if scenario == "steady":
            break
    return tuple(phases)


def _one_cycle(scenario: str, rng: random.Random, now: datetime, boot: int) -> tuple[ClockPhase, ...]:
    first, second = rng.uniform(0.15, 0.4), rng.uniform(0.45, 0.7)
    good = ClockPhase(second, 0.0, True, boot, NTP_JUMP)
    if scenario == "ntp-late":  # boots days behind; NTP syncs in the same boot: taps are re-dated
        return ClockPhase(0.0, -3 * DAY_S, False, boot, WRONG_AT_BOOT), ClockPhase(first, 0.0, True, boot, NTP_JUMP)
    if scenario == "reboot-before-ntp":  # the first boot's taps cannot be re-dated: quarantined at the hub
        return (
            ClockPhase(0.0, -5 * DAY_S, False, boot, WRONG_AT_BOOT),
            ClockPhase(first, -5 * DAY_S + 60, False, boot + 1, REBOOT),
            ClockPhase(second, 0.0, True, boot + 1, NTP_JUMP),
        )
    if scenario == "ahead":  # a clock a day ahead that claims to be synchronised: "future" at the hub
        return ClockPhase(0.0, DAY_S, True, boot, LYING_AHEAD), good
    if scenario == "before-2025":  # a clock in mid-2024 that claims to be synchronised: below the hub's floor
        offset = (datetime(2024, 6, 1, 12, tzinfo=UTC) - now).total_seconds()
        return ClockPhase(0.0, offset, True, boot, LYING_OLD), good
    return (ClockPhase(0.0, 0.0, True, boot, None),)


def devices(mode: Mode, count: int, rng: random.Random, now: datetime) -> list[DeviceSpec]:
    """``count`` devices over about two thirds as many locations; the clock scenarios go round in turn."""
    n_locations = max(1, (count * 2 + 2) // 3)
    specs = []
    for i in range(count):
        loc = i % n_locations
        scenario = SCENARIOS[i % len(SCENARIOS)]
        specs.append(
            DeviceSpec(
                device_id=f"kiosk-{i}",
                location_id=f"store-{loc}",
                timezone=ZONES[loc % len(ZONES)],
                scenario=scenario,
                phases=clock_phases(scenario, rng, now, mode.clock_cycles),
            )
        )
    return specs


def fault_schedule(mode: Mode, window_s: float, rng: random.Random) -> list[tuple[float, str]]:
    """Random faults at random times in the window; every kind at least once."""
    count = max(len(RANDOM_FAULTS), int(window_s / mode.mean_fault_gap_s))
    kinds = list(RANDOM_FAULTS) + [rng.choice(RANDOM_FAULTS) for _ in range(count - len(RANDOM_FAULTS))]
    rng.shuffle(kinds)
    times = sorted(rng.uniform(0.03, 0.85) * window_s for _ in kinds)
    return list(zip(times, kinds, strict=True))
