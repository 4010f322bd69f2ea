"""Tap latency: tap -> durable in the device store, and tap -> visible in the HQ API.

- durable: ``DeviceStore.record`` (WAL, synchronous=FULL, one commit per tap), against the floor of a
  bare single-row INSERT + COMMIT with the same durability on the same disk;
- visible: a tap recorded into the store of a running ``touchpoint-agent`` until ``/api/v1/scores`` on a
  running hub counts it, against the floor of its parts measured alone in the same run: the bare commit,
  one MQTT hop through the same broker and one API GET. The agent's poll of its store
  (``sync.flush_interval_ms``, 100 ms) is the designed difference.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import (
    AgentProcess,
    HubProcess,
    Row,
    Section,
    pct,
    ratio,
    say,
    start_broker,
    summary_ms,
    wait_until,
    write_device_config,
)
from edge_agent.store import DeviceStore
from hub.ingest import send_without_delay


def bare_commits(path: Path, n: int) -> list[float]:
    """The floor under a durable tap: one row, one COMMIT, WAL with synchronous=FULL."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE taps (id TEXT, ts TEXT, value INTEGER)")
    samples = []
    for i in range(n):
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO taps VALUES (?, ?, ?)", (f"tap-{i}", datetime.now(UTC).isoformat(), i % 4))
        conn.execute("COMMIT")
        samples.append(time.perf_counter() - start)
    conn.close()
    return samples


def durable_taps(path: Path, n: int, pause_s: float = 0.0) -> list[float]:
    samples = []
    with DeviceStore(path, "Europe/Helsinki") as store:
        for i in range(n):
            start = time.perf_counter()
            store.record(2 + i % 2, "default", 4, source="touch")
            samples.append(time.perf_counter() - start)
            if pause_s:
                time.sleep(pause_s)
    return samples


def mqtt_hops(port: int, n: int) -> list[float]:
    """QoS 1 publish -> delivery to a subscriber, through the broker: one MQTT hop."""
    got = threading.Event()
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-hop", protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, *_: (send_without_delay(c), c.subscribe("bench/hop", qos=1))
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda *_: got.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    subscribed.wait(10)
    samples = []
    for _ in range(n):
        got.clear()
        start = time.perf_counter()
        client.publish("bench/hop", b"x" * 400, qos=1)
        if got.wait(5):
            samples.append(time.perf_counter() - start)
        time.sleep(0.005)
    client.disconnect()
    client.loop_stop()
    return samples


def visible_taps(workdir: Path, hub: HubProcess, store_path: Path, n: int) -> tuple[list[float], list[float]]:
    """(tap -> counted by the API, API GET durations) for ``n`` taps at random moments."""
    today = datetime.now(UTC).date()
    params = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1)), "group_by": "all"}
    params["location"] = "bench-visible"
    rng = random.Random(3)
    visible: list[float] = []
    gets: list[float] = []
    with httpx.Client(base_url=hub.url, headers=hub.headers(), timeout=10) as http:

        def counted() -> int:
            start = time.perf_counter()
            response = http.get("/api/v1/scores", params=params)
            gets.append(time.perf_counter() - start)
            if response.status_code == 404:  # the hub has not heard of the location yet
                return 0
            return sum(int(r["n"]) for r in response.raise_for_status().json()["rows"])

        with DeviceStore(store_path, "Europe/Helsinki") as store:
            store.record(3, "default", 4, source="touch")  # warm-up: the hub registers the location
            before = wait_until(counted, 30, "the warm-up tap at the hub")
            gets.clear()
            for _ in range(n):
                time.sleep(rng.uniform(0.05, 0.25))
                start = time.perf_counter()
                store.record(3, "default", 4, source="touch")
                deadline = start + 10
                while counted() <= before and time.perf_counter() < deadline:
                    pass
                visible.append(time.perf_counter() - start)
                before += 1
    return visible, gets


def run(workdir: Path, quick: bool) -> Section:
    section = Section("Tap latency")
    n_durable = 200 if quick else 1000
    n_visible = 20 if quick else 100
    bare = bare_commits(workdir / "bare.sqlite", n_durable)
    durable = durable_taps(workdir / "durable.sqlite", n_durable)
    broker = start_broker(workdir)
    hub = HubProcess(workdir / "hub", broker.url)
    hub.start()
    config = write_device_config(workdir / "dev", "bench-visible-1", "bench-visible", "Europe/Helsinki", broker.url)
    agent = AgentProcess(config)
    store_path = workdir / "dev" / "bench-visible-1.sqlite"
    DeviceStore(store_path, "Europe/Helsinki").close()  # created before the agent opens it
    try:
        agent.start()
        wait_until(lambda: DeviceStore(store_path).meta("agent_connected") == "1", 30, "the agent to connect")
        hops = mqtt_hops(broker.port, 50 if quick else 200)
        say(f"latency: {n_visible} taps until the hub API counts them")
        visible, gets = visible_taps(workdir, hub, store_path, n_visible)
    finally:
        agent.stop()
        hub.stop()
        broker.stop()
    s_bare, s_durable, s_visible = summary_ms(bare), summary_ms(durable), summary_ms(visible)
    floor_ms = (pct(bare, 0.5) + pct(hops, 0.5) + pct(gets, 0.5)) * 1000
    section.details = {
        "bare_commit": s_bare,
        "tap_to_durable": s_durable,
        "tap_to_visible": s_visible,
        "mqtt_hop": summary_ms(hops),
        "api_get": summary_ms(gets),
        "visible_floor_p50_ms": round(floor_ms, 3),
    }
    d99, b99 = s_durable["p99_ms"], s_bare["p99_ms"]
    section.rows += [
        Row(section.name, "Tap → durable (DeviceStore.record), p50", s_durable["p50_ms"], "ms", s_bare["p50_ms"],
            "bare INSERT + COMMIT, synchronous=FULL", ratio(s_durable["p50_ms"], s_bare["p50_ms"]), "x bare"),
        Row(section.name, "Tap → durable, p99", d99, "ms", b99, "bare INSERT + COMMIT, p99", ratio(d99, b99), "x bare",
            "p99 < 5 ms", d99 < 5, f"n = {s_durable['n']}"),
        Row(section.name, "Tap → visible in the HQ API, p50", s_visible["p50_ms"], "ms", round(floor_ms, 2),
            "bare commit + MQTT hop + API GET (p50s)", ratio(s_visible["p50_ms"], floor_ms), "x floor", "",
            None, "includes the agent's 100 ms store poll"),
        Row(section.name, "Tap → visible in the HQ API, p99", s_visible["p99_ms"], "ms", round(floor_ms, 2),
            "same floor", ratio(s_visible["p99_ms"], floor_ms), "x floor", "p99 < 1 s", s_visible["p99_ms"] < 1000,
            f"n = {s_visible['n']}"),
    ]  # fmt: skip
    return section
