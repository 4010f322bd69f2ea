"""Backlog drain and the agent's memory: 50,000 taps stored while the broker is down, then it comes back.

A real ``touchpoint-agent`` runs against a real hub. Its RSS is sampled while idle (connected, nothing
to send) and while draining. The broker is stopped, the taps go into the store, the broker starts again
on the same port; the drain is timed from the agent's reconnect (and from the broker's return) until the
store has no pending event. Meanwhile a kiosk-like thread keeps tapping, and each tap's time to durable
is measured: tap latency during the drain, against the same store's idle tap latency.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import (
    AgentProcess,
    HubProcess,
    Row,
    Section,
    bare_python_rss_mb,
    ratio,
    rss_mb,
    rss_split_mb,
    say,
    start_broker,
    summary_ms,
    wait_until,
    write_device_config,
)
from bench.ingest import Publisher, hub_round
from bench.payloads import make_messages
from edge_agent.store import DeviceStore

TZ = "Europe/Helsinki"


def fill(store_path: Path, n: int) -> None:
    """``n`` taps over the last two days, through the real recording API (NORMAL sync: set-up only)."""
    rng = random.Random(11)
    start = datetime.now(UTC) - timedelta(days=2)
    with DeviceStore(store_path, TZ, synchronous="NORMAL") as store:
        for i in range(n):
            value = rng.choices(range(4), weights=(8, 12, 35, 45))[0]
            reason = rng.choice(["queue", "staff", "price"]) if value <= 1 and rng.random() < 0.5 else None
            store.record(value, "default", 4, source="sim", reason=reason, now=start + timedelta(seconds=i * 3.3))


def pending(store_path: Path) -> int:
    conn = sqlite3.connect(store_path, timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events WHERE sync_state = 0").fetchone()[0])
    finally:
        conn.close()


class Tapper(threading.Thread):
    """A kiosk tapping every ``interval_s`` into the same store, timing each tap until durable."""

    def __init__(self, store_path: Path, interval_s: float) -> None:
        super().__init__(daemon=True)
        self.store_path = store_path
        self.interval_s = interval_s
        self.samples: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with DeviceStore(self.store_path, TZ) as store:
            while not self.stop.wait(self.interval_s):
                start = time.perf_counter()
                store.record(3, "default", 4, source="touch")
                self.samples.append(time.perf_counter() - start)


def sample_rss(pid: int, seconds: float) -> list[float]:
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out.append(rss_mb(pid))
        time.sleep(0.1)
    return out


def run(workdir: Path, quick: bool) -> Section:
    section = Section("Backlog drain")
    backlog = 10_000 if quick else 50_000
    broker = start_broker(workdir)
    hub = HubProcess(workdir / "hub", broker.url)
    hub.start()
    config = write_device_config(workdir / "dev", "bench-drain-1", "bench-drain", TZ, broker.url)
    store_path = workdir / "dev" / "bench-drain-1.sqlite"
    DeviceStore(store_path, TZ).close()
    agent = AgentProcess(config)
    idle_taps: list[float] = []
    try:
        agent.start()
        wait_until(lambda: DeviceStore(store_path).meta("agent_connected") == "1", 30, "the agent to connect")
        idle_rss = max(sample_rss(agent.pid, 3.0))
        anon, shared = rss_split_mb(agent.pid)
        tapper = Tapper(store_path, 0.02)
        tapper.start()
        time.sleep(2.0)  # idle tap latency: the same kiosk thread before the outage
        tapper.stop.set()
        tapper.join()
        idle_taps = tapper.samples
        broker.stop()
        say(f"drain: broker down; storing {backlog:,} taps offline")
        fill(store_path, backlog)
        wait_until(lambda: DeviceStore(store_path).meta("agent_connected") == "0", 30, "the agent to notice")
        queued = pending(store_path)
        tapper = Tapper(store_path, 0.01)
        tapper.start()
        broker.start()
        back = time.monotonic()
        rss: list[float] = []
        reconnected = None
        while (left := pending(store_path)) > 0 or reconnected is None:
            if reconnected is None and DeviceStore(store_path).meta("agent_connected") == "1":
                reconnected = time.monotonic()
            rss.append(rss_mb(agent.pid))
            if time.monotonic() - back > 300:
                raise TimeoutError(f"the backlog did not drain: {left} pending")
            time.sleep(0.05)
        drained = time.monotonic()
        tapper.stop.set()
        tapper.join()
        draining_taps = tapper.samples
        agent.stop()
        # The limit: as many events published straight to the same hub in batches of 100, no agent.
        publisher = Publisher(broker.port)
        messages = [(m.topic, m.for_round(1)) for m in make_messages(queued // 100)]
        hub_rate = hub_round(messages, len(messages) * 100, publisher, [hub])["events_per_s"]
        publisher.close()
    finally:
        agent.stop()
        hub.stop()
        broker.stop()
    assert reconnected is not None
    drain_s, total_s = drained - reconnected, drained - back
    rate = queued / drain_s
    idle, during = summary_ms(idle_taps), summary_ms(draining_taps)
    bare = bare_python_rss_mb()
    peak = max(rss) if rss else float("nan")
    limit_s = queued / hub_rate
    section.details = {
        "backlog": queued,
        "drain_s": drain_s,
        "broker_back_to_drained_s": total_s,
        "reconnect_s": reconnected - back,
        "events_per_s": rate,
        "tap_idle": idle,
        "tap_during_drain": during,
        "agent_rss_idle_mb": idle_rss,
        "agent_rss_idle_anon_file_mb": [anon, shared],
        "agent_rss_draining_peak_mb": peak,
        "bare_python_rss_mb": bare,
    }
    section.rows += [
        Row(section.name, f"Drain {queued:,} offline taps (agent reconnect → backlog 0)", drain_s, "s", limit_s,
            "as many events published straight to the hub", ratio(drain_s, limit_s), "x hub-bound", "< 10 s",
            drain_s < 10, f"{rate:,.0f} events/s"),
        Row(section.name, "Same, broker back → backlog 0 (reconnect included)", total_s, "s", limit_s,
            "as above", ratio(total_s, limit_s), "x hub-bound", "< 10 s", total_s < 10,
            f"paho's reconnect back-off (1, 2, 4, 5, 5 ... s) took {reconnected - back:.1f} s of it"),
        Row(section.name, "Tap → durable during the drain, p99", during["p99_ms"], "ms", idle["p99_ms"],
            "same kiosk, store idle, p99", ratio(during["p99_ms"], idle["p99_ms"]), "x idle", "p99 < 5 ms",
            during["p99_ms"] < 5, f"p50 {during['p50_ms']:.2f} ms (idle {idle['p50_ms']:.2f}); n = {during['n']}"),
        Row("Memory", "Edge agent RSS, idle (connected)", idle_rss, "MB", bare, "bare python3 interpreter",
            ratio(idle_rss, bare), "x bare", "< 30 MB", idle_rss < 30,
            f"{anon:.1f} MB anonymous + {shared:.1f} MB shared-library pages"),
        Row("Memory", f"Edge agent RSS, draining {queued:,} taps (peak)", peak, "MB", bare,
            "bare python3 interpreter", ratio(peak, bare), "x bare", "< 35 MB", peak < 35),
    ]  # fmt: skip
    return section
