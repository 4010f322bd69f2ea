"""``/api/v1/locations``: list and read locations within scope; register and edit them (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from edge_agent.protocol import ID_PATTERN
from hub.api.deps import AdminDep, ScopeDep, StorageDep, service_errors
from hub.services import analytics_locations as service
from hub.services.analytics_locations import LocationCreate, LocationUpdate

router = APIRouter(prefix="/api/v1", tags=["locations"])
LocationId = Annotated[str, Path(pattern=ID_PATTERN, description="the location's id")]


@router.get("/locations", summary="Locations in your region scope, with region, time zone and opening hours")
def locations(storage: StorageDep, scope: ScopeDep) -> dict[str, object]:
    return {"rows": [record.as_dict() for record in service.list_locations(storage, scope)]}


@router.get("/locations/{location_id}", summary="One location (403 outside your region scope)")
def location(storage: StorageDep, scope: ScopeDep, location_id: LocationId) -> dict[str, object]:
    with service_errors():
        return service.get_location(storage, scope, location_id).as_dict()


@router.post(
    "/locations",
    status_code=status.HTTP_201_CREATED,
    summary="Register a location, or take over one first seen from events (admin)",
)
def register(storage: StorageDep, _admin: AdminDep, body: LocationCreate) -> dict[str, object]:
    """Sets ``timezone_source`` to 'registered'; 409 if it is registered already (use PATCH)."""
    with service_errors():
        return service.register_location(storage, body).as_dict()


@router.patch("/locations/{location_id}", summary="Change a registered location's fields (admin)")
def update(storage: StorageDep, _admin: AdminDep, location_id: LocationId, body: LocationUpdate) -> dict[str, object]:
    """Only the fields sent change; null clears region or opening hours. A new zone applies to new events."""
    with service_errors():
        return service.update_location(storage, location_id, body).as_dict()
