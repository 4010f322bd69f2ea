"""The scores benchmark's PostgreSQL database: the SQLite one (bench.scores_db) copied row for row with COPY.

The schema comes from :class:`hub.storage.postgres.PostgresStorage` (every migration); the rows of the
locations, devices, events and every rollup are streamed from the SQLite file with ``COPY ... FROM STDIN``;
the events' secondary indexes are built after the load, then ``VACUUM ANALYZE``. A JSON file beside the
SQLite database records what was copied; a copy that does not match the SQLite spec is made again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg

from bench.common import say
from bench.pg import BenchPg
from bench.scores_db import Spec
from hub.storage import open_storage

TABLES = ["locations", "devices", "events", "rollup_day", "rollup_hour", "rollup_month", "rollup_reason"]


def ensure_pg(pg: BenchPg, sqlite_path: Path, spec: Spec) -> tuple[str, bool]:
    """(URL, reused): the PostgreSQL copy of ``sqlite_path``, made unless a complete one is there."""
    name = f"scores_{spec.locations}x{spec.days}"
    meta = sqlite_path.with_suffix(".pg.json")
    url = pg.cluster.url(name)
    if meta.exists() and json.loads(meta.read_text()) == asdict(spec) and _complete(pg, name, spec):
        return url, True
    meta.unlink(missing_ok=True)
    url = pg.fresh_database(name)
    copy(sqlite_path, url)
    meta.write_text(json.dumps(asdict(spec), indent=2) + "\n")
    return url, False


def _complete(pg: BenchPg, name: str, spec: Spec) -> bool:
    exists = pg.cluster.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip()
    if not exists:
        return False
    return pg.cluster.psql("SELECT count(*) FROM events", database=name).strip() == str(spec.events)


def copy(sqlite_path: Path, url: str) -> None:
    started = time.monotonic()
    open_storage(url).close()  # the hub's schema, every migration
    source = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events' AND indexname <> 'events_pkey'"
        ).fetchall()
        for index, _ in indexes:
            conn.execute(f"DROP INDEX {index}")
        for table in TABLES:
            rows = _copy_table(source, conn, table)
            say(f"scores db (PostgreSQL): {table}: {rows:,} rows ({time.monotonic() - started:.0f} s)")
        conn.execute("SELECT setval(pg_get_serial_sequence('events', 'pk'), (SELECT max(pk) FROM events))")
        for index, sql in indexes:
            say(f"scores db (PostgreSQL): building index {index}")
            conn.execute(sql)
        conn.execute("VACUUM ANALYZE")
    source.close()
    say(f"scores db (PostgreSQL): copied in {time.monotonic() - started:.0f} s ({url})")


def _copy_table(source: sqlite3.Connection, conn: psycopg.Connection[Any], table: str) -> int:
    columns = [str(r[1]) for r in source.execute(f"PRAGMA table_info({table})")]
    names = ", ".join(columns)
    cursor = source.execute(f"SELECT {names} FROM {table}")
    copied = 0
    with conn.transaction(), conn.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as pipe:
        while chunk := cursor.fetchmany(20_000):
            for row in chunk:
                pipe.write_row(row)
            copied += len(chunk)
    return copied
