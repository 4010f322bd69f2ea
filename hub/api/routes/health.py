"""Liveness for load balancers and the test fixtures; open, no token."""

from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter()


@router.get("/healthz", summary="Liveness and MQTT connection state (no token needed)")
def healthz(request: Request) -> dict[str, object]:
    ingest = getattr(request.app.state, "ingest", None)
    return {
        "status": "ok",
        "mqtt_connected": bool(ingest and ingest.connected.is_set()),
        "ingest_commits": ingest.stats.commits if ingest else 0,
    }
