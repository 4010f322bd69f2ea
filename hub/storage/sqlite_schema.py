"""The hub's SQLite schema, as versioned migrations."""

from __future__ import annotations

import sqlite3

from edge_agent.migrate import Migration


def _v1(db: sqlite3.Connection) -> None:
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


def _v2(db: sqlite3.Connection) -> None:
    """HQ features: locations with regions and hours, reasons, surveys, alerts, dashboard sessions."""
    statements = [
        # region is a '/'-separated path such as 'nordics/helsinki'; opening_hours is JSON
        # {"mon": ["08:00", "21:00"], ...}; registered locations have timezone_source 'registered'.
        "ALTER TABLE locations ADD COLUMN opening_hours TEXT",
        "ALTER TABLE locations ADD COLUMN updated_at TEXT",
        "CREATE INDEX locations_region ON locations(region)",
        # Follow-up reasons per location x question x local day x polarity, kept at ingest.
        """CREATE TABLE rollup_reason (
            location_id TEXT NOT NULL, question_id TEXT NOT NULL, day TEXT NOT NULL,
            polarity TEXT NOT NULL CHECK (polarity IN ('negative', 'neutral', 'positive')),
            reason TEXT NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (location_id, day, question_id, polarity, reason)
        ) WITHOUT ROWID""",
        # Range exports walk events by local day without scanning the whole table.
        "CREATE INDEX events_day_location ON events(local_day, location_id)",
        """CREATE TABLE surveys (
            survey_id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
            created_at TEXT NOT NULL, created_by TEXT,
            PRIMARY KEY (survey_id, version)
        )""",
        """CREATE TABLE survey_assignments (
            target_kind TEXT NOT NULL CHECK (target_kind IN ('location', 'region')),
            target TEXT NOT NULL, survey_id TEXT NOT NULL, assigned_at TEXT NOT NULL,
            PRIMARY KEY (target_kind, target)
        )""",
        """CREATE TABLE device_configs (
            device_id TEXT PRIMARY KEY, survey_id TEXT, version INTEGER, published_at TEXT NOT NULL
        )""",
        """CREATE TABLE alert_rules (
            rule_id INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
            scope_kind TEXT NOT NULL CHECK (scope_kind IN ('all', 'region', 'location')), scope TEXT,
            params TEXT NOT NULL, webhook_url TEXT, enabled INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL
        )""",
        """CREATE TABLE alert_events (
            alert_id INTEGER PRIMARY KEY, rule_id INTEGER NOT NULL, location_id TEXT, device_id TEXT,
            state TEXT NOT NULL CHECK (state IN ('firing', 'resolved')), fired_at TEXT NOT NULL,
            resolved_at TEXT, message TEXT NOT NULL, details TEXT
        )""",
        "CREATE INDEX alert_events_rule ON alert_events(rule_id, location_id, device_id, state)",
        """CREATE TABLE webhook_deliveries (
            delivery_id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, url TEXT NOT NULL, body TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL, last_error TEXT, delivered_at TEXT
        )""",
        "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at)",
        """CREATE TABLE sessions (
            session_hash TEXT PRIMARY KEY, token_id INTEGER NOT NULL, created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )""",
    ]
    for sql in statements:
        db.execute(sql)


def _v3(db: sqlite3.Connection) -> None:
    """Device registry: broker accounts of provisioned devices and the hub, and provisioning defaults."""
    statements = [
        # One row per broker login. password_hash is Mosquitto's PBKDF2-SHA512 ($7$) hash, never the
        # password. A device's username is its device_id, bound to one location; revoked rows stay.
        """CREATE TABLE broker_accounts (
            username TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('device', 'hub')),
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            location_id TEXT,
            rotated_at TEXT,
            revoked_at TEXT,
            CHECK (role = 'hub' OR location_id IS NOT NULL)
        )""",
        # Defaults remembered between `device add` runs: broker_url, ca_file, broker_dir, broker_pidfile.
        "CREATE TABLE registry_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ]
    for sql in statements:
        db.execute(sql)


def _v4(db: sqlite3.Connection) -> None:
    """Quarantine: events whose timestamp the hub cannot trust, stored but never counted (hub/quarantine.py)."""
    statements = [
        # The same columns as events, plus why. claimed_day/claimed_hour are the local day and hour the
        # event's own timestamp would give: shown, never counted. A quarantined id is never stored in
        # events too: ingest checks both tables before inserting either.
        """CREATE TABLE quarantine (
            pk INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            device_id TEXT NOT NULL,
            location_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            ts TEXT NOT NULL,
            claimed_day TEXT NOT NULL,
            claimed_hour INTEGER NOT NULL,
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
            received_at TEXT NOT NULL,
            cause TEXT NOT NULL CHECK (cause IN ('clock_not_ok', 'future', 'before_floor', 'before_provisioning')),
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX quarantine_device ON quarantine(device_id, pk)",
    ]
    for sql in statements:
        db.execute(sql)


def _v5(db: sqlite3.Connection) -> None:
    # The device's status `held`: taps it holds back for a trusted clock (edge_agent/redate.py).
    db.execute("ALTER TABLE devices ADD COLUMN held INTEGER")


MIGRATIONS = [
    Migration(1, "locations, devices, events, rollups, dead letters, tokens", _v1),
    Migration(2, "regions, opening hours, reasons, surveys, alerts, sessions", _v2),
    Migration(3, "device registry: broker accounts (hashed passwords), revocation, provisioning defaults", _v3),
    Migration(4, "quarantine of events with untrusted timestamps: stored, visible, never counted", _v4),
    Migration(5, "devices: taps held on the device for a trusted clock", _v5),
]
