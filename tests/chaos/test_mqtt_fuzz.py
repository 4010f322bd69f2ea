"""MQTT fuzzing of the hub's ingest: every bad message ends in the dead letters or an ack's rejected
list, with a reason; the hub never dies; valid batches sent in between are all counted.

1. In process, over 10,000 cases: the hub's own ``classify()`` and SQLite ingest transaction, on a
   real file, one transaction per message as the worker would commit a group of one.
2. Against a real Mosquitto and a real hub process: a few hundred of the nastiest cases, interleaved
   with valid batches; the dead-letter total the admin API reports must equal what classify() predicts.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from edge_agent.protocol import Ack, format_ts
from hub.broker import MosquittoBroker
from hub.classify import classify
from hub.storage.base import IncomingBatch, IngestResult, StatusUpdate
from hub.storage.sqlite import SqliteStorage
from tests.chaos.fuzz_cases import Case, Valid, generated_cases, nasty
from tests.chaos.mqtt_client import Publisher
from tests.support import Hub, wait_until

GENERATED = 9_700
FROM_EVENTS = (
    "SELECT location_id, question_id, local_day, scale, value, COUNT(*) FROM events WHERE misuse = 0 "
    "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
)
ROLLUP_DAY = "SELECT location_id, question_id, day, scale, value, count FROM rollup_day ORDER BY 1, 2, 3, 4, 5"
VALID_EVERY = 10  # a valid batch after every 10 fuzz cases


def _events_in(payload: bytes) -> int:
    data = json.loads(payload)
    return len(data["events"])


class Harness:
    """The hub's ingest path in process, with the fuzz oracle checked after every message."""

    def __init__(self, path: Path) -> None:
        self.storage = SqliteStorage(path)
        self.storage._writer.execute("PRAGMA synchronous = OFF")  # a fuzz run, not a durability test
        self.valid = Valid()
        self.cases = 0
        self.letters = 0
        self.outcomes: Counter[str] = Counter()

    def ingest(self, topic_name: str, payload: bytes) -> IngestResult:
        item, letters = classify(topic_name, payload)  # must never raise
        assert all(letter.reason.strip() for letter in letters), "a dead letter without a reason"
        kind = topic_name.rsplit("/", 1)[-1]
        if item is None and not (kind == "status" and payload == b""):  # an empty status clears a retained one
            assert letters, f"neither ingested nor dead-lettered: {payload[:200]!r}"
        batches = [item] if isinstance(item, IncomingBatch) else []
        statuses = [item] if isinstance(item, StatusUpdate) else []
        result = self.storage.ingest(batches, statuses, letters, datetime.now(UTC))  # must never raise
        self.letters += result.dead_letters
        if batches:
            [ack] = result.acks
            self._check_ack(ack, payload, len(letters))
        self.outcomes["dead-lettered" if letters else ("status" if statuses else "ingested")] += 1
        return result

    def _check_ack(self, ack: Ack, payload: bytes, letters: int) -> None:
        answered = len(ack.accepted) + len(ack.duplicates) + len(ack.rejected)
        assert answered == _events_in(payload), "an event missing from the ack"
        assert all(r.id and r.error.strip() for r in ack.rejected), "a rejection without an id or a reason"
        assert letters >= len(ack.rejected) - sum("already used" in r.error for r in ack.rejected)

    def case(self, topic_name: str, payload: bytes) -> None:
        self.cases += 1
        self.ingest(topic_name, payload)
        if self.cases % VALID_EVERY == 0:
            topic_name, payload = self.valid.next(format_ts(datetime.now(UTC)))
            [ack] = self.ingest(topic_name, payload).acks
            assert not ack.rejected and not ack.duplicates, f"a valid batch was refused: {ack}"

    def finish(self) -> None:
        """Every valid event counted once; rollups equal the events they were built from."""
        conn = self.storage._writer
        ids = self.valid.ids
        stored = {r[0] for r in conn.execute("SELECT id FROM events WHERE device_id = ?", (self.valid.device_id,))}
        assert stored == set(ids) and len(ids) == len(set(ids))
        assert conn.execute(FROM_EVENTS).fetchall() == conn.execute(ROLLUP_DAY).fetchall()
        assert conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0] == self.letters
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        self.storage.close()


def test_ten_thousand_fuzz_cases_end_with_a_reason_and_valid_batches_count(tmp_path: Path) -> None:
    harness = Harness(tmp_path / "hub.sqlite")
    hand_written = nasty()
    for topic_name, payload in hand_written:
        harness.case(topic_name, payload)

    @settings(
        max_examples=GENERATED, deadline=None, database=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )  # fmt: skip
    @given(generated_cases())
    def generated(case: Case) -> None:
        harness.case(*case)

    generated()
    harness.finish()
    print(f"{harness.cases} fuzz cases ({len(hand_written)} hand-written): {dict(harness.outcomes)}")
    assert len(hand_written) >= 400
    assert harness.cases >= 10_000
    assert harness.outcomes["dead-lettered"] > 5_000


# --- the real thing: Mosquitto and a hub process ----------------------------------------------


def _admin(hub: Hub, path: str) -> Any:
    return hub.get(path, role="admin")


@pytest.mark.integration
def test_a_real_hub_survives_nasty_payloads_and_counts_every_valid_batch(hub: Hub, mosquitto: MosquittoBroker) -> None:
    cases = [c for c in nasty(seed=2) if c[0].count("/") == 4 and "+" not in c[0] and "#" not in c[0]]
    cases = cases[:: max(1, len(cases) // 300)]  # a few hundred, of every kind
    predicted_letters = 0
    valid = Valid()
    valid_batches = 0
    publisher = Publisher(mosquitto)
    try:
        for i, (topic_name, payload) in enumerate(cases):
            predicted_letters += len(classify(topic_name, payload)[1])
            publisher.publish(topic_name, payload)
            if i % 5 == 0:
                publisher.publish(*valid.next(format_ts(datetime.now(UTC))))
                valid_batches += 1
            if i % 50 == 0:
                assert hub.running and httpx.get(hub.url + "/healthz", timeout=5).json()["status"] == "ok"
        wait_until(lambda: _admin(hub, "/api/v1/dead-letters?limit=1")["total"] >= predicted_letters, 60,
                   "the dead letters to land")  # fmt: skip
        counted = wait_until(
            lambda: set(valid.ids) <= {r[0] for r in hub.sql("SELECT id FROM events")}, 60, "every valid event"
        )
        assert counted
        time.sleep(1.0)
    finally:
        publisher.close()
    assert hub.running, "the hub died"
    rejected = [r for a in publisher.acks for r in a.rejected]
    assert rejected and all(r.error.strip() for r in rejected)
    # classify() predicts every letter but those of a new id reusing a stored (device, seq): storage finds those
    seq_reused = sum("already used by another event id" in r.error for r in rejected)
    assert _admin(hub, "/api/v1/dead-letters?limit=1")["total"] == predicted_letters + seq_reused
    ids = [r[0] for r in hub.sql("SELECT id FROM events WHERE device_id = ?", (valid.device_id,))]
    assert sorted(ids) == sorted(valid.ids), "valid events lost or counted twice"
    good_acks = [a for a in publisher.acks if set(a.accepted) & set(valid.ids)]
    assert len(good_acks) == valid_batches
    assert hub.sql(FROM_EVENTS) == hub.sql(ROLLUP_DAY)
