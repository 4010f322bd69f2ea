"""What the shared SQL modules need from a backend: connections that run ``?``-style SQL, and dialect bits.

The SQL in :mod:`hub.storage.sql` is written once, with ``?`` placeholders and
SQL that SQLite (3.35+) and PostgreSQL both understand: ``RETURNING``,
``ON CONFLICT (...) DO ...``, ``IS NOT DISTINCT FROM``, ``TRUE``. Timestamps are
the same ISO TEXT in both, so comparisons and ``substr`` behave the same.
Whatever still differs is a :class:`Dialect` attribute or a backend override.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol


class Cursor(Protocol):
    """The part of a DB-API cursor the shared SQL uses (sqlite3's and psycopg's both have it)."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A connection running ``?``-placeholder SQL: ``sqlite3.Connection`` as is, PostgreSQL through a wrapper."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


@dataclass(frozen=True)
class Dialect:
    """The few words in which the two backends' SQL differs."""

    name: str
    skip_locked: str  # appended to a SELECT that claims rows other workers may be claiming
    indexed_by: bool  # SQLite's ``INDEXED BY`` hint; PostgreSQL has no hints

    def index_hint(self, index: str) -> str:
        return f" INDEXED BY {index}" if self.indexed_by else ""


SQLITE = Dialect("sqlite", skip_locked="", indexed_by=True)
POSTGRES = Dialect("postgresql", skip_locked=" FOR UPDATE SKIP LOCKED", indexed_by=False)


class SqlHost:
    """Base of the shared mixins: the storage class they are mixed into provides these.

    ``_reader()``: a connection for one read statement at a time, never inside a write.
    ``_write(serial)``: one write transaction, committed on leaving the block; ``serial`` writes run one at a
    time across every worker of the hub (SQLite's single writer; an advisory lock on PostgreSQL), so a
    read-then-write inside one (the next survey version, an alert already firing) cannot interleave.
    """

    if TYPE_CHECKING:
        dialect: Dialect

        def _reader(self) -> Conn: ...

        def _write(self, serial: bool = True) -> AbstractContextManager[Conn]: ...


IN_CHUNK = 500  # ids per ``IN (...)``: well under SQLite's 999 variables of old builds


def rows_in(conn: Conn, sql: str, ids: Sequence[object]) -> Iterator[Any]:
    """Rows of ``sql`` for each chunk of ``ids``; ``{marks}`` in ``sql`` becomes that chunk's ``?, ?, ...``."""
    for start in range(0, len(ids), IN_CHUNK):
        chunk = list(ids[start : start + IN_CHUNK])
        yield from conn.execute(sql.format(marks=",".join("?" * len(chunk))), chunk).fetchall()
