"""Fleet: 10,000 simulated devices connected at once to one Mosquitto and one hub.

The simulator (:mod:`bench.fleetsim`, one asyncio process) connects every device, then runs a steady
phase of heartbeats (a status per device per minute) and live taps. Measured: the time to connect the
fleet (against the same simulator and broker with no hub, as the limit), the hub's CPU and RSS, and the
tap -> ack latency (against the broker's own round trip under the same load).
"""

from __future__ import annotations

import json
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import (
    ENV,
    ROOT,
    HubProcess,
    Row,
    Section,
    cpu_s,
    pct,
    raise_fd_limit,
    ratio,
    rss_mb,
    say,
    start_broker,
)


def simulate(port: int, devices: int, duration: float, settle: float, on_tick: Any = None) -> dict[str, Any]:
    """Run the simulator; return its marker lines by event name. ``on_tick()`` runs every 0.25 s."""
    args = [sys.executable, "-m", "bench.fleetsim", "--port", str(port), "--devices", str(devices),
            "--duration", str(duration), "--settle", str(settle)]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True).start()
    markers: dict[str, Any] = {}
    deadline = time.monotonic() + duration + settle + 600
    while proc.poll() is None or not lines.empty():
        try:
            marker = json.loads(lines.get(timeout=0.25))
            markers[marker["event"]] = marker
            if on_tick is not None:
                on_tick(marker["event"])
        except queue.Empty:
            if on_tick is not None:
                on_tick(None)
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError("the fleet simulator did not finish")
    if "done" not in markers:
        raise RuntimeError(f"the fleet simulator failed (exit {proc.returncode}); markers: {list(markers)}")
    return markers


def run(workdir: Path, quick: bool) -> Section:
    section = Section("Fleet")
    devices = 1000 if quick else 10_000
    duration = 15.0 if quick else 45.0
    raise_fd_limit()
    say(f"fleet: connecting {devices:,} devices to a broker alone (the limit)")
    bare_broker = start_broker(workdir / "bare")
    try:
        bare = simulate(bare_broker.port, devices, 0.0, 0.0)["connected"]
    finally:
        bare_broker.stop()
    broker = start_broker(workdir)
    hub = HubProcess(workdir / "hub", broker.url)
    hub.start()
    time.sleep(2.0)
    idle_rss = rss_mb(hub.pid)
    samples: dict[str, Any] = {"rss": [], "cpu": {}}

    def tick(event: str | None) -> None:
        samples["rss"].append(rss_mb(hub.pid))
        if event is not None:
            samples["cpu"][event] = (cpu_s(hub.pid), time.monotonic())

    say(f"fleet: {devices:,} devices with the hub; then {duration:.0f} s of heartbeats and taps")
    samples["cpu"]["start"] = (cpu_s(hub.pid), time.monotonic())
    try:
        markers = simulate(broker.port, devices, duration, 5.0, tick)
        conn = sqlite3.connect(hub.db)
        online = conn.execute("SELECT COUNT(*) FROM devices WHERE online = 1").fetchone()[0]
        conn.close()
    finally:
        hub.stop()
        broker.stop()
    connected, done = markers["connected"], markers["done"]
    cpu = samples["cpu"]
    steady_cores = (cpu["steady_end"][0] - cpu["steady"][0]) / (cpu["steady_end"][1] - cpu["steady"][1])
    connect_cores = (cpu["connected"][0] - cpu["start"][0]) / (cpu["connected"][1] - cpu["start"][1])
    peak = max(samples["rss"])
    ack, ping = done["ack"], done["ping"]
    a50, a99, p50, p99 = (pct(x, q) * 1000 for x, q in ((ack, 0.5), (ack, 0.99), (ping, 0.5), (ping, 0.99)))
    section.details = {
        "devices": devices, "connected": connected["connected"], "failed": connected["failed"],
        "errors": connected["errors"], "online_at_hub": online, "connect_s": connected["seconds"],
        "bare_connect_s": bare["seconds"], "hub_idle_rss_mb": idle_rss, "hub_peak_rss_mb": peak,
        "hub_cores_steady": steady_cores, "hub_cores_connect": connect_cores, "taps": done["taps"],
        "acks": len(ack), "unacked": done["unacked"], "ack_ms": {"p50": a50, "p99": a99},
        "broker_round_trip_ms": {"p50": p50, "p99": p99},
    }  # fmt: skip
    taps_s = done["taps"] / duration
    note = f"{connected['connected']:,} connected, {connected['failed']} failed; {online:,} online at the hub"
    section.rows += [
        Row(section.name, f"Connect {devices:,} devices (CONNECT, SUBSCRIBE, status)", connected["seconds"], "s",
            bare["seconds"], "same simulator, broker without hub", ratio(connected["seconds"], bare["seconds"]),
            "x bare", "", None, note),
        Row(section.name, "Hub CPU, steady (status/min per device + taps)", steady_cores * 100, "% of a core", 100.0,
            "one core, the GIL's ceiling", steady_cores, "of a core", "", None,
            f"{taps_s:,.0f} taps/s + {devices / 60:,.0f} statuses/s; connect storm {connect_cores * 100:.0f} %"),
        Row(section.name, "Hub RSS, peak", peak, "MB", idle_rss, "the same hub idle, before the fleet",
            ratio(peak, idle_rss), "x idle", "< 300 MB", peak < 300),
        Row(section.name, "Tap → ack latency, p50", a50, "ms", p50, "broker round trip, p50, same load",
            ratio(a50, p50), "x broker"),
        Row(section.name, "Tap → ack latency, p99", a99, "ms", p99, "broker round trip, p99, same load",
            ratio(a99, p99), "x broker", "", None, f"{len(ack):,} acks, {done['unacked']} unacked at the end"),
    ]  # fmt: skip
    return section
