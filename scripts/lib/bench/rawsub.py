"""The limits for hub ingest, as a child process: a bare paho subscriber on the same broker.

``--mode count`` only counts messages (the broker's raw delivery rate); ``--mode sqlite`` is the raw
path: ``json.loads`` and ``executemany`` into a plain table (no validation, no indexes, no rollups),
committed per group of received messages with the hub's durability (WAL, synchronous=FULL);
``--mode postgres`` is the same with ``COPY`` into a plain table of the PostgreSQL at ``--db`` (a URL),
one transaction per group, committed with the server's default durability (fsync, synchronous_commit on).
Prints ``ready`` once subscribed, then one JSON line: monotonic times of the first message and of the
moment all ``--expect`` messages were received (count) or committed (sqlite), and the process's CPU
seconds (user + system, every thread) from ``ready`` to that moment.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sqlite3
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

COLUMNS = (
    "id", "seq", "ts", "tz", "clock_ok", "question_id", "scale", "value", "reason", "source", "misuse",
    "survey_version", "boot_id", "mono_ms",
)  # fmt: skip


def cpu_s() -> float:
    """User + system CPU seconds of this whole process (paho's thread included)."""
    t = os.times()
    return t.user + t.system


def sqlite_worker(
    db: str, inbox: queue.Queue[bytes], expect: int, done: threading.Event, out: dict[str, float]
) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(f"CREATE TABLE IF NOT EXISTS events (device_id, location_id, batch_id, {', '.join(COLUMNS)})")
    sql = f"INSERT INTO events VALUES ({','.join('?' * (len(COLUMNS) + 3))})"
    got = 0
    while got < expect:
        group = [inbox.get()]
        while len(group) < 200:
            try:
                group.append(inbox.get_nowait())
            except queue.Empty:
                break
        conn.execute("BEGIN")
        for payload in group:
            batch = json.loads(payload)
            head = (batch["device_id"], batch["location_id"], batch["batch_id"])
            conn.executemany(sql, [(*head, *(e.get(c) for c in COLUMNS)) for e in batch["events"]])
        conn.execute("COMMIT")
        got += len(group)
    out["done"] = time.monotonic()
    out["cpu_end"] = cpu_s()
    done.set()


def postgres_worker(
    url: str, inbox: queue.Queue[bytes], expect: int, done: threading.Event, out: dict[str, float]
) -> None:
    import psycopg  # only this mode needs it

    names = ("device_id", "location_id", "batch_id", *COLUMNS)
    types = {"seq": "BIGINT", "clock_ok": "BOOLEAN", "scale": "INTEGER", "value": "INTEGER", "misuse": "BOOLEAN",
             "survey_version": "INTEGER", "mono_ms": "BIGINT"}  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_events")
        columns = ", ".join(f"{n} {types.get(n, 'TEXT')}" for n in names)
        conn.execute(f"CREATE TABLE raw_events ({columns})")
        copy_sql = f"COPY raw_events ({', '.join(names)}) FROM STDIN"
        got = 0
        while got < expect:
            group = [inbox.get()]
            while len(group) < 200:
                try:
                    group.append(inbox.get_nowait())
                except queue.Empty:
                    break
            with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for payload in group:
                    batch = json.loads(payload)
                    head = (batch["device_id"], batch["location_id"], batch["batch_id"])
                    for e in batch["events"]:
                        copy.write_row((*head, *(e.get(c) for c in COLUMNS)))
            got += len(group)
    out["done"] = time.monotonic()
    out["cpu_end"] = cpu_s()
    done.set()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["count", "sqlite", "postgres"], required=True)
    p.add_argument("--expect", type=int, required=True, help="messages to wait for")
    p.add_argument("--topic", default="benchraw/v1/+/+/events")
    p.add_argument("--db", default=":memory:", help="SQLite path, or a postgresql:// URL for --mode postgres")
    args = p.parse_args()

    out: dict[str, float] = {}
    done = threading.Event()
    subscribed = threading.Event()
    inbox: queue.Queue[bytes] = queue.Queue()
    received = 0

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        nonlocal received
        received += 1
        if received == 1:
            out["first"] = time.monotonic()
        if args.mode != "count":
            inbox.put(message.payload)
        elif received == args.expect:
            out["done"] = time.monotonic()
            out["cpu_end"] = cpu_s()
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-raw-{args.mode}", protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, *_: c.subscribe(args.topic, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = on_message
    if args.mode != "count":
        target = sqlite_worker if args.mode == "sqlite" else postgres_worker
        worker = threading.Thread(target=target, args=(args.db, inbox, args.expect, done, out), daemon=True)
        worker.start()
    client.connect("127.0.0.1", args.port)
    client.loop_start()
    if not subscribed.wait(20):
        print("not subscribed", file=sys.stderr)
        return 1
    out["cpu_start"] = cpu_s()
    print("ready", flush=True)
    done.wait()
    print(json.dumps({**out, "messages": received}), flush=True)
    client.disconnect()
    client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
