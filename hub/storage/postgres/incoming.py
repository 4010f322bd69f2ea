"""Events into PostgreSQL a round of batches at a time, each round in one ``COPY``.

psycopg renders a list parameter in Python, element by element, so the former
statement per batch with its columns as ``unnest`` arrays cost the hub more CPU
than all the rest of ingest, and a round trip each. ``COPY`` rows are rendered
in C and streamed while the server stores them.

The usual round is all new rows: they are copied straight into ``events``, in a
savepoint. ``ON CONFLICT`` would cost the server a probe of each unique index per
row before it inserts, about a third of its work per event, and is needed only
when a row is stored already (a resend whose ack was lost, another worker's
copy). Then, and only then, the savepoint is rolled back, the rows are copied
into a session's temporary table, and ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING RETURNING id`` says which of them were new.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from weakref import WeakSet

import psycopg
from psycopg import errors

from hub.storage.sql.rows import BATCH_COLUMNS, EVENT_COLUMNS, BatchRows

_NAMES = (*BATCH_COLUMNS, *EVENT_COLUMNS)
# Types in the temporary table, as in events; the rest are text.
_TYPES = {"seq": "bigint", "local_hour": "integer", "clock_ok": "integer", "scale": "integer", "value": "integer",
          "misuse": "integer", "survey_version": "integer", "mono_ms": "bigint"}  # fmt: skip
_AS_INT = tuple(EVENT_COLUMNS.index(name) for name in ("clock_ok", "misuse"))  # Python bools, stored as 0/1
TABLE = "incoming_events"
_DEFINITIONS = ", ".join(f"{name} {_TYPES.get(name, 'text')}" for name in _NAMES)
CREATE = f"CREATE TEMPORARY TABLE IF NOT EXISTS {TABLE} ({_DEFINITIONS}) ON COMMIT DELETE ROWS"
_COPY_EVENTS = f"COPY events ({', '.join(_NAMES)}) FROM STDIN"
_COPY_STAGED = f"COPY {TABLE} ({', '.join(_NAMES)}) FROM STDIN"
_INSERT_NEW = (
    f"INSERT INTO events ({', '.join(_NAMES)}) SELECT {', '.join(_NAMES)} FROM {TABLE} "
    "ON CONFLICT DO NOTHING RETURNING id"
)

_READY: WeakSet[psycopg.Connection[Any]] = WeakSet()  # connections whose session has the temporary table


def prepare(raw: psycopg.Connection[Any]) -> None:
    """Create the session's temporary table once per connection, outside any transaction.

    Created inside an ingest transaction, a retried (rolled back) ingest would take it away again.
    """
    if raw not in _READY:
        raw.execute(CREATE)
        _READY.add(raw)


def _copy(cur: psycopg.Cursor[Any], sql: str, batches: Sequence[BatchRows]) -> None:
    with cur.copy(sql) as copy:
        for rows in batches:
            head = rows.constants()
            cols: list[Sequence[Any]] = list(rows.cols)
            for i in _AS_INT:
                cols[i] = list(map(int, cols[i]))
            for values in zip(*cols, strict=True):
                copy.write_row((*head, *values))


class EventWriter:
    """Inserts one transaction's rounds of rows (see the module's docstring)."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self.staged = False  # the temporary table holds an earlier round's rows

    def insert(self, batches: Sequence[BatchRows], all_new: bool) -> set[str] | None:
        """Insert the rows that are new (by id, and by (device, seq)).

        Returns None when every row was inserted, else the ids of those that were. ``all_new``: none of the
        rows is known to be stored, so try copying them straight into events first.
        """
        with self.raw.cursor() as cur:
            if all_new:
                cur.execute("SAVEPOINT incoming")
                try:
                    _copy(cur, _COPY_EVENTS, batches)
                    cur.execute("RELEASE SAVEPOINT incoming")
                    return None
                except errors.UniqueViolation:  # a stored row (or one another worker just committed)
                    cur.execute("ROLLBACK TO SAVEPOINT incoming")
            if self.staged:
                cur.execute(f"TRUNCATE {TABLE}")
            self.staged = True
            _copy(cur, _COPY_STAGED, batches)
            cur.execute(_INSERT_NEW)
            return {r[0] for r in cur.fetchall()}
