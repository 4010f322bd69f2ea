"""Webhook delivery: a durable queue (``webhook_deliveries``) drained by one thread, retried with backoff.

A delivery is queued in the same transaction as its alert, so an alert is
never lost between firing and sending. Each attempt is leased first (hidden
from other senders for the lease), so two hub workers never post it twice at
once. Failures back off exponentially with jitter until ``max_attempts``;
then the delivery is marked failed. Nothing a receiver does can crash the hub.

Only the leader worker sends (``holds``), and it asks again before each POST.
Every attempt of a delivery carries the same ``Idempotency-Key`` header (and
``idempotency_key`` in the JSON body), so a receiver can drop the repeat that
a worker which lost leadership mid-send, or a retry after a lost answer, makes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from edge_agent import __version__
from hub.services.alert_rules import GOOD_NEWS_KINDS, redact_url
from hub.storage.base import Storage
from hub.storage.base_alerts import AlertEvent, AlertRule, Delivery

log = logging.getLogger("touchpoint.hub.webhooks")
MAX_BACKOFF_S = 3600.0
LEASE_MARGIN_S = 30.0


def slack_body(rule: AlertRule, event: AlertEvent) -> str:
    """Slack-compatible (``text``), plus the same facts as structured fields for other receivers.

    Praise (a good-news kind) reads as good news, not as an alarm; ``alert.kind`` tells receivers apart.
    """
    key = event.key
    where = key.location_id or "fleet"
    if key.device_id:
        where += f"/{key.device_id}"
    if rule.spec.kind in GOOD_NEWS_KINDS:
        text = f":tada: Good news from Touchpoint: {rule.spec.name} ({where}): {event.message}"
    else:
        text = f":rotating_light: Touchpoint alert: {rule.spec.name} ({where}): {event.message}"
    body = {
        "text": text,
        "alert": {
            "alert_id": event.alert_id,
            "state": event.state,
            "rule_id": rule.rule_id,
            "rule_name": rule.spec.name,
            "kind": rule.spec.kind,
            "location_id": key.location_id,
            "device_id": key.device_id,
            "fired_at": event.fired_at,
            "message": event.message,
            "details": event.details,
        },
    }
    return json.dumps(body, ensure_ascii=False)


def idempotency_key(delivery: Delivery) -> str:
    """The same for every attempt of one delivery, and unlike any other hub's: ids plus a digest of the body."""
    digest = hashlib.sha256(f"{delivery.delivery_id}:{delivery.alert_id}:{delivery.body}".encode()).hexdigest()
    return f"touchpoint-alert-{delivery.alert_id}-delivery-{delivery.delivery_id}-{digest[:16]}"


def with_idempotency_key(body: str, key: str) -> str:
    """The stored body with ``idempotency_key`` added (a body that is not a JSON object is sent as stored)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    if not isinstance(parsed, dict):
        return body
    return json.dumps({**parsed, "idempotency_key": key}, ensure_ascii=False)


def backoff_delay(attempt: int, base_s: float, rng: Callable[[float, float], float] = random.uniform) -> float:
    """Delay before retry number ``attempt + 1``: base * 2^(attempt-1), capped, with ±20% jitter."""
    return min(MAX_BACKOFF_S, base_s * 2.0 ** min(attempt - 1, 30)) * rng(0.8, 1.2)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would silently become a GET: treat any 3xx as a failed delivery instead."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post_json(url: str, body: str, timeout_s: float, key: str) -> str | None:
    """POST ``body``; None on a 2xx, else a short reason (status or network error) without the URL's secret."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"touchpoint-hub/{__version__}",
        "Idempotency-Key": key,
    }
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)
    try:
        with _opener.open(request, timeout=timeout_s) as response:
            status = int(response.status)
            if 200 <= status < 300:
                return None
            return f"HTTP {status}"
    except urllib.error.HTTPError as exc:
        detail = exc.read(200).decode("utf-8", errors="replace").strip()
        return f"HTTP {exc.code}" + (f": {detail}" if detail else "")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{type(exc).__name__}: {reason}"


@dataclass
class WebhookStats:
    attempts: int = 0
    delivered: int = 0
    retries: int = 0
    failed: int = 0


class WebhookSender:
    def __init__(
        self,
        storage: Storage,
        retry_base_s: float,
        max_attempts: int,
        timeout_s: float,
        poll_s: float = 1.0,
        post: Callable[[str, str, float, str], str | None] = post_json,
        holds: Callable[[], bool] = lambda: True,
    ) -> None:
        self.storage = storage
        self.holds = holds
        self.retry_base_s = retry_base_s
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.post = post
        self.stats = WebhookStats()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self.timeout_s + 5)

    def wake(self) -> None:
        """New deliveries were queued: send now rather than at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.holds():  # a follower sends nothing: the leader drains the queue
                    self.send_due()
            except Exception:  # storage trouble: keep the thread alive and try again at the next poll
                log.exception("webhook delivery pass failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def send_due(self, limit: int = 20) -> int:
        """Attempt every due delivery once; returns how many were attempted."""
        lease = self.timeout_s + LEASE_MARGIN_S
        due = self.storage.claim_deliveries(datetime.now(UTC), lease, limit)
        for delivery in due:
            if self._stop.is_set() or not self.holds():
                break  # its lease runs out and a later pass (or the new leader) retries it
            self._attempt(delivery)
        return len(due)

    def _attempt(self, d: Delivery) -> None:
        self.stats.attempts += 1
        where = redact_url(d.url)
        key = idempotency_key(d)
        try:
            error = self.post(d.url, with_idempotency_key(d.body, key), self.timeout_s, key)
        except Exception as exc:  # a bug in posting must not kill the sender
            error = f"{type(exc).__name__}: {exc}"
        now = datetime.now(UTC)
        if error is None:
            self.storage.finish_delivery(d.delivery_id, now, None, None)
            self.stats.delivered += 1
            log.info("webhook for alert %d delivered to %s (attempt %d)", d.alert_id, where, d.attempts)
        elif d.attempts >= self.max_attempts:
            self.storage.finish_delivery(d.delivery_id, now, error, None)
            self.stats.failed += 1
            log.error("webhook for alert %d to %s failed for good after %d attempts: %s", d.alert_id, where,
                      d.attempts, error)  # fmt: skip
        else:
            delay = backoff_delay(d.attempts, self.retry_base_s)
            self.storage.finish_delivery(d.delivery_id, now, error, now + timedelta(seconds=delay))
            self.stats.retries += 1
            log.warning("webhook for alert %d to %s failed (attempt %d of %d): %s; retrying in %.1f s", d.alert_id,
                        where, d.attempts, self.max_attempts, error, delay)  # fmt: skip
