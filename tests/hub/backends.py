"""Both storage backends for one test: the ``storage`` fixture runs each test on SQLite and on PostgreSQL.

SQLite gets a file in the test's tmp dir; PostgreSQL a fresh database in the
session's private cluster (tests/pg_fixtures.py). Tests read rows back with
:func:`raw`, which goes through the backend's own read connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hub.storage import open_storage
from hub.storage.base import Storage

BACKENDS = ["sqlite", "postgresql"]
INTEGRITY_ERRORS = (sqlite3.IntegrityError, psycopg.errors.IntegrityError)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where the hub's database is: a SQLite path or a ``postgresql://`` URL of an empty database."""
    if backend == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "hub.sqlite")


@pytest.fixture
def storage(db: str) -> Iterator[Storage]:
    s = open_storage(db)
    try:
        yield s
    finally:
        s.close()


def raw(storage: Storage, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Rows of a ``?``-placeholder query, read through the backend's own read connection."""
    return [tuple(r) for r in storage._reader().execute(sql, params).fetchall()]  # type: ignore[attr-defined]
