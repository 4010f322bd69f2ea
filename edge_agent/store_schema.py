"""The device store's schema as versioned migrations (edge_agent/migrate.py), and the sync states of its rows.

Append new migrations; never renumber or edit an old one. The actions and alert-inbox tables are created by
their own modules, which own their queries.
"""

from __future__ import annotations

import sqlite3

from edge_agent import actions, alert_inbox
from edge_agent.migrate import Migration


def _v1(db: sqlite3.Connection) -> None:
    statements = [
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
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
            misuse INTEGER NOT NULL DEFAULT 0,
            survey_version INTEGER,
            boot_id TEXT,
            mono_ms INTEGER,
            hold_until REAL,
            sync_state INTEGER NOT NULL DEFAULT 0,
            synced_at TEXT,
            sync_error TEXT
        )""",
        "CREATE INDEX events_pending ON events(seq) WHERE sync_state = 0",
        "CREATE INDEX events_day ON events(local_day)",
        # Counted (non-misuse) answers per local day and hour: the score history that
        # survives pruning of raw events.
        """CREATE TABLE daily_counts (
            day TEXT NOT NULL, hour INTEGER NOT NULL, question_id TEXT NOT NULL,
            scale INTEGER NOT NULL, value INTEGER NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (day, hour, question_id, scale, value)
        ) WITHOUT ROWID""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        # seq starts at the store's creation time in ms, so a re-imaged device
        # never reuses a seq the hub has already seen from it.
        "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', CAST(strftime('%s','now') AS INTEGER) * 1000)",
    ]
    for sql in statements:
        db.execute(sql)


def _v2(db: sqlite3.Connection) -> None:
    # Re-dating (edge_agent/redate.py): which taps were re-dated once the clock was trusted, and a
    # tiny partial index over the pending taps still waiting for a trustworthy clock.
    db.execute("ALTER TABLE events ADD COLUMN redated INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX events_unclocked ON events(seq) WHERE sync_state = 0 AND clock_ok = 0")


MIGRATIONS = [
    Migration(1, "events, daily counts, meta", _v1),
    Migration(2, "re-dating: redated flag, index of pending taps recorded with an untrusted clock", _v2),
    Migration(
        3, "actions: what the store changed, logged here or pushed by HQ (edge_agent/actions.py)", actions.create_table
    ),
    Migration(
        4,
        "the store's open alerts and the manager's notes on them (edge_agent/alert_inbox.py)",
        alert_inbox.create_tables,
    ),
]
