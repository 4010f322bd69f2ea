"""hub.classify.classify: every MQTT message becomes work for storage, a dead letter, or nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.protocol import MAX_PAYLOAD_BYTES, Event, Rejection, Status
from hub.classify import classify
from hub.storage.base import DeadLetter, IncomingBatch, StatusUpdate

EVENTS = "touchpoint/v1/loc-1/dev-1/events"
STATUS = "touchpoint/v1/loc-1/dev-1/status"


def event_id(n: int) -> str:
    return f"0190a5e4-7c1d-7abc-8def-{n:012x}"


def event(n: int, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": event_id(n),
        "seq": 1000 + n,
        "ts": "2026-11-22T21:30:00.000Z",
        "tz": "Europe/Helsinki",
        "clock_ok": True,
        "question_id": "q1",
        "scale": 4,
        "value": n % 4,
        "source": "touch",
    }
    base.update(overrides)
    return base


def batch(events: object, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"v": 1, "device_id": "dev-1", "location_id": "loc-1", "batch_id": "b-1", "events": events}
    base.update(overrides)
    return base


def payload(data: object) -> bytes:
    return json.dumps(data).encode()


def dead_letter_only(topic: str, raw: bytes) -> DeadLetter:
    item, letters = classify(topic, raw)
    assert item is None
    assert len(letters) == 1
    letter = letters[0]
    assert letter.topic == topic
    assert letter.payload == raw
    return letter


# --- good batches -----------------------------------------------------------


def test_a_valid_batch_becomes_an_incoming_batch() -> None:
    raw = payload(batch([event(1), event(2, value=3, reason="queue")]))
    item, letters = classify(EVENTS, raw)
    assert letters == []
    assert isinstance(item, IncomingBatch)
    assert (item.device_id, item.location_id, item.batch_id) == ("dev-1", "loc-1", "b-1")
    assert [e.id for e in item.events] == [event_id(1), event_id(2)]
    assert all(isinstance(e, Event) for e in item.events)
    assert item.events[1].reason == "queue"
    assert item.events[1].value == 3
    assert item.rejected == []


def test_an_empty_batch_is_still_a_batch() -> None:
    item, letters = classify(EVENTS, payload(batch([])))
    assert isinstance(item, IncomingBatch)
    assert item.events == [] and item.rejected == [] and letters == []


def test_a_batch_at_the_size_limit_is_accepted() -> None:
    raw = payload(batch([event(1)]))
    raw += b" " * (MAX_PAYLOAD_BYTES - len(raw))
    assert len(raw) == MAX_PAYLOAD_BYTES
    item, letters = classify(EVENTS, raw)
    assert isinstance(item, IncomingBatch) and len(item.events) == 1
    assert letters == []


# --- dead letters -----------------------------------------------------------


@pytest.mark.parametrize("raw", [b'{"v": 1, "device_id": ', b"not json", b"", b"{'v': 1}", b"[1, 2,]"])
def test_malformed_json(raw: bytes) -> None:
    letter = dead_letter_only(EVENTS, raw)
    assert letter.reason.startswith("malformed JSON: ")


def test_non_utf8_bytes() -> None:
    raw = payload(batch([event(1)])).replace(b'"b-1"', b'"b-\xff\xfe"')
    letter = dead_letter_only(EVENTS, raw)
    assert letter.reason.startswith("malformed JSON: ")
    assert "utf-8" in letter.reason.lower()


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 100_000 + b"]" * 100_000])
def test_deeply_nested_json(raw: bytes) -> None:
    letter = dead_letter_only(EVENTS, raw)
    assert letter.reason.startswith("malformed JSON: ")
    assert len(letter.reason) <= len("malformed JSON: ") + 200


def test_deeply_nested_event_is_rejected_not_fatal() -> None:
    nested: Any = 1
    for _ in range(300):
        nested = [nested]
    item, letters = classify(EVENTS, payload(batch([event(1), nested])))
    assert isinstance(item, IncomingBatch)
    assert [e.id for e in item.events] == [event_id(1)]
    assert [r.id for r in item.rejected] == ["#1"]
    assert len(letters) == 1


def test_oversized_payload() -> None:
    raw = payload(batch([event(1)]))
    raw += b" " * (MAX_PAYLOAD_BYTES + 1 - len(raw))
    letter = dead_letter_only(EVENTS, raw)
    assert letter.reason == f"payload of {MAX_PAYLOAD_BYTES + 1} bytes exceeds {MAX_PAYLOAD_BYTES}"


def test_unknown_version() -> None:
    letter = dead_letter_only(EVENTS, payload(batch([event(1)], v=2)))
    assert letter.reason == "invalid batch: v: Expected 1, got 2"


@pytest.mark.parametrize("batch_id", ["b/1", "b 1", "", "b" * 65, "b-ü"])
def test_batch_id_with_bad_chars(batch_id: str) -> None:
    letter = dead_letter_only(EVENTS, payload(batch([event(1)], batch_id=batch_id)))
    assert letter.reason.startswith("invalid batch: batch_id: Expected str matching regex")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ([1, 2], "invalid batch: payload: Expected object, got array"),
        ({"v": 1}, "invalid batch: device_id: Field required; location_id: Field required; batch_id: Field required"),
        (batch("nope"), "invalid batch: events: Expected array, got str"),
    ],
)
def test_invalid_envelopes(data: object, reason: str) -> None:
    assert dead_letter_only(EVENTS, payload(data)).reason.startswith(reason)


def test_too_many_events() -> None:
    letter = dead_letter_only(EVENTS, payload(batch([event(n) for n in range(1001)])))
    assert letter.reason == "invalid batch: events: Expected array of length <= 1000"


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("touchpoint/v1/loc 1/dev-1/events", "has a location or device id outside"),
        ("touchpoint/v1/loc-1/dev.1/events", "has a location or device id outside"),
        ("touchpoint/v1/loc-1//events", "has a location or device id outside"),
        ("touchpoint/v2/loc-1/dev-1/events", "is not touchpoint/v1/<location>/<device>/<kind>"),
        ("touchpoint/v1/loc-1/events", "is not touchpoint/v1/<location>/<device>/<kind>"),
    ],
)
def test_topic_with_bad_ids(topic: str, reason: str) -> None:
    letter = dead_letter_only(topic, payload(batch([event(1)])))
    assert reason in letter.reason
    assert repr(topic) in letter.reason


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"device_id": "dev-2"}, "location 'loc-1' device 'dev-2'"),
        ({"location_id": "loc-9"}, "location 'loc-9' device 'dev-1'"),
    ],
)
def test_topic_and_payload_disagree(overrides: dict[str, str], says: str) -> None:
    letter = dead_letter_only(EVENTS, payload(batch([event(1)], **overrides)))
    assert letter.reason == f"events topic is for location 'loc-1' device 'dev-1' but the payload says {says}"


def test_mismatch_is_caught_even_when_events_are_invalid() -> None:
    letter = dead_letter_only(EVENTS, payload(batch([event(1, value=9)], device_id="dev-2")))
    assert letter.reason.startswith("events topic is for location 'loc-1' device 'dev-1' but the payload says")


# --- partly bad batches -----------------------------------------------------


def test_bad_events_are_rejected_one_by_one() -> None:
    events = [event(1), event(2, scale=4, value=9), event(3), event(4, tz="Mars/Olympus_Mons"), event(5)]
    item, letters = classify(EVENTS, payload(batch(events)))
    assert isinstance(item, IncomingBatch)
    assert [e.id for e in item.events] == [event_id(1), event_id(3), event_id(5)]
    assert item.rejected == [
        Rejection(id=event_id(2), error="value: value 9 is outside the scale 0..3"),
        Rejection(id=event_id(4), error="tz: unknown IANA time zone 'Mars/Olympus_Mons'"),
    ]
    assert len(letters) == 2
    assert [letter.topic for letter in letters] == [EVENTS, EVENTS]
    assert letters[0].reason == f"batch b-1 event {event_id(2)}: {item.rejected[0].error}"
    assert letters[1].reason == f"batch b-1 event {event_id(4)}: {item.rejected[1].error}"
    assert json.loads(letters[0].payload)["value"] == 9
    assert json.loads(letters[1].payload)["tz"] == "Mars/Olympus_Mons"


def test_events_without_a_usable_id_are_labelled_by_index() -> None:
    events = [event(1), 42, event(3, id="x" * 65, value=9), {"id": 7}, event(5, id="not-a-uuid")]
    item, letters = classify(EVENTS, payload(batch(events)))
    assert isinstance(item, IncomingBatch)
    assert [e.id for e in item.events] == [event_id(1)]
    assert [r.id for r in item.rejected] == ["#1", "#2", "#3", "not-a-uuid"]
    assert item.rejected[1].error.startswith("id: Expected str matching regex")
    assert item.rejected[3].error.startswith("id: Expected str matching regex")
    assert len(letters) == 4
    assert letters[0].reason.startswith("batch b-1 event #1: ")


def test_all_events_bad_still_yields_a_batch_to_ack() -> None:
    item, letters = classify(EVENTS, payload(batch([event(1, value=4), event(2, source="pen")])))
    assert isinstance(item, IncomingBatch)
    assert item.events == []
    assert [r.id for r in item.rejected] == [event_id(1), event_id(2)]
    assert len(letters) == 2


@pytest.mark.parametrize("tz", ["Europe", "America", "Asia"])
def test_an_event_whose_tz_is_a_zone_directory_is_rejected(tz: str) -> None:
    item, letters = classify(EVENTS, payload(batch([event(1), event(2, tz=tz)])))
    assert isinstance(item, IncomingBatch)
    assert [e.id for e in item.events] == [event_id(1)]
    assert [r.id for r in item.rejected] == [event_id(2)]
    assert len(letters) == 1


# --- status -----------------------------------------------------------------


def test_valid_status() -> None:
    data = {"v": 1, "online": True, "device_id": "dev-1", "location_id": "loc-1", "backlog": 4, "version": "0.1.0"}
    item, letters = classify(STATUS, payload(data))
    assert letters == []
    assert isinstance(item, StatusUpdate)
    assert item.status == Status(online=True, device_id="dev-1", location_id="loc-1", backlog=4, version="0.1.0")


def test_empty_status_is_a_retained_clear() -> None:
    assert classify(STATUS, b"") == (None, [])


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{", "invalid status: malformed JSON"),
        (payload({"online": "maybe", "device_id": "dev-1", "location_id": "loc-1"}), "invalid status: online:"),
        (payload({"online": True, "device_id": "dev-1"}), "invalid status: location_id: Field required"),
        (payload({"online": True, "device_id": "dev-1", "location_id": "loc-1", "backlog": -1}), "invalid status: "),
        (b"\xff\xfe", "invalid status: "),
    ],
)
def test_invalid_status(raw: bytes, reason: str) -> None:
    assert dead_letter_only(STATUS, raw).reason.startswith(reason)


def test_status_for_another_device() -> None:
    raw = payload({"online": False, "device_id": "dev-2", "location_id": "loc-1"})
    assert dead_letter_only(STATUS, raw).reason == (
        "status topic is for location 'loc-1' device 'dev-1' but the payload says location 'loc-1' device 'dev-2'"
    )


# --- other topics -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ack", "config"])
@pytest.mark.parametrize("raw", [b"", b"garbage", payload({"v": 1, "batch_id": "b-1"})])
def test_ack_and_config_topics_are_ignored(kind: str, raw: bytes) -> None:
    assert classify(f"touchpoint/v1/loc-1/dev-1/{kind}", raw) == (None, [])


# --- properties -------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=200) | json_values.map(payload), topic=st.sampled_from([EVENTS, STATUS]))
def test_arbitrary_payloads_never_raise(raw: bytes, topic: str) -> None:
    item, letters = classify(topic, raw)
    assert all(isinstance(letter, DeadLetter) for letter in letters)
    if item is None and raw:
        assert len(letters) == 1 and letters[0].reason


@settings(max_examples=100, deadline=None)
@given(
    events=st.lists(
        st.fixed_dictionaries(
            {"id": st.sampled_from([event_id(n) for n in range(5)] + ["bad"]), "value": st.integers(-1, 5)},
            optional={"tz": st.sampled_from(["UTC", "Europe/Helsinki", "Not/AZone"]), "extra": json_values},
        ),
        max_size=8,
    )
)
def test_every_event_is_either_accepted_or_rejected(events: list[dict[str, Any]]) -> None:
    item, letters = classify(EVENTS, payload(batch([event(0, **e) for e in events])))
    assert isinstance(item, IncomingBatch)
    assert len(item.events) + len(item.rejected) == len(events)
    assert len(letters) == len(item.rejected)
    for e in item.events:
        assert 0 <= e.value < e.scale and e.tz in ("UTC", "Europe/Helsinki")
