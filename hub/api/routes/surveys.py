"""``/api/v1/surveys``: versioned surveys and their assignment to locations and regions (admin).

Saving a version or changing assignments asks the config pusher to bring every
affected device's retained config topic up to date; the response does not wait
for the devices, and ``GET /surveys/{id}`` shows what each device was sent.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

from edge_agent.protocol import ID_PATTERN, Identifier
from hub.api.deps import AdminDep, StorageDep
from hub.services.errors import InputError
from hub.services.surveys import Resolver, check_targets, parse_survey_body
from hub.storage.base import Storage
from hub.storage.base_surveys import SurveyVersion

router = APIRouter(prefix="/api/v1", tags=["surveys"])
log = logging.getLogger("touchpoint.hub.surveys")

SurveyId = Annotated[str, Path(pattern=ID_PATTERN, description="the survey's id")]
EXAMPLE_BODY = {
    "languages": ["en", "fi"],
    "question": {
        "id": "checkout",
        "scale": 4,
        "text": {"en": "How was checkout today?", "fi": "Miten kassalla sujui tänään?"},
        "follow_up": {
            "reasons": [
                {"id": "queue", "text": {"en": "Waiting time", "fi": "Jonotus"}},
                {"id": "staff", "text": {"en": "Staff", "fi": "Henkilökunta"}},
            ]
        },
    },
}


class SurveyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    survey_id: Identifier
    body: dict[str, Any] = Field(
        description="an edge_agent.survey.Survey without `version`: the hub numbers versions 1, 2, 3, ...",
        examples=[EXAMPLE_BODY],
    )


class AssignmentsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locations: list[str] = Field(default_factory=list, description="location ids")
    regions: list[str] = Field(default_factory=list, description="region paths, e.g. 'nordics/finland'")


def _version_dict(v: SurveyVersion, with_body: bool) -> dict[str, object]:
    out: dict[str, object] = {"version": v.version, "created_at": v.created_at, "created_by": v.created_by}
    if with_body:
        out["body"] = json.loads(v.body)
    return out


def _request_push(request: Request, why: str) -> bool:
    hq = getattr(request.app.state, "hq", None)
    if hq is None or hq.config_push is None:
        log.warning("%s, but config push is off in this process (no MQTT ingest)", why)
        return False
    hq.config_push.request_all(why)
    return True


def _devices_of(storage: Storage, survey_id: str) -> list[dict[str, object]]:
    """Devices whose effective survey is ``survey_id``, with what they were last sent."""
    resolver = Resolver(storage.assignments(), storage.latest_surveys())
    sent = storage.published_configs()
    rows: list[dict[str, object]] = []
    for target in storage.config_targets():
        want = resolver.effective(target)
        if want.survey is None or want.survey.survey_id != survey_id:
            continue
        had = sent.get(target.device_id)
        rows.append(
            {
                "device_id": target.device_id,
                "location_id": target.location_id,
                "sent_version": None if had is None or had.survey_id != survey_id else had.version,
                "sent_at": None if had is None else had.published_at,
                "up_to_date": had is not None and (had.survey_id, had.version) == want.key,
            }
        )
    return rows


def _assigned(storage: Storage, survey_id: str) -> dict[str, list[str]]:
    mine = [a for a in storage.assignments() if a.survey_id == survey_id]
    return {
        "locations": [a.target for a in mine if a.target_kind == "location"],
        "regions": [a.target for a in mine if a.target_kind == "region"],
    }


@router.post("/surveys", status_code=status.HTTP_201_CREATED, summary="Save a new version of a survey (admin)")
def create_version(payload: SurveyCreate, storage: StorageDep, admin: AdminDep, request: Request) -> dict[str, object]:
    """Version = the previous + 1 (1 for a new survey). Devices assigned to it get the new version pushed."""
    try:
        survey = parse_survey_body(payload.body)
    except InputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    saved = storage.add_survey_version(
        payload.survey_id, survey, f"token {admin.token_id} ({admin.name})", datetime.now(UTC)
    )
    log.info("survey %s version %d saved by token %d", saved.survey_id, saved.version, admin.token_id)
    pushing = _request_push(request, f"survey {saved.survey_id} version {saved.version} saved")
    return {"survey_id": saved.survey_id, **_version_dict(saved, with_body=True), "push_requested": pushing}


@router.get("/surveys", summary="Every survey with its latest version and assignments (admin)")
def list_surveys(storage: StorageDep, _admin: AdminDep) -> dict[str, object]:
    assignments = storage.assignments()
    rows = []
    for survey_id, latest in storage.latest_surveys().items():
        body = json.loads(latest.body)
        mine = [a for a in assignments if a.survey_id == survey_id]
        rows.append(
            {
                "survey_id": survey_id,
                "latest_version": latest.version,
                "question_id": body["question"]["id"],
                "updated_at": latest.created_at,
                "locations": [a.target for a in mine if a.target_kind == "location"],
                "regions": [a.target for a in mine if a.target_kind == "region"],
            }
        )
    return {"rows": rows}


@router.get("/surveys/{survey_id}", summary="A survey: latest version, all versions, assignments, devices (admin)")
def get_survey(survey_id: SurveyId, storage: StorageDep, _admin: AdminDep) -> dict[str, object]:
    versions = storage.survey_versions(survey_id)
    if not versions:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no survey {survey_id!r}")
    return {
        "survey_id": survey_id,
        "latest": _version_dict(versions[-1], with_body=True),
        "versions": [_version_dict(v, with_body=False) for v in reversed(versions)],
        "assignments": _assigned(storage, survey_id),
        "devices": _devices_of(storage, survey_id),
    }


@router.put("/surveys/{survey_id}/assignments", summary="Assign a survey to locations and regions (admin)")
def put_assignments(
    survey_id: SurveyId, payload: AssignmentsIn, storage: StorageDep, admin: AdminDep, request: Request
) -> dict[str, object]:
    """Replaces this survey's targets. A location uses its own assignment, else its deepest assigned region.

    A target assigned to another survey moves to this one. Empty lists unassign the survey everywhere;
    devices left without a survey are told to fall back to their own.
    """
    if not storage.survey_versions(survey_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no survey {survey_id!r}: POST /api/v1/surveys first")
    locations, regions = sorted(set(payload.locations)), sorted({r.strip("/") for r in payload.regions})
    try:
        check_targets(locations, regions)
    except InputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    storage.replace_assignments(survey_id, locations, regions, datetime.now(UTC))
    log.info(
        "survey %s assigned to %d locations and %d regions by token %d",
        survey_id, len(locations), len(regions), admin.token_id,
    )  # fmt: skip
    pushing = _request_push(request, f"assignments of survey {survey_id} changed")
    known = {str(row["location_id"]) for row in storage.locations()}
    return {
        "survey_id": survey_id,
        "locations": locations,
        "regions": regions,
        "unknown_locations": [loc for loc in locations if loc not in known],
        "devices": len(_devices_of(storage, survey_id)),
        "push_requested": pushing,
    }
