"""edge_agent.protocol: topics, message validation, timestamps and error descriptions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.protocol import (
    MAX_BATCH_EVENTS,
    TOPIC_ROOT,
    Ack,
    Batch,
    Event,
    Invalid,
    Status,
    TopicError,
    convert,
    decode,
    describe_error,
    encode,
    encode_sparse,
    format_ts,
    is_valid_id,
    parse_topic,
    subscription,
    topic,
)

EVENT_ID = "0190a5e4-7c1d-7abc-8def-0123456789ab"


def event_dict(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": EVENT_ID,
        "seq": 1,
        "ts": "2026-11-22T21:30:00.000Z",
        "tz": "Europe/Helsinki",
        "clock_ok": True,
        "question_id": "q1",
        "scale": 4,
        "value": 3,
        "source": "touch",
    }
    base.update(overrides)
    return base


def batch_dict(events: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"v": 1, "device_id": "dev-1", "location_id": "loc-1", "batch_id": "b-1", "events": events}
    base.update(overrides)
    return base


def convert_event(data: dict[str, Any]) -> Event:
    return convert(data, Event)


def convert_batch(data: dict[str, Any]) -> Batch:
    return convert(data, Batch)


# --- topics -----------------------------------------------------------------

ids = st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z")


@given(location=ids, device=ids, kind=st.sampled_from(["events", "ack", "status", "config"]))
def test_topic_round_trips_through_parse_topic(location: str, device: str, kind: Any) -> None:
    name = topic(location, device, kind)
    assert name == f"touchpoint/v1/{location}/{device}/{kind}"
    assert parse_topic(name) == (location, device, kind)


def test_topic_examples() -> None:
    assert topic("store-42", "kiosk_1", "events") == "touchpoint/v1/store-42/kiosk_1/events"
    assert parse_topic("touchpoint/v1/store-42/kiosk_1/ack") == ("store-42", "kiosk_1", "ack")
    assert subscription("status") == "touchpoint/v1/+/+/status"
    assert TOPIC_ROOT == "touchpoint/v1"


@pytest.mark.parametrize(
    "name",
    [
        "other/v1/loc/dev/events",
        "touchpoint/v2/loc/dev/events",
        "touchpoint/loc/dev/events/x",
        "/touchpoint/v1/loc/dev/events",
    ],
)
def test_parse_topic_rejects_a_wrong_root(name: str) -> None:
    with pytest.raises(TopicError, match="is not touchpoint/v1/<location>/<device>/<kind>"):
        parse_topic(name)


@pytest.mark.parametrize(
    "name",
    ["touchpoint/v1/loc/dev", "touchpoint/v1/loc/dev/events/extra", "touchpoint/v1", "touchpoint/v1/loc", ""],
)
def test_parse_topic_rejects_a_wrong_depth(name: str) -> None:
    with pytest.raises(TopicError, match="is not touchpoint/v1"):
        parse_topic(name)


@pytest.mark.parametrize(
    "name",
    [
        "touchpoint/v1/lo c/dev/events",
        "touchpoint/v1/loc/+/events",
        "touchpoint/v1/#/dev/events",
        "touchpoint/v1//dev/events",
        "touchpoint/v1/loc//events",
        "touchpoint/v1/loc/dév/events",
        f"touchpoint/v1/{'a' * 65}/dev/events",
        "touchpoint/v1/loc/dev.1/events",
    ],
)
def test_parse_topic_rejects_bad_ids(name: str) -> None:
    with pytest.raises(TopicError, match="location or device id outside"):
        parse_topic(name)


def test_topic_error_is_a_value_error() -> None:
    assert issubclass(TopicError, ValueError)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("a", True), ("A-z_09", True), ("a" * 64, True), ("a" * 65, False), ("", False), ("a b", False), ("ä", False)],
)
def test_is_valid_id(value: str, ok: bool) -> None:
    assert is_valid_id(value) is ok


# --- events -----------------------------------------------------------------


def test_a_valid_event_is_parsed_with_its_values() -> None:
    event = convert_event(event_dict(reason="queue", survey_version=2, boot_id="b", mono_ms=12))
    assert event.id == EVENT_ID
    assert event.seq == 1
    assert event.value == 3
    assert event.scale == 4
    assert event.reason == "queue"
    assert event.misuse is False
    assert event.survey_version == 2
    assert event.mono_ms == 12


@pytest.mark.parametrize(("scale", "value"), [(4, 4), (4, 9), (5, 5), (11, 11), (11, 42)])
def test_value_outside_the_scale_is_rejected_naming_the_value(scale: int, value: int) -> None:
    with pytest.raises(Invalid) as info:
        convert_event(event_dict(scale=scale, value=value))
    message = describe_error(info.value)
    assert f"value {value} is outside the scale 0..{scale - 1}" in message


@pytest.mark.parametrize(("scale", "value"), [(4, 0), (4, 3), (5, 4), (11, 0), (11, 10)])
def test_values_at_the_scale_edges_are_accepted(scale: int, value: int) -> None:
    assert convert_event(event_dict(scale=scale, value=value)).value == value


def test_negative_value_is_rejected() -> None:
    with pytest.raises(Invalid) as info:
        convert_event(event_dict(value=-1))
    assert describe_error(info.value).startswith("value:")


@pytest.mark.parametrize("scale", [0, 2, 3, 6, 7, 10, 12, 100])
def test_scale_must_be_4_5_or_11(scale: int) -> None:
    with pytest.raises(Invalid) as info:
        convert_event(event_dict(scale=scale, value=0))
    assert f"scale: Expected 4, 5 or 11, got {scale}" in describe_error(info.value)


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-a-uuid",
        "0190a5e47c1d7abc8def0123456789ab",  # no dashes
        "0190a5e4-7c1d-7abc-8def-0123456789a",  # one digit short
        "0190a5e4-7c1d-7abc-8def-0123456789abc",  # one digit long
        "0190a5e4-7c1d-7abc-8def-0123456789ag",  # not hex
        "",
    ],
)
def test_event_id_must_be_a_uuid(bad_id: str) -> None:
    with pytest.raises(Invalid) as info:
        convert_event(event_dict(id=bad_id))
    assert describe_error(info.value).startswith("id: Expected str matching regex")


def test_uppercase_uuid_is_accepted() -> None:
    assert convert_event(event_dict(id=EVENT_ID.upper())).id == EVENT_ID.upper()


@pytest.mark.parametrize("ts", ["2026-11-22T21:30:00", datetime(2026, 11, 22, 21, 30)])
def test_naive_timestamp_is_rejected(ts: object) -> None:
    with pytest.raises(Invalid) as info:
        convert_event(event_dict(ts=ts))
    assert "ts: Expected datetime with a timezone component" in describe_error(info.value)


@pytest.mark.parametrize(
    "ts",
    [
        "2026-11-22T23:30:00+02:00",
        "2026-11-22T16:30:00-05:00",
        "2026-11-22T21:30:00Z",
        datetime(2026, 11, 22, 23, 30, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_timestamp_is_normalised_to_utc(ts: object) -> None:
    event = convert_event(event_dict(ts=ts))
    assert event.ts == datetime(2026, 11, 22, 21, 30, tzinfo=UTC)
    assert event.ts.tzinfo is UTC
    assert event.ts.hour == 21


def test_unknown_fields_are_ignored() -> None:
    event = convert_event(event_dict(colour="red", firmware={"x": 1}))
    assert event.value == 3
    assert b"colour" not in encode(event)
    assert not hasattr(event, "colour")
    batch = decode(json.dumps(batch_dict([event_dict(extra=1)], added_later="yes")), Batch)
    assert len(batch.events) == 1
    assert b"added_later" not in encode(batch)


def test_events_are_immutable() -> None:
    event = convert_event(event_dict())
    with pytest.raises(AttributeError):
        event.value = 0  # type: ignore[misc]


@pytest.mark.parametrize(("field", "value"), [("seq", "7"), ("seq", 7.0), ("value", "2"), ("clock_ok", "true")])
def test_json_clients_may_send_numbers_and_booleans_as_text(field: str, value: object) -> None:
    """Lax like before: "7" and 7.0 are 7, "true" is true; 7.5, "yes" and a bool for a number are not."""
    event = convert_event(event_dict(**{field: value}))
    assert getattr(event, field) == {"seq": 7, "value": 2, "clock_ok": True}[field]


@pytest.mark.parametrize(("field", "value"), [("seq", 7.5), ("seq", True), ("clock_ok", "yes"), ("value", False)])
def test_lax_has_limits(field: str, value: object) -> None:
    with pytest.raises(Invalid) as info:
        convert_event(event_dict(**{field: value}))
    assert describe_error(info.value).startswith(f"{field}: Expected")


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("source", "pen", "source"),
        ("question_id", "bad id", "question_id"),
        ("tz", "", "tz"),
        ("reason", "x" * 201, "reason"),
        ("seq", -1, "seq"),
        ("seq", 2**63, "seq"),
        ("clock_ok", "maybe", "clock_ok"),
        ("mono_ms", -5, "mono_ms"),
    ],
)
def test_other_fields_are_validated(field: str, value: object, where: str) -> None:
    with pytest.raises(Invalid) as info:
        convert_event(event_dict(**{field: value}))
    assert describe_error(info.value).startswith(f"{where}:")


def test_missing_required_field_is_named() -> None:
    data = event_dict()
    del data["question_id"]
    with pytest.raises(Invalid) as info:
        convert_event(data)
    assert describe_error(info.value) == "question_id: Field required"


# --- batches ----------------------------------------------------------------


def _events(n: int) -> list[dict[str, Any]]:
    return [event_dict(id=f"0190a5e4-7c1d-7abc-8def-{i:012x}", seq=i) for i in range(n)]


def test_batch_accepts_max_events() -> None:
    batch = convert_batch(batch_dict(_events(MAX_BATCH_EVENTS)))
    assert MAX_BATCH_EVENTS == 1000
    assert len(batch.events) == 1000
    assert batch.events[-1].seq == 999


def test_batch_rejects_more_than_max_events() -> None:
    with pytest.raises(Invalid) as info:
        convert_batch(batch_dict(_events(MAX_BATCH_EVENTS + 1)))
    assert describe_error(info.value) == "events: Expected array of length <= 1000"


def test_batch_version_must_be_1() -> None:
    with pytest.raises(Invalid) as info:
        convert_batch(batch_dict([], v=2))
    assert describe_error(info.value) == "v: Expected 1, got 2"


def test_batch_ids_are_validated() -> None:
    with pytest.raises(Invalid) as info:
        convert_batch(batch_dict([], batch_id="b/1", device_id="d 1"))
    message = describe_error(info.value)
    assert "device_id: Expected str matching regex" in message
    assert "batch_id: Expected str matching regex" in message


# --- format_ts --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "2026-01-02T03:04:05.678Z"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05.000Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC), "2026-01-02T03:04:05.999Z"),  # truncated, not rounded
        (datetime(2026, 1, 2, 3, 4, 5, 1000, tzinfo=UTC), "2026-01-02T03:04:05.001Z"),
        (datetime(2026, 1, 2, 1, 0, 0, 50000, tzinfo=timezone(timedelta(hours=2))), "2026-01-01T23:00:00.050Z"),
        (datetime(2026, 3, 29, 12, 0, tzinfo=timezone(timedelta(hours=-9, minutes=-30))), "2026-03-29T21:30:00.000Z"),
    ],
)
def test_format_ts(value: datetime, expected: str) -> None:
    assert format_ts(value) == expected


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_format_ts_round_trips_at_millisecond_precision(value: datetime) -> None:
    text = format_ts(value)
    assert len(text) == 24 and text.endswith("Z")
    parsed = convert_event(event_dict(ts=text)).ts
    assert parsed == value.replace(microsecond=value.microsecond // 1000 * 1000)


@given(st.lists(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)), min_size=2))
def test_format_ts_sorts_like_the_timestamps(values: list[datetime]) -> None:
    """The stores compare these strings as text (e.g. prune's cutoff), so text order must be time order."""
    aware = [v.replace(tzinfo=UTC) for v in values]
    assert sorted(aware, key=format_ts) == sorted(aware, key=lambda v: v.replace(microsecond=v.microsecond // 1000))


# --- describe_error ---------------------------------------------------------


def test_describe_error_names_the_nested_field_path() -> None:
    with pytest.raises(Invalid) as info:
        convert_batch(batch_dict([event_dict(), event_dict(source="pen")]))
    assert describe_error(info.value) == "events.1.source: Expected 'touch', 'button', 'cli' or 'sim', got 'pen'"


def test_describe_error_names_the_event_for_a_value_outside_the_scale() -> None:
    with pytest.raises(Invalid) as info:
        convert_batch(batch_dict([event_dict(), event_dict(value=9)]))
    assert describe_error(info.value) == "events.1.value: value 9 is outside the scale 0..3"


def test_describe_error_limits_and_counts_the_rest() -> None:
    bad = event_dict(id="x", seq=-1, ts="2026-01-01T00:00:00", scale=6, source="pen")
    with pytest.raises(Invalid) as info:
        convert_event(bad)
    short = describe_error(info.value)
    assert short.startswith("id: ")
    assert "; seq: " in short and "; ts: " in short
    assert short.endswith("; and 2 more")
    assert "scale" not in short
    full = describe_error(info.value, limit=10)
    assert "more" not in full
    assert full.count("; ") == 4
    assert "scale: Expected 4, 5 or 11, got 6" in full
    assert "source: Expected 'touch'" in full


def test_describe_error_of_a_non_object_payload() -> None:
    with pytest.raises(Invalid) as info:
        decode(b"[1, 2]", Batch)
    assert describe_error(info.value).startswith("payload: ")


# --- other messages ---------------------------------------------------------


def test_ack_defaults_and_json() -> None:
    ack = Ack(batch_id="b-1", accepted=[EVENT_ID])
    assert ack.v == 1
    assert ack.duplicates == [] and ack.rejected == []
    assert decode(encode(ack), Ack) == ack
    assert json.loads(encode(ack)) == {
        "v": 1,
        "batch_id": "b-1",
        "accepted": [EVENT_ID],
        "duplicates": [],
        "rejected": [],
    }


def test_status_validates_ids_and_backlog() -> None:
    status = convert({"online": True, "device_id": "dev-1", "location_id": "loc-1", "backlog": 3}, Status)
    assert status.backlog == 3 and status.v == 1
    with pytest.raises(Invalid) as info:
        convert({"online": True, "device_id": "dev 1", "location_id": "loc-1", "backlog": -1}, Status)
    message = describe_error(info.value)
    assert "device_id:" in message and "backlog:" in message


def test_a_sparse_status_leaves_out_what_the_device_does_not_know() -> None:
    status = Status(online=False, device_id="dev-1", location_id="loc-1", clock_ok=True)
    assert json.loads(encode_sparse(status)) == {"v": 1, "online": False, "device_id": "dev-1", "location_id": "loc-1",
                                                 "clock_ok": True}  # fmt: skip
