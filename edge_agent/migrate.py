"""Versioned schema migrations for SQLite files, shared by the device store and the hub.

Each migration is a numbered step applied once, in order, inside a
transaction; ``PRAGMA user_version`` records how far a file has come. A file
written by a newer release is refused rather than silently misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


class SchemaTooNewError(RuntimeError):
    pass


def enable_wal(db: sqlite3.Connection) -> None:
    """WAL: readers never block the writer, and a commit appends instead of rewriting pages."""
    if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        db.execute("PRAGMA journal_mode = WAL")


def current_version(db: sqlite3.Connection) -> int:
    row = db.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(db: sqlite3.Connection, steps: Sequence[Migration], name: str) -> list[int]:
    """Bring ``db`` up to the newest step; return the versions applied."""
    versions = [s.version for s in steps]
    if not versions or versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"{name} migrations must be numbered 1, 2, 3, ... in order")
    have = current_version(db)
    newest = versions[-1]
    if have > newest:
        raise SchemaTooNewError(
            f"{name} database is at schema version {have}, newer than this release knows ({newest}); "
            "upgrade the software instead of downgrading"
        )
    applied = []
    for step in steps:
        if step.version <= have:
            continue
        conn = db
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-check under the write lock: another process may have migrated meanwhile.
            if current_version(db) < step.version:
                step.apply(db)
                conn.execute(f"PRAGMA user_version = {int(step.version)}")
                applied.append(step.version)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return applied
