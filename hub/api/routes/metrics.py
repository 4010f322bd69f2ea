"""``GET /metrics``: this worker's Prometheus registry (hub/services/metrics.py).

Open by default, like ``/healthz``: it holds only aggregate numbers (no ids,
no URLs, no tokens), the hub binds to 127.0.0.1 unless told otherwise, and
scrapers rarely hold API tokens. Set ``TOUCHPOINT_HUB_METRICS_AUTH=true`` to
require any valid API token (Prometheus ``authorization`` / ``bearer_token``).
Counters are per hub worker and restart from 0, which ``rate()`` handles.
The text format is negotiated from ``Accept`` (OpenMetrics when asked for).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from hub.api.deps import StorageDep, require_token
from hub.services.runtime import HqServices

router = APIRouter(tags=["operations"])
_bearer = HTTPBearer(auto_error=False, description="Only when TOUCHPOINT_HUB_METRICS_AUTH=true.")


@router.get("/metrics", summary="Prometheus metrics (open unless TOUCHPOINT_HUB_METRICS_AUTH=true)")
def metrics(
    request: Request,
    storage: StorageDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    hq: HqServices | None = getattr(request.app.state, "hq", None)
    if hq is not None and hq.settings.metrics_auth:
        require_token(storage, credentials)
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics", None)
    if registry is None:
        raise HTTPException(status_code=503, detail="the hub is starting: no metrics yet")
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), media_type=content_type)
