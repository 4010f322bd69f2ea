"""Start and stop the HQ background services beside ingest, in the app's lifespan.

Every worker ingests and serves the API. The singleton work (alert
evaluation, which also detects offline devices; webhook delivery; config
push; scheduled digests) runs on the one worker that holds leadership (hub/services/leadership.py):
each loop asks ``election.holds`` before it acts, so followers idle and take
over within ``leader_retry_s`` when the leader dies. Config push needs the
hub's MQTT client, so it runs only with ingest.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.core.config import HubSettings
from hub.ingest import IngestService
from hub.services.alerts import AlertEvaluator
from hub.services.config_push import ConfigPushService
from hub.services.digest_scheduler import DigestScheduler
from hub.services.election import LeaderElection
from hub.services.leadership import leadership_for
from hub.services.webhooks import WebhookSender
from hub.storage.base import Storage


@dataclass
class HqServices:
    settings: HubSettings
    election: LeaderElection
    config_push: ConfigPushService | None
    alerts: AlertEvaluator
    webhooks: WebhookSender
    digests: DigestScheduler

    def stop(self) -> None:
        self.digests.stop()
        self.alerts.stop()
        self.webhooks.stop()
        if self.config_push is not None:
            self.config_push.stop()
        self.election.stop()  # last: a successor takes over once this worker's effects have ended


def worker_id(settings: HubSettings) -> str:
    """How logs, /healthz and /metrics name this worker: its MQTT client id (unique per worker) and HTTP address."""
    return f"{settings.client_id}@{settings.host}:{settings.port}"


def start_hq_services(storage: Storage, settings: HubSettings, ingest: IngestService | None) -> HqServices:
    election = LeaderElection(leadership_for(settings.db), settings.leader_retry_s, worker_id(settings))
    webhooks = WebhookSender(
        storage,
        retry_base_s=settings.webhook_retry_base_s,
        max_attempts=settings.webhook_max_attempts,
        timeout_s=settings.webhook_timeout_s,
        poll_s=min(1.0, settings.webhook_retry_base_s),
        holds=election.holds,
    )
    alerts = AlertEvaluator(storage, settings.alert_interval_s, on_fired=webhooks.wake, holds=election.holds)
    election.on_elected.append(webhooks.wake)  # deliveries a dead leader left pending go out now
    digests = DigestScheduler(storage, settings, holds=election.holds)  # scheduled digests, each slot once
    election.on_elected.append(digests.wake)
    push = None
    if ingest is not None:
        pusher = ConfigPushService(storage, ingest.client, ingest.connected, holds=election.holds)
        ingest.device_hooks.append(pusher.devices_seen)
        ingest.action_hooks.append(lambda places: pusher.request_all(f"new actions at {', '.join(sorted(places))}"))
        election.on_elected.append(lambda: pusher.request_all("this worker became leader"))
        push = pusher
    election.start()
    if push is not None:
        push.start()
    webhooks.start()
    alerts.start()
    digests.start()
    return HqServices(settings, election, push, alerts, webhooks, digests)
