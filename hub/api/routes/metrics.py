"""``GET /metrics``: Prometheus text for ingest, devices, alerts and webhooks.

Open by default, like ``/healthz``: it holds only aggregate numbers (no ids,
no URLs, no tokens), the hub binds to 127.0.0.1 unless told otherwise, and
scrapers rarely hold API tokens. Set ``TOUCHPOINT_HUB_METRICS_AUTH=true`` to
require any valid API token (Prometheus ``authorization`` / ``bearer_token``).
Counters are per hub process and restart from 0, which ``rate()`` handles.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edge_agent import __version__
from hub.api.deps import StorageDep, require_token
from hub.ingest import IngestService
from hub.services.metrics import Exposition, Histogram
from hub.services.runtime import HqServices

router = APIRouter(tags=["operations"])
_bearer = HTTPBearer(auto_error=False, description="Only when TOUCHPOINT_HUB_METRICS_AUTH=true.")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_EMPTY_LATENCY = Histogram()


def _ingest_metrics(out: Exposition, ingest: IngestService | None) -> None:
    s = ingest.stats if ingest is not None else None
    out.gauge("touchpoint_mqtt_connected", "1 while the hub's MQTT client is connected.",
              int(bool(ingest and ingest.connected.is_set())))  # fmt: skip
    counters = [
        ("messages", "MQTT messages taken in (batches, statuses, rejects)."),
        ("events_inserted", "Events newly stored and counted."),
        ("duplicates", "Events received again and acked as duplicates."),
        ("rejected", "Events refused with a reason in the ack."),
        ("dead_letters", "Payloads or events stored as dead letters by this process."),
        ("quarantined", "Events kept in quarantine (untrusted timestamps, never counted) by this process."),
        ("acks_published", "Application acks published after commit."),
        ("commits", "Ingest transactions committed (group commits)."),
        ("commit_failures", "Ingest transactions that failed and were retried."),
    ]
    for field, help_text in counters:
        out.counter(f"touchpoint_ingest_{field}_total", help_text, getattr(s, field) if s else 0)
    latency = ingest.ack_latency if ingest is not None else _EMPTY_LATENCY
    out.histogram(
        "touchpoint_ack_latency_seconds", "Time from MQTT receive of a batch to its ack publish.", latency.snapshot()
    )


def _service_metrics(out: Exposition, hq: HqServices | None) -> None:
    if hq is None:
        return
    a, w = hq.alerts.stats, hq.webhooks.stats
    out.counter("touchpoint_alert_evaluations_total", "Alert evaluation passes.", a.runs)
    out.counter("touchpoint_alert_evaluation_errors_total", "Alert rules or passes that failed to evaluate.", a.errors)
    out.gauge("touchpoint_alert_evaluation_seconds", "Duration of the last alert evaluation pass.", a.last_duration_s)
    out.counter("touchpoint_alerts_fired_total", "Alert episodes opened by this process.", a.fired)
    out.counter("touchpoint_webhook_attempts_total", "Webhook POST attempts.", w.attempts)
    out.counter("touchpoint_webhook_retries_total", "Webhook attempts that failed and were rescheduled.", w.retries)
    if hq.config_push is not None:
        p = hq.config_push.stats
        out.counter("touchpoint_config_pushes_total", "Device configs published and acknowledged.", p.published)
        out.counter("touchpoint_config_push_failures_total", "Config publishes not acknowledged in time.", p.failures)


@router.get("/metrics", summary="Prometheus metrics (open unless TOUCHPOINT_HUB_METRICS_AUTH=true)")
def metrics(
    request: Request,
    storage: StorageDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> PlainTextResponse:
    hq: HqServices | None = getattr(request.app.state, "hq", None)
    if hq is not None and hq.settings.metrics_auth:
        require_token(storage, credentials)
    out = Exposition()
    out.labelled("touchpoint_build_info", "gauge", "The hub's version.", [({"version": __version__}, 1)])
    _ingest_metrics(out, getattr(request.app.state, "ingest", None))
    counts = storage.ops_counts()
    out.counter("touchpoint_dead_letters_total", "Dead letters stored, all time.", counts["dead_letters"])
    out.gauge("touchpoint_devices", "Devices known to the hub.", counts["devices"])
    out.gauge("touchpoint_devices_online", "Devices whose retained status says online.", counts["devices_online"])
    out.gauge("touchpoint_alert_rules_enabled", "Enabled alert rules.", counts["alert_rules_enabled"])
    out.gauge("touchpoint_alerts_firing", "Alert episodes firing now.", counts["alerts_firing"])
    out.labelled(
        "touchpoint_webhook_deliveries",
        "gauge",
        "Webhook deliveries by state (pending includes those being retried).",
        [({"status": st}, counts[f"deliveries_{st}"]) for st in ("pending", "delivered", "failed")],
    )
    _service_metrics(out, hq)
    return PlainTextResponse(out.render(), media_type=CONTENT_TYPE)
