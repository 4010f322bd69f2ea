"""Liveness for load balancers and the test fixtures; open, no token."""

from __future__ import annotations

from fastapi import APIRouter, Request

from hub.services.runtime import HqServices

router = APIRouter()


@router.get("/healthz", summary="Liveness, MQTT connection, database backend and leader role (no token needed)")
def healthz(request: Request) -> dict[str, object]:
    ingest = getattr(request.app.state, "ingest", None)
    hq: HqServices | None = getattr(request.app.state, "hq", None)
    return {
        "status": "ok",
        "mqtt_connected": bool(ingest and ingest.connected.is_set()),
        "ingest_commits": ingest.stats.commits if ingest else 0,
        "backend": hq.settings.backend if hq else None,
        "role": hq.election.role if hq else "follower",
        "worker": hq.election.worker if hq else None,
    }
