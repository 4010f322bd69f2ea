"""The Touchpoint wire protocol, version 1: topics and message types.

This module is the single definition of what travels over MQTT. The device
agent builds messages with it, the hub validates them with it, and
``docs/protocol.md`` documents it for outside clients, with the JSON Schema
``docs/protocol.schema.json`` generated from these types
(``python -m edge_agent.protocol_schema``). Keep v1 stable: add optional
fields, never change the meaning of an existing one.

The types are msgspec Structs: one C pass decodes and validates a batch, and
the import is light enough for a Pi Zero. Structs are not validated when built
in Python: :func:`convert` validates values from elsewhere.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import Meta, Struct, field

from edge_agent.validation import Invalid as Invalid  # re-exported: the error of decode() and convert()
from edge_agent.validation import convert as _convert
from edge_agent.validation import decode as _decode
from edge_agent.validation import describe

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
MAX_BATCH_ACTIONS = 100
MAX_PAYLOAD_BYTES = 1_000_000
INT64_MAX = 2**63 - 1  # SQLite INTEGER is 64-bit


class _PydanticPattern:
    """The same pattern for the hub's pydantic HTTP models, which ignore msgspec's Meta.

    Only pydantic calls this, and only at the hub: the device never imports pydantic.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_core_schema__(self, _source: Any, _handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.str_schema(pattern=self.pattern)


Identifier = Annotated[str, Meta(pattern=ID_PATTERN), _PydanticPattern(ID_PATTERN)]
EventId = Annotated[str, Meta(pattern=UUID_PATTERN, description="a UUID in canonical text form; devices emit UUIDv7")]
Count = Annotated[int, Meta(ge=0, le=INT64_MAX)]
Source = Literal["touch", "button", "cli", "sim"]
Scale = Literal[4, 5, 11]
T = TypeVar("T")


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


def format_ts(value: datetime) -> str:
    """Render an aware datetime as the protocol's UTC timestamp, millisecond precision."""
    utc = value.astimezone(UTC)
    if utc.year >= 1000:  # the hub's hot path: isoformat is 2x faster than strftime and truncates alike
        return utc.isoformat(timespec="milliseconds")[:23] + "Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"  # strftime: no year padding


# Unknown fields are ignored (msgspec's default) so that newer devices can add optional fields
# without older hubs dead-lettering their batches.


class Event(Struct, frozen=True, kw_only=True):
    """One shopper's answer, as recorded on the device."""

    id: EventId
    seq: Annotated[Count, Meta(description="per device, never goes backwards, even across re-imaging")]
    ts: Annotated[datetime, Meta(tz=True, description="with a zone (Z or an offset); stored as UTC, ms")]
    tz: Annotated[str, Meta(min_length=1, max_length=64, description="the device's IANA time zone")]
    clock_ok: bool
    question_id: Identifier
    scale: Annotated[Scale, Meta(description="4 or 5 for smileys, 11 for 0-10 NPS")]
    value: Annotated[int, Meta(ge=0, description="the button index, 0 = most negative, up to scale - 1")]
    reason: Annotated[str, Meta(max_length=200)] | None = None
    source: Source
    misuse: bool = False
    survey_version: Count | None = None
    boot_id: Annotated[str, Meta(max_length=64)] | None = None
    mono_ms: Count | None = None
    # Optional: the device re-dated this tap from its boot's monotonic clock once its wall clock
    # became trustworthy (clock_ok is then true). Sent only when true, so v1 payloads stay as they were.
    redated: bool = False

    def __post_init__(self) -> None:
        if self.value >= self.scale:
            raise ValueError(f"value: value {self.value} is outside the scale 0..{self.scale - 1}")
        if self.ts.tzinfo is not UTC:
            try:
                msgspec.structs.force_setattr(self, "ts", self.ts.astimezone(UTC))
            except OverflowError:  # year 1 or 9999 with an offset
                raise ValueError("ts: timestamp is out of range once converted to UTC") from None


class Batch(Struct, frozen=True):
    """Device to hub, on ``{root}/{location_id}/{device_id}/events``, QoS 1."""

    v: Literal[1]
    device_id: Identifier
    location_id: Identifier
    batch_id: Identifier
    events: Annotated[list[Event], Meta(max_length=MAX_BATCH_EVENTS)]


class BatchEnvelope(Struct, frozen=True):
    """A batch whose events are not yet validated: used to reject events one by one."""

    v: Literal[1]
    device_id: Identifier
    location_id: Identifier
    batch_id: Identifier
    events: Annotated[list[Any], Meta(max_length=MAX_BATCH_EVENTS)]


class Rejection(Struct, frozen=True):
    id: str
    error: str


class Ack(Struct, frozen=True, kw_only=True):
    """Hub to device, on ``.../ack``, QoS 1, sent only after the hub committed the batch.

    The same message acks an :class:`ActionBatch`: its ``batch_id`` is the action batch's, its ids action ids.
    """

    v: Literal[1] = 1
    batch_id: str
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


class Status(Struct, frozen=True, kw_only=True):
    """Device to hub, on ``.../status``, retained. The last will is the same with ``online=false``."""

    v: Literal[1] = 1
    online: bool
    device_id: Identifier
    location_id: Identifier
    version: str | None = None
    backlog: Count | None = None
    last_sync: str | None = None
    clock_ok: bool | None = None
    held: Annotated[Count, Meta(description="taps held on the device for a trusted clock")] | None = None
    ts: str | None = None


ActionText = Annotated[str, Meta(min_length=1, max_length=300)]
Language = Annotated[str, Meta(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]


class Action(Struct, frozen=True, kw_only=True):
    """ "You said, we did": something a store changed, shown to shoppers on its kiosk's idle screen.

    Logged on a kiosk's manager view (sent on ``.../actions``) or at HQ (pushed to devices with the config).
    """

    id: Annotated[EventId, Meta(description="a UUID made where the action was logged; devices emit UUIDv7")]
    location_id: Identifier
    text: Annotated[ActionText, Meta(description="what the store did, in the survey's first language")]
    texts: Annotated[dict[Language, ActionText], Meta(description="the same text per language")] | None = None
    reason: Annotated[Identifier, Meta(description="the follow-up reason it addresses, e.g. queue")] | None = None
    started_on: Annotated[date, Meta(description="the local date it started")]
    ended_on: Annotated[date, Meta(description="the local date it ended; none: still in place")] | None = None
    logged_by: Annotated[str, Meta(min_length=1, max_length=100, description="e.g. manager@kiosk-1")]
    created_at: Annotated[datetime, Meta(tz=True, description="when it was logged, with a zone")]

    def __post_init__(self) -> None:
        if self.ended_on is not None and self.ended_on < self.started_on:
            raise ValueError(f"ended_on: {self.ended_on} is before started_on {self.started_on}")

    def text_in(self, lang: str) -> str:
        """The text in ``lang`` where given, else the main text."""
        return (self.texts or {}).get(lang) or self.text


class ActionBatch(Struct, frozen=True):
    """Device to hub, on ``{root}/{location_id}/{device_id}/actions``, QoS 1.

    The hub answers on ``.../ack`` with an :class:`Ack` whose ``batch_id`` is this one and whose
    ``accepted``/``duplicates``/``rejected`` name action ids, only after it committed them. The device
    keeps each action pending until an ack names it, and sends it again until then.
    """

    v: Literal[1]
    device_id: Identifier
    location_id: Identifier
    batch_id: Identifier
    actions: Annotated[list[Action], Meta(min_length=1, max_length=MAX_BATCH_ACTIONS)]


MAX_BATCH_NOTES = 100
NoteText = Annotated[str, Meta(min_length=1, max_length=2000)]
AlertId = Annotated[int, Meta(ge=1, le=INT64_MAX, description="the hub's id of the alert episode")]


class AlertNote(Struct, frozen=True, kw_only=True):
    """A store manager's acknowledgement of, or comment on, one of the store's alerts, made on the kiosk."""

    id: Annotated[EventId, Meta(description="a UUID made on the device (UUIDv7): the hub stores a note once")]
    alert_id: AlertId
    kind: Literal["ack", "comment"]
    text: NoteText | None = None
    author: Annotated[str, Meta(min_length=1, max_length=100, description="e.g. manager@kiosk-1")]
    created_at: Annotated[datetime, Meta(tz=True)]

    def __post_init__(self) -> None:
        if self.kind == "comment" and not (self.text or "").strip():
            raise ValueError("text: a comment needs a text")


class AlertNoteBatch(Struct, frozen=True):
    """Device to hub, on ``{root}/{location_id}/{device_id}/alert_notes``, QoS 1.

    Answered like an :class:`ActionBatch`: an :class:`Ack` on ``.../ack`` with this ``batch_id``, naming
    note ids, sent after the hub committed them. A note on an alert of another location is rejected.
    """

    v: Literal[1]
    device_id: Identifier
    location_id: Identifier
    batch_id: Identifier
    notes: Annotated[list[AlertNote], Meta(min_length=1, max_length=MAX_BATCH_NOTES)]


class AlertComment(Struct, frozen=True, kw_only=True):
    author: str
    text: str
    created_at: datetime


class PushedAlert(Struct, frozen=True, kw_only=True):
    """One of the location's open alerts, as the hub pushes it with the config (the kiosk's manager view)."""

    alert_id: AlertId
    location_id: Identifier
    rule_name: str
    kind: Annotated[str, Meta(description="the rule kind; 'praise' is good news")]
    message: str
    state: Literal["firing", "resolved"]
    fired_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    assignee: str | None = None
    comments: Annotated[list[AlertComment], Meta(max_length=5, description="the latest comments, oldest first")] = []


_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}
_ENCODER = msgspec.json.Encoder()


def decoder(type_: type[T]) -> msgspec.json.Decoder[T]:
    """msgspec's own decoder of ``type_`` (lax: "5" for 5), for a hot path that handles its errors itself."""
    found: msgspec.json.Decoder[T] | None = _DECODERS.get(type_)
    if found is None:
        found = _DECODERS[type_] = msgspec.json.Decoder(type_, strict=False)
    return found


def decode(payload: bytes | str, type_: type[T]) -> T:
    """A message of ``type_`` from JSON.

    Raises :class:`Invalid` (naming every bad field), or msgspec.DecodeError, UnicodeDecodeError or
    RecursionError for bytes that are not JSON at all (all three are ValueErrors but the last).
    """
    return _decode(payload, decoder(type_), type_)


def convert(data: object, type_: type[T]) -> T:
    """A message of ``type_`` from Python values (e.g. already parsed JSON); raises :class:`Invalid`."""
    return _convert(data, type_)


def encode(message: Struct) -> bytes:
    """The JSON of a message, every field included."""
    return _ENCODER.encode(message)


def encode_sparse(message: Struct) -> bytes:
    """The JSON of a message without its None fields (a status says only what it knows)."""
    return _ENCODER.encode({k: v for k, v in msgspec.structs.asdict(message).items() if v is not None})


def describe_error(exc: Invalid, limit: int = 3) -> str:
    """A short, human-readable reason naming the offending fields."""
    return describe(exc.problems, limit)


# --- topics ---------------------------------------------------------------

Kind = Literal["events", "ack", "status", "config", "actions", "alert_notes"]


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
