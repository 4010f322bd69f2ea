"""The FastAPI application: API routes over a storage, with MQTT ingest in the same process."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from edge_agent import __version__
from hub.api.routes import (
    actions,
    alert_inbox,
    alerts,
    digest_subscriptions,
    export,
    fleet,
    health,
    locations,
    metrics,
    reasons,
    scores,
    surveys,
    tokens,
)
from hub.api.routes import quarantine as quarantine_routes
from hub.core.config import HubSettings, redact_db
from hub.dashboard import router as dashboard_router
from hub.ingest import IngestService
from hub.services.metrics import WorkerSources, worker_registry
from hub.services.runtime import start_hq_services, worker_id
from hub.storage import open_storage

log = logging.getLogger("touchpoint.hub")


def create_app(settings: HubSettings, with_ingest: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        storage = open_storage(settings.db)
        app.state.storage = storage
        ingest = None
        if with_ingest:
            ingest = IngestService(storage, settings)
            ingest.start()
        app.state.ingest = ingest
        app.state.hq = start_hq_services(storage, settings, ingest)  # config push, alerts, webhooks
        sources = WorkerSources(worker_id(settings), settings.backend, storage, ingest, app.state.hq)
        app.state.metrics = worker_registry(sources)  # this worker's own registry, never the global one
        log.info("hub ready: db %s, broker %s, %s", redact_db(settings.db), settings.broker_url,
                 app.state.hq.election.role)  # fmt: skip
        # Everything imported and built so far lives as long as the process: out of the collector's sight,
        # a full collection no longer walks it in the middle of a request (it made the slowest scores 30 ms slower).
        gc.freeze()
        try:
            yield
        finally:
            app.state.hq.stop()
            if ingest is not None:
                ingest.stop()
            storage.close()

    app = FastAPI(
        title="Touchpoint hub",
        version=__version__,
        description="HQ API for in-store smiley feedback. Every /api call needs `Authorization: Bearer <token>`.",
        lifespan=lifespan,
    )
    for module in (health, metrics, scores, reasons, export, locations, fleet, surveys, alerts, actions, tokens):
        app.include_router(module.router)
    app.include_router(alert_inbox.router)  # after alerts: /alerts/rules is not an episode id
    app.include_router(digest_subscriptions.router)
    app.include_router(
        quarantine_routes.router
    )  # GET /api/v1/quarantine: kept, never counted (hub/domain/quarantine.py)
    app.include_router(dashboard_router)  # HTML pages at /, /locations/{id}, /devices, /login
    return app
