"""Inserting a batch's events on PostgreSQL; the rest of the transaction is :class:`hub.storage.sql.ingest.IngestRun`.

Each batch is one statement: its columns go in as arrays (``unnest``), and
``ON CONFLICT DO NOTHING RETURNING id`` says which rows were new. A row that was
not is a duplicate if its id is stored (before, or by another worker just now),
else a new id reusing a stored (device, seq): no savepoint, no aborted
transaction, whatever another worker does at the same time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from edge_agent.protocol import Rejection
from hub.storage.base import DeadLetter, IncomingBatch, IngestResult, StatusUpdate
from hub.storage.postgres.connections import PgConn
from hub.storage.sql.ingest import IngestRun, existing_ids, plain, sort_out
from hub.storage.sql.rows import BATCH_COLUMNS, E_ID, EVENT_COLUMNS, ID, BatchRows, batch_rows, columns

# The array type of each EVENT_COLUMNS entry; clock_ok and misuse are 0/1 integers, as on SQLite.
_ARRAY_TYPES = ("text", "bigint", "text", "text", "int", "text", "int", "text", "int", "int", "text", "text", "int",
                "int", "text", "bigint")  # fmt: skip
_AS_INT = frozenset(EVENT_COLUMNS.index(name) for name in ("clock_ok", "misuse"))
_INSERT = (
    f"INSERT INTO events ({', '.join((*BATCH_COLUMNS, *EVENT_COLUMNS))}) "
    f"SELECT {', '.join(['%s'] * len(BATCH_COLUMNS))}, u.* "
    f"FROM unnest({', '.join(f'%s::{t}[]' for t in _ARRAY_TYPES)}) AS u "
    "ON CONFLICT DO NOTHING RETURNING id"
)
assert len(_ARRAY_TYPES) == len(EVENT_COLUMNS)


def _insert(raw: psycopg.Connection[Any], rows: BatchRows) -> set[str]:
    """Insert the rows that are new (by id, and by (device, seq)); return their ids."""
    if not len(rows):
        return set()
    arrays = [list(map(int, col)) if i in _AS_INT else list(col) for i, col in enumerate(rows.cols)]
    cur = raw.execute(_INSERT, [*rows.constants(), *arrays])
    return {r[0] for r in cur.fetchall()}


def ingest_transaction(
    raw: psycopg.Connection[Any],
    batches: list[IncomingBatch],
    statuses: list[StatusUpdate],
    dead_letters: list[DeadLetter],
    received_at: datetime,
) -> IngestResult:
    """Run inside an open transaction; the caller commits (or retries it all), then publishes the acks."""
    conn = PgConn(raw)
    run = IngestRun(batches, statuses, received_at, list(dead_letters))
    held = run.begin(conn)
    for b in batches:
        tz = run.zone_of(b)
        cols = columns(b.events)
        dupes: list[str] = []
        accepted: list[str] = []
        if plain(cols, run.taken, held, b.device_id):  # the rows of untrusted timestamps are never built
            rows = batch_rows(b.device_id, b.location_id, b.batch_id, cols, tz, run.now)
        else:  # duplicates within the call, or quarantine: event by event, as they come
            run.taken.update(existing_ids(conn, cols[ID]))
            fresh, dupes, accepted = sort_out(b, run.taken, held, tz, run.now)
            rows = batch_rows(b.device_id, b.location_id, b.batch_id, columns(fresh), tz, run.now)
        stored = _insert(raw, rows)
        good, refused = rows, list[Rejection]()
        if len(stored) != len(rows):
            stored_before = existing_ids(conn, [i for i in rows.ids if i not in stored])
            keep = []
            for values in rows.values():
                event_id = values[E_ID]
                keep.append(event_id in stored)
                if event_id in stored_before:
                    dupes.append(event_id)
                    run.taken.add(event_id)
                elif event_id not in stored:
                    refused.append(run.refuse(b, rows, values))
            good = rows.only(keep)
        run.done(b, good, dupes, accepted, refused)
    return run.finish(conn)
