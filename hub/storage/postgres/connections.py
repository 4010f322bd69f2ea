"""PostgreSQL connections for the shared SQL: a psycopg pool, ``?`` placeholders, serial writes.

The shared SQL (:mod:`hub.storage.sql`) uses ``?``; psycopg uses ``%s``. The
translation is done once per statement text and cached. Pool connections are in
autocommit mode, so a read is one statement with no transaction around it, and
a write is an explicit ``BEGIN`` ... ``COMMIT`` (``conn.transaction()``).
"""

from __future__ import annotations

import logging
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
log = logging.getLogger("touchpoint.hub.storage")

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
        """Run once more on a fresh connection if the pooled one had died idle (a read is safe to repeat)."""
        for attempt in (1, 2):
            with self.pool.connection() as raw:
                try:
                    cur = raw.execute(pg_sql(sql), parameters if parameters else None)
                    rows = cur.fetchall() if cur.description is not None else []
                    return Result(rows, cur.description, cur.rowcount)
                except psycopg.OperationalError:
                    if attempt == 2 or not raw.broken:
                        raise
            drop_dead_connections(self.pool)
        raise AssertionError("unreachable")

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> None:
        raise TypeError("reads only: write inside _write()")


# The hub's statements are index-range reads of a few thousand rollup rows and its own ingest: on them PostgreSQL's
# parallel workers cost more to launch than they save (the fleet's year over HTTP: p50 36 -> 31 ms, p95 41 -> 34 ms
# on the benchmark's server) and take cores from the other workers' requests. Per session, for the pool only.
SERIAL_PLANS = " -c max_parallel_workers_per_gather=0"


def open_pool(url: str, max_size: int = 10) -> ConnectionPool[psycopg.Connection[Any]]:
    """A pool of autocommit connections, opened and checked now so that a wrong URL fails at start."""
    kwargs = {"autocommit": True, **KEEPALIVES, "options": f"{KEEPALIVES['options']}{SERIAL_PLANS}"}
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        url, min_size=1, max_size=max_size, kwargs=kwargs, open=False, name="touchpoint-hub"
    )
    pool.open(wait=True, timeout=15.0)
    return pool


@contextmanager
def write_transaction(pool: ConnectionPool[psycopg.Connection[Any]], serial: bool) -> Iterator[PgConn]:
    """One transaction on a pooled connection; ``serial`` takes the writers' advisory lock first."""
    raw: psycopg.Connection[Any] | None = None
    dead = False
    try:
        with pool.connection() as raw, raw.transaction():
            if serial:
                raw.execute("SELECT pg_advisory_xact_lock(%s, %s)", WRITER_LOCK)
            yield PgConn(raw)
    except psycopg.OperationalError:
        dead = raw is not None and raw.broken
        raise
    finally:
        if dead:  # the dead one is back in (and out of) the pool: the caller's retry gets a live connection
            drop_dead_connections(pool)


def drop_dead_connections(pool: ConnectionPool[psycopg.Connection[Any]]) -> None:
    """Test the pool's idle connections now, replacing the dead ones.

    A connection idle while the server ended its session (a cut link, a server restart) fails only when next
    used; when one did, its idle siblings most likely died with it. Without this, each of them would fail one
    more statement in turn (the hub's ingest worker once died on such a read).
    """
    log.warning("a pooled PostgreSQL connection had died; testing the pool's idle connections")
    try:
        pool.check()
    except Exception:  # the server is away again: each connection is then found dead when used
        log.exception("could not test the pool's idle connections")
