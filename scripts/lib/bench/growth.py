"""Database growth, measured on the scores benchmark's databases and projected with the demo's traffic model.

Bytes per stored event (the table and its indexes) and per rollup row come from the 10 M-event databases:
SQLite's ``dbstat`` pages, PostgreSQL's ``pg_total_relation_size`` (heap, indexes, TOAST). The projection
for 1,000 locations over a year uses ``hub.services.traffic`` as the demo does (scripts/lib/simulate.py:
300 answers a store a day, open 08-21, lunch and after-work peaks) with one 4-point question, and counts
the rollup cells such a day fills (a cell is a location x day [x hour] x answer value that got a tap).
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from hub.services.traffic import OPEN_HOURS, REASON_SHARE, REASONS, hourly_rate

ROLLUPS = ("rollup_day", "rollup_hour", "rollup_month", "rollup_reason")
TAPS_PER_DAY = 300  # scripts/lib/simulate.py's default per store
VALUE_SHARES = (0.08, 0.12, 0.35, 0.45)  # a 4-point question, as the benchmark's payloads answer it
NEGATIVE = VALUE_SHARES[0] + VALUE_SHARES[1]


def sqlite_sizes(path: Path) -> dict[str, tuple[int, int]]:
    """table -> (bytes with its indexes, rows) for events and the rollups."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        pages = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
        indexes = conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'").fetchall()
        out = {}
        for table in ("events", *ROLLUPS):
            size = pages.get(table, 0) + sum(pages.get(i, 0) for i, t in indexes if t == table)
            out[table] = (int(size), int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]))
        return out
    finally:
        conn.close()


def postgres_sizes(url: str) -> dict[str, tuple[int, int]]:
    with psycopg.connect(url) as conn:
        return {
            table: (
                int(conn.execute(f"SELECT pg_total_relation_size('{table}')").fetchone()[0]),  # type: ignore[index]
                int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]),  # type: ignore[index]
            )
            for table in ("events", *ROLLUPS)
        }


def cells_per_location_day() -> dict[str, float]:
    """Expected rollup rows one store adds a day at the demo's traffic (Poisson arrivals per hour)."""
    hourly = [hourly_rate(TAPS_PER_DAY / len(OPEN_HOURS), h) for h in OPEN_HOURS]

    def filled(rate: float) -> float:
        return sum(1 - math.exp(-rate * share) for share in VALUE_SHARES)

    reasons_rate = TAPS_PER_DAY * NEGATIVE * REASON_SHARE / len(REASONS)
    return {
        "rollup_day": filled(TAPS_PER_DAY),
        "rollup_hour": sum(filled(rate) for rate in hourly),
        "rollup_month": 1 / 30,  # one row per month (and question): a column per answer value
        "rollup_reason": len(REASONS) * (1 - math.exp(-reasons_rate)),
    }


def per_year(sizes: dict[str, tuple[int, int]], locations: int = 1000) -> dict[str, Any]:
    """Bytes per event and per rollup row, and the projected growth of ``locations`` stores in a year."""
    events_bytes, events = sizes["events"]
    per_event = events_bytes / events
    cells = cells_per_location_day()
    location_days = locations * 365
    rollups = sum(sizes[t][0] / max(sizes[t][1], 1) * cells[t] * location_days for t in ROLLUPS)
    year_events = TAPS_PER_DAY * location_days
    return {
        "bytes_per_event": per_event,
        "bytes_per_rollup_row": {t: sizes[t][0] / max(sizes[t][1], 1) for t in ROLLUPS},
        "events_per_year": year_events,
        "events_gb": per_event * year_events / 1e9,
        "rollups_gb": rollups / 1e9,
        "total_gb": (per_event * year_events + rollups) / 1e9,
    }
