"""Devices, dead letters and table counts, shared by both backends."""

from __future__ import annotations

from typing import cast

from hub.storage.sql.db import SqlHost


class SqlFleet(SqlHost):
    def _dicts(self, sql: str, params: tuple[object, ...] = ()) -> list[dict[str, object]]:
        cur = self._reader().execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def devices(self) -> list[dict[str, object]]:
        rows = self._dicts(
            "SELECT device_id, location_id, online, version, backlog, last_sync, clock_ok, held, first_seen, "
            "last_seen, status_at, last_batch_id, last_batch_at, events_received FROM devices ORDER BY device_id"
        )
        for row in rows:
            for flag in ("online", "clock_ok"):
                if row[flag] is not None:
                    row[flag] = bool(row[flag])
        return rows

    def dead_letter_list(self, limit: int) -> list[dict[str, object]]:
        rows = self._dicts(
            "SELECT pk AS id, received_at, topic, reason, payload FROM dead_letters ORDER BY pk DESC LIMIT ?",
            (limit,),
        )
        for row in rows:
            raw = bytes(cast(bytes, row.pop("payload")))
            row["payload_bytes"] = len(raw)
            row["payload_preview"] = raw[:200].decode("utf-8", errors="replace")
        return rows

    def counts(self) -> dict[str, int]:
        conn = self._reader()
        out = {}
        for table in ("events", "dead_letters", "devices", "locations"):
            out[table] = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        out["devices_online"] = int(conn.execute("SELECT COUNT(*) FROM devices WHERE online = 1").fetchone()[0])
        return out
