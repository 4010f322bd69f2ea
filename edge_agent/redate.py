"""Re-dating taps recorded while the device's clock could not be trusted.

A Raspberry Pi has no RTC. It can boot at a wrong time (1970, or the last
shutdown time saved by fake-hwclock) and jump when NTP syncs. Every tap
records ``clock_ok``, the boot id and the monotonic ms since boot
(``CLOCK_BOOTTIME``, which never jumps). Once the wall clock is trustworthy,
a pending tap of the *same boot* happened at::

    true_ts = now_wall - (now_mono_ms - tap_mono_ms)

:func:`redate_pending` rewrites such taps (``ts``, ``local_day``,
``local_hour``, ``clock_ok=1``, ``redated=1``) and moves them to the right
bucket of ``daily_counts``, in one transaction. Taps of an earlier boot cannot
be re-dated: the monotonic clock restarted. They are sent with
``clock_ok=false`` and the hub quarantines them (stored, visible, never counted
on a day it cannot know).

While the clock is still untrusted, the sync agent holds back this boot's
untrusted taps for up to :data:`HOLD_S` (see :func:`hold_window`), so that NTP
has a chance to sync before they leave the device.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from edge_agent.protocol import format_ts, load_zone

if TYPE_CHECKING:
    from edge_agent.store import DeviceStore

# How long (uptime) a tap recorded with an untrusted clock waits on the device for NTP.
HOLD_S = 3600.0


def hold_window(boot_id: str, now_mono_ms: int, hold_s: float = HOLD_S) -> tuple[str, int]:
    """``pending_after(hold_unclocked=...)``: this boot's untrusted taps younger than ``hold_s`` stay.

    Younger means strictly: a tap ``hold_s`` old leaves, so ``hold_s=0`` holds nothing.
    """
    return boot_id, now_mono_ms - int(hold_s * 1000)


def redate_pending(
    store: DeviceStore, now: datetime, now_mono_ms: int, boot_id: str, skip_ids: Collection[str] = ()
) -> int:
    """Re-date this boot's pending untrusted taps from the monotonic clock; return how many changed.

    Call it only while the wall clock ``now`` is trusted. ``skip_ids`` are taps already in flight:
    the hub may hold them as sent, so they are left as they are.
    """
    waiting = store.db.execute(
        "SELECT 1 FROM events WHERE sync_state = 0 AND clock_ok = 0 AND boot_id = ? LIMIT 1", (boot_id,)
    ).fetchone()
    if waiting is None:  # the usual case: a read on a tiny partial index, no write lock
        return 0
    with store.write() as conn:
        rows = conn.execute(
            """SELECT seq, id, tz, local_day, local_hour, question_id, scale, value, misuse, mono_ms
               FROM events WHERE sync_state = 0 AND clock_ok = 0 AND boot_id = ?
                 AND mono_ms IS NOT NULL AND mono_ms <= ?""",
            (boot_id, now_mono_ms),
        ).fetchall()
        changed = 0
        for seq, event_id, tz_name, old_day, old_hour, question_id, scale, value, misuse, mono_ms in rows:
            zone = load_zone(tz_name)
            if event_id in skip_ids or zone is None:
                continue
            true_ts = now - timedelta(milliseconds=now_mono_ms - mono_ms)
            local = true_ts.astimezone(zone)
            day, hour = local.date().isoformat(), local.hour
            conn.execute(
                "UPDATE events SET ts = ?, local_day = ?, local_hour = ?, clock_ok = 1, redated = 1 WHERE seq = ?",
                (format_ts(true_ts), day, hour, seq),
            )
            if not misuse:
                _move_count(conn, (old_day, old_hour), (day, hour), (question_id, scale, value))
            changed += 1
    return changed


def _move_count(
    conn: sqlite3.Connection, old: tuple[str, int], new: tuple[str, int], answer: tuple[str, int, int]
) -> None:
    """One counted answer leaves its wrong (day, hour) bucket for the right one."""
    key = "day = ? AND hour = ? AND question_id = ? AND scale = ? AND value = ?"
    conn.execute(f"UPDATE daily_counts SET count = count - 1 WHERE {key}", (*old, *answer))
    conn.execute(f"DELETE FROM daily_counts WHERE {key} AND count <= 0", (*old, *answer))
    conn.execute(
        "INSERT INTO daily_counts (day, hour, question_id, scale, value, count) VALUES (?,?,?,?,?,1) "
        "ON CONFLICT DO UPDATE SET count = count + 1",
        (*new, *answer),
    )
