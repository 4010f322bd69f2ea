"""The hub's storage on both backends (SQLite, PostgreSQL): ingest, rollups, devices, tokens, dead letters."""

from __future__ import annotations

import itertools
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.protocol import Event, Rejection, Status
from hub.storage import open_storage
from hub.storage.base import CountsRow, DeadLetter, IncomingBatch, IngestResult, ScoreQuery, StatusUpdate, Storage
from hub.storage.sqlite import SqliteStorage, hash_token
from hub.storage.sqlite.schema import MIGRATIONS
from tests.hub.backends import INTEGRITY_ERRORS, raw

RECEIVED = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY = date(2026, 11, 22)
HELSINKI = ZoneInfo("Europe/Helsinki")


def event_id(n: int) -> str:
    return f"0190a5e4-7c1d-7abc-8def-{n:012x}"


def ev(
    n: int,
    *,
    value: int = 3,
    scale: int = 4,
    seq: int | None = None,
    ts: datetime = NOON,
    tz: str = "Europe/Helsinki",
    question_id: str = "q1",
    misuse: bool = False,
) -> Event:
    return Event(
        id=event_id(n), seq=1000 + n if seq is None else seq, ts=ts, tz=tz, clock_ok=True, question_id=question_id,
        scale=scale, value=value, source="touch", misuse=misuse,
    )  # fmt: skip


def batch(events: list[Event], batch_id: str = "b-1", device: str = "dev-1", location: str = "loc-1") -> IncomingBatch:
    return IncomingBatch(device, location, batch_id, events)


def ingest(storage: Storage, *batches: IncomingBatch, statuses: tuple[StatusUpdate, ...] = ()) -> IngestResult:
    return storage.ingest(list(batches), list(statuses), [], RECEIVED)


def day_counts(storage: Storage, **query: object) -> dict[tuple[object, ...], list[int]]:
    """score_counts as {(keys..., question_id, scale): counts}."""
    q = ScoreQuery(start=query.pop("start", DAY), end=query.pop("end", DAY), **query)  # type: ignore[arg-type]
    return {(*row.keys.values(), row.question_id, row.scale): row.counts for row in storage.score_counts(q)}


# --- ingest and idempotency ---------------------------------------------------


def test_new_events_are_accepted(storage: Storage) -> None:
    events = [ev(1, value=0), ev(2, value=3), ev(3, value=3)]
    result = ingest(storage, batch(events))
    assert result.inserted == 3
    assert (result.duplicates, result.rejected, result.dead_letters) == (0, 0, 0)
    assert len(result.acks) == 1
    ack = result.acks[0]
    assert ack.batch_id == "b-1"
    assert ack.accepted == [event_id(1), event_id(2), event_id(3)]
    assert ack.duplicates == [] and ack.rejected == []
    assert storage.counts() == {"events": 3, "dead_letters": 0, "devices": 1, "locations": 1, "devices_online": 0}
    assert day_counts(storage) == {("loc-1", "q1", 4): [1, 0, 0, 2]}
    rows = raw(storage, "SELECT id, device_id, location_id, seq, ts, batch_id, received_at FROM events ORDER BY seq")
    stamps = ("2026-11-22T12:00:00.000Z", "2026-11-23T08:00:00.000Z")
    assert rows[0] == (event_id(1), "dev-1", "loc-1", 1001, stamps[0], "b-1", stamps[1])


def test_the_same_batch_again_is_all_duplicates(storage: Storage) -> None:
    events = [ev(1, value=0), ev(2, value=1)]
    ingest(storage, batch(events))
    before = day_counts(storage)
    again = ingest(storage, batch(events))
    assert again.inserted == 0
    assert again.duplicates == 2
    assert again.acks[0].accepted == []
    assert again.acks[0].duplicates == [event_id(1), event_id(2)]
    assert day_counts(storage) == before == {("loc-1", "q1", 4): [1, 1, 0, 0]}
    assert storage.counts()["events"] == 2
    assert storage.devices()[0]["events_received"] == 2


def test_a_resent_event_in_a_new_batch_is_a_duplicate(storage: Storage) -> None:
    ingest(storage, batch([ev(1)], "b-1"))
    result = ingest(storage, batch([ev(1), ev(2)], "b-2"))
    assert result.acks[0].accepted == [event_id(2)]
    assert result.acks[0].duplicates == [event_id(1)]
    assert storage.devices()[0]["last_batch_id"] == "b-2"


def test_the_same_event_twice_in_one_call_is_counted_once(storage: Storage) -> None:
    result = ingest(storage, batch([ev(1), ev(1)], "b-1"), batch([ev(1), ev(2)], "b-2"))
    assert result.inserted == 2
    assert result.duplicates == 2
    assert [a.accepted for a in result.acks] == [[event_id(1)], [event_id(2)]]
    assert [a.duplicates for a in result.acks] == [[event_id(1)], [event_id(1)]]
    assert day_counts(storage) == {("loc-1", "q1", 4): [0, 0, 0, 2]}
    assert storage.counts()["events"] == 2


def test_a_new_id_reusing_a_seq_is_rejected(storage: Storage) -> None:
    ingest(storage, batch([ev(1, seq=5, value=0)]))
    result = ingest(storage, batch([ev(2, seq=6, value=1), ev(9, seq=5, value=2), ev(3, seq=7, value=3)], "b-2"))
    ack = result.acks[0]
    assert ack.accepted == [event_id(2), event_id(3)]
    assert ack.rejected == [
        Rejection(id=event_id(9), error="seq 5 of device dev-1 was already used by another event id")
    ]
    assert (result.inserted, result.rejected, result.dead_letters) == (2, 1, 1)
    assert day_counts(storage) == {("loc-1", "q1", 4): [1, 1, 0, 1]}
    assert storage.counts()["events"] == 3
    assert storage.counts()["dead_letters"] == 1
    letter = storage.dead_letter_list(10)[0]
    assert letter["reason"] == f"event {event_id(9)}: seq 5 of device dev-1 was already used by another event id"
    assert storage.devices()[0]["events_received"] == 3


def test_two_new_ids_with_one_seq_in_one_batch(storage: Storage) -> None:
    result = ingest(storage, batch([ev(1, seq=5), ev(2, seq=5)]))
    assert result.acks[0].accepted == [event_id(1)]
    assert [r.id for r in result.acks[0].rejected] == [event_id(2)]


def test_the_same_seq_on_another_device_is_fine(storage: Storage) -> None:
    result = ingest(storage, batch([ev(1, seq=5)], device="dev-1"), batch([ev(2, seq=5)], device="dev-2"))
    assert result.inserted == 2 and result.rejected == 0


def test_seq_collision_dead_letter_names_the_events_topic(storage: Storage) -> None:
    ingest(storage, batch([ev(1, seq=5)]))
    ingest(storage, batch([ev(9, seq=5)], "b-2"))
    assert storage.dead_letter_list(1)[0]["topic"] == "touchpoint/v1/loc-1/dev-1/events"


def test_an_id_refused_for_its_seq_is_not_a_duplicate_later_in_the_call(storage: Storage) -> None:
    ingest(storage, batch([ev(1, seq=5)]))
    result = ingest(storage, batch([ev(9, seq=5)], "b-2"), batch([ev(9, seq=5)], "b-3"))
    assert [r.id for r in result.acks[0].rejected] == [event_id(9)]
    assert result.acks[1].duplicates == []
    assert [r.id for r in result.acks[1].rejected] == [event_id(9)]


def test_an_id_refused_for_its_seq_is_stored_when_it_comes_again_with_a_free_seq_in_the_call(storage: Storage) -> None:
    ingest(storage, batch([ev(1, seq=5)]))
    result = ingest(storage, batch([ev(9, seq=5), ev(2)], "b-2"), batch([ev(9, seq=6), ev(3)], "b-3"))
    assert [r.id for r in result.acks[0].rejected] == [event_id(9)]
    assert result.acks[0].accepted == [event_id(2)]
    assert result.acks[1].accepted == [event_id(9), event_id(3)]  # not a duplicate: the first copy was never stored
    assert result.acks[1].duplicates == []
    assert raw(storage, "SELECT seq FROM events WHERE id = ?", (event_id(9),)) == [(6,)]
    assert storage.counts()["events"] == 4


def test_stored_events_and_copies_across_batches_of_one_call(storage: Storage) -> None:
    ingest(storage, batch([ev(1, value=0)]))
    result = ingest(
        storage,
        batch([ev(1, value=0), ev(3, value=1)], "b-x"),  # a stored event beside a new one
        batch([ev(3, value=1), ev(4, value=2)], "b-y"),  # a copy of the new one
        batch([ev(1, value=0), ev(5, value=3)], "b-z"),
    )
    assert [a.accepted for a in result.acks] == [[event_id(3)], [event_id(4)], [event_id(5)]]
    assert [a.duplicates for a in result.acks] == [[event_id(1)], [event_id(3)], [event_id(1)]]
    assert (result.inserted, result.duplicates, result.rejected) == (3, 3, 0)
    assert day_counts(storage) == {("loc-1", "q1", 4): [1, 1, 1, 1]}
    assert storage.devices()[0]["events_received"] == 4


def test_rejections_from_classify_are_passed_through(storage: Storage) -> None:
    refused = Rejection(id="#1", error="value: nope")
    incoming = IncomingBatch("dev-1", "loc-1", "b-1", [ev(1)], [refused])
    result = storage.ingest([incoming], [], [DeadLetter("t", "value: nope", b"{}")], RECEIVED)
    assert result.acks[0].rejected == [refused]
    assert result.rejected == 1
    assert result.dead_letters == 1


def test_misuse_is_stored_but_not_rolled_up(storage: Storage) -> None:
    result = ingest(storage, batch([ev(1, value=3), ev(2, value=0, misuse=True), ev(3, value=0, misuse=True)]))
    assert result.acks[0].accepted == [event_id(1), event_id(2), event_id(3)]
    assert storage.counts()["events"] == 3
    assert raw(storage, "SELECT misuse FROM events ORDER BY seq") == [(0,), (1,), (1,)]
    assert day_counts(storage) == {("loc-1", "q1", 4): [0, 0, 0, 1]}
    assert day_counts(storage, group_by="hour") == {("loc-1", 14, "q1", 4): [0, 0, 0, 1]}


def test_an_ingest_that_fails_commits_nothing(storage: Storage) -> None:
    bad_letter = DeadLetter("t", "reason", None)  # type: ignore[arg-type]  # violates NOT NULL at the very end
    with pytest.raises(INTEGRITY_ERRORS):
        storage.ingest([batch([ev(1)])], [], [bad_letter], RECEIVED)
    assert storage.counts() == {"events": 0, "dead_letters": 0, "devices": 0, "locations": 0, "devices_online": 0}
    assert day_counts(storage) == {}
    assert ingest(storage, batch([ev(1)])).inserted == 1  # the writer is usable again


# --- rollups and queries ------------------------------------------------------


@pytest.fixture
def two_stores(storage: Storage) -> Storage:
    # loc-1 (Helsinki, UTC+2 in November), loc-2 (UTC); times in UTC.
    t = datetime(2026, 11, 22, 8, 15, tzinfo=UTC)  # 10:15 in Helsinki
    ingest(
        storage,
        batch(
            [
                ev(1, value=0, ts=t),
                ev(2, value=3, ts=t),
                ev(3, value=3, ts=t + timedelta(hours=1)),
                ev(4, value=10, scale=11, question_id="nps", ts=t),
                ev(5, value=2, ts=t + timedelta(days=1, minutes=-10)),  # not after RECEIVED: else quarantined
                ev(6, value=1, ts=t - timedelta(days=1)),
            ]
        ),
        batch([ev(11, value=1, tz="UTC", ts=t), ev(12, value=1, tz="UTC", ts=t)], device="dev-2", location="loc-2"),
    )
    return storage


def test_group_by_location(two_stores: Storage) -> None:
    assert day_counts(two_stores, group_by="location") == {
        ("loc-1", "nps", 11): [0] * 10 + [1],
        ("loc-1", "q1", 4): [1, 0, 0, 2],
        ("loc-2", "q1", 4): [0, 2, 0, 0],
    }
    rows = two_stores.score_counts(ScoreQuery(DAY, DAY))
    assert rows[0] == CountsRow({"location_id": "loc-1"}, "nps", 11, [0] * 10 + [1])


def test_group_by_day_over_a_range(two_stores: Storage) -> None:
    result = day_counts(two_stores, group_by="day", start=DAY - timedelta(days=1), end=DAY + timedelta(days=1))
    assert result == {
        ("loc-1", "2026-11-21", "q1", 4): [0, 1, 0, 0],
        ("loc-1", "2026-11-22", "nps", 11): [0] * 10 + [1],
        ("loc-1", "2026-11-22", "q1", 4): [1, 0, 0, 2],
        ("loc-1", "2026-11-23", "q1", 4): [0, 0, 1, 0],
        ("loc-2", "2026-11-22", "q1", 4): [0, 2, 0, 0],
    }


def test_date_range_is_inclusive(two_stores: Storage) -> None:
    to_next = day_counts(two_stores, group_by="all", start=DAY, end=DAY + timedelta(days=1))
    assert to_next[("q1", 4)] == [1, 2, 1, 2]
    assert day_counts(two_stores, group_by="all", start=DAY + timedelta(days=2), end=DAY + timedelta(days=9)) == {}


def test_group_by_hour_uses_local_hours(two_stores: Storage) -> None:
    assert day_counts(two_stores, group_by="hour", question_id="q1") == {
        ("loc-1", 10, "q1", 4): [1, 0, 0, 1],
        ("loc-1", 11, "q1", 4): [0, 0, 0, 1],
        ("loc-2", 8, "q1", 4): [0, 2, 0, 0],
    }


def test_group_by_all_with_filters(two_stores: Storage) -> None:
    assert day_counts(two_stores, group_by="all") == {("nps", 11): [0] * 10 + [1], ("q1", 4): [1, 2, 0, 2]}
    assert day_counts(two_stores, group_by="all", location_id="loc-2") == {("q1", 4): [0, 2, 0, 0]}
    assert day_counts(two_stores, group_by="all", question_id="nps") == {("nps", 11): [0] * 10 + [1]}
    assert day_counts(two_stores, group_by="all", location_id="loc-2", question_id="nps") == {}
    assert day_counts(two_stores, group_by="all", location_id="nowhere") == {}
    rows = two_stores.score_counts(ScoreQuery(DAY, DAY, group_by="all", question_id="q1"))
    assert rows == [CountsRow({}, "q1", 4, [1, 2, 0, 2])]


def test_location_zone_comes_from_its_first_events(storage: Storage) -> None:
    late = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)  # 00:30 on the 23rd in Helsinki
    ingest(storage, batch([ev(1, ts=late, tz="Europe/Helsinki")]))
    # later events claiming another zone do not move the location's days
    ingest(storage, batch([ev(2, ts=late, tz="UTC")], "b-2"))
    [location] = storage.locations()
    assert location["location_id"] == "loc-1"
    assert location["timezone"] == "Europe/Helsinki"
    assert location["timezone_source"] == "events"
    assert location["created_at"] == "2026-11-23T08:00:00.000Z"
    assert day_counts(storage, group_by="day") == {}
    assert day_counts(storage, group_by="day", start=date(2026, 11, 23), end=date(2026, 11, 23)) == {
        ("loc-1", "2026-11-23", "q1", 4): [0, 0, 0, 2]
    }
    assert day_counts(storage, group_by="hour", start=date(2026, 11, 23), end=date(2026, 11, 23)) == {
        ("loc-1", 0, "q1", 4): [0, 0, 0, 2]
    }
    assert raw(storage, "SELECT local_day, local_hour, tz FROM events ORDER BY seq") == [
        ("2026-11-23", 0, "Europe/Helsinki"),
        ("2026-11-23", 0, "UTC"),
    ]


def test_a_location_first_seen_with_an_unknown_zone_falls_back_to_the_next_or_utc(storage: Storage) -> None:
    ingest(
        storage,
        batch([ev(1, tz="Bad/Zone"), ev(2, tz="America/New_York")]),
        batch([ev(3, tz="Bad/Zone")], device="dev-2", location="loc-2"),
    )
    zones = {row["location_id"]: row["timezone"] for row in storage.locations()}
    assert zones == {"loc-1": "America/New_York", "loc-2": "UTC"}


def test_an_empty_batch_registers_the_device_but_not_the_location(storage: Storage) -> None:
    result = ingest(storage, batch([]))
    assert result.acks[0].accepted == []
    assert storage.locations() == []
    assert [d["device_id"] for d in storage.devices()] == ["dev-1"]


# --- devices and status -------------------------------------------------------


def status(online: bool, **fields: Any) -> StatusUpdate:
    return StatusUpdate(Status(online=online, device_id="dev-1", location_id="loc-1", **fields))


def test_status_creates_and_updates_the_device(storage: Storage) -> None:
    ingest(storage, statuses=(status(True, backlog=5, version="0.1.0", clock_ok=True, last_sync="x"),))
    [device] = storage.devices()
    assert device["online"] is True
    assert device["backlog"] == 5
    assert device["version"] == "0.1.0"
    assert device["clock_ok"] is True
    assert device["last_sync"] == "x"
    assert device["events_received"] == 0
    assert device["status_at"] == device["first_seen"] == "2026-11-23T08:00:00.000Z"
    assert storage.counts()["devices_online"] == 1
    assert storage.counts()["locations"] == 0

    later = RECEIVED + timedelta(minutes=5)
    storage.ingest([], [status(False)], [], later)  # a last will: only online changes
    [device] = storage.devices()
    assert device["online"] is False
    assert device["backlog"] == 5
    assert device["version"] == "0.1.0"
    assert device["clock_ok"] is True
    assert device["last_seen"] == device["status_at"] == "2026-11-23T08:05:00.000Z"
    assert device["first_seen"] == "2026-11-23T08:00:00.000Z"
    assert storage.counts()["devices_online"] == 0

    storage.ingest([], [status(True, backlog=0, clock_ok=False)], [], later)
    [device] = storage.devices()
    assert (device["online"], device["backlog"], device["clock_ok"], device["held"]) == (True, 0, False, None)


def test_status_held_is_kept_until_a_status_says_otherwise(storage: Storage) -> None:
    ingest(storage, statuses=(status(True, backlog=3, clock_ok=False, held=3),))
    assert storage.devices()[0]["held"] == 3
    ingest(storage, statuses=(status(False),))  # a last will carries no counts
    assert storage.devices()[0]["held"] == 3
    ingest(storage, statuses=(status(True, backlog=0, clock_ok=True, held=0),))
    assert storage.devices()[0]["held"] == 0


def test_batches_and_status_share_the_device_row(storage: Storage) -> None:
    ingest(storage, batch([ev(1), ev(2)]), statuses=(status(True, backlog=7),))
    [device] = storage.devices()
    assert device["events_received"] == 2
    assert device["last_batch_id"] == "b-1"
    assert device["backlog"] == 7
    assert device["online"] is True


# --- tokens -------------------------------------------------------------------


def test_tokens_create_verify_list_revoke(storage: Storage) -> None:
    info, secret = storage.create_token("dashboard", "analyst", "north")
    admin, admin_secret = storage.create_token("ops", "admin", None)
    assert secret.startswith("tp_") and len(secret) > 40
    assert secret != admin_secret
    assert (info.name, info.role, info.region, info.revoked_at) == ("dashboard", "analyst", "north", None)
    assert storage.verify_token(secret) == info
    assert storage.verify_token(admin_secret) == admin
    assert storage.verify_token(secret + "x") is None
    assert storage.verify_token("") is None
    assert [t.token_id for t in storage.list_tokens()] == [info.token_id, admin.token_id]

    assert storage.revoke_token(info.token_id) is True
    assert storage.verify_token(secret) is None
    assert storage.verify_token(admin_secret) == admin
    assert storage.revoke_token(info.token_id) is False
    assert storage.revoke_token(9999) is False
    listed = {t.token_id: t for t in storage.list_tokens()}
    assert listed[info.token_id].revoked_at is not None
    assert listed[admin.token_id].revoked_at is None


def test_token_secrets_are_not_stored_in_plain_text(storage: Storage, db: str) -> None:
    _, secret = storage.create_token("dashboard", "analyst", None)
    if isinstance(storage, SqliteStorage):
        files = [p for p in Path(db).parent.iterdir() if p.name.startswith(Path(db).name)]
        data = b"".join(p.read_bytes() for p in files)
        assert hash_token(secret).encode() in data  # the file (or its WAL) does hold the token row ...
        assert secret.encode() not in data  # ... but never the secret
        assert secret.removeprefix("tp_").encode() not in data
    assert raw(storage, "SELECT token_hash FROM tokens") == [(hash_token(secret),)]


def test_unknown_role_is_refused(storage: Storage) -> None:
    with pytest.raises(INTEGRITY_ERRORS):
        storage.create_token("x", "root", None)  # type: ignore[arg-type]
    assert storage.list_tokens() == []


# --- dead letters and counts --------------------------------------------------


def test_dead_letter_list_newest_first(storage: Storage) -> None:
    letters = [
        DeadLetter("touchpoint/v1/a/b/events", "malformed JSON: x", b"{oops"),
        DeadLetter("touchpoint/v1/a/b/events", "too big", b"x" * 5000),
        DeadLetter("touchpoint/v1/a/b/status", "invalid status", b"\xff\xfe"),
    ]
    storage.ingest([], [], letters[:2], RECEIVED)
    storage.ingest([], [], letters[2:], RECEIVED + timedelta(seconds=1))
    listed = storage.dead_letter_list(10)
    assert [d["reason"] for d in listed] == ["invalid status", "too big", "malformed JSON: x"]
    assert [d["payload_bytes"] for d in listed] == [2, 5000, 5]
    assert listed[1]["payload_preview"] == "x" * 200
    assert listed[0]["payload_preview"] == "\ufffd\ufffd"
    assert listed[0]["received_at"] == "2026-11-23T08:00:01.000Z"
    assert listed[0]["topic"] == "touchpoint/v1/a/b/status"
    assert [d["reason"] for d in storage.dead_letter_list(1)] == ["invalid status"]
    assert storage.counts()["dead_letters"] == 3


def test_counts_of_an_empty_hub(storage: Storage) -> None:
    assert storage.counts() == {"events": 0, "dead_letters": 0, "devices": 0, "locations": 0, "devices_online": 0}


def test_data_survives_reopening(db: str) -> None:
    first = open_storage(db)
    ingest(first, batch([ev(1), ev(2)]))
    _, secret = first.create_token("t", "admin", None)
    first.close()
    again = open_storage(db)
    try:
        assert again.counts()["events"] == 2
        assert again.verify_token(secret) is not None
        assert ingest(again, batch([ev(1)])).duplicates == 1
        if isinstance(again, SqliteStorage):
            assert raw(again, "PRAGMA user_version") == [(len(MIGRATIONS),)]
            assert raw(again, "PRAGMA journal_mode") == [("wal",)]
        else:  # migrations are idempotent on reopening: each step recorded once
            assert raw(again, "SELECT max(version), count(*) FROM schema_version") == [(len(MIGRATIONS),) * 2]
    finally:
        again.close()


# --- property: delivery order and duplication never change the counts --------

event_specs = st.lists(
    st.tuples(
        st.integers(0, 3),  # value
        st.integers(0, 47),  # hours after 2026-11-21T00:00Z
        st.sampled_from(["q1", "q2"]),
        st.booleans(),  # misuse
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture
def reused(backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[[], Storage]]:
    """A function giving an empty storage for each hypothesis example: a new SQLite file, or the test's one
    PostgreSQL database emptied (a database per example would take longer than the example)."""
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "sqlite":
            paths = (Path(tmp) / f"hub-{n}.sqlite" for n in itertools.count())
            yield lambda: SqliteStorage(next(paths))
            return
        url = str(request.getfixturevalue("pg_url"))
        open_storage(url).close()  # migrated once

        def emptied() -> Storage:
            storage = open_storage(url)
            with storage._write() as conn:  # type: ignore[attr-defined]
                conn.execute(f"TRUNCATE {', '.join(INGESTED_TABLES)}")
            return storage

        yield emptied


INGESTED_TABLES = ("events", "rollup_day", "rollup_hour", "rollup_month", "rollup_reason", "devices", "locations",
                   "dead_letters", "quarantine")  # fmt: skip


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(specs=event_specs, data=st.data())
def test_any_interleaving_and_duplication_yields_the_set_counts(
    reused: Callable[[], Storage], specs: list[tuple[int, int, str, bool]], data: st.DataObject
) -> None:
    start = datetime(2026, 11, 21, tzinfo=UTC)
    events = [
        ev(n, value=v, ts=start + timedelta(hours=h), question_id=q, misuse=m) for n, (v, h, q, m) in enumerate(specs)
    ]
    # split the events into batches, then deliver every batch at least once, in any order, any number of times
    cuts = sorted(data.draw(st.sets(st.integers(1, len(events) - 1), max_size=4)) if len(events) > 1 else set())
    bounds = [0, *cuts, len(events)]
    batches = [batch(events[a:b], f"b-{i}") for i, (a, b) in enumerate(pairwise(bounds))]
    extra = data.draw(st.lists(st.sampled_from(batches), max_size=6))
    deliveries = data.draw(st.permutations([*batches, *extra]))
    group_sizes = data.draw(st.lists(st.integers(1, 4), min_size=len(deliveries), max_size=len(deliveries)))

    expected: Counter[tuple[str, str, int]] = Counter()
    for value, hours, question, misuse in specs:
        if not misuse:
            local = (start + timedelta(hours=hours)).astimezone(HELSINKI)
            expected[(local.date().isoformat(), question, value)] += 1

    storage = reused()
    try:
        accepted: list[str] = []
        i = 0
        for size in group_sizes:
            group = deliveries[i : i + size]
            i += size
            if not group:
                break
            result = storage.ingest(group, [], [], RECEIVED)
            accepted += [a for ack in result.acks for a in ack.accepted]
            assert all(not ack.rejected for ack in result.acks)
        assert sorted(accepted) == sorted(e.id for e in events)  # each event accepted exactly once
        assert storage.counts()["events"] == len(events)
        got: Counter[tuple[str, str, int]] = Counter()
        rows = storage.score_counts(ScoreQuery(date(2026, 11, 20), date(2026, 11, 24), group_by="day"))
        for row in rows:
            for value, count in enumerate(row.counts):
                if count:
                    got[(str(row.keys["day"]), row.question_id, value)] += count
        assert got == expected
        hourly = storage.score_counts(ScoreQuery(date(2026, 11, 20), date(2026, 11, 24), group_by="hour"))
        assert sum(sum(r.counts) for r in hourly) == sum(expected.values())
    finally:
        storage.close()
