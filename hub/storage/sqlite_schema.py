"""The hub's SQLite schema, as versioned migrations."""

from __future__ import annotations

import sqlite_utils

from edge_agent.migrate import Migration


def _v1(db: sqlite_utils.Database) -> None:
    statements = [
        """CREATE TABLE locations (
            location_id TEXT PRIMARY KEY,
            name TEXT,
            region TEXT,
            timezone TEXT NOT NULL,
            timezone_source TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE devices (
            device_id TEXT PRIMARY KEY,
            location_id TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            online INTEGER,
            version TEXT,
            backlog INTEGER,
            last_sync TEXT,
            clock_ok INTEGER,
            status_at TEXT,
            last_batch_id TEXT,
            last_batch_at TEXT,
            events_received INTEGER NOT NULL DEFAULT 0
        )""",
        # An integer rowid keeps the table append-only; the device's UUIDv7 ids keep
        # the unique index on id growing at its right edge.
        """CREATE TABLE events (
            pk INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            location_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            ts TEXT NOT NULL,
            local_day TEXT NOT NULL,
            local_hour INTEGER NOT NULL,
            tz TEXT NOT NULL,
            clock_ok INTEGER NOT NULL,
            question_id TEXT NOT NULL,
            scale INTEGER NOT NULL,
            value INTEGER NOT NULL,
            reason TEXT,
            source TEXT NOT NULL,
            misuse INTEGER NOT NULL,
            survey_version INTEGER,
            boot_id TEXT,
            mono_ms INTEGER,
            batch_id TEXT NOT NULL,
            received_at TEXT NOT NULL
        )""",
        "CREATE UNIQUE INDEX events_id ON events(id)",
        "CREATE UNIQUE INDEX events_device_seq ON events(device_id, seq)",
        """CREATE TABLE rollup_day (
            location_id TEXT NOT NULL, question_id TEXT NOT NULL, day TEXT NOT NULL,
            scale INTEGER NOT NULL, value INTEGER NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (location_id, day, question_id, scale, value)
        ) WITHOUT ROWID""",
        """CREATE TABLE rollup_hour (
            location_id TEXT NOT NULL, question_id TEXT NOT NULL, day TEXT NOT NULL, hour INTEGER NOT NULL,
            scale INTEGER NOT NULL, value INTEGER NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (location_id, day, hour, question_id, scale, value)
        ) WITHOUT ROWID""",
        """CREATE TABLE dead_letters (
            pk INTEGER PRIMARY KEY,
            received_at TEXT NOT NULL,
            topic TEXT NOT NULL,
            reason TEXT NOT NULL,
            payload BLOB NOT NULL
        )""",
        """CREATE TABLE tokens (
            token_id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'analyst')),
            region TEXT,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )""",
    ]
    for sql in statements:
        db.execute(sql)


MIGRATIONS = [Migration(1, "locations, devices, events, rollups, dead letters, tokens", _v1)]
