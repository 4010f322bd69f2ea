"""This worker's Prometheus metrics: one ``CollectorRegistry`` per app, read live at scrape time.

The hub already counts what matters (ingest stats, service stats, table
counts); :class:`HubCollector` turns them into metric families when scraped,
so nothing is counted twice. Each app gets its own registry, never the
process-global default, so two apps in one process (tests) stay apart.

Counters are this worker's own; sum them across workers (Prometheus gives
each scrape target its own ``instance`` label). Gauges read from the shared
database (``touchpoint_devices``, ``touchpoint_alerts_firing``, ...) are the
same on every worker: take ``max``, not ``sum``. See docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from edge_agent import __version__
from hub.storage.base import Storage

if TYPE_CHECKING:  # ingest creates its latency histogram here: no import back at run time
    from hub.ingest import IngestService
    from hub.services.runtime import HqServices

# Ack latency at the hub is milliseconds normally, seconds when the database is busy.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ACK_LATENCY = "touchpoint_ack_latency_seconds"
ACK_LATENCY_HELP = "Time from MQTT receive of a batch to its ack publish."

INGEST_COUNTERS = (
    ("messages", "MQTT messages taken in (batches, statuses, rejects)."),
    ("events_inserted", "Events newly stored and counted."),
    ("duplicates", "Events received again and acked as duplicates."),
    ("rejected", "Events refused with a reason in the ack."),
    ("dead_letters", "Payloads or events stored as dead letters by this process."),
    ("quarantined", "Events kept in quarantine (untrusted timestamps, never counted) by this process."),
    ("acks_published", "Application acks published after commit."),
    ("commits", "Ingest transactions committed (group commits)."),
    ("commit_failures", "Ingest transactions that failed and were retried."),
)


def ack_latency_histogram() -> Histogram:
    """Unregistered: the worker's collector exposes it, in the worker's own registry."""
    return Histogram(ACK_LATENCY, ACK_LATENCY_HELP, buckets=LATENCY_BUCKETS_S, registry=None)


@dataclass(frozen=True)
class WorkerSources:
    """What a worker's metrics are read from; ``ingest`` and ``hq`` are None in an API-only app."""

    worker: str
    backend: str
    storage: Storage
    ingest: IngestService | None
    hq: HqServices | None


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


class HubCollector(Collector):
    def __init__(self, sources: WorkerSources) -> None:
        self.sources = sources
        self._empty_latency = ack_latency_histogram()

    def collect(self) -> Iterator[Metric]:
        src = self.sources
        yield InfoMetricFamily("touchpoint_build", "The hub's version.", value={"version": __version__})
        role = "follower" if src.hq is None else src.hq.election.role
        yield InfoMetricFamily(
            "touchpoint_worker",
            "This hub worker: its id (MQTT client id @ HTTP address), database backend and leader role.",
            value={"worker": src.worker, "backend": src.backend, "role": role},
        )
        yield _gauge("touchpoint_leader", "1 while this worker holds leadership and runs the singleton work.",
                     int(role == "leader"))  # fmt: skip
        yield from self._ingest(src.ingest)
        yield from self._database(src.storage)
        yield from self._services(src.hq)

    def _ingest(self, ingest: IngestService | None) -> Iterator[Metric]:
        connected = int(bool(ingest and ingest.connected.is_set()))
        yield _gauge("touchpoint_mqtt_connected", "1 while the hub's MQTT client is connected.", connected)
        stats = ingest.stats if ingest is not None else None
        for field, help_text in INGEST_COUNTERS:
            yield _counter(f"touchpoint_ingest_{field}_total", help_text, getattr(stats, field) if stats else 0)
        latency = ingest.ack_latency if ingest is not None else self._empty_latency
        yield from latency.collect()

    def _database(self, storage: Storage) -> Iterator[Metric]:
        counts = storage.ops_counts()
        yield _counter("touchpoint_dead_letters_total", "Dead letters stored, all time.", counts["dead_letters"])
        yield _gauge("touchpoint_devices", "Devices known to the hub.", counts["devices"])
        yield _gauge("touchpoint_devices_online", "Devices whose retained status says online.",
                     counts["devices_online"])  # fmt: skip
        yield _gauge("touchpoint_alert_rules_enabled", "Enabled alert rules.", counts["alert_rules_enabled"])
        yield _gauge("touchpoint_alerts_firing", "Alert episodes firing now.", counts["alerts_firing"])
        deliveries = GaugeMetricFamily(
            "touchpoint_webhook_deliveries",
            "Webhook deliveries by state (pending includes those being retried).",
            labels=["status"],
        )
        for status in ("pending", "delivered", "failed"):
            deliveries.add_metric([status], counts[f"deliveries_{status}"])
        yield deliveries

    def _services(self, hq: HqServices | None) -> Iterator[Metric]:
        if hq is None:
            return
        a, w, e = hq.alerts.stats, hq.webhooks.stats, hq.election.stats
        yield _counter("touchpoint_alert_evaluations_total", "Alert evaluation passes.", a.runs)
        yield _counter("touchpoint_alert_evaluation_errors_total", "Alert rules or passes that failed to evaluate.",
                       a.errors)  # fmt: skip
        yield _gauge("touchpoint_alert_evaluation_seconds", "Duration of the last alert evaluation pass.",
                     a.last_duration_s)  # fmt: skip
        yield _counter("touchpoint_alerts_fired_total", "Alert episodes opened by this process.", a.fired)
        yield _counter("touchpoint_webhook_attempts_total", "Webhook POST attempts.", w.attempts)
        yield _counter("touchpoint_webhook_retries_total", "Webhook attempts that failed and were rescheduled.",
                       w.retries)  # fmt: skip
        yield _counter("touchpoint_leader_elections_total", "Times this worker became leader.", e.elections_won)
        yield _counter("touchpoint_leader_losses_total", "Times this worker lost leadership while running.",
                       e.leadership_lost)  # fmt: skip
        if hq.config_push is not None:
            p = hq.config_push.stats
            yield _counter("touchpoint_config_pushes_total", "Device configs published and acknowledged.",
                           p.published)  # fmt: skip
            yield _counter("touchpoint_config_push_failures_total", "Config publishes not acknowledged in time.",
                           p.failures)  # fmt: skip


def worker_registry(sources: WorkerSources) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(sources))
    return registry
