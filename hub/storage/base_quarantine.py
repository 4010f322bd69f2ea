"""The storage contract for quarantined events (see :mod:`hub.domain.quarantine`).

Part of :class:`hub.storage.base.Storage`; SQLite implements it in
:mod:`hub.storage.sql.quarantine`. Ingest writes the quarantine inside its
own transaction; this is the read side for the admin API and /metrics.
"""

from __future__ import annotations

from typing import Protocol


class QuarantineStorage(Protocol):
    def quarantine_list(
        self, limit: int, device_id: str | None = None, cause: str | None = None, before: int | None = None
    ) -> list[dict[str, object]]:
        """Quarantined events, newest first; ``before`` pages on the ``pk`` of the last row seen."""
        ...

    def quarantine_summary(self) -> dict[str, object]:
        """``{"total": n, "by_cause": {cause: n}, "by_device": {device_id: n}}``."""
        ...
