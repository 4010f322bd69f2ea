"""PostgreSQL connections for the shared SQL: a psycopg pool, ``?`` placeholders, serial writes.

The shared SQL (:mod:`hub.storage.sql`) uses ``?``; psycopg uses ``%s``. The
translation is done once per statement text and cached. Pool connections are in
autocommit mode, so a read is one statement with no transaction around it, and
a write is an explicit ``BEGIN`` ... ``COMMIT`` (``conn.transaction()``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

# Two-integer advisory lock keys (objsubid 2 in pg_locks), apart from the leaders' one-bigint keys (objsubid 1).
WRITER_LOCK = (0x54505542, 1)  # "TPUB": serial writes, one at a time across workers, like SQLite's one writer
MIGRATION_LOCK = (0x54505542, 2)

_TRANSLATED: dict[str, str] = {}

# Both ends of every connection notice a dead peer within seconds, whether idle (keepalives) or with unacked data
# to send (tcp_user_timeout): libpq's settings for ours, and the server's asked per session in ``options``.
# Without them PostgreSQL keeps a cut-off worker's session, with its advisory lock (leadership) and its open
# transaction's row locks (hot rollup rows: every other worker's ingest waits), for two hours (keepalive) or
# about fifteen minutes (retransmissions), the OS defaults; and a worker whose link comes back waits as long on
# a connection the server has since closed.
KEEPALIVES: dict[str, object] = {
    "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2, "tcp_user_timeout": 10000,
    "options": "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=2 "
               "-c tcp_user_timeout=10000",
}  # fmt: skip


def pg_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s``; a literal ``%`` doubled."""
    found = _TRANSLATED.get(sql)
    if found is None:
        if len(_TRANSLATED) > 10_000:
            _TRANSLATED.clear()
        found = _TRANSLATED[sql] = sql.replace("%", "%%").replace("?", "%s")
    return found


class PgConn:
    """A psycopg connection that runs the shared ``?`` SQL (:class:`hub.storage.sql.db.Conn`)."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Any = None, /) -> psycopg.Cursor[Any]:
        return self.raw.execute(pg_sql(sql), parameters if parameters else None)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> None:
        rows = list(parameters)
        if rows:
            with self.raw.cursor() as cur:
                cur.executemany(pg_sql(sql), rows)


@dataclass(frozen=True)
class Result:
    """A read statement's rows, fetched before its connection went back to the pool."""

    rows: list[Any]
    description: Any
    rowcount: int

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class PoolReader:
    """Runs each read statement on a pooled connection, fetching all its rows."""

    def __init__(self, pool: ConnectionPool[psycopg.Connection[Any]]) -> None:
        self.pool = pool

    def execute(self, sql: str, parameters: Any = None, /) -> Result:
        with self.pool.connection() as raw:
            cur = raw.execute(pg_sql(sql), parameters if parameters else None)
            rows = cur.fetchall() if cur.description is not None else []
            return Result(rows, cur.description, cur.rowcount)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> None:
        raise TypeError("reads only: write inside _write()")


def open_pool(url: str, max_size: int = 10) -> ConnectionPool[psycopg.Connection[Any]]:
    """A pool of autocommit connections, opened and checked now so that a wrong URL fails at start."""
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        url, min_size=1, max_size=max_size, kwargs={"autocommit": True, **KEEPALIVES}, open=False, name="touchpoint-hub"
    )
    pool.open(wait=True, timeout=15.0)
    return pool


@contextmanager
def write_transaction(pool: ConnectionPool[psycopg.Connection[Any]], serial: bool) -> Iterator[PgConn]:
    """One transaction on a pooled connection; ``serial`` takes the writers' advisory lock first."""
    with pool.connection() as raw, raw.transaction():
        if serial:
            raw.execute("SELECT pg_advisory_xact_lock(%s, %s)", WRITER_LOCK)
        yield PgConn(raw)
