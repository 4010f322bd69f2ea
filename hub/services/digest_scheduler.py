"""Scheduled weekly digests: the leader sends each subscription's due slot, once, across every hub worker.

Every ``interval_s`` the worker that holds leadership loads the subscriptions,
asks :func:`hub.services.digest_schedule.due` which slots have passed unsent,
and for each one:

1. **claims the slot** in storage with a conditional update (``last_sent_at``
   from the value it read to the slot), which exactly one worker can win;
2. composes the digest as of the slot and sends it (e-mail or webhook);
3. records the outcome: delivered, or, on failure, gives the claim back so the
   slot is tried again on a later pass (with the error kept for the API).

Why claim *before* sending rather than mark after: leadership alone does not
fence a worker that lost its lock mid-pass (hub/services/election.py), and
marking after the send lets two workers that both saw the slot due each send
it. A claim first makes a duplicate impossible; the price is that a worker
killed between its claim and its send loses that slot's digest (at most once),
which for an e-mail that cannot be recalled is the better failure. A webhook
receiver may also drop repeats by the digest's Idempotency-Key.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.core.config import HubSettings
from hub.services.alert_rules import redact_url
from hub.services.digest_compose import compose
from hub.services.digest_schedule import DigestSubscription, due, latest_slot
from hub.services.digest_send import SmtpConfig, email_message, send_email, send_webhook
from hub.services.digest_subscriptions import schedule
from hub.storage.base import Storage

log = logging.getLogger("touchpoint.hub.digest")


@dataclass
class DigestStats:
    sent: int = 0
    failed: int = 0
    lost_claims: int = 0  # slots another worker claimed first


def send_subscription(storage: Storage, settings: HubSettings, sub: DigestSubscription, as_of: datetime) -> None:
    """Compose ``sub``'s digest as of ``as_of`` and deliver it; raises on any failure."""
    digest = compose(storage, sub.target, as_of)
    if sub.channel == "email":
        smtp = SmtpConfig.of(settings)
        send_email(smtp, email_message(digest, smtp.sender, [sub.address]))
    else:
        send_webhook(digest, sub.address, settings.webhook_timeout_s)


class DigestScheduler:
    def __init__(
        self,
        storage: Storage,
        settings: HubSettings,
        holds: Callable[[], bool] = lambda: True,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.holds = holds
        self.now = now
        self.stats = DigestStats()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="digest-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def wake(self) -> None:
        """Look now (e.g. on becoming leader) instead of at the next interval."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.holds():
                try:
                    self.run_once()
                except Exception:
                    log.exception("digest pass failed; trying again in %.0f s", self.settings.digest_interval_s)
            self._wake.wait(self.settings.digest_interval_s)
            self._wake.clear()

    def run_once(self) -> int:
        """Send every due slot this worker can claim; returns how many went out."""
        now = self.now()
        sent = 0
        for sub in due((schedule(r) for r in self.storage.digest_subscriptions()), now):
            if self._stop.is_set() or not self.holds():
                break
            slot = latest_slot(sub, now)
            if not self.storage.claim_digest_slot(sub.subscription_id, sub.last_sent_at, slot):
                self.stats.lost_claims += 1
                continue
            where = sub.address if sub.channel == "email" else redact_url(sub.address)
            error = None
            try:
                send_subscription(self.storage, self.settings, sub, slot)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.storage.finish_digest_slot(sub.subscription_id, slot, sub.last_sent_at, self.now(), error)
            if error is None:
                sent += 1
                self.stats.sent += 1
                log.info("digest %d (%s) for slot %s sent to %s", sub.subscription_id, sub.target, slot, where)
            else:
                self.stats.failed += 1
                log.warning("digest %d (%s) to %s failed, retried later: %s", sub.subscription_id, sub.target,
                            where, error)  # fmt: skip
        return sent
