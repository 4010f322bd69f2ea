"""``GET /api/v1/quarantine`` (admin): events stored with a timestamp the hub cannot trust.

They were acked to their device and are kept, but they are in no score, rollup
or export: the hub cannot know their local day. Each row says why
(``clock_not_ok``, ``future``, ``before_floor``, ``before_provisioning``) and
which day its own timestamp claims. See :mod:`hub.domain.quarantine`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from hub.api.deps import AdminDep, StorageDep

router = APIRouter(prefix="/api/v1", tags=["fleet"])
CauseParam = Literal["clock_not_ok", "future", "before_floor", "before_provisioning"]


@router.get("/quarantine", summary="Events kept but not counted: their timestamps cannot be trusted (admin)")
def quarantine(
    storage: StorageDep,
    _admin: AdminDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    device: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="only this device")] = None,
    cause: Annotated[CauseParam | None, Query(description="only this cause")] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="page: the last row's pk")] = None,
) -> dict[str, object]:
    summary = storage.quarantine_summary()
    rows = storage.quarantine_list(limit, device_id=device, cause=cause, before=before)
    return {**summary, "rows": rows}
