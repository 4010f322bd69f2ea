"""Reading the quarantine, shared by both backends."""

from __future__ import annotations

from hub.storage.sql.db import SqlHost

_LIST_COLUMNS = (
    "pk, id, device_id, location_id, seq, ts, claimed_day, claimed_hour, tz, clock_ok, question_id, scale, value, "
    "reason, source, misuse, boot_id, mono_ms, batch_id, received_at, cause, detail"
)


class SqlQuarantine(SqlHost):
    def quarantine_list(
        self, limit: int, device_id: str | None = None, cause: str | None = None, before: int | None = None
    ) -> list[dict[str, object]]:
        clauses: list[str] = ["TRUE"]
        params: list[object] = []
        for column, value in (("device_id", device_id), ("cause", cause)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if before is not None:
            clauses.append("pk < ?")
            params.append(before)
        cur = self._reader().execute(
            f"SELECT {_LIST_COLUMNS} FROM quarantine WHERE {' AND '.join(clauses)} ORDER BY pk DESC LIMIT ?",
            [*params, limit],
        )
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        for row in rows:
            for flag in ("clock_ok", "misuse"):
                row[flag] = bool(row[flag])
        return rows

    def quarantine_summary(self) -> dict[str, object]:
        conn = self._reader()
        by_cause = {str(c): int(n) for c, n in conn.execute("SELECT cause, COUNT(*) FROM quarantine GROUP BY cause")}
        by_device = {
            str(d): int(n) for d, n in conn.execute("SELECT device_id, COUNT(*) FROM quarantine GROUP BY device_id")
        }
        return {"total": sum(by_cause.values()), "by_cause": by_cause, "by_device": by_device}
