"""The Touchpoint wire protocol, version 1: topics and message models.

This module is the single definition of what travels over MQTT. The device
agent builds messages with it, the hub validates them with it, and
``docs/protocol.md`` documents it for outside clients. Keep v1 stable: add
optional fields, never change the meaning of an existing one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

PROTOCOL_VERSION = 1
TOPIC_ROOT = "touchpoint/v1"
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_ID_RE = re.compile(ID_PATTERN)
# A UUID in its canonical textual form; the device emits UUIDv7 (time ordered).
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

SMILEY_SCALES = (4, 5)
NPS_SCALE = 11
SCALES = (*SMILEY_SCALES, NPS_SCALE)
SOURCES = ("touch", "button", "cli", "sim")
MAX_BATCH_EVENTS = 1000
MAX_PAYLOAD_BYTES = 1_000_000

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
EventId = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
Source = Literal["touch", "button", "cli", "sim"]
Scale = Literal[4, 5, 11]


def is_valid_id(value: str) -> bool:
    """True when ``value`` may be used as a location or device id."""
    return bool(_ID_RE.match(value))


@lru_cache(maxsize=1024)
def load_zone(name: str) -> ZoneInfo | None:
    """The IANA zone called ``name``, or None for anything else (including directories like 'Europe')."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset: a ValueError makes it a validation error
        raise ValueError("timestamp is out of range once converted to UTC") from None


def format_ts(value: datetime) -> str:
    """Render an aware datetime as the protocol's UTC timestamp, millisecond precision."""
    utc = value.astimezone(UTC)
    if utc.year >= 1000:  # the hub's hot path: isoformat is 2x faster than strftime and truncates alike
        return utc.isoformat(timespec="milliseconds")[:23] + "Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"  # strftime: no year padding


class _Model(BaseModel):
    # Unknown fields are ignored so that newer devices can add optional
    # fields without older hubs dead-lettering their batches.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Event(_Model):
    """One shopper's answer, as recorded on the device."""

    id: EventId
    seq: int = Field(ge=0, lt=2**63)
    ts: Annotated[AwareDatetime, AfterValidator(_utc)]
    tz: str = Field(min_length=1, max_length=64)
    clock_ok: bool
    question_id: Identifier
    scale: Scale
    value: int = Field(ge=0)
    reason: str | None = Field(default=None, max_length=200)
    source: Source
    misuse: bool = False
    survey_version: int | None = Field(default=None, ge=0, lt=2**63)  # bounded: SQLite INTEGER is 64-bit
    boot_id: str | None = Field(default=None, max_length=64)
    mono_ms: int | None = Field(default=None, ge=0, lt=2**63)
    # Optional: the device re-dated this tap from its boot's monotonic clock once its wall clock
    # became trustworthy (clock_ok is then true). Sent only when true, so v1 payloads stay as they were.
    redated: bool = False

    @field_validator("value")
    @classmethod
    def _value_within_scale(cls, value: int, info: ValidationInfo) -> int:
        scale = info.data.get("scale")
        if scale is not None and value >= scale:
            raise ValueError(f"value {value} is outside the scale 0..{scale - 1}")
        return value


class Batch(_Model):
    """Device to hub, on ``{root}/{location_id}/{device_id}/events``, QoS 1."""

    v: Literal[1]
    device_id: Identifier
    location_id: Identifier
    batch_id: Identifier
    events: list[Event] = Field(max_length=MAX_BATCH_EVENTS)


class BatchEnvelope(_Model):
    """A batch whose events are not yet validated: used to reject events one by one."""

    v: Literal[1]
    device_id: Identifier
    location_id: Identifier
    batch_id: Identifier
    events: list[Any] = Field(max_length=MAX_BATCH_EVENTS)


class Rejection(_Model):
    id: str
    error: str


class Ack(_Model):
    """Hub to device, on ``.../ack``, QoS 1, sent only after the hub committed the batch."""

    v: Literal[1] = 1
    batch_id: str
    accepted: list[str] = Field(default_factory=list)
    duplicates: list[str] = Field(default_factory=list)
    rejected: list[Rejection] = Field(default_factory=list)


class Status(_Model):
    """Device to hub, on ``.../status``, retained. The last will is the same with ``online=false``."""

    v: Literal[1] = 1
    online: bool
    device_id: Identifier
    location_id: Identifier
    version: str | None = None
    backlog: int | None = Field(default=None, ge=0, lt=2**63)
    last_sync: str | None = None
    clock_ok: bool | None = None
    held: int | None = Field(default=None, ge=0, lt=2**63)  # taps held on the device for a trusted clock
    ts: str | None = None


# --- topics ---------------------------------------------------------------

Kind = Literal["events", "ack", "status", "config"]


def topic(location_id: str, device_id: str, kind: Kind) -> str:
    """The topic of one device's stream of ``kind``."""
    return f"{TOPIC_ROOT}/{location_id}/{device_id}/{kind}"


def subscription(kind: Kind) -> str:
    """The wildcard subscription for ``kind`` across the whole fleet."""
    return f"{TOPIC_ROOT}/+/+/{kind}"


class TopicError(ValueError):
    pass


def parse_topic(name: str) -> tuple[str, str, str]:
    """Split a topic into (location_id, device_id, kind), or raise TopicError."""
    parts = name.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        raise TopicError(f"topic {name!r} is not {TOPIC_ROOT}/<location>/<device>/<kind>")
    location_id, device_id, kind = parts[2], parts[3], parts[4]
    if not (is_valid_id(location_id) and is_valid_id(device_id)):
        raise TopicError(f"topic {name!r} has a location or device id outside {ID_PATTERN}")
    return location_id, device_id, kind


def describe_error(exc: ValidationError, limit: int = 3) -> str:
    """A short, human-readable reason naming the offending fields."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where or 'payload'}: {msg}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
