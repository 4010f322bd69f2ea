"""Copying a hub's database from SQLite to PostgreSQL while the hub may still be running on SQLite.

Table by table (:mod:`hub.storage.copy_tables` says which and how), in primary-key order, one
transaction per chunk, through the backends' own connections: the source's read connection (one
statement per chunk, so the running hub's writer is never held up) and the target's pool. Ids and
bodies go over as they are, so webhook Idempotency-Keys stay the same.

Safe to run again, and to kill at any moment:

- append-only tables resume above the highest key the target holds; ``ON CONFLICT DO NOTHING``
  makes a repeated chunk harmless. Taps the running hub ingests meanwhile get higher keys, so the
  next run picks them up;
- rollups are not copied: each chunk of events adds exactly the events it inserted (``RETURNING``)
  to the target's rollups, in the same transaction, as ingest does. A killed chunk adds nothing, a
  repeated one inserts nothing, so the rollups always equal a recount of the target's events, and
  equal the source's once the events do;
- the other tables are upserted (a row is rewritten only when a column differs) and rows gone
  from the source are deleted, so updates (a resolved alert, a delivered webhook) come over too.

At the end the identity sequences are moved past the copied ids, so new rows never reuse one.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from edge_agent.scores import polarity
from hub.storage.copy_tables import CopyError, Kind, TablePlan, copy_order, kind_of, schema_tables
from hub.storage.postgres import PostgresStorage
from hub.storage.postgres.connections import PgConn
from hub.storage.sql.ingest import ROLLUP_DAY, ROLLUP_HOUR, ROLLUP_MONTH, ROLLUP_REASON, by_key, by_value
from hub.storage.sqlite import SqliteStorage

COUNTED_FROM = "events"  # the table every ROLLUP table is counted from
ROLLUP_TABLES = frozenset({"rollup_day", "rollup_hour", "rollup_month", "rollup_reason"})

Row = tuple[Any, ...]


class CopyProgress(Protocol):
    """Told as rows go over; the command line draws a progress bar from it."""

    def table_started(self, table: str, done: int, total: int) -> None: ...

    def rows_done(self, table: str, done: int, total: int) -> None: ...

    def table_finished(self, table: str, written: int) -> None: ...


@dataclass(frozen=True)
class TableCopy:
    table: str
    kind: Kind
    written: int  # target rows inserted, changed or deleted by this run (0: it was already up to date)


def plans(source: SqliteStorage, target: PostgresStorage) -> list[TablePlan]:
    """Every table of the schema, checked on both sides before anything is written."""
    rollups = {t for t in schema_tables() if kind_of(t) is Kind.ROLLUP}
    if rollups != ROLLUP_TABLES:
        raise CopyError(
            f"the schema's rollup tables {sorted(rollups)} are not the ones the copy counts "
            f"({sorted(ROLLUP_TABLES)}): teach add_to_rollups in hub/storage/copy.py the new one"
        )
    found = []
    for table in copy_order(schema_tables()):
        columns, key = _source_columns(source, table)
        theirs = dict(_target_columns(target, table))
        if set(columns) != set(theirs):
            raise CopyError(
                f"table {table}: the source has columns {sorted(set(columns) - set(theirs))} the target lacks and "
                f"the target {sorted(set(theirs) - set(columns))} the source lacks; are both at the same schema?"
            )
        kind = kind_of(table)
        if kind is Kind.APPEND and len(key) != 1:
            raise CopyError(f"table {table} is append-only but its primary key is {key}, not one integer column")
        if kind is Kind.MIRROR and not key:
            raise CopyError(f"table {table} has no primary key to mirror it by; make it a REPLACE table")
        found.append(TablePlan(table, kind, columns, key, tuple(theirs[c] for c in columns)))
    return found


def _source_columns(source: SqliteStorage, table: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    info = source._reader().execute(f"PRAGMA table_info({table})").fetchall()
    if not info:
        raise CopyError(f"the source has no table {table}: is it a Touchpoint hub database?")
    columns = tuple(str(r[1]) for r in info)
    key = tuple(str(r[1]) for r in sorted((r for r in info if r[5]), key=lambda r: int(r[5])))
    return columns, key


def _target_columns(target: PostgresStorage, table: str) -> list[tuple[str, str]]:
    """``(column, type)`` of a target table; the type as an array of it is spelled (``bigint``, ``bytea``...)."""
    rows = target._reader().execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = ? ORDER BY ordinal_position",
        (table,),
    )
    return [(str(r[0]), str(r[1])) for r in rows]


class Copier:
    def __init__(
        self, source: SqliteStorage, target: PostgresStorage, progress: CopyProgress, chunk_rows: int = 5000
    ) -> None:
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
        self.source = source
        self.target = target
        self.progress = progress
        self.chunk_rows = chunk_rows

    def run(self) -> list[TableCopy]:
        done = []
        for plan in plans(self.source, self.target):
            copy = {Kind.APPEND: self._append, Kind.MIRROR: self._mirror, Kind.ROLLUP: self._rollup,
                    Kind.REPLACE: self._replace}[plan.kind]  # fmt: skip
            written = copy(plan)
            self.progress.table_finished(plan.table, written)
            done.append(TableCopy(plan.table, plan.kind, written))
        advance_identities(self.target)
        return done

    # --- reading -------------------------------------------------------------------------------------

    def _src(self) -> sqlite3.Connection:
        return self.source._reader()

    def _count(self, table: str) -> int:
        return int(self._src().execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def _target_count(self, table: str) -> int:
        return int(self.target._reader().execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def _chunk(self, plan: TablePlan, after: Row | None) -> list[Row]:
        key = ", ".join(plan.key)
        where = f" WHERE ({key}) > ({', '.join('?' * len(plan.key))})" if after is not None else ""
        sql = f"SELECT {', '.join(plan.columns)} FROM {plan.table}{where} ORDER BY {key} LIMIT ?"
        return [tuple(r) for r in self._src().execute(sql, (*(after or ()), self.chunk_rows)).fetchall()]

    # --- the four kinds ------------------------------------------------------------------------------

    def _append(self, plan: TablePlan) -> int:
        (key,) = plan.key
        row = self.target._reader().execute(f"SELECT max({key}) FROM {plan.table}").fetchone()
        after: Row | None = None if row is None or row[0] is None else (row[0],)
        done, total = self._target_count(plan.table), self._count(plan.table)
        self.progress.table_started(plan.table, done, max(done, total))
        written = 0
        at = plan.columns.index(key)
        while rows := self._chunk(plan, after):
            with self.target._write(serial=False) as conn:
                inserted = set(insert_rows(conn, plan, rows, "ON CONFLICT DO NOTHING", f"RETURNING {key}"))
                if plan.table == COUNTED_FROM:
                    add_to_rollups(conn, plan, [r for r in rows if r[at] in inserted])
            written += len(inserted)
            done += len(inserted)
            after = (rows[-1][at],)
            total = max(total, done)
            self.progress.rows_done(plan.table, done, total)
        return written

    def _mirror(self, plan: TablePlan) -> int:
        total = self._count(plan.table)
        self.progress.table_started(plan.table, 0, total)
        keys = [plan.columns.index(k) for k in plan.key]
        others = [c for c in plan.columns if c not in plan.key]
        if others:
            mine, theirs = ", ".join(f"{plan.table}.{c}" for c in others), ", ".join(f"excluded.{c}" for c in others)
            update = ", ".join(f"{c} = excluded.{c}" for c in others)
            # ROW(...): a single changed column is still compared as a row
            conflict = (f"ON CONFLICT ({', '.join(plan.key)}) DO UPDATE SET {update} "
                        f"WHERE ROW({mine}) IS DISTINCT FROM ROW({theirs})")  # fmt: skip
        else:
            conflict = "ON CONFLICT DO NOTHING"
        seen: set[Row] = set()
        written = done = 0
        after: Row | None = None
        while rows := self._chunk(plan, after):
            with self.target._write(serial=False) as conn:
                written += len(insert_rows(conn, plan, rows, conflict, "RETURNING 1"))
            seen.update(tuple(r[i] for i in keys) for r in rows)
            after = tuple(rows[-1][i] for i in keys)
            done += len(rows)
            self.progress.rows_done(plan.table, done, max(total, done))
        return written + self._prune(plan, seen)

    def _prune(self, plan: TablePlan, seen: set[Row]) -> int:
        """Delete the target's rows whose key the source no longer has (an expired session, a deleted rule)."""
        key = ", ".join(plan.key)
        stored = {tuple(r) for r in self.target._reader().execute(f"SELECT {key} FROM {plan.table}").fetchall()}
        gone = sorted(stored - seen)
        if gone:
            with self.target._write(serial=False) as conn:
                marks = ", ".join("?" * len(plan.key))
                conn.executemany(f"DELETE FROM {plan.table} WHERE ({key}) = ({marks})", gone)
        return len(gone)

    def _replace(self, plan: TablePlan) -> int:
        columns = ", ".join(plan.columns)
        rows = [tuple(r) for r in self._src().execute(f"SELECT {columns} FROM {plan.table}").fetchall()]
        self.progress.table_started(plan.table, 0, len(rows))
        stored = [tuple(r) for r in self.target._reader().execute(f"SELECT {columns} FROM {plan.table}").fetchall()]
        written = 0
        if Counter(rows) != Counter(stored):
            with self.target._write(serial=False) as conn:
                conn.execute(f"DELETE FROM {plan.table}")
                written = len(stored) + len(insert_rows(conn, plan, rows, "", "RETURNING 1"))
        self.progress.rows_done(plan.table, len(rows), len(rows))
        return written

    def _rollup(self, plan: TablePlan) -> int:
        """Nothing to copy: the events' chunks kept it up to date. Reported with its row count."""
        count = self._target_count(plan.table)
        self.progress.table_started(plan.table, count, count)
        return 0


def insert_rows(conn: PgConn, plan: TablePlan, rows: Sequence[Row], conflict: str, returning: str) -> list[Any]:
    """One INSERT of all ``rows``, each column sent as one array (``unnest``); the values ``returning`` names."""
    if not rows:
        return []
    arrays = ", ".join(f"?::{t}[]" for t in plan.types)
    sql = (f"INSERT INTO {plan.table} ({', '.join(plan.columns)}) SELECT * FROM unnest({arrays}) "
           f"{conflict} {returning}")  # fmt: skip
    return [r[0] for r in conn.execute(sql, [list(column) for column in zip(*rows, strict=True)]).fetchall()]


def add_to_rollups(conn: PgConn, plan: TablePlan, events: Sequence[Row]) -> None:
    """Count newly copied events into the rollups, as ingest counts (misuse stored, never counted)."""
    at = {c: plan.columns.index(c) for c in ("location_id", "question_id", "local_day", "local_hour", "scale",
                                              "value", "reason", "misuse")}  # fmt: skip
    days: Counter[Row] = Counter()
    hours: Counter[Row] = Counter()
    months: Counter[Row] = Counter()
    reasons: Counter[Row] = Counter()
    for e in events:
        if e[at["misuse"]]:
            continue
        loc, question, day, scale, value = (e[at[c]] for c in ("location_id", "question_id", "local_day", "scale",
                                                                "value"))  # fmt: skip
        days[(loc, question, day, scale, value)] += 1
        hours[(loc, question, day, e[at["local_hour"]], scale, value)] += 1
        months[(loc, question, day[:7], scale, value)] += 1
        reason = e[at["reason"]]
        if reason and reason.strip():
            reasons[(loc, question, day, polarity(value, scale), reason)] += 1
    for sql, rows in ((ROLLUP_DAY, by_key(days)), (ROLLUP_HOUR, by_key(hours)), (ROLLUP_MONTH, by_value(months)),
                      (ROLLUP_REASON, by_key(reasons))):  # fmt: skip
        conn.executemany(sql, rows)


def advance_identities(target: PostgresStorage) -> list[tuple[str, str, int]]:
    """Move each identity column's sequence past the highest id copied; ``(table, column, next id)`` moved."""
    columns = target._reader().execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY table_name"
    )
    moved = []
    for table, column in columns:
        with target._write(serial=False) as conn:
            top = _value(conn, f"SELECT max({column}) FROM {table}")
            sequence = _value(conn, "SELECT pg_get_serial_sequence(?, ?)", (table, column))
            last, called = conn.execute(f"SELECT last_value, is_called FROM {sequence}").fetchone() or (0, False)
            following = last + 1 if called else last
            if top is not None and following <= top:
                conn.execute("SELECT setval(?, ?, true)", (sequence, top))
                moved.append((str(table), str(column), int(top) + 1))
    return moved


def _value(conn: PgConn, sql: str, params: Row = ()) -> Any:
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]
