"""Classifying one MQTT message: a batch for storage, a device status, or dead letters saying why not.

A batch is decoded and validated in one msgspec pass. Only when that fails is
it parsed again, leniently, and its events validated one by one, so one bad
event is rejected with its reason while the rest of its batch is stored.
"""

from __future__ import annotations

import json

from edge_agent.protocol import (
    MAX_PAYLOAD_BYTES,
    Batch,
    BatchEnvelope,
    Event,
    Invalid,
    Rejection,
    Status,
    TopicError,
    convert,
    decode,
    decoder,
    describe_error,
    encode,
    parse_topic,
)
from hub.classify_actions import classify_actions
from hub.localtime import zone
from hub.storage.base import DeadLetter, IncomingBatch, StatusUpdate
from hub.storage.base_actions import IncomingActions

Classified = IncomingBatch | StatusUpdate | IncomingActions | DeadLetter | None
_BATCH = decoder(Batch)


def _mismatch(kind: str, topic_ids: tuple[str, str], payload_ids: tuple[str, str]) -> str | None:
    if topic_ids == payload_ids:
        return None
    return (
        f"{kind} topic is for location {topic_ids[0]!r} device {topic_ids[1]!r} but the payload says "
        f"location {payload_ids[0]!r} device {payload_ids[1]!r}"
    )


def _unencodable(event: Event) -> str | None:
    """A text field holding a lone surrogate (json.loads lets ``"\\ud800"`` through): SQLite cannot store it."""
    for name in event.__struct_fields__:
        value = getattr(event, name)
        if isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                return f"{name}: not valid Unicode text (a lone surrogate)"
    return None


def _check_event(raw: object) -> Event | str:
    """The event, or why it is refused."""
    try:
        event = convert(raw, Event)
    except Invalid as exc:
        return describe_error(exc)
    return _unencodable(event) or event


def _split_events(env: BatchEnvelope, topic_name: str) -> tuple[list[Event], list[Rejection], list[DeadLetter]]:
    """Validate events one by one so one bad event does not sink its batch."""
    good: list[Event] = []
    rejected: list[Rejection] = []
    letters: list[DeadLetter] = []
    for index, raw in enumerate(env.events):
        checked = _check_event(raw)
        if isinstance(checked, Event):
            good.append(checked)
            continue
        event_id = raw.get("id") if isinstance(raw, dict) else None
        label = event_id if isinstance(event_id, str) and 0 < len(event_id) <= 64 else f"#{index}"
        rejected.append(Rejection(id=label, error=checked))
        raw_bytes = json.dumps(raw, default=str)[:10_000].encode()
        letters.append(DeadLetter(topic_name, f"batch {env.batch_id} event {label}: {checked}", raw_bytes))
    return good, rejected, letters


def _status(topic_name: str, ids: tuple[str, str], payload: bytes) -> tuple[Classified, list[DeadLetter]]:
    if not payload:
        return None, []  # a retained status being cleared
    try:
        status = decode(payload, Status)
    except Invalid as exc:
        return None, [DeadLetter(topic_name, f"invalid status: {describe_error(exc)}", payload)]
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, nested too deep
        return None, [DeadLetter(topic_name, f"invalid status: malformed JSON: {str(exc)[:200]}", payload)]
    problem = _mismatch("status", ids, (status.location_id, status.device_id))
    if problem:
        return None, [DeadLetter(topic_name, problem, payload)]
    return StatusUpdate(status), []


def classify(topic_name: str, payload: bytes) -> tuple[Classified, list[DeadLetter]]:
    """Turn one MQTT message into work for storage, plus any dead letters it produced."""
    try:
        location_id, device_id, kind = parse_topic(topic_name)
    except TopicError as exc:
        return None, [DeadLetter(topic_name, str(exc), payload)]
    if kind == "status":
        return _status(topic_name, (location_id, device_id), payload)
    if kind == "actions":
        return classify_actions(topic_name, (location_id, device_id), payload)
    if kind != "events":
        return None, []
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None, [DeadLetter(topic_name, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}", payload)]
    try:
        batch = _BATCH.decode(payload)  # the one pass every good batch takes
        events = list(batch.events)
        rejected: list[Rejection] = []
        letters: list[DeadLetter] = []
        envelope: Batch | BatchEnvelope = batch
    except (ValueError, RecursionError):  # not valid, or not strict JSON: parse leniently, check event by event
        try:
            data = json.loads(payload)  # as lenient as ever: a BOM, UTF-16, NaN
        except (ValueError, RecursionError) as exc:
            return None, [DeadLetter(topic_name, f"malformed JSON: {str(exc)[:200]}", payload)]
        try:
            envelope = convert(data, BatchEnvelope)
        except Invalid as exc:
            return None, [DeadLetter(topic_name, f"invalid batch: {describe_error(exc)}", payload)]
        events, rejected, letters = _split_events(envelope, topic_name)
    problem = _mismatch("events", (location_id, device_id), (envelope.location_id, envelope.device_id))
    if problem:
        return None, [DeadLetter(topic_name, problem, payload)]
    bad_tz = [e for e in events if zone(e.tz) is None]
    if bad_tz:
        events = [e for e in events if zone(e.tz) is not None]
        for e in bad_tz:
            reason = f"tz: unknown IANA time zone {e.tz!r}"
            rejected.append(Rejection(id=e.id, error=reason))
            detail = f"batch {envelope.batch_id} event {e.id}: {reason}"
            letters.append(DeadLetter(topic_name, detail, encode(e)))
    return IncomingBatch(device_id, location_id, envelope.batch_id, events, rejected), letters
