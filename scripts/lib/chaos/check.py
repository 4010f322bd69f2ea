"""The verdict: the union of the device stores against the hub's events, quarantine and rollups.

The ground truth is every device store (each tap whose ``record()`` returned)
plus each tapper's log of when the tap really happened. From them:

- **lost**: a tap logged by a tapper but missing from its store, or in a store
  but neither counted nor quarantined at the hub;
- **double-counted**: an id both counted and quarantined, or rollup counts above
  what the devices hold;
- **rollup mismatches**: rollup rows that differ from the hub's own events
  (recomputed), or from the devices' counted taps;
- **quarantine mismatches**: a tap counted that should be quarantined or the
  other way round (or for the wrong cause), judged from the device's clock state;
- **wrong day**: a counted tap whose local day is not the day it really happened.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from chaos.stack import Device
from edge_agent.clock import EARLIEST_PLAUSIBLE
from edge_agent.scores import polarity
from hub.domain.quarantine import FUTURE_TOLERANCE

RollupKey = tuple[object, ...]


@dataclass(frozen=True)
class Logged:
    real: float
    offset_s: float


@dataclass
class Report:
    taps: int = 0
    misuse: int = 0
    redated: int = 0
    logged_missing: int = 0
    unsynced: int = 0
    lost: int = 0
    double_counted: int = 0
    phantom: int = 0
    rollup_mismatches: int = 0
    quarantined: int = 0
    expected_quarantine: int = 0
    quarantine_mismatches: int = 0
    by_cause: Counter[str] = field(default_factory=Counter)
    wrong_day: int = 0
    dead_letters: int = 0
    api_disagreements: int = 0  # hub workers whose API answers differ from the first worker's
    delays_s: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        failures = (
            self.lost, self.double_counted, self.phantom, self.rollup_mismatches, self.quarantine_mismatches,
            self.wrong_day, self.unsynced, self.logged_missing, self.api_disagreements,
        )  # fmt: skip
        return not any(failures)

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)


def read_rows(path: str | Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of ``sql`` from a SQLite file (read-only), or from PostgreSQL when ``path`` is a postgresql:// URL."""
    if isinstance(path, str):
        import psycopg  # only the PostgreSQL hub needs it

        with psycopg.connect(path, connect_timeout=10) as pg:
            return [tuple(row) for row in pg.execute(sql.encode()).fetchall()]
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _ts(text: object) -> datetime:
    return datetime.fromisoformat(str(text))


def _tap_log(path: Path) -> dict[str, Logged]:
    out: dict[str, Logged] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                out[d["id"]] = Logged(float(d["real"]), float(d["offset_s"]))
    return out


def expected_cause(clock_ok: bool, ts: datetime, logged: Logged | None) -> str | None:
    """What the hub should do with a device's tap, from the device's own state after re-dating."""
    if not clock_ok:
        return "clock_not_ok"
    if logged is not None and logged.offset_s > FUTURE_TOLERANCE.total_seconds():
        return "future"
    if ts < EARLIEST_PLAUSIBLE:
        return "before_floor"
    return None


def _near_midnight(moment: datetime, tz: ZoneInfo) -> bool:
    local = moment.astimezone(tz)
    into_day = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
    return into_day < timedelta(seconds=5) or into_day > timedelta(days=1, seconds=-5)


@dataclass
class _Truth:
    logged: dict[str, Logged] = field(default_factory=dict)
    zone_of: dict[str, ZoneInfo] = field(default_factory=dict)
    expected: dict[str, str | None] = field(default_factory=dict)  # tap id -> quarantine cause, None: counted
    counted: Counter[RollupKey] = field(default_factory=Counter)  # (location, question, day, scale, value)


def _read_devices(devices: list[Device], report: Report) -> _Truth:
    truth = _Truth()
    for device in devices:
        log = _tap_log(device.tap_log)
        truth.logged.update(log)
        truth.zone_of[device.spec.location_id] = ZoneInfo(device.spec.timezone)
        columns = "id, ts, local_day, clock_ok, redated, question_id, scale, value, misuse, sync_state"
        rows = read_rows(device.store, f"SELECT {columns} FROM events")
        missing = set(log) - {str(r[0]) for r in rows}
        report.logged_missing += len(missing)
        for tap_id in sorted(missing)[:3]:
            report.note(f"{device.spec.device_id}: tap {tap_id} was recorded but is not in the store")
        for event_id, ts, day, clock_ok, redated, question, scale, value, misuse, state in rows:
            report.taps += 1
            report.misuse += int(bool(misuse))
            report.redated += int(bool(redated))
            report.unsynced += int(state != 1)
            cause = expected_cause(bool(clock_ok), _ts(ts), log.get(str(event_id)))
            truth.expected[str(event_id)] = cause
            if cause is None and not misuse:
                truth.counted[(device.spec.location_id, question, day, scale, value)] += 1
    report.expected_quarantine = sum(1 for c in truth.expected.values() if c is not None)
    return truth


def compare(devices: list[Device], hub_db: str | Path, api_totals: dict[str, int]) -> Report:
    report = Report(dead_letters=api_totals.get("dead_letters", 0))
    truth = _read_devices(devices, report)
    counted = read_rows(hub_db, "SELECT id, location_id, local_day, received_at FROM events")
    held = read_rows(hub_db, "SELECT id, cause, received_at FROM quarantine")
    counted_ids = Counter(str(r[0]) for r in counted)
    held_ids = {str(r[0]): str(r[1]) for r in held}
    report.quarantined = len(held)
    report.by_cause.update(held_ids.values())
    report.double_counted += sum(n - 1 for n in counted_ids.values()) + len(set(counted_ids) & set(held_ids))
    at_hub = set(counted_ids) | set(held_ids)
    lost = set(truth.expected) - at_hub
    report.lost = len(lost) + report.logged_missing
    report.phantom = len(at_hub - set(truth.expected))
    for tap_id in sorted(lost)[:3]:
        report.note(f"tap {tap_id} is in a device store but not at the hub")
    for tap_id, cause in truth.expected.items():
        got = held_ids.get(tap_id) if tap_id in held_ids else (None if tap_id in counted_ids else "absent")
        if got != "absent" and got != cause:
            report.quarantine_mismatches += 1
            report.note(f"tap {tap_id}: expected {cause or 'counted'}, the hub has it {got or 'counted'}")
    _check_days_and_delays(truth, counted, held, report)
    report.rollup_mismatches = _rollup_mismatches(hub_db, truth.counted, report)
    if api_totals.get("quarantine", report.quarantined) != report.quarantined:
        report.quarantine_mismatches += 1
        report.note(f"GET /api/v1/quarantine says {api_totals['quarantine']}, the table holds {report.quarantined}")
    return report


def _check_days_and_delays(
    truth: _Truth, counted: list[tuple[object, ...]], held: list[tuple[object, ...]], report: Report
) -> None:
    for event_id, location, day, received in counted:
        entry = truth.logged.get(str(event_id))
        if entry is None:
            continue
        real = datetime.fromtimestamp(entry.real, UTC)
        zone = truth.zone_of[str(location)]
        if day != real.astimezone(zone).date().isoformat() and not _near_midnight(real, zone):
            report.wrong_day += 1
            report.note(f"tap {event_id} counted on {day}, but it happened on {real.astimezone(zone).date()}")
        report.delays_s.append((_ts(received) - real).total_seconds())
    for event_id, _cause, received in held:
        entry = truth.logged.get(str(event_id))
        if entry is not None:
            report.delays_s.append((_ts(received) - datetime.fromtimestamp(entry.real, UTC)).total_seconds())


def _rollup_mismatches(hub_db: str | Path, truth: Counter[RollupKey], report: Report) -> int:
    columns = "location_id, question_id, local_day, local_hour, scale, value, reason"
    events = read_rows(hub_db, f"SELECT {columns} FROM events WHERE misuse = 0")
    day: Counter[RollupKey] = Counter()
    hour: Counter[RollupKey] = Counter()
    reason: Counter[RollupKey] = Counter()
    for loc, q, d, h, scale, value, why in events:
        day[(loc, q, d, scale, value)] += 1
        hour[(loc, q, d, h, scale, value)] += 1
        if why and str(why).strip():
            reason[(loc, q, d, polarity(int(str(value)), int(str(scale))), why)] += 1

    def table(sql: str) -> Counter[RollupKey]:
        return Counter({tuple(r[:-1]): int(str(r[-1])) for r in read_rows(hub_db, sql)})

    stored_day = table("SELECT location_id, question_id, day, scale, value, count FROM rollup_day")
    stored_hour = table("SELECT location_id, question_id, day, hour, scale, value, count FROM rollup_hour")
    stored_reason = table("SELECT location_id, question_id, day, polarity, reason, count FROM rollup_reason")
    bad = 0
    pairs = (("day", day, stored_day), ("hour", hour, stored_hour), ("reason", reason, stored_reason))
    for name, mine, stored in pairs:
        for key in set(mine) | set(stored):
            if mine[key] != stored[key]:
                bad += 1
                report.note(f"rollup_{name} {key}: {stored[key]} stored, {mine[key]} in the hub's events")
    for key in set(truth) | set(stored_day):
        diff = stored_day[key] - truth[key]
        if diff:
            bad += 1
            report.double_counted += max(diff, 0)
            report.note(f"rollup_day {key}: {stored_day[key]} at the hub, {truth[key]} on the devices")
    return bad
