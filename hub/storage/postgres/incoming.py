"""Events into PostgreSQL a round of batches at a time: one COPY into a temporary table, one INSERT from it.

psycopg renders a list parameter in Python, element by element, so the former
statement per batch with its columns as ``unnest`` arrays cost the hub more CPU
than all the rest of ingest, and a round trip each. ``COPY`` rows are rendered
in C, and the server then moves them into ``events`` with one statement.

That statement is a plain ``INSERT`` in a savepoint: ``ON CONFLICT`` costs the
server a probe of each unique index per row before it inserts, about a third of
its work per event, and is needed only when a row is stored already (a resend
whose ack was lost, another worker's copy). Then, and only then, the savepoint
is rolled back and the rows go in again with ``ON CONFLICT DO NOTHING RETURNING
id``, which says which of them were new.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from weakref import WeakSet

import psycopg
from psycopg import errors

from hub.storage.sql.rows import BATCH_COLUMNS, EVENT_COLUMNS, BatchRows

_NAMES = (*BATCH_COLUMNS, *EVENT_COLUMNS)
# Types in the temporary table; the rest are text. clock_ok and misuse come as Python bools and are
# stored as 0/1 integers, as on SQLite.
_TYPES = {"seq": "bigint", "local_hour": "integer", "clock_ok": "boolean", "scale": "integer", "value": "integer",
          "misuse": "boolean", "survey_version": "integer", "mono_ms": "bigint"}  # fmt: skip
_AS_INT = ("clock_ok", "misuse")
TABLE = "incoming_events"
_DEFINITIONS = ", ".join(f"{name} {_TYPES.get(name, 'text')}" for name in _NAMES)
CREATE = f"CREATE TEMPORARY TABLE IF NOT EXISTS {TABLE} ({_DEFINITIONS}) ON COMMIT DELETE ROWS"
COPY = f"COPY {TABLE} ({', '.join(_NAMES)}) FROM STDIN"
_MOVE = (
    f"INSERT INTO events ({', '.join(_NAMES)}) "
    f"SELECT {', '.join(f'{n}::integer' if n in _AS_INT else n for n in _NAMES)} FROM {TABLE}"
)
# One round trip (the simple query protocol runs the three; an error stops at the INSERT).
INSERT_ALL = f"SAVEPOINT incoming; {_MOVE}; RELEASE SAVEPOINT incoming"
INSERT_NEW = f"{_MOVE} ON CONFLICT DO NOTHING RETURNING id"

_READY: WeakSet[psycopg.Connection[Any]] = WeakSet()  # connections whose session has the temporary table


def prepare(raw: psycopg.Connection[Any]) -> None:
    """Create the session's temporary table once per connection, outside any transaction.

    Created inside an ingest transaction, a retried (rolled back) ingest would take it away again.
    """
    if raw not in _READY:
        raw.execute(CREATE)
        _READY.add(raw)


def insert_rows(
    raw: psycopg.Connection[Any], batches: Sequence[BatchRows], all_new: bool, again: bool
) -> set[str] | None:
    """Insert the batches' rows, each one that is new (by id, and by (device, seq)).

    Returns None when every row was inserted, else the ids of those that were. ``all_new``: none of the
    rows is known to be stored (try the plain INSERT first). ``again``: an earlier round of this
    transaction filled the table.
    """
    with raw.cursor() as cur:
        if again:
            cur.execute(f"TRUNCATE {TABLE}")
        with cur.copy(COPY) as copy:
            for rows in batches:
                head = rows.constants()
                for values in rows.values():
                    copy.write_row((*head, *values))
        if all_new:
            try:
                cur.execute(INSERT_ALL)
                return None
            except errors.UniqueViolation:  # a stored row (or one another worker just committed)
                cur.execute("ROLLBACK TO SAVEPOINT incoming")
        cur.execute(INSERT_NEW)
        return {r[0] for r in cur.fetchall()}
