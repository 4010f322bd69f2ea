"""Start and stop the HQ background services beside ingest, in the app's lifespan.

Config push needs the hub's MQTT client, so it runs only with ingest; alert
evaluation and webhook delivery read and write storage only.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.core.config import HubSettings
from hub.ingest import IngestService
from hub.services.alerts import AlertEvaluator
from hub.services.config_push import ConfigPushService
from hub.services.webhooks import WebhookSender
from hub.storage.base import Storage


@dataclass
class HqServices:
    settings: HubSettings
    config_push: ConfigPushService | None
    alerts: AlertEvaluator
    webhooks: WebhookSender

    def stop(self) -> None:
        self.alerts.stop()
        self.webhooks.stop()
        if self.config_push is not None:
            self.config_push.stop()


def start_hq_services(storage: Storage, settings: HubSettings, ingest: IngestService | None) -> HqServices:
    webhooks = WebhookSender(
        storage,
        retry_base_s=settings.webhook_retry_base_s,
        max_attempts=settings.webhook_max_attempts,
        timeout_s=settings.webhook_timeout_s,
        poll_s=min(1.0, settings.webhook_retry_base_s),
    )
    alerts = AlertEvaluator(storage, settings.alert_interval_s, on_fired=webhooks.wake)
    push = None
    if ingest is not None:
        push = ConfigPushService(storage, ingest.client, ingest.connected)
        ingest.device_hooks.append(push.devices_seen)
        push.start()
    webhooks.start()
    alerts.start()
    return HqServices(settings, push, alerts, webhooks)
