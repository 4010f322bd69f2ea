"""Locations, devices and dead letters: what the hub knows about the fleet."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hub.api.deps import AdminDep, ScopeDep, StorageDep
from hub.services.analytics_locations import visible_devices

router = APIRouter(prefix="/api/v1", tags=["fleet"])


# GET /locations lives in hub/api/routes/locations.py (region-scoped, with the admin edits).


@router.get("/devices", summary="Devices: online (retained status and last will), backlog, version, clock")
def devices(storage: StorageDep, scope: ScopeDep) -> dict[str, object]:
    return {"rows": visible_devices(storage, scope)}  # an analyst with a region sees that region's devices


@router.get("/dead-letters", summary="Messages the hub could not ingest, newest first, with the reason (admin)")
def dead_letters(
    storage: StorageDep, _admin: AdminDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, object]:
    return {"rows": storage.dead_letter_list(limit), "total": storage.counts()["dead_letters"]}
