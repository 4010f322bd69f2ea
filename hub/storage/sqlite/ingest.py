"""Inserting a batch's events on SQLite; the rest of the transaction is :class:`hub.storage.sql.ingest.IngestRun`.

SQLite has one writer, so the usual batch is inserted with multi-row INSERTs in
a savepoint, and a batch that does not fit (a stored id or seq) is rolled back
to it and sorted out event by event.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from itertools import chain

from edge_agent.protocol import Rejection
from hub.storage.base import DeadLetter, IncomingBatch, IngestResult, StatusUpdate
from hub.storage.sql.ingest import IngestRun, existing_ids, plain, sort_out
from hub.storage.sql.rows import BATCH_COLUMNS, EVENT_COLUMNS, ID, BatchRows, batch_rows, columns

_ROWS_PER_INSERT = 100
_INSERTS: dict[tuple[int, bool], str] = {}


def _insert_sql(rows: int, if_new: bool = False) -> str:
    """A multi-row INSERT binding the batch's constants once (?1..?4) and each row's values after them.

    ``if_new``: a row whose id is stored already is skipped (and not counted in the statement's rowcount).
    """
    sql = _INSERTS.get((rows, if_new))
    if sql is None:
        row = f"({','.join(f'?{i + 1}' for i in range(len(BATCH_COLUMNS)))},{','.join('?' * len(EVENT_COLUMNS))})"
        names = ", ".join((*BATCH_COLUMNS, *EVENT_COLUMNS))
        sql = f"INSERT INTO events ({names}) VALUES {','.join([row] * rows)}"
        sql = _INSERTS[(rows, if_new)] = sql + (" ON CONFLICT (id) DO NOTHING" if if_new else "")
    return sql


def _insert_events(conn: sqlite3.Connection, batch: BatchRows, if_new: bool = False) -> int:
    """Insert the batch's events with one multi-row INSERT per 100 rows; return how many were inserted.

    executemany steps SQLite once per row, releasing and retaking the GIL each time (while paho's network
    thread is reading the next messages, each retake waits for it), and binds the batch's constants again
    for every row.
    """
    values = batch.values()
    inserted = 0
    for start in range(0, len(values), _ROWS_PER_INSERT):
        chunk = values[start : start + _ROWS_PER_INSERT]
        sql = _insert_sql(len(chunk), if_new)
        inserted += conn.execute(sql, [*batch.constants(), *chain.from_iterable(chunk)]).rowcount
    return inserted


def _insert_new(conn: sqlite3.Connection, rows: BatchRows) -> bool:
    """Insert rows that should all be new, and say so; if one was not (a stored id or seq), insert none.

    The unique index on id checks every id anyway: asking it, rather than looking the ids up first, saves
    a lookup per event in the usual case, a batch that nobody sent before.
    """
    conn.execute("SAVEPOINT batch")
    try:
        inserted = _insert_events(conn, rows, if_new=True)
    except sqlite3.IntegrityError:  # a stored (device, seq) under a new id
        inserted = -1
    if inserted != len(rows):
        conn.execute("ROLLBACK TO batch")
    conn.execute("RELEASE batch")
    return inserted == len(rows)


def _store(
    conn: sqlite3.Connection, run: IngestRun, b: IncomingBatch, rows: BatchRows
) -> tuple[BatchRows, list[Rejection]]:
    """Insert the batch's rows; return those stored and the rejections of events that reused a stored seq."""
    try:
        conn.execute("SAVEPOINT batch")
        _insert_events(conn, rows)
        conn.execute("RELEASE batch")
        return rows, []
    except sqlite3.IntegrityError:
        # Rare: a new id reusing a (device, seq) already stored. Find which, row by row.
        conn.execute("ROLLBACK TO batch")
        conn.execute("RELEASE batch")
    refused: list[Rejection] = []
    keep: list[bool] = []
    for values in rows.values():
        try:
            conn.execute(_insert_sql(1), (*rows.constants(), *values))
            keep.append(True)
        except sqlite3.IntegrityError:
            keep.append(False)
            refused.append(run.refuse(b, rows, values))
    return rows.only(keep), refused


def ingest_transaction(
    conn: sqlite3.Connection,
    batches: list[IncomingBatch],
    statuses: list[StatusUpdate],
    dead_letters: list[DeadLetter],
    received_at: datetime,
) -> IngestResult:
    """Run inside an open write transaction; the caller commits, then publishes the acks."""
    run = IngestRun(batches, statuses, received_at, list(dead_letters))
    held = run.begin(conn)
    for b in batches:
        tz = run.zone_of(b)
        cols = columns(b.events)
        dupes: list[str] = []
        accepted: list[str] = []
        refused: list[Rejection] = []
        fast = plain(cols, run.taken, held, b.device_id)  # the rows of untrusted timestamps are never built
        good = batch_rows(b.device_id, b.location_id, b.batch_id, cols, tz, run.now) if fast else None
        if good is None or not _insert_new(conn, good):  # duplicates, quarantine or a reused seq: one by one
            run.taken.update(existing_ids(conn, cols[ID]))
            fresh, dupes, accepted = sort_out(b, run.taken, held, tz, run.now)
            rows = batch_rows(b.device_id, b.location_id, b.batch_id, columns(fresh), tz, run.now)
            good, refused = _store(conn, run, b, rows)
        run.done(b, good, dupes, accepted, refused)
    return run.finish(conn)
