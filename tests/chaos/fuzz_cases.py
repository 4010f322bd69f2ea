"""MQTT fuzz cases for the hub's ingest: hand-written nasty ones and hypothesis strategies.

Every case is ``(topic, payload)`` on a topic the hub subscribes to (``.../events`` or
``.../status``). Valid batches come from :class:`Valid`, with fresh ids and seqs, so
that the fuzz never collides with them by accident.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from edge_agent.protocol import MAX_BATCH_EVENTS, MAX_PAYLOAD_BYTES, format_ts, topic

Case = tuple[str, bytes]
LOC, DEV = "fuzz-store", "fuzz-kiosk"
EVENTS_TOPIC = topic(LOC, DEV, "events")
STATUS_TOPIC = topic(LOC, DEV, "status")
_seq = itertools.count(1_900_000_000_000)


def event(**overrides: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "id": str(uuid.uuid4()), "seq": next(_seq), "ts": "2026-01-15T10:00:00.000Z", "tz": "Europe/Helsinki",
        "clock_ok": True, "question_id": "default", "scale": 4, "value": 2, "reason": None, "source": "touch",
        "misuse": False,
    }  # fmt: skip
    e.update(overrides)
    return e


def batch(events: Any, **overrides: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"v": 1, "device_id": DEV, "location_id": LOC, "batch_id": str(uuid.uuid4()), "events": events}
    b.update(overrides)
    return b


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


class Valid:
    """Good batches from a device of their own, remembered so the test can demand every one is counted."""

    def __init__(self, device_id: str = "good-kiosk", location_id: str = "good-store") -> None:
        self.device_id, self.location_id = device_id, location_id
        self.ids: list[str] = []
        self._seq = itertools.count(1_700_000_000_000)
        self._rng = random.Random(5)

    def next(self, now_ts: str, size: int = 5) -> Case:
        rng = self._rng
        events = [
            event(seq=next(self._seq), ts=now_ts, value=rng.randrange(4), reason=rng.choice([None, "queue"]))
            for _ in range(size)
        ]
        self.ids += [e["id"] for e in events]
        body = batch(events, device_id=self.device_id, location_id=self.location_id)
        return topic(self.location_id, self.device_id, "events"), dumps(body)


def _field_swaps() -> Iterator[Case]:
    """Every event and envelope field, one at a time, replaced by something of the wrong type or range."""
    bad_values: list[Any] = [None, "", "x", -1, 1.5, 2**64, -(2**63) - 1, True, [], {}, [1, 2], {"a": 1}, "1", "💥"]
    for name in event():
        for bad in bad_values:
            yield EVENTS_TOPIC, dumps(batch([event(), event(**{name: bad})]))
    for name in ("v", "device_id", "location_id", "batch_id", "events"):
        for bad in bad_values:
            body = batch([event()])
            body[name] = bad
            yield EVENTS_TOPIC, dumps(body)


def _out_of_range() -> Iterator[Case]:
    for scale, value in [(4, 4), (5, 5), (11, 11), (4, -1), (3, 1), (6, 0), (10, 3), (11, 12), (4, 2**40)]:
        yield EVENTS_TOPIC, dumps(batch([event(scale=scale, value=value)]))
    for ts in ["yesterday", "2026-13-01T00:00:00Z", "2026-01-15T10:00:00", "0001-01-01T00:00:00Z",
               "9999-12-31T23:59:59Z", "2026-01-15T10:00:00+25:00", 1700000000, "1970-01-01T00:00:00Z",
               "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00Z"]:  # fmt: skip
        yield EVENTS_TOPIC, dumps(batch([event(ts=ts)]))
    for tz in ["Mars/Olympus", "Europe", "", "x" * 65, "../../etc/passwd", "UTC\x00"]:
        yield EVENTS_TOPIC, dumps(batch([event(tz=tz)]))
    big = 2**63
    for name in ("seq", "survey_version", "mono_ms"):
        yield EVENTS_TOPIC, dumps(batch([event(**{name: big}), event(**{name: big - 1})]))
    yield EVENTS_TOPIC, dumps(batch([event(reason="r" * 201), event(reason="a\x00b"), event(boot_id="b" * 65)]))


def _bad_ids() -> Iterator[Case]:
    for bad in ["", "a b", "x" * 65, "dév", "../x", "a/b", "a+b", "a#b", "\x00", "-", "💥"]:
        yield EVENTS_TOPIC, dumps(batch([event()], device_id=bad))
        yield EVENTS_TOPIC, dumps(batch([event()], location_id=bad))
        yield EVENTS_TOPIC, dumps(batch([event()], batch_id=bad))
        yield EVENTS_TOPIC, dumps(batch([event(question_id=bad)]))
    for bad_id in ["not-a-uuid", "", str(uuid.uuid4()) + "0", "{" + str(uuid.uuid4()) + "}", 42, "x" * 1000]:
        yield EVENTS_TOPIC, dumps(batch([event(id=bad_id), event()]))


def _mismatches() -> Iterator[Case]:
    body = dumps(batch([event()]))
    for loc, dev in [(LOC, "other-kiosk"), ("other-store", DEV), ("bad id", DEV), (LOC, "dév"), ("x" * 65, DEV)]:
        yield topic(loc, dev, "events"), body
        yield topic(loc, dev, "status"), dumps({"v": 1, "online": True, "device_id": DEV, "location_id": LOC})
    yield "touchpoint/v1//" + DEV + "/events", body


def _malformed(rng: random.Random) -> Iterator[Case]:
    good = dumps(batch([event(), event()]))
    for cut in sorted(rng.sample(range(1, len(good)), 25)):
        yield EVENTS_TOPIC, good[:cut]
    raw = [b"", b"{", b"}", b"null", b"[]", b"{}", b"1", b'"str"', b"{'v': 1}", b'{"v": NaN}', b'{"v": Infinity}',
           good + b"garbage", b"\xef\xbb\xbf" + good, b"// c\n" + good, good.replace(b":", b"=", 1),
           b'{"v":1,"v":2,"device_id":"fuzz-kiosk","location_id":"fuzz-store","batch_id":"b","events":[]}']  # fmt: skip
    for payload in raw:
        yield EVENTS_TOPIC, payload
        yield STATUS_TOPIC, payload if payload else b"{"


def _not_utf8() -> Iterator[Case]:
    good = json.dumps(batch([event(reason="queue")]))
    yield EVENTS_TOPIC, good.replace("queue", "qu\udcffe").encode("utf-8", "surrogateescape")
    yield EVENTS_TOPIC, good.encode("utf-16")
    yield EVENTS_TOPIC, good.replace("queue", "köö").encode("latin-1")
    yield EVENTS_TOPIC, good.replace("queue", "\\ud800").encode()  # an escaped lone surrogate
    yield EVENTS_TOPIC, good.replace('"queue"', '"\\udc80\\ud800"').encode()
    yield EVENTS_TOPIC, b"\xc0\xaf" + good.encode()  # an overlong encoding
    yield EVENTS_TOPIC, bytes(range(256))
    yield STATUS_TOPIC, b'{"v":1,"online":true,"device_id":"fuzz-kiosk","location_id":"fuzz-store","version":"\xff"}'


def _huge_and_deep() -> Iterator[Case]:
    many = batch([event() for _ in range(MAX_BATCH_EVENTS + 1)])
    yield EVENTS_TOPIC, dumps(many)
    yield EVENTS_TOPIC, dumps(batch([event(reason="x" * (MAX_PAYLOAD_BYTES + 10))]))
    yield EVENTS_TOPIC, b" " * (MAX_PAYLOAD_BYTES + 1)
    for depth in (10, 100, 500, 990, 5_000, 100_000):
        nest = "[" * depth + "]" * depth
        yield EVENTS_TOPIC, nest.encode()
        yield EVENTS_TOPIC, ('{"v":1,"device_id":"fuzz-kiosk","location_id":"fuzz-store","batch_id":"b","events":'
                             + nest + "}").encode()  # fmt: skip
        yield EVENTS_TOPIC, json.dumps(batch([event()])).replace('"reason": null', '"reason": ' + nest).encode()
        yield STATUS_TOPIC, ('{"v":1,"online":true,"device_id":"fuzz-kiosk","location_id":"fuzz-store","version":'
                             + nest + "}").encode()  # fmt: skip
    yield EVENTS_TOPIC, dumps(batch([event(reason={"a": {"b": {"c": [1, {"d": None}]}}})]))


def _versions_and_odd_ones() -> Iterator[Case]:
    for v in [0, 2, 99, -1, "1", None, 1.0, True]:
        yield EVENTS_TOPIC, dumps(batch([event()], v=v))
        yield STATUS_TOPIC, dumps({"v": v, "online": True, "device_id": DEV, "location_id": LOC})
    no_v = batch([event()])
    del no_v["v"]
    yield EVENTS_TOPIC, dumps(no_v)
    yield EVENTS_TOPIC, dumps(batch([]))  # empty: acked with nothing in it
    yield EVENTS_TOPIC, dumps(batch([event(), 7, None, "e", [], {}]))  # junk among good events
    dup = event()
    yield EVENTS_TOPIC, dumps(batch([dup, dup, {**dup, "seq": dup["seq"] + 1}]))  # the same id twice, then a new seq
    yield EVENTS_TOPIC, dumps(batch([event(extra_field={"x": 1}, misuse="yes")]))
    yield EVENTS_TOPIC, dumps(batch([event(ts=format_ts(_far_future()))]))  # stored in quarantine, not counted
    yield EVENTS_TOPIC, dumps(batch([event(clock_ok=False)]))  # quarantined too
    for status in [{"v": 1, "online": "yes", "device_id": DEV, "location_id": LOC},
                   {"v": 1, "online": True, "device_id": DEV, "location_id": LOC, "backlog": 2**63},
                   {"v": 1, "online": True, "device_id": DEV, "location_id": LOC, "backlog": -5},
                   {"v": 1, "online": True}, []]:  # fmt: skip
        yield STATUS_TOPIC, dumps(status)


def _far_future() -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(days=30)


def nasty(seed: int = 1) -> list[Case]:
    """The hand-written cases: malformed JSON, wrong types, huge and deep payloads, bad versions, ids and
    values, topic/payload mismatches, and bytes that are not UTF-8."""
    rng = random.Random(seed)
    groups = [_field_swaps(), _out_of_range(), _bad_ids(), _mismatches(), _malformed(rng), _not_utf8(),
              _huge_and_deep(), _versions_and_odd_ones()]  # fmt: skip
    return [case for group in groups for case in group]


# --- hypothesis ------------------------------------------------------------------

_json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    _json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
_topics = st.sampled_from(
    [EVENTS_TOPIC, EVENTS_TOPIC, EVENTS_TOPIC, STATUS_TOPIC, topic(LOC, "other-kiosk", "events"),
     topic("bad loc", DEV, "events"), "touchpoint/v1/a/b/c/events"]
)  # fmt: skip


@st.composite
def mutated_batches(draw: st.DrawFn) -> Case:
    """A valid batch with a few random changes: a field dropped, replaced, added, or an event replaced."""
    body = batch([event(value=draw(st.integers(0, 3))) for _ in range(draw(st.integers(0, 4)))])
    for _ in range(draw(st.integers(1, 3))):
        target: dict[str, Any] = body
        events = body.get("events")
        if isinstance(events, list) and events and draw(st.booleans()):
            index = draw(st.integers(0, len(events) - 1))
            if not isinstance(events[index], dict) or draw(st.integers(0, 9)) == 0:
                events[index] = draw(json_values)
                continue
            target = events[index]
        keys = sorted(target) or ["v"]
        key = draw(st.sampled_from(keys) | st.text(max_size=8))
        action = draw(st.sampled_from(["drop", "replace", "replace"]))
        if action == "drop":
            target.pop(key, None)
        else:
            target[key] = draw(json_values)
    return draw(_topics), dumps(body)


def generated_cases() -> st.SearchStrategy[Case]:
    raw = st.tuples(_topics, st.binary(max_size=300))
    text = st.tuples(_topics, st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
    any_json = st.tuples(_topics, json_values.map(dumps))
    return st.one_of(mutated_batches(), mutated_batches(), raw, text, any_json)
