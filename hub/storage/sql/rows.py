"""Rows of the hub's events table, built a batch at a time with as little Python per event as possible.

The hub's ingest is bound by one core (the GIL), so each Python step per event
costs throughput. Here a batch's events become columns in C (``astuple`` and
``zip``), msgspec renders all their timestamps in one call (30x faster than
``isoformat`` each), a local day and hour is worked out once per (zone, UTC
hour) rather than once per event, and the batch's own values (device, location,
batch, receipt time) are bound once per statement, not once per row.
tests/hub/test_ingest_fast_paths.py checks each shortcut against the plain computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import compress
from typing import Any, cast
from zoneinfo import ZoneInfo

import msgspec

from edge_agent.protocol import Event
from hub.localtime import local_day_hour

# The events table's columns as ingest binds them: a batch's constants once per statement, then each event's.
BATCH_COLUMNS = ("device_id", "location_id", "batch_id", "received_at")
EVENT_COLUMNS = ("id", "seq", "ts", "local_day", "local_hour", "tz", "clock_ok", "question_id", "scale", "value",
                 "reason", "source", "misuse", "survey_version", "boot_id", "mono_ms")  # fmt: skip
# Positions in EVENT_COLUMNS that ingest reads back (rollups, errors).
E_ID, E_SEQ, E_DAY, E_HOUR, E_QUESTION, E_SCALE, E_VALUE, E_REASON, E_MISUSE = 0, 1, 3, 4, 7, 8, 9, 10, 12
Row = tuple[Any, ...]
Columns = tuple[tuple[Any, ...], ...]
# The fields of Event this module reads, by position in astuple(event): guarded at import.
FIELDS = ("id", "seq", "ts", "tz", "clock_ok", "question_id", "scale", "value", "reason", "source", "misuse",
          "survey_version", "boot_id", "mono_ms")  # fmt: skip
ID, TS, CLOCK_OK = 0, 2, 4
if Event.__struct_fields__[: len(FIELDS)] != FIELDS:
    raise ImportError("edge_agent.protocol.Event's fields moved: update hub/storage/sql/rows.py FIELDS")

_ENCODE = msgspec.json.Encoder().encode
_TEXTS = msgspec.json.Decoder(list[str]).decode

# Local day and hour per (zone, UTC hour of the timestamp), checked at both ends of that hour: the
# day and hour themselves when the whole hour maps to one local hour, else the zone's offset when it
# holds all hour (a :30 or :45 zone), else None (a transition inside the hour: compute each event).
Rule = tuple[str, int] | timedelta | None
_LOCAL: dict[tuple[str, str], Rule] = {}
_LOCAL_MAX = 100_000
_HOUR_END = timedelta(minutes=59, seconds=59, microseconds=999_999)


def columns(events: Sequence[Event]) -> Columns:
    """The events' fields as columns, in C: ``columns(events)[ID]`` is every id, in order."""
    if not events:
        return tuple(() for _ in Event.__struct_fields__)
    return tuple(zip(*map(msgspec.structs.astuple, events), strict=True))


def ts_texts(stamps: Sequence[datetime]) -> list[str]:
    """``format_ts`` of each timestamp, for Event timestamps (UTC, tzinfo UTC) from the year 1000 on.

    msgspec writes ``2026-11-22T10:00:00.123000Z``, or ``...:00Z`` without a fraction: cut to milliseconds.
    """
    return [t[:23] + "Z" if len(t) == 27 else t[:19] + ".000Z" for t in _TEXTS(_ENCODE(stamps))]


def _hour_rule(ts: datetime, tz: ZoneInfo) -> Rule:
    start = ts.replace(minute=0, second=0, microsecond=0)
    try:
        offset = start.astimezone(tz).utcoffset()
        if offset is None or (start + _HOUR_END).astimezone(tz).utcoffset() != offset:
            return None
        first, last = local_day_hour(start, tz), local_day_hour(start + _HOUR_END, tz)
    except (OverflowError, ValueError):  # the hour reaches past datetime's range: compute each event
        return None
    return first if first == last else offset


def _rule(tz: ZoneInfo, hour_key: str, ts: datetime) -> Rule:
    key = (tz.key, hour_key)
    if key in _LOCAL:
        return _LOCAL[key]
    if len(_LOCAL) >= _LOCAL_MAX:
        _LOCAL.clear()
    rule = _LOCAL[key] = _hour_rule(ts, tz)
    return rule


def _apply(rule: Rule, ts: datetime, tz: ZoneInfo) -> tuple[str, int]:
    if rule is None:
        return local_day_hour(ts, tz)
    if isinstance(rule, timedelta):
        local = ts + rule
        return local.date().isoformat(), local.hour
    return rule


def day_hours(stamps: Sequence[datetime], texts: Sequence[str], tz: ZoneInfo) -> list[tuple[str, int]]:
    """``local_day_hour(ts, tz)`` of each UTC timestamp, given its ``ts_texts`` rendering."""
    keys = [t[:13] for t in texts]  # the UTC hour: any timestamp within it gives the same rule
    rules = {key: _rule(tz, key, ts) for key, ts in dict(zip(keys, stamps, strict=True)).items()}
    if all(type(rule) is tuple for rule in rules.values()):  # the usual case: whole hours, one local hour each
        return list(map(cast(dict[str, tuple[str, int]], rules).__getitem__, keys))
    return [_apply(rules[key], ts, tz) for key, ts in zip(keys, stamps, strict=True)]


@dataclass(frozen=True)
class BatchRows:
    """A batch's events to insert: its constants once, then one column per ``EVENT_COLUMNS`` entry."""

    device_id: str
    location_id: str
    batch_id: str
    received: str
    cols: Columns

    def __len__(self) -> int:
        return len(self.cols[0])

    @property
    def ids(self) -> tuple[str, ...]:
        return self.cols[0]

    def constants(self) -> Row:
        """The ``BATCH_COLUMNS`` values."""
        return self.device_id, self.location_id, self.batch_id, self.received

    def values(self) -> list[Row]:
        """Each event's ``EVENT_COLUMNS`` values."""
        return list(zip(*self.cols, strict=True))

    def only(self, keep: Sequence[bool]) -> BatchRows:
        """The same batch with the events where ``keep`` is true."""
        cols = tuple(tuple(compress(col, keep)) for col in self.cols)
        return BatchRows(self.device_id, self.location_id, self.batch_id, self.received, cols)


def batch_rows(
    device_id: str, location_id: str, batch_id: str, events: Columns, tz: ZoneInfo, received: str
) -> BatchRows:
    """The rows to insert for a batch's events (their ``columns``), with each one's local day in ``tz``."""
    ids, seqs, stamps, zones, clock_ok, questions, scales, values, reasons, sources, misuse, versions, boots, monos = (
        events[: len(FIELDS)]
    )
    if not ids:
        return BatchRows(device_id, location_id, batch_id, received, tuple(() for _ in EVENT_COLUMNS))
    texts = tuple(ts_texts(stamps))
    days, hours = zip(*day_hours(stamps, texts, tz), strict=True)
    cols = (ids, seqs, texts, days, hours, zones, clock_ok, questions, scales, values, reasons, sources, misuse,
            versions, boots, monos)  # fmt: skip
    return BatchRows(device_id, location_id, batch_id, received, cols)
