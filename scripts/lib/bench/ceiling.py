"""Broker ceiling: how many devices one Mosquitto carries here, stepping the fleet up until a limit.

Each step starts a fresh Mosquitto (alone, then with one hub), connects N simulated devices as agents
connect (bench.fleetsim: MQTT v5 persistent session, SUBSCRIBE to its ack topic, retained status), then
runs a steady phase at real per-device rates, time not compressed: a status every 60 s and
``TAPS_PER_DEVICE_S`` taps a second each (the fleet section's 200 taps/s per 10,000 devices, about twice
the demo's lunch peak), so the broker's messages/s grow with N as a real fleet's do. The devices are
spread over several simulator processes, each from its own loopback source address (ephemeral ports).

The limit is the first step where a connect fails, the tap -> ack p99 (with the hub) or the broker's
own round-trip p99 (bare) passes 1 s, or the broker's one core is busy >= 90 % in the steady phase.

When file descriptors stop the real fleet first (each device is one fd in the broker, and a process here
may not raise its hard limit without CAP_SYS_RESOURCE), a second climb keeps the largest fleet that fits
and compresses time instead (statuses and taps x2, x4, ...): the broker's CPU and latency depend on
messages/s, so N devices at speed k stand for k*N devices at real speed (their fds and memory excepted,
which the first climb measures).
"""

from __future__ import annotations

import json
import math
import os
import queue
import resource
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.common import ENV, ROOT, HubProcess, Row, Section, cpu_s, loadavg, pct, ratio, rss_mb, say, start_broker

STEPS = [10_000, 20_000, 40_000, 80_000, 160_000, 240_000]
QUICK_STEPS = [1_000, 2_000]
PER_PROCESS = 20_000  # devices per simulator process at most (fewer when the fd limit is lower)
SPEEDS = [2, 4, 8, 16, 32, 64, 128]
TAPS_PER_DEVICE_S = 0.02  # the fleet section's 200 taps/s per 10,000 devices; ~2x the demo's lunch peak
STATUS_S = 60.0
STEADY_S = 20.0
ACK_P99_LIMIT_S = 1.0
CORE_LIMIT = 0.90


@dataclass
class Step:
    """One fleet size against one broker set-up, and what hit a limit there (empty: none)."""

    variant: str  # "bare" (Mosquitto alone) or "hub" (Mosquitto + one hub)
    devices: int
    speed: float = 1.0  # time compression: statuses and taps per device are this many times the real rate
    connected: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    connect_s: float = math.nan
    broker_cores_connect: float = math.nan
    broker_cores_steady: float = math.nan
    broker_idle_rss_mb: float = math.nan
    broker_rss_mb: float = math.nan
    kb_per_connection: float = math.nan
    hub_cores_steady: float | None = None
    hub_online_s: float | None = None  # after the connects, until the hub had every device online
    sim_cores_steady: float = math.nan
    steady_s: float = math.nan
    taps: int = 0
    planned_taps: float = math.nan
    acks: int = 0
    unacked: int = 0
    ack_p50_ms: float | None = None
    ack_p99_ms: float | None = None
    ping_p50_ms: float = math.nan
    ping_p99_ms: float = math.nan
    load: float = math.nan
    limited_by: list[str] = field(default_factory=list)

    @property
    def equivalent(self) -> int:
        """Devices at real speed that send what this step sent."""
        return round(self.devices * self.speed)

    def label(self) -> str:
        return f"{self.devices:,} devices" + (f" at {self.speed:g}x speed" if self.speed != 1 else "")

    def judge(self) -> None:
        if self.failed:
            self.limited_by.append(f"{self.failed:,} connects failed")
        latency = self.ack_p99_ms if self.variant == "hub" else self.ping_p99_ms
        if latency == math.inf:
            self.limited_by.append(f"ack p99 > 1 s: {self.unacked:,} taps still unacked 2 s after the steady phase")
        elif latency is not None and not latency < ACK_P99_LIMIT_S * 1000:  # NaN (no samples) counts as a miss
            self.limited_by.append(f"{'ack' if self.variant == 'hub' else 'round-trip'} p99 {latency:,.0f} ms > 1 s")
        if self.broker_cores_steady >= CORE_LIMIT:
            self.limited_by.append(f"broker core {self.broker_cores_steady * 100:.0f} % busy")
        if self.taps < 0.8 * self.planned_taps:
            self.limited_by.append(
                f"the simulators fell behind: {self.taps:,} of {self.planned_taps:,.0f} taps sent "
                "(the measuring side's CPU, not the broker's)"
            )

    def projected(self) -> float | None:
        """Device-equivalents at which this step's broker CPU per device reaches 90 % of a core (linear)."""
        if not self.broker_cores_steady > 0:
            return None
        return CORE_LIMIT * self.equivalent / self.broker_cores_steady


def fd_limit(wanted: int) -> tuple[int, str]:
    """Raise RLIMIT_NOFILE (children inherit it) towards ``wanted``; return the limit and how it was set."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with open("/proc/sys/fs/nr_open") as f:
        nr_open = int(f.read())
    target = min(wanted, nr_open)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), max(hard, target)))
        how = f"raised to {target:,} (fs.nr_open {nr_open:,})"
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        who = "root without CAP_SYS_RESOURCE" if os.geteuid() == 0 else "not root"
        how = f"hard limit {hard:,} per process, not raisable here ({who})"
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0], how


class Simulators:
    """N devices over ceil(N / PER_PROCESS) fleetsim processes, each with its own loopback source address."""

    def __init__(self, port: int, devices: int, speed: float, duration: float, per_process: int) -> None:
        self.procs: list[subprocess.Popen[str]] = []
        self.lines: queue.Queue[tuple[int, dict[str, Any]]] = queue.Queue()
        self.seen: dict[int, dict[str, dict[str, Any]]] = {}
        for k in range(math.ceil(devices / per_process)):
            share = min(per_process, devices - k * per_process)
            args = [sys.executable, "-m", "bench.fleetsim", "--port", str(port), "--devices", str(share),
                    "--first", str(k * per_process), "--source", f"127.0.{k // 200 + 1}.{k % 200 + 10}",
                    "--duration", str(duration), "--settle", "2", "--wait-go", "--concurrency", "250",
                    "--connect-timeout", "30",
                    "--taps-per-s", str(share * TAPS_PER_DEVICE_S * speed),
                    "--status-s", str(STATUS_S / speed)]  # fmt: skip
            proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
            self.procs.append(proc)
            self.seen[k] = {}
            threading.Thread(target=self._pump, args=(k, proc), daemon=True).start()

    def _pump(self, k: int, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.put((k, json.loads(line)))
        self.lines.put((k, {"event": "exit", "code": proc.wait()}))

    def collect(self, event: str, timeout: float) -> list[dict[str, Any]]:
        """Every process's ``event`` marker; a process that exits before sending it is an error."""
        deadline = time.monotonic() + timeout
        while not all(event in seen for seen in self.seen.values()):
            try:
                k, marker = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"the fleet simulators did not all report {event!r} in {timeout:.0f} s") from None
            self.seen[k][marker["event"]] = marker
            if marker["event"] == "exit" and event not in self.seen[k]:
                raise RuntimeError(f"fleet simulator {k} exited (code {marker['code']}) before {event!r}")
        return [seen[event] for seen in self.seen.values()]

    def go(self) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()

    def cpu(self) -> float:
        return sum(cpu_s(p.pid) for p in self.procs if p.poll() is None)

    def stop(self) -> None:
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_online(hub: HubProcess, devices: int, timeout: float) -> float:
    """Wait until the hub has registered every connected device's status (the connect storm drained)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = sqlite3.connect(hub.db, timeout=30)
        try:
            online = conn.execute("SELECT COUNT(*) FROM devices WHERE online = 1").fetchone()[0]
        finally:
            conn.close()
        if online >= devices:
            break
        time.sleep(0.5)
    return time.monotonic()


def measure(workdir: Path, step: Step, duration: float, per_process: int) -> Step:
    variant, devices = step.variant, step.devices
    name = f"{variant}-{devices}-x{step.speed:g}"
    broker = start_broker(workdir / name)
    hub: HubProcess | None = None
    try:
        assert broker.pid is not None
        bpid = broker.pid
        if variant == "hub":
            hub = HubProcess(workdir / f"hub-{name}", broker.url)
            hub.start()
        time.sleep(1.0)
        step.broker_idle_rss_mb = rss_mb(bpid)
        b0, t0 = cpu_s(bpid), time.monotonic()
        sims = Simulators(broker.port, devices, step.speed, duration, per_process)
        try:
            connected = sims.collect("connected", 600)
            b1, t1 = cpu_s(bpid), time.monotonic()
            step.connected = sum(m["connected"] for m in connected)
            step.failed = sum(m["failed"] for m in connected)
            step.errors = [e for m in connected for e in m["errors"]][:3]
            step.connect_s = max(m["seconds"] for m in connected)
            step.broker_cores_connect = (b1 - b0) / (t1 - t0)
            if hub is not None:
                step.hub_online_s = wait_online(hub, step.connected, 300) - t1
            time.sleep(2.0)
            step.broker_rss_mb = rss_mb(bpid)
            step.kb_per_connection = (step.broker_rss_mb - step.broker_idle_rss_mb) * 1024 / max(1, step.connected)
            sims.go()
            sims.collect("steady", 60)
            marks = (cpu_s(bpid), cpu_s(hub.pid) if hub else 0.0, sims.cpu(), time.monotonic(), loadavg())
            sims.collect("steady_end", duration + 60)
            ends = (cpu_s(bpid), cpu_s(hub.pid) if hub else 0.0, sims.cpu(), time.monotonic(), loadavg())
            step.broker_rss_mb = max(step.broker_rss_mb, rss_mb(bpid))
            done = sims.collect("done", 60)
        finally:
            sims.stop()
    finally:
        if hub is not None:
            hub.stop()
        broker.stop(30)
    span = step.steady_s = ends[3] - marks[3]
    step.broker_cores_steady = (ends[0] - marks[0]) / span
    step.sim_cores_steady = (ends[2] - marks[2]) / span
    step.load = (marks[4] + ends[4]) / 2
    ack = [x for m in done for x in m["ack"]]
    ping = [x for m in done for x in m["ping"]]
    step.taps = sum(m["taps"] for m in done)
    step.planned_taps = devices * TAPS_PER_DEVICE_S * step.speed * span
    step.ping_p50_ms, step.ping_p99_ms = pct(ping, 0.5) * 1000, pct(ping, 0.99) * 1000
    if hub is not None:
        step.hub_cores_steady = (ends[1] - marks[1]) / span
        step.acks = len(ack)
        step.unacked = sum(m["unacked"] for m in done)
        late = ack + [math.inf] * step.unacked  # a tap still unacked 2 s after the steady phase is late
        step.ack_p50_ms, step.ack_p99_ms = pct(late, 0.5) * 1000, pct(late, 0.99) * 1000
    step.judge()
    return step


def climb(workdir: Path, plan: list[Step], duration: float, per_process: int) -> list[Step]:
    """Measure the steps in order until one hits a limit (or the last one passes)."""
    done: list[Step] = []
    for step in plan:
        say(f"broker: {step.label()}, {'Mosquitto + hub' if step.variant == 'hub' else 'Mosquitto alone'}")
        measure(workdir, step, duration, per_process)
        say(f"broker:   {json.dumps(asdict(step), default=str)}")
        done.append(step)
        if step.limited_by:
            break
    return done


def device_steps(steps: list[int], fds: int) -> list[int]:
    """The planned sizes, plus the largest that fits the broker's fds just before the first that does not."""
    fits = fds - 1_000  # the broker's own files, and a margin
    below = [n for n in steps if n <= fits]
    return below + ([fits] if fits not in below and len(below) < len(steps) else []) + steps[len(below) :]


def ceiling(workdir: Path, variant: str, sizes: list[int], duration: float, fds: int) -> list[Step]:
    """Real devices up to a limit; then, if fds stopped them, time compression at the largest fleet that fit."""
    per_process = min(PER_PROCESS, fds - 1_000)
    steps = climb(workdir, [Step(variant, n) for n in sizes], duration, per_process)
    passed = [s for s in steps if not s.limited_by]
    fd_bound = steps[-1].failed > 0 and steps[-1].devices > fds - 1_000  # it did not fit the broker's fds
    if passed and fd_bound:
        top = passed[-1].devices
        split = math.ceil(top / 2)  # two simulator processes, so that they can use both cores at high speeds
        steps += climb(workdir, [Step(variant, top, speed) for speed in SPEEDS], duration, split)
    return steps


def ceiling_rows(section: str, label: str, steps: list[Step], fds: str) -> list[Row]:
    """The largest real fleet that passed, and (after time compression) the largest equivalent one."""
    rows = []
    real = [s for s in steps if s.speed == 1]
    fast = [s for s in steps if s.speed != 1]
    for kind, group in (("devices", real), ("device-equivalents (time compressed)", fast)):
        if not group:
            continue
        passed = [s for s in group if not s.limited_by]
        top = float(passed[-1].equivalent) if passed else 0.0
        hit = group[-1] if group[-1].limited_by else None
        limit = float(hit.equivalent) if hit else None
        limit_what = f"first step that hit a limit: {hit.label()}" if hit else f"not reached: {group[-1].label()}"
        why = "; ".join(hit.limited_by + hit.errors[:1]) if hit else "no limit hit"
        if hit:  # who was busy: the broker, the hub or the measuring side
            hub = f", hub {hit.hub_cores_steady * 100:.0f} %" if hit.hub_cores_steady is not None else ""
            why += (
                f" (broker {hit.broker_cores_steady * 100:.0f} % of a core{hub}, simulators "
                f"{hit.sim_cores_steady * 100:.0f} %, load {hit.load:.1f})"
            )
        rows.append(Row(section, f"Devices on one Mosquitto, {label}: {kind}", top, "devices", limit, limit_what,
                        ratio(top, limit), "of the failing step", "", None, f"{why}; fds: {fds}"))  # fmt: skip
    passed = [s for s in steps if not s.limited_by]
    best = max(passed, key=lambda s: s.equivalent, default=None)
    projected = best.projected() if best else None
    if best is not None and projected is not None:
        note = (
            f"linear from {best.broker_cores_steady * 100:.1f} % of a core at {best.label()}; the broker's own "
            "CPU per message, not the simulators'"
        )
        rows.append(Row(section, f"Devices on one Mosquitto, {label}: projected to 90 % of its core", projected,
                        "devices", float(best.equivalent), "largest device-equivalent measured",
                        ratio(projected, best.equivalent), "x measured", "", None, note))  # fmt: skip
    return rows


def bare_row(section: str, s: Step) -> Row:
    note = (
        f"{s.connected:,} connected, {s.failed:,} failed in {s.connect_s:.1f} s (broker "
        f"{s.broker_cores_connect * 100:.0f} % of a core meanwhile); broker RSS {s.broker_rss_mb:,.0f} MB, "
        f"{s.kb_per_connection:.1f} KB per connection; round trip p50 {s.ping_p50_ms:.1f} / p99 "
        f"{s.ping_p99_ms:.1f} ms; simulators {s.sim_cores_steady * 100:.0f} % of a core; load {s.load:.1f}"
    )
    busy = s.broker_cores_steady
    return Row(section, f"{s.label()}, Mosquitto alone: broker CPU, steady", busy * 100, "% of a core",
               100.0, "one core: Mosquitto is single-threaded", busy, "of a core", "< 90 %", busy < CORE_LIMIT,
               note)  # fmt: skip


def hub_row(section: str, s: Step, alone: Step | None) -> Row:
    versus = f" ({ratio(s.connect_s, alone.connect_s) or 0:.2f}x alone)" if alone else ""
    note = (
        f"{s.connected:,} connected, {s.failed:,} failed in {s.connect_s:.1f} s{versus}, all online at the hub "
        f"{s.hub_online_s or 0:.1f} s later; broker "
        f"{s.broker_cores_steady * 100:.0f} % of a core steady, RSS {s.broker_rss_mb:,.0f} MB "
        f"({s.kb_per_connection:.1f} KB per device with its retained status); hub "
        f"{(s.hub_cores_steady or 0) * 100:.0f} % of a core; {s.taps / s.steady_s:,.0f} taps/s + "
        f"{s.equivalent / STATUS_S:,.0f} statuses/s; ack p50 {s.ack_p50_ms or 0:.1f} ms, {s.acks:,} acks, "
        f"{s.unacked:,} unacked (counted as late); load {s.load:.1f}"
    )
    met = s.ack_p99_ms is not None and s.ack_p99_ms < ACK_P99_LIMIT_S * 1000
    return Row(section, f"{s.label()}, Mosquitto + hub: tap → ack p99", s.ack_p99_ms, "ms",
               s.ping_p99_ms, "broker round trip p99, same load", ratio(s.ack_p99_ms, s.ping_p99_ms), "x broker",
               "< 1 s", met, note)  # fmt: skip


def run(workdir: Path, quick: bool) -> Section:
    section = Section("Broker")
    duration = 10.0 if quick else STEADY_S
    fds, fds_how = fd_limit(max(QUICK_STEPS if quick else STEPS) + 10_000)
    sizes = QUICK_STEPS if quick else device_steps(STEPS, fds)
    say(f"broker: file descriptors per process: {fds_how}; fleet sizes {sizes}")
    bare = ceiling(workdir, "bare", sizes, duration, fds)
    hub = ceiling(workdir, "hub", sizes, duration, fds)
    alone = {(s.devices, s.speed): s for s in bare}
    section.rows = [
        *ceiling_rows(section.name, "alone", bare, fds_how),
        *ceiling_rows(section.name, "with one hub", hub, fds_how),
        *(bare_row(section.name, s) for s in bare),
        *(hub_row(section.name, s, alone.get((s.devices, s.speed))) for s in hub),
    ]
    section.details = {
        "fd_limit": fds, "fd_limit_how": fds_how, "taps_per_device_s": TAPS_PER_DEVICE_S, "status_s": STATUS_S,
        "steady_s": duration, "bare": [asdict(s) for s in bare], "hub": [asdict(s) for s in hub],
    }  # fmt: skip
    return section
