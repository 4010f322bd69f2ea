"""A hub database with a year of a large fleet, for the scores benchmark: generated once, then reused.

The schema comes from :class:`hub.storage.sqlite.SqliteStorage` (every migration); the rows come from
SQL run by SQLite itself, one local day at a time, in arrival (time) order: 1,000 locations x 365 days
x 14-41 taps a day (10.04 M events), two kiosks a location, lunch and after-work peaks, a bad hour at
some stores, reasons for some negative answers, 1 % misuse. Rollups are computed from the rows, as
ingest would have. Generation only: journal and fsync off, indexes built after the load.
A JSON file beside the database says what it holds; a database that does not match it is rebuilt.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.common import say
from hub.storage.sql.schema import MONTH_VALUE_COLUMNS
from hub.storage.sqlite import SqliteStorage

GENERATOR = 3  # 3: rollup_month too (a database made before its columns per value is migrated when opened)
# Zones without daylight saving time, so each tap's UTC time follows from its local time exactly.
ZONES = [("Asia/Tokyo", 540), ("Asia/Kolkata", 330), ("Asia/Singapore", 480), ("America/Bogota", -300),
         ("Africa/Nairobi", 180), ("UTC", 0), ("Asia/Dubai", 240), ("America/Lima", -300)]  # fmt: skip
# Opening hours 8-20 with lunch (x3) and after-work (x2) peaks: one slot per weight unit.
HOUR_SLOTS = [8, 9, 10, 11, 11, 11, 12, 12, 12, 13, 13, 13, 14, 15, 16, 17, 17, 18, 18, 19, 20]
REASONS = ["queue", "staff", "cleanliness", "price", "product"]


@dataclass(frozen=True)
class Spec:
    generator: int
    locations: int
    days: int
    first_day: str
    last_day: str
    events: int


def taps_per_day(location: int, day: int) -> int:
    return 14 + (location * 7919 + day * 104729) % 28


def _day_sql() -> str:
    hours = " ".join(f"WHEN {i} THEN {h}" for i, h in enumerate(HOUR_SLOTS))
    reasons = " ".join(f"WHEN {i} THEN '{r}'" for i, r in enumerate(REASONS))
    return f"""
WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 41),
taps AS MATERIALIZED (
  SELECT l.l, l.location_id, l.tz, l.off, k.i,
         CASE abs(random()) % {len(HOUR_SLOTS)} {hours} END AS hour,
         abs(random()) % 60 AS minute, abs(random()) % 60000 AS ms, abs(random()) % 100 AS r,
         abs(random()) % 100 AS r2
  FROM temp.gen_locations AS l JOIN k ON k.i < 14 + (l.l * 7919 + :d * 104729) % 28
),
valued AS (
  SELECT *, CASE
      WHEN hour = 17 AND l % 10 = 3 THEN (CASE WHEN r < 45 THEN 0 WHEN r < 70 THEN 1 WHEN r < 90 THEN 2 ELSE 3 END)
      WHEN r < 5 + l % 5 THEN 0 WHEN r < 15 + l % 7 THEN 1 WHEN r < 50 + l % 11 THEN 2 ELSE 3 END AS value,
    :day_ms + hour * 3600000 + minute * 60000 + ms - off * 60000 AS ms_epoch
  FROM taps
),
stamped AS (
  SELECT *, strftime('%Y-%m-%dT%H:%M:%fZ', ms_epoch / 1000.0, 'unixepoch') AS ts FROM valued
)
INSERT INTO events (id, device_id, location_id, seq, ts, local_day, local_hour, tz, clock_ok, question_id,
                    scale, value, reason, source, misuse, survey_version, boot_id, mono_ms, batch_id, received_at)
SELECT printf('%08x-%04x-7%03x-%04x-%012x', ms_epoch / 65536, ms_epoch % 65536, abs(random()) % 4096,
              32768 + abs(random()) % 16384, :d * 100000 + l * 100 + i),
       printf('kiosk-%d-%d', l, i % 2), location_id, :d * 100 + i, ts, :day, hour, tz, 1, 'default',
       4, value, CASE WHEN value <= 1 AND r2 < 60 THEN (CASE r2 % {len(REASONS)} {reasons} END) END,
       'touch', r2 = 99, NULL, 'gen', i, printf('gen-%d-%d', :d, l), ts
FROM stamped
ORDER BY ms_epoch
"""


ROLLUPS = [
    """INSERT INTO rollup_day (location_id, question_id, day, scale, value, count)
       SELECT location_id, question_id, local_day, scale, value, count(*) FROM events
       WHERE pk > :after AND misuse = 0 GROUP BY location_id, question_id, local_day, scale, value""",
    f"""INSERT INTO rollup_month (location_id, question_id, month, scale, {", ".join(MONTH_VALUE_COLUMNS)})
       SELECT location_id, question_id, substr(local_day, 1, 7), scale,
              {", ".join(f"sum(value = {k})" for k in range(len(MONTH_VALUE_COLUMNS)))} FROM events
       WHERE pk > :after AND misuse = 0 GROUP BY location_id, question_id, substr(local_day, 1, 7), scale
       ON CONFLICT (location_id, month, question_id, scale)
       DO UPDATE SET {", ".join(f"{v} = rollup_month.{v} + excluded.{v}" for v in MONTH_VALUE_COLUMNS)}""",
    """INSERT INTO rollup_hour (location_id, question_id, day, hour, scale, value, count)
       SELECT location_id, question_id, local_day, local_hour, scale, value, count(*) FROM events
       WHERE pk > :after AND misuse = 0 GROUP BY location_id, question_id, local_day, local_hour, scale, value""",
    """INSERT INTO rollup_reason (location_id, question_id, day, polarity, reason, count)
       SELECT location_id, question_id, local_day, CASE WHEN value >= scale - 2 THEN 'positive'
              WHEN value <= 1 THEN 'negative' ELSE 'neutral' END, reason, count(*) FROM events
       WHERE pk > :after AND misuse = 0 AND reason IS NOT NULL GROUP BY 1, 2, 3, 4, 5""",
]


def spec_for(locations: int, days: int) -> Spec:
    last = datetime.now(UTC).date() - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    events = sum(taps_per_day(loc, d) for loc in range(locations) for d in range(days))
    return Spec(GENERATOR, locations, days, first.isoformat(), last.isoformat(), events)


def load_valid(path: Path, locations: int, days: int) -> Spec | None:
    """The spec of an existing, complete database of this size, or None."""
    meta = path.with_suffix(".json")
    if not (path.exists() and meta.exists()):
        return None
    try:
        spec = Spec(**json.loads(meta.read_text()))
    except (ValueError, TypeError):
        return None
    if (spec.generator, spec.locations, spec.days) != (GENERATOR, locations, days):
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        count = conn.execute("SELECT max(pk) FROM events").fetchone()[0]
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        conn.close()
    except sqlite3.Error:
        return None
    return spec if count == spec.events and {"events_id", "events_day_location"} <= indexes else None


def generate(path: Path, locations: int, days: int) -> Spec:
    spec = spec_for(locations, days)
    for stale in (path, path.with_suffix(".json"), Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    SqliteStorage(path).close()  # the hub's schema, every migration
    started = time.monotonic()
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -262144", "temp_store = MEMORY"):
        conn.execute(f"PRAGMA {pragma}")
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
                           "AND sql IS NOT NULL").fetchall()  # fmt: skip
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    _fill_locations(conn, spec)
    first = date.fromisoformat(spec.first_day)
    day_sql = _day_sql()
    conn.execute("BEGIN")
    for d in range(days):
        day = (first + timedelta(days=d)).isoformat()
        after = conn.execute("SELECT coalesce(max(pk), 0) FROM events").fetchone()[0]
        day_ms = (first + timedelta(days=d) - date(1970, 1, 1)).days * 86_400_000
        conn.execute(day_sql, {"d": d, "day": day, "day_ms": day_ms})
        for sql in ROLLUPS:
            conn.execute(sql, {"after": after})
        if d % 30 == 29:
            conn.execute("COMMIT")
            say(f"scores db: {d + 1} of {days} days ({time.monotonic() - started:.0f} s)")
            conn.execute("BEGIN")
    conn.execute("COMMIT")
    for name, sql in indexes:
        say(f"scores db: building index {name}")
        conn.execute(sql)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    path.with_suffix(".json").write_text(json.dumps(asdict(spec), indent=2) + "\n")
    say(f"scores db: {spec.events:,} events in {time.monotonic() - started:.0f} s ({path})")
    return spec


def _fill_locations(conn: sqlite3.Connection, spec: Spec) -> None:
    now = f"{spec.first_day}T00:00:00.000Z"
    conn.execute("CREATE TEMP TABLE gen_locations (l INTEGER, location_id TEXT, tz TEXT, off INTEGER)")
    rows = [(i, f"store-{i:04d}", *ZONES[i % len(ZONES)]) for i in range(spec.locations)]
    conn.executemany("INSERT INTO temp.gen_locations VALUES (?, ?, ?, ?)", rows)
    conn.executemany(
        "INSERT INTO locations (location_id, name, region, timezone, timezone_source, created_at) "
        "VALUES (?, ?, ?, ?, 'registered', ?)",
        [(loc, f"Store {i}", f"region-{i % 8}/area-{i % 40}", tz, now) for i, loc, tz, _ in rows],
    )
    conn.executemany(
        "INSERT INTO devices (device_id, location_id, first_seen, last_seen) VALUES (?, ?, ?, ?)",
        [(f"kiosk-{i}-{k}", loc, now, now) for i, loc, _, _ in rows for k in (0, 1)],
    )


def ensure(path: Path, locations: int, days: int) -> tuple[Spec, bool]:
    """(spec, reused): the database at ``path``, generated unless a valid one is already there."""
    spec = load_valid(path, locations, days)
    if spec is not None:
        return spec, True
    return generate(path, locations, days), False
