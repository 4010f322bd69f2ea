"""Registering and editing locations (admin), and listing them and their devices within the caller's scope.

A location first seen from events has ``timezone_source`` 'events'. Registering
it takes it over, zone included, and makes it 'registered'. Only registered
locations can be edited, so an admin always states a zone before changing one.
A new zone applies to events ingested from then on; stored days stay as they were.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from edge_agent.protocol import Identifier
from hub.services.analytics_errors import Conflict, NotFound
from hub.services.analytics_fields import Hours, RegionPath, TimezoneName
from hub.services.analytics_scope import Scope
from hub.storage.base import Storage
from hub.storage.base_analytics import LocationChanges, LocationRecord, LocationSpec


class LocationCreate(BaseModel):
    """Body of ``POST /api/v1/locations``; ``id`` is accepted for ``location_id``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "location_id": "helsinki-central", "name": "Helsinki Central", "region": "nordics/helsinki",
        "timezone": "Europe/Helsinki", "opening_hours": {"mon": ["08:00", "21:00"], "sat": ["10:00", "18:00"]},
    }]})  # fmt: skip

    location_id: Identifier = Field(validation_alias=AliasChoices("location_id", "id"))
    name: str = Field(min_length=1, max_length=200)
    timezone: TimezoneName
    region: RegionPath | None = None
    opening_hours: Hours | None = None

    def spec(self) -> LocationSpec:
        return LocationSpec(self.location_id, self.name, self.timezone, self.region, self.opening_hours)


class LocationUpdate(BaseModel):
    """Body of ``PATCH /api/v1/locations/{id}``: only the fields given change; null clears region or hours."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    region: RegionPath | None = None
    timezone: TimezoneName | None = None
    opening_hours: Hours | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("nothing to change: give name, region, timezone or opening_hours")
        for required in ("name", "timezone"):
            if required in self.model_fields_set and getattr(self, required) is None:
                raise ValueError(f"{required} cannot be cleared")
        return self

    def changes(self) -> LocationChanges:
        return LocationChanges(
            frozenset(self.model_fields_set), self.name, self.region, self.timezone, self.opening_hours
        )


def list_locations(storage: Storage, scope: Scope) -> list[LocationRecord]:
    return storage.location_records(scope.region)


def get_location(storage: Storage, scope: Scope, location_id: str) -> LocationRecord:
    record = storage.location(location_id)
    if record is None:
        raise NotFound(f"unknown location {location_id!r}")
    scope.check(record)
    return record


def register_location(storage: Storage, body: LocationCreate, now: datetime | None = None) -> LocationRecord:
    record = storage.register_location(body.spec(), now or datetime.now(UTC))
    if record is None:
        raise Conflict(f"location {body.location_id!r} is already registered: update it instead")
    return record


def update_location(
    storage: Storage, location_id: str, body: LocationUpdate, now: datetime | None = None
) -> LocationRecord:
    current = storage.location(location_id)
    if current is None:
        raise NotFound(f"unknown location {location_id!r}")
    if current.timezone_source != "registered":
        raise Conflict(
            f"location {location_id!r} is not registered yet (its zone {current.timezone} comes from its events): "
            "register it first, with its name and time zone"
        )
    record = storage.update_location(location_id, body.changes(), now or datetime.now(UTC))
    if record is None:  # deleted in between; locations are never deleted today
        raise NotFound(f"unknown location {location_id!r}")
    return record


def visible_devices(storage: Storage, scope: Scope) -> list[dict[str, object]]:
    """Devices of the locations in scope (a device's location is the one of its latest batch or status)."""
    devices = storage.devices()
    if scope.region is None:
        return devices
    allowed = {record.location_id for record in storage.location_records(scope.region)}
    return [device for device in devices if device["location_id"] in allowed]
