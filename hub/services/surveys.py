"""Survey admin rules: validating a posted survey and resolving each location's effective survey.

A location's effective survey is its own assignment, else that of the deepest
assigned region above it, else none (the device keeps its bundled or file
survey). These are pure functions so the rules are tested without a hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge_agent.config_push import MAX_CONFIG_BYTES
from edge_agent.protocol import Invalid, is_valid_id
from edge_agent.survey import Survey, to_survey
from hub.services.errors import InputError, field_errors
from hub.services.regions import prefixes, region_error
from hub.storage.base_surveys import Assignment, DeviceTarget, SurveyVersion

MAX_SURVEY_BYTES = MAX_CONFIG_BYTES // 2
MAX_TARGETS = 10_000


class SurveyInputError(InputError):
    pass


def parse_survey_body(body: dict[str, Any]) -> Survey:
    """Validate a posted survey; its ``version`` is assigned by the hub, so any given one is ignored."""
    data = {k: v for k, v in body.items() if k != "version"}
    try:
        survey = to_survey(data)
    except Invalid as exc:
        raise SurveyInputError(field_errors(exc, "body")) from None
    size = len(survey.to_json())
    if size > MAX_SURVEY_BYTES:
        raise SurveyInputError(f"body: the survey is {size} bytes; at most {MAX_SURVEY_BYTES} fit a device config")
    return survey


def check_targets(locations: list[str], regions: list[str]) -> None:
    """Raise SurveyInputError naming the first bad location id or region path."""
    if len(locations) + len(regions) > MAX_TARGETS:
        raise SurveyInputError(f"at most {MAX_TARGETS} locations and regions in one assignment")
    for i, location in enumerate(locations):
        if not is_valid_id(location):
            raise SurveyInputError(f"locations.{i}: {location!r} is not a location id ([A-Za-z0-9_-]{{1,64}})")
    for i, region in enumerate(regions):
        problem = region_error(region)
        if problem:
            raise SurveyInputError(f"regions.{i}: {problem}")


@dataclass(frozen=True)
class Effective:
    """The survey a device should have: the stored version, or None for 'none pushed'."""

    survey: SurveyVersion | None

    @property
    def key(self) -> tuple[str | None, int | None]:
        return (None, None) if self.survey is None else (self.survey.survey_id, self.survey.version)


class Resolver:
    """Effective surveys from one snapshot of assignments and latest versions."""

    def __init__(self, assignments: list[Assignment], latest: dict[str, SurveyVersion]) -> None:
        self._locations = {a.target: a.survey_id for a in assignments if a.target_kind == "location"}
        self._regions = {a.target: a.survey_id for a in assignments if a.target_kind == "region"}
        self._latest = latest

    def survey_id_for(self, location_id: str, region: str | None) -> str | None:
        if location_id in self._locations:
            return self._locations[location_id]
        for prefix in prefixes(region):
            if prefix in self._regions:
                return self._regions[prefix]
        return None

    def effective(self, target: DeviceTarget) -> Effective:
        survey_id = self.survey_id_for(target.location_id, target.region)
        return Effective(None if survey_id is None else self._latest.get(survey_id))
