"""Which tables ``touchpoint-hub db copy`` moves, and how each is moved.

The list of tables is read from the schema's own steps (:mod:`hub.storage.sql.schema`), never
written out by hand: a table that a future migration adds has no :data:`KINDS` entry, and the copy
stops with :class:`UnknownTable` before it writes anything, instead of leaving the table behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from hub.storage.sql.schema import STEPS


class Kind(Enum):
    """How a table is copied; each is safe to run again and to resume after a kill."""

    APPEND = "append"
    """Rows are only ever inserted, with an increasing integer key (events, quarantine, dead letters):
    copied in key order from the target's highest key on, ``ON CONFLICT DO NOTHING``."""
    MIRROR = "mirror"
    """Rows change and go (devices, tokens, alert episodes, webhook deliveries...): upserted in key order,
    changed only where a column differs, then keys gone from the source are deleted."""
    ROLLUP = "rollup"
    """Counts derived from events: never copied, but added up from the events each copy transaction
    inserts, in that same transaction, as ingest does. So they always equal a recount of the copied events."""
    REPLACE = "replace"
    """No key (login failures, short-lived): replaced as a whole in one transaction when it differs."""


KINDS: dict[str, Kind] = {
    "locations": Kind.MIRROR,
    "devices": Kind.MIRROR,
    "events": Kind.APPEND,
    "rollup_day": Kind.ROLLUP,
    "rollup_hour": Kind.ROLLUP,
    "dead_letters": Kind.APPEND,
    "tokens": Kind.MIRROR,
    "rollup_reason": Kind.ROLLUP,
    "surveys": Kind.MIRROR,
    "survey_assignments": Kind.MIRROR,
    "device_configs": Kind.MIRROR,
    "alert_rules": Kind.MIRROR,
    "alert_events": Kind.MIRROR,
    "webhook_deliveries": Kind.MIRROR,
    "sessions": Kind.MIRROR,
    "broker_accounts": Kind.MIRROR,
    "registry_settings": Kind.MIRROR,
    "quarantine": Kind.APPEND,
    "login_failures": Kind.REPLACE,
    "rollup_month": Kind.ROLLUP,
    "actions": Kind.MIRROR,  # edited and soft-deleted at HQ: mirrored, not appended
    "alert_inbox": Kind.MIRROR,  # acknowledged / assigned state, changes
    "alert_notes": Kind.APPEND,  # the thread of notes: only ever added
    "digest_subscriptions": Kind.MIRROR,  # claimed slots and delivery state change
}

_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
_DROP_TABLE = re.compile(r"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
_RENAME_TABLE = re.compile(r"^\s*ALTER\s+TABLE\s+(\w+)\s+RENAME\s+TO\s+(\w+)", re.IGNORECASE)


class CopyError(RuntimeError):
    """The copy cannot go on; the message says why and what to do."""


class UnknownTable(CopyError):
    """A table of the schema that the copier has no rule for."""


def schema_tables() -> list[str]:
    """Every table the hub's migrations leave, in the order they create them (a table rebuilt by a later
    step, as ``rollup_month`` by step 11, created, dropped and renamed, comes where its new one was created)."""
    found: list[str] = []
    for step in STEPS:
        for sql in step.statements:
            if (match := _CREATE_TABLE.match(sql)) and match.group(1) not in found:
                found.append(match.group(1))
            elif match := _DROP_TABLE.match(sql):
                found.remove(match.group(1))
            elif match := _RENAME_TABLE.match(sql):
                found[found.index(match.group(1))] = match.group(2)
    return found


@dataclass(frozen=True)
class TablePlan:
    """One table as the copy sees it: how to copy it, its columns (source order) and its primary key."""

    table: str
    kind: Kind
    columns: tuple[str, ...]
    key: tuple[str, ...]  # empty for REPLACE tables
    types: tuple[str, ...]  # each column's type in the target: text, bigint, integer, bytea


def kind_of(table: str) -> Kind:
    kind = KINDS.get(table)
    if kind is None:
        raise UnknownTable(
            f"table {table!r} is in the hub's schema (hub/storage/sql/schema.py) but `db copy` does not know how "
            "to copy it: add it to KINDS in hub/storage/copy_tables.py (append, mirror, rollup or replace)"
        )
    return kind


def copy_order(tables: list[str]) -> list[str]:
    """The schema's tables, rollups last: they are checked after the events they are counted from."""
    return sorted(tables, key=lambda t: kind_of(t) is Kind.ROLLUP)
