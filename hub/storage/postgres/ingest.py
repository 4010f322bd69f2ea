"""One ingest transaction on PostgreSQL: the group's events in rounds, then devices and rollups set-based.

The rest of the transaction is :class:`hub.storage.sql.ingest.IngestRun`. A
round is as many batches, in order, as carry no event id an earlier batch of the
same round carried: each of its rows is then decided before any is inserted, and
the round goes to the server in one ``COPY`` (:mod:`hub.storage.postgres.incoming`),
about ten round trips for the whole group instead of one per batch. The usual
group is one round. A copy of
an event in a later round (a device's resend inside one group) waits for the
earlier one's fate: a duplicate if it was stored, tried again if it was refused.

A row not inserted is a duplicate if its id is stored (before, or by another
worker just now), else a new id reusing a stored (device, seq). Rollups are one
``unnest`` upsert per table with the keys sorted, so concurrent workers lock hot
rollup rows in one order; devices are written before them, each in id order.
The statements after the inserts go in one pipeline: one round trip, then the
commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from edge_agent.protocol import Rejection
from hub.storage.base import DeadLetter, IncomingBatch, IngestResult, StatusUpdate
from hub.storage.postgres.connections import PgConn
from hub.storage.postgres.incoming import EventWriter
from hub.storage.sql.db import Conn
from hub.storage.sql.ingest import IngestRun, Rollup, existing_ids, plain, sort_out
from hub.storage.sql.rows import E_ID, ID, BatchRows, batch_rows, columns
from hub.storage.sql.schema import MONTH_VALUE_COLUMNS
from hub.storage.sql.screen import Screen

_INTEGERS = ("hour", "scale", "value", "count", *MONTH_VALUE_COLUMNS)
_ARRAY_TYPES = dict.fromkeys(_INTEGERS, "int")  # the rest are text
_UPSERTS: dict[str, str] = {}


def _upsert_sql(rollup: Rollup) -> str:
    """The rollup's rows as arrays, added in array order (no sort or hash between unnest and INSERT).

    The arrays go in binary (``%b``): psycopg renders a text array in Python, three times slower.
    """
    sql = _UPSERTS.get(rollup.table)
    if sql is None:
        arrays = ", ".join(f"%b::{_ARRAY_TYPES.get(name, 'text')}[]" for name in rollup.names)
        sql = _UPSERTS[rollup.table] = (
            f"INSERT INTO {rollup.table} ({', '.join(rollup.names)}) SELECT * FROM unnest({arrays}) {rollup.add}"
        )
    return sql


class PgIngestRun(IngestRun):
    """The shared run, with each rollup table written in one statement."""

    def _write_rollups(self, conn: Conn) -> None:
        assert isinstance(conn, PgConn)
        for rollup, rows in self.rollup_rows():
            if rows:
                conn.raw.execute(_upsert_sql(rollup), [list(col) for col in zip(*rows, strict=True)])


@dataclass
class _Planned:
    """A batch of the round: the rows to insert, and what was sorted out before."""

    batch: IncomingBatch
    rows: BatchRows
    dupes: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)


def _plan(conn: PgConn, run: IngestRun, held: Screen, start: int) -> tuple[list[_Planned], bool]:
    """The round's batches from ``start`` on, and whether none of their rows is known to be stored."""
    planned: list[_Planned] = []
    carried: set[str] = set()
    all_new = True
    for b in run.batches[start:]:
        cols = columns(b.events)
        if planned and not carried.isdisjoint(cols[ID]):
            break  # a copy of an event of this round: decided once the earlier one is in or refused
        carried.update(cols[ID])
        tz = run.zone_of(b)
        if plain(cols, run.taken, held, b.device_id):  # the rows of untrusted timestamps are never built
            planned.append(_Planned(b, batch_rows(b.device_id, b.location_id, b.batch_id, cols, tz, run.now)))
            continue
        # Duplicates within the batch, stored or held ids, or quarantine: event by event, as they come.
        run.taken.update(existing_ids(conn, cols[ID]))
        fresh, dupes, accepted = sort_out(b, run.taken, held, tz, run.now)
        all_new = all_new and not dupes
        rows = batch_rows(b.device_id, b.location_id, b.batch_id, columns(fresh), tz, run.now)
        planned.append(_Planned(b, rows, dupes, accepted))
    return planned, all_new


def _round(conn: PgConn, writer: EventWriter, run: IngestRun, held: Screen, start: int) -> int:
    """Insert one round's batches and settle each one's ack; return where the next round starts."""
    planned, all_new = _plan(conn, run, held, start)
    stored: set[str] | None = None  # None: every row went in
    if any(len(p.rows) for p in planned):
        stored = writer.insert([p.rows for p in planned], all_new)
    stored_before: set[str] = set()
    if stored is not None:
        missing = [i for p in planned for i in p.rows.ids if i not in stored]
        stored_before = existing_ids(conn, missing) if missing else set()
    for p in planned:
        b, rows, dupes = p.batch, p.rows, p.dupes
        good, refused = rows, list[Rejection]()
        if stored is not None and not stored.issuperset(rows.ids):
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
        run.done(b, good, dupes, p.accepted, refused)
    return start + len(planned)


def ingest_transaction(
    raw: psycopg.Connection[Any],
    batches: list[IncomingBatch],
    statuses: list[StatusUpdate],
    dead_letters: list[DeadLetter],
    received_at: datetime,
) -> IngestResult:
    """Run inside an open transaction; the caller commits (or retries it all), then publishes the acks."""
    conn = PgConn(raw)
    run = PgIngestRun(batches, statuses, received_at, list(dead_letters))
    held = run.begin(conn)
    writer = EventWriter(raw)
    start = 0
    while start < len(batches):
        start = _round(conn, writer, run, held, start)
    with raw.pipeline():
        return run.finish(conn)
