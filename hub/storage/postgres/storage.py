"""PostgreSQL implementation of the hub's :class:`~hub.storage.base.Storage`, for several hub workers.

The SQL is shared with SQLite (:mod:`hub.storage.sql`); this module holds the
pool, the ingest transaction with its retries, and the export cursor. Writes
that read before they write (survey versions, alerts, locations) are serial
across workers through an advisory lock, as they are on SQLite's one writer;
ingest is not: it relies on ``ON CONFLICT`` and on touching shared rows in
sorted order, and retries the whole transaction when PostgreSQL aborts it as a
deadlock or a serialization failure.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime

from psycopg import errors

from hub.storage.base import DeadLetter, IncomingBatch, IngestResult, StatusUpdate
from hub.storage.base_analytics import EventQuery, ExportRow
from hub.storage.postgres.connections import PgConn, PoolReader, open_pool, pg_sql, write_transaction
from hub.storage.postgres.incoming import prepare
from hub.storage.postgres.ingest import ingest_transaction
from hub.storage.postgres.schema import migrate
from hub.storage.sql.db import POSTGRES
from hub.storage.sql.storage import SqlStorage

log = logging.getLogger("touchpoint.hub.storage")

INGEST_ATTEMPTS = 6
RETRY_BASE_S = 0.01
RETRIED = (errors.DeadlockDetected, errors.SerializationFailure)  # SQLSTATE 40P01, 40001


class PostgresStorage(SqlStorage):
    dialect = POSTGRES
    backend = "postgresql"

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self._pool = open_pool(url, pool_size)
        try:
            with self._pool.connection() as raw:
                migrate(raw)
        except BaseException:
            self._pool.close()
            raise
        self._readers = PoolReader(self._pool)
        self.retries = 0  # transactions PostgreSQL aborted (deadlock, serialization) and ingest ran again

    def _reader(self) -> PoolReader:
        return self._readers

    def _write(self, serial: bool = True) -> AbstractContextManager[PgConn]:
        return write_transaction(self._pool, serial)

    def close(self) -> None:
        self._pool.close()

    def ingest(
        self,
        batches: list[IncomingBatch],
        statuses: list[StatusUpdate],
        dead_letters: list[DeadLetter],
        received_at: datetime,
    ) -> IngestResult:
        """One transaction; run again from the start, after a short random pause, if PostgreSQL aborts it."""
        for attempt in range(INGEST_ATTEMPTS):
            try:
                with self._pool.connection() as raw:
                    prepare(raw)  # the session's table the events are copied into
                    with raw.transaction():
                        return ingest_transaction(raw, batches, statuses, dead_letters, received_at)
            except RETRIED as exc:
                if attempt == INGEST_ATTEMPTS - 1:
                    raise
                self.retries += 1
                pause = random.uniform(0, RETRY_BASE_S * 2**attempt)
                log.info("ingest transaction aborted (%s); retrying in %.0f ms", exc.sqlstate, pause * 1000)
                time.sleep(pause)
        raise AssertionError("unreachable")

    def iter_events(self, query: EventQuery, chunk_size: int) -> Iterator[list[ExportRow]]:
        """A server-side cursor on a connection of its own, read ``chunk_size`` rows at a time."""
        sql, params = self._export_sql(query)
        with self._pool.connection() as raw, raw.transaction(), raw.cursor(name="export") as cursor:
            cursor.itersize = chunk_size
            cursor.execute(pg_sql(sql), params)
            while chunk := cursor.fetchmany(chunk_size):
                yield [tuple(row[1:]) for row in chunk]
