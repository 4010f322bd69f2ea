"""Hub ingest throughput, MQTT to committed (rollups included) and acked, against its limits in the same run.

Per round, the same pre-built batches of 100 events go through the same Mosquitto three ways:

- broker: a bare subscriber that only counts them (the broker's raw delivery rate);
- raw path: a bare subscriber that ``json.loads`` and ``executemany``s them into a plain table;
- hub: ``touchpoint-hub serve``; a batch counts once its application ack arrives (sent after commit).

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
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import ENV, ROOT, HubProcess, Row, Section, cpu_s, ratio, say, start_broker
from bench.payloads import Message, make_messages

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


def raw_round(port: int, mode: str, items: list[tuple[str, bytes]], pub: Publisher, workdir: Path) -> dict[str, float]:
    """Events/s and CPU µs/event of a bare subscriber (``count`` or ``sqlite``) for these messages."""
    db = workdir / f"raw-{mode}-{time.monotonic_ns()}.sqlite"
    args = [sys.executable, "-m", "bench.rawsub", "--port", str(port), "--mode", mode, "--expect", str(len(items))]
    proc = subprocess.Popen([*args, "--db", str(db)], stdout=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"raw subscriber ({mode}) did not start")
    raw_items = [(t.replace("touchpoint/", "benchraw/", 1), p) for t, p in items]
    started = pub.publish(raw_items)
    result = json.loads(proc.stdout.readline())
    proc.wait(30)
    for f in workdir.glob(f"{db.name}*"):
        f.unlink()
    events = sum(p.count(b'"id"') for _, p in items)
    cpu_us = (result["cpu_end"] - result["cpu_start"]) / events * 1e6
    return {"events_per_s": events / (result["done"] - started), "cpu_us": cpu_us}


def hub_round(items: list[tuple[str, bytes]], events: int, pub: Publisher, hubs: list[HubProcess]) -> dict[str, float]:
    pub.acked = 0
    pub.target = events
    pub.all_acked.clear()
    cpu_before = sum(cpu_s(h.pid) for h in hubs)
    started = pub.publish(items)
    if not pub.all_acked.wait(600):
        raise RuntimeError(f"hub acked only {pub.acked} of {events} events")
    took = time.monotonic() - started
    cpu = sum(cpu_s(h.pid) for h in hubs) - cpu_before
    return {"events_per_s": events / took, "cores": cpu / took, "cpu_us": cpu / events * 1e6}


def start_workers(workdir: Path, broker_url: str, count: int) -> list[HubProcess]:
    """``count`` hub processes sharing one database and one ``$share/`` subscription."""
    hubs = []
    for i in range(count):
        extra = ["--share-group", "bench", "--client-id", f"bench-hub-{i}"]
        hubs.append(HubProcess(workdir / f"worker-{i}", broker_url, db=workdir / "workers.sqlite", extra=extra))
        hubs[-1].start()
    return hubs


def run(workdir: Path, quick: bool) -> Section:
    section = Section("Hub ingest")
    rounds = 1 if quick else 3
    count = 600 if quick else 3000
    say(f"ingest: building {count} batches of 100 events")
    messages: list[Message] = make_messages(count)
    events = sum(m.events for m in messages)
    broker, pair_broker = start_broker(workdir), start_broker(workdir / "pair")
    hub = HubProcess(workdir / "hub", broker.url)
    hub.start()
    pair = start_workers(workdir, pair_broker.url, 2)
    pub, pair_pub = Publisher(broker.port), Publisher(pair_broker.port)
    results: dict[str, list[float]] = {
        "broker": [],
        "raw": [],
        "raw_cpu_us": [],
        "hub": [],
        "hub_cores": [],
        "hub_cpu_us": [],
        "pair": [],
        "pair_cores": [],
        "pair_cpu_us": [],
    }
    try:
        warm = [(m.topic, m.for_round(9)) for m in messages[:50]]
        hub_round(warm, 50 * 100, pub, [hub])
        hub_round(warm, 50 * 100, pair_pub, pair)
        for r in range(1, rounds + 1):
            items = [(m.topic, m.for_round(r)) for m in messages]
            results["broker"].append(raw_round(broker.port, "count", items, pub, workdir)["events_per_s"])
            raw = raw_round(broker.port, "sqlite", items, pub, workdir)
            results["raw"].append(raw["events_per_s"])
            results["raw_cpu_us"].append(raw["cpu_us"])
            for name, publisher, hubs in (("hub", pub, [hub]), ("pair", pair_pub, pair)):
                measured = hub_round(items, events, publisher, hubs)
                results[name].append(measured["events_per_s"])
                results[f"{name}_cores"].append(measured["cores"])
                results[f"{name}_cpu_us"].append(measured["cpu_us"])
            say(
                f"ingest round {r}: broker {results['broker'][-1]:,.0f}/s, raw path {results['raw'][-1]:,.0f}/s "
                f"({results['raw_cpu_us'][-1]:.1f} µs CPU/event), hub {results['hub'][-1]:,.0f}/s "
                f"({results['hub_cpu_us'][-1]:.1f} µs, {results['hub_cores'][-1]:.2f} cores), "
                f"2 workers {results['pair'][-1]:,.0f}/s ({results['pair_cpu_us'][-1]:.1f} µs)"
            )
    finally:
        pub.close()
        pair_pub.close()
        for h in [hub, *pair]:
            h.stop()
        broker.stop()
        pair_broker.stop()
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
        Row(section.name, "Hub CPU per ingested event", med["hub_cpu_us"], "µs", med["raw_cpu_us"],
            "raw path's CPU per event", ratio(med["hub_cpu_us"], med["raw_cpu_us"]), "x raw", "≤ 12 µs",
            med["hub_cpu_us"] <= 12, cpu_note),
        Row(section.name, "Hub, 2 workers sharing the subscription", med["pair"], "events/s", med["raw"],
            "raw path (as above)", ratio(med["pair"], med["raw"]), "of raw path", target,
            med["pair"] >= 0.5 * med["raw"], pair_note + f"; {med['pair_cpu_us']:.1f} µs CPU per event"),
        Row(section.name, "Hub vs the broker's raw delivery", med["hub"], "events/s", med["broker"],
            "bare paho subscriber, counting only", ratio(med["hub"], med["broker"]), "of broker", "", None),
    ]  # fmt: skip
    return section
