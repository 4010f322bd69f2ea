"""The hub's schema steps (:mod:`hub.storage.sql.schema`) applied to PostgreSQL, recorded in ``schema_version``.

All missing steps run in one transaction under an advisory lock, so hub workers
starting together migrate once, and a failed step leaves the database as it was.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from edge_agent.migrate import SchemaTooNewError
from edge_agent.protocol import format_ts
from hub.storage.postgres.connections import MIGRATION_LOCK
from hub.storage.sql.schema import STEPS, render


def migrate(raw: psycopg.Connection[Any]) -> list[int]:
    """Bring the database up to the newest step; return the versions applied."""
    newest = STEPS[-1].version
    applied: list[int] = []
    with raw.transaction():
        raw.execute("SELECT pg_advisory_xact_lock(%s, %s)", MIGRATION_LOCK)
        raw.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
            "applied_at TEXT NOT NULL)"
        )
        row = raw.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        have = int(row[0]) if row else 0
        if have > newest:
            raise SchemaTooNewError(
                f"hub database is at schema version {have}, newer than this release knows ({newest}); "
                "upgrade the software instead of downgrading"
            )
        for step in STEPS:
            if step.version <= have:
                continue
            for sql in step.statements:
                raw.execute(render(sql, "postgresql").encode())
            raw.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (%s, %s, %s)",
                (step.version, step.description, format_ts(datetime.now(UTC))),
            )
            applied.append(step.version)
        if applied:
            # A table a step created or rebuilt (step 11's rollup_month) has no planner statistics until
            # autovacuum gets to it: a fleet's read of it would be planned as if it held one row.
            raw.execute("ANALYZE")
    return applied


def schema_version(raw: psycopg.Connection[Any]) -> int:
    row = raw.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0
