"""Failed-login throttling per client address, kept in the hub's storage.

Tokens carry 256 random bits, so guessing is hopeless anyway; the limit keeps a
misbehaving script from hammering the token table and makes abuse visible in
the logs. The failures are rows in storage, not process memory, so the limit
holds across every hub worker behind a load balancer; rows older than the
window are dropped as new failures arrive, so the table stays small.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class FailureStore(Protocol):
    """The part of :class:`hub.storage.base.Storage` the limiter uses."""

    def login_failures(self, client: str, since: datetime) -> list[str]: ...

    def record_login_failure(self, client: str, at: datetime, forget_before: datetime) -> None: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LoginLimiter:
    """At most ``limit`` failed logins per ``window_s`` seconds from one address, across workers."""

    def __init__(self, limit: int = 5, window_s: float = 60.0, clock: Callable[[], datetime] = _utc_now) -> None:
        self.limit = limit
        self.window = timedelta(seconds=window_s)
        self._clock = clock

    def retry_after(self, store: FailureStore, client: str) -> int:
        """Seconds until ``client`` may try again; 0 when it may try now."""
        now = self._clock()
        times = store.login_failures(client, now - self.window)
        if len(times) < self.limit:
            return 0
        oldest = datetime.fromisoformat(times[-self.limit])
        return max(1, math.ceil((oldest + self.window - now).total_seconds()))

    def failed(self, store: FailureStore, client: str) -> None:
        now = self._clock()
        store.record_login_failure(client, now, now - self.window)
