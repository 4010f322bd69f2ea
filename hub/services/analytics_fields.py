"""Field rules for locations (region path, IANA zone, opening hours): one definition for the API and the CLI.

Each check returns the clean value or raises ValueError with a message that
says what a good value looks like; pydantic and the CLI add the field's name.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

from edge_agent.protocol import load_zone
from hub.storage.base_analytics import OpeningHours

REGION_RE = re.compile(r"^[a-z0-9_-]+(/[a-z0-9_-]+)*$")
MAX_REGION_LENGTH = 200
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def check_region(path: str) -> str:
    if len(path) > MAX_REGION_LENGTH or not REGION_RE.match(path):
        raise ValueError(
            f"{path[:60]!r} is not a region path: lower-case segments of a-z, 0-9, '_' or '-' joined by '/', "
            "like 'nordics/helsinki'"
        )
    return path


def check_timezone(name: str) -> str:
    if load_zone(name) is None:
        raise ValueError(f"{name[:60]!r} is not an IANA time zone, like 'Europe/Helsinki'")
    return name


def check_opening_hours(value: object) -> OpeningHours:
    """``{"mon": ["08:00", "21:00"], ...}`` in week order; a missing day is closed, "24:00" may close a day."""
    if not isinstance(value, dict):
        raise ValueError('expected an object like {"mon": ["08:00", "21:00"]}')
    unknown = [str(day) for day in value if day not in WEEKDAYS]
    if unknown:
        raise ValueError(f"unknown day {unknown[0][:20]!r}: use {', '.join(WEEKDAYS)}")
    hours: OpeningHours = {}
    for day in WEEKDAYS:
        if day not in value:
            continue
        span = value[day]
        if not (isinstance(span, list) and len(span) == 2 and all(isinstance(t, str) for t in span)):
            raise ValueError(f'{day}: expected ["HH:MM", "HH:MM"], got {str(span)[:40]}')
        opens, closes = span
        if not _TIME_RE.match(opens) or not (_TIME_RE.match(closes) or closes == "24:00"):
            raise ValueError(f"{day}: times must be HH:MM from 00:00 to 23:59 (24:00 may close), got {span}")
        if closes <= opens:
            raise ValueError(f"{day}: closing time {closes} must be after opening time {opens}")
        hours[day] = [opens, closes]
    return hours


RegionPath = Annotated[str, AfterValidator(check_region)]
TimezoneName = Annotated[str, AfterValidator(check_timezone)]
Hours = Annotated[OpeningHours, BeforeValidator(check_opening_hours)]
