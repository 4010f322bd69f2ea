"""Hub ingest throughput, MQTT to committed (rollups included) and acked, against its limits in the same run.

Per round, the same pre-built batches of 100 events go through the same Mosquitto three ways:

- broker: a bare subscriber that only counts them (the broker's raw delivery rate);
- raw path: a bare subscriber that ``json.loads`` and ``executemany``s them into a plain table;
- hub: ``touchpoint-hub serve``; a batch counts once its application ack arrives (sent after commit).

Then the same for PostgreSQL (the bench's own cluster, :mod:`bench.pg`): the raw path ``COPY``s the rows
into a plain table of the same server; one hub worker, and two workers sharing ``$share/``, each with
``--db postgresql://...``. Their CPU per event is the hub processes' plus the server's (its backends
do the work SQLite does inside the hub process), both given.

Each is timed from the first publish to the last message received, committed or acked. Rounds alternate
the three so machine noise hits them alike; each figure is the median over rounds. Next to each rate, the
CPU it cost: the process's user + system seconds over the round (all its threads) per event, which a busy
shared machine disturbs far less than the wall-clock rate.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import ENV, ROOT, HubProcess, Row, Section, cpu_s, ratio, say, start_broker
from bench.payloads import Message, make_messages
from bench.pg import BenchPg
from hub.broker import MosquittoBroker

PUBLISH_WINDOW = 100


class Publisher:
    """One paho client publishing QoS 1 as fast as the broker takes it, and counting events in hub acks."""

    def __init__(self, port: int) -> None:
        self.acked = 0
        self.target = 0
        self.all_acked = threading.Event()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher", protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(PUBLISH_WINDOW)
        self.client.on_connect = lambda c, *_: c.subscribe("touchpoint/v1/+/+/ack", qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_ack
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(20):
            raise RuntimeError("the bench publisher could not subscribe to acks")

    def _on_ack(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        ack = json.loads(message.payload)
        self.acked += len(ack["accepted"]) + len(ack["duplicates"]) + len(ack["rejected"])
        if self.target and self.acked >= self.target:
            self.all_acked.set()

    def publish(self, items: list[tuple[str, bytes]]) -> float:
        started = time.monotonic()
        infos = [self.client.publish(t, p, qos=1) for t, p in items]
        for info in infos[-PUBLISH_WINDOW:]:
            info.wait_for_publish(120)
        return started

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def raw_round(
    port: int, mode: str, items: list[tuple[str, bytes]], pub: Publisher, workdir: Path, pg: BenchPg | None = None
) -> dict[str, float]:
    """Events/s and CPU µs/event of a bare subscriber (``count``, ``sqlite`` or ``postgres``) for these messages."""
    db = workdir / f"raw-{mode}-{time.monotonic_ns()}.sqlite"
    target = pg.database("bench_raw") if pg is not None and mode == "postgres" else str(db)
    args = [sys.executable, "-m", "bench.rawsub", "--port", str(port), "--mode", mode, "--expect", str(len(items))]
    proc = subprocess.Popen([*args, "--db", target], stdout=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"raw subscriber ({mode}) did not start")
    raw_items = [(t.replace("touchpoint/", "benchraw/", 1), p) for t, p in items]
    server_before = pg.server_cpu_s() if pg is not None else 0.0
    started = pub.publish(raw_items)
    result = json.loads(proc.stdout.readline())
    server = (pg.server_cpu_s() - server_before) if pg is not None else 0.0
    proc.wait(30)
    for f in workdir.glob(f"{db.name}*"):
        f.unlink()
    events = sum(p.count(b'"id"') for _, p in items)
    cpu_us = (result["cpu_end"] - result["cpu_start"]) / events * 1e6
    rate = events / (result["done"] - started)
    return {"events_per_s": rate, "cpu_us": cpu_us, "server_cpu_us": server / events * 1e6}


def hub_round(
    items: list[tuple[str, bytes]], events: int, pub: Publisher, hubs: list[HubProcess], pg: BenchPg | None = None
) -> dict[str, float]:
    pub.acked = 0
    pub.target = events
    pub.all_acked.clear()
    cpu_before = sum(cpu_s(h.pid) for h in hubs)
    server_before = pg.server_cpu_s() if pg is not None else 0.0
    started = pub.publish(items)
    if not pub.all_acked.wait(600):
        raise RuntimeError(f"hub acked only {pub.acked} of {events} events")
    took = time.monotonic() - started
    cpu = sum(cpu_s(h.pid) for h in hubs) - cpu_before
    server = (pg.server_cpu_s() - server_before) if pg is not None else 0.0
    return {
        "events_per_s": events / took,
        "cores": cpu / took,
        "cpu_us": cpu / events * 1e6,
        "server_cpu_us": server / events * 1e6,
    }


def start_workers(workdir: Path, broker_url: str, count: int, db: Path | str | None = None) -> list[HubProcess]:
    """``count`` hub processes sharing one database and one ``$share/`` subscription."""
    hubs = []
    for i in range(count):
        extra = ["--share-group", "bench", "--client-id", f"bench-hub-{i}"]
        where = db or workdir / "workers.sqlite"
        hubs.append(HubProcess(workdir / f"worker-{i}", broker_url, db=where, extra=extra))
        hubs[-1].start()
    return hubs


@dataclass
class Setup:
    """One way of ingesting: its hub processes, their broker and publisher, and the database server if any."""

    name: str
    hubs: list[HubProcess]
    broker: MosquittoBroker
    pub: Publisher
    pg: BenchPg | None = None


def start_setups(workdir: Path, pg: BenchPg | None) -> list[Setup]:
    """SQLite 1 and 2 workers, PostgreSQL 1 and 2 workers (when ``pg``), each with its own broker."""
    setups: list[Setup] = []
    plans: list[tuple[str, int, str | None]] = [("hub", 1, None), ("pair", 2, None)]
    if pg is not None:
        plans += [("pg", 1, pg.fresh_database("bench_ingest_1")), ("pg_pair", 2, pg.fresh_database("bench_ingest_2"))]
    for name, workers, url in plans:
        broker = start_broker(workdir / name)
        if workers == 1:
            hubs = [HubProcess(workdir / name / "hub", broker.url, db=url)]
            hubs[0].start()
        else:
            hubs = start_workers(workdir / name, broker.url, workers, db=url)
        setups.append(Setup(name, hubs, broker, Publisher(broker.port), pg if url else None))
    return setups


def run(workdir: Path, quick: bool, pg: BenchPg | None = None) -> Section:
    section = Section("Hub ingest")
    rounds = 1 if quick else 3
    count = 600 if quick else 3000
    say(f"ingest: building {count} batches of 100 events")
    messages: list[Message] = make_messages(count)
    events = sum(m.events for m in messages)
    setups = start_setups(workdir, pg)
    first = setups[0]
    results: dict[str, list[float]] = {}

    def keep(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    try:
        warm = [(m.topic, m.for_round(9)) for m in messages[:50]]
        for setup in setups:
            hub_round(warm, 50 * 100, setup.pub, setup.hubs, setup.pg)
        for r in range(1, rounds + 1):
            items = [(m.topic, m.for_round(r)) for m in messages]
            keep("broker", raw_round(first.broker.port, "count", items, first.pub, workdir)["events_per_s"])
            for mode, name in (("sqlite", "raw"), ("postgres", "raw_pg")):
                if mode == "postgres" and pg is None:
                    continue
                raw = raw_round(first.broker.port, mode, items, first.pub, workdir, pg if mode == "postgres" else None)
                keep(name, raw["events_per_s"])
                keep(f"{name}_cpu_us", raw["cpu_us"])
                keep(f"{name}_server_cpu_us", raw["server_cpu_us"])
            for setup in setups:
                measured = hub_round(items, events, setup.pub, setup.hubs, setup.pg)
                for key, value in measured.items():
                    keep(setup.name if key == "events_per_s" else f"{setup.name}_{key}", value)
            say(f"ingest round {r}: " + ", ".join(f"{k} {v[-1]:,.1f}" for k, v in results.items()))
    finally:
        for setup in setups:
            setup.pub.close()
            for h in setup.hubs:
                h.stop()
            setup.broker.stop()
    med = {k: statistics.median(v) for k, v in results.items()}
    section.details = {"rounds": results, "events_per_round": events, "median": med}
    note = f"median of {rounds} rounds of {events:,} events; the hub process used {med['hub_cores']:.2f} cores"
    pair_note = f"two touchpoint-hub serve --share-group, one database; {med['pair_cores']:.2f} cores together"
    target = "≥ 50% of raw"
    cpu_note = "user + system seconds of the whole process over the round, per event"
    section.rows += [
        Row(section.name, "Hub: MQTT → committed (rollups) → acked, batches of 100", med["hub"], "events/s",
            med["raw"], "raw path: paho + json.loads + executemany, plain table", ratio(med["hub"], med["raw"]),
            "of raw path", target, med["hub"] >= 0.5 * med["raw"], note),
        Row(section.name, "Hub CPU per ingested event (SQLite)", med["hub_cpu_us"], "µs", med["raw_cpu_us"],
            "raw path's CPU per event", ratio(med["hub_cpu_us"], med["raw_cpu_us"]), "x raw", "≤ 12 µs",
            med["hub_cpu_us"] <= 12, cpu_note),
        Row(section.name, "Hub, 2 workers sharing the subscription", med["pair"], "events/s", med["raw"],
            "raw path (as above)", ratio(med["pair"], med["raw"]), "of raw path", target,
            med["pair"] >= 0.5 * med["raw"], pair_note + f"; {med['pair_cpu_us']:.1f} µs CPU per event"),
        Row(section.name, "Hub vs the broker's raw delivery", med["hub"], "events/s", med["broker"],
            "bare paho subscriber, counting only", ratio(med["hub"], med["broker"]), "of broker", "", None),
    ]  # fmt: skip
    if pg is not None:
        section.rows += postgres_rows(section.name, med, events, rounds)
    return section


def postgres_rows(name: str, med: dict[str, float], events: int, rounds: int) -> list[Row]:
    """The PostgreSQL figures: 1 and 2 workers against the COPY raw path, and CPU per event (hub + server)."""
    raw_what = "raw path: paho + json.loads + COPY into a plain table, same server"
    pg_cpu = med["pg_cpu_us"] + med["pg_server_cpu_us"]
    raw_cpu = med["raw_pg_cpu_us"] + med["raw_pg_server_cpu_us"]
    return [
        Row(name, "PostgreSQL: hub, 1 worker (--db postgresql://)", med["pg"], "events/s", med["raw_pg"], raw_what,
            ratio(med["pg"], med["raw_pg"]), "of raw path", "", None,
            f"median of {rounds} rounds of {events:,} events; the hub process used {med['pg_cores']:.2f} cores"),
        Row(name, "PostgreSQL: hub, 2 workers sharing the subscription", med["pg_pair"], "events/s", med["raw_pg"],
            "raw path (as above)", ratio(med["pg_pair"], med["raw_pg"]), "of raw path", "", None,
            f"two touchpoint-hub serve --share-group, one PostgreSQL database; {med['pg_pair_cores']:.2f} cores "
            f"together; {med['pg_pair_cpu_us']:.1f} µs hub CPU + {med['pg_pair_server_cpu_us']:.1f} µs server CPU "
            "per event"),
        Row(name, "Hub CPU per ingested event (PostgreSQL)", med["pg_cpu_us"], "µs", med["raw_pg_cpu_us"],
            "raw path's CPU per event, subscriber process", ratio(med["pg_cpu_us"], med["raw_pg_cpu_us"]), "x raw",
            "", None,
            f"hub process only; the server's backends add {med['pg_server_cpu_us']:.1f} µs (hub + server "
            f"{pg_cpu:.1f} µs; raw path + server {raw_cpu:.1f} µs)"),
    ]  # fmt: skip
