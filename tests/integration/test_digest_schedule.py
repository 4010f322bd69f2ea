"""Scheduled digests go out once per slot across hub workers sharing one SQLite file, to a real SMTP server."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub.broker import MosquittoBroker, free_port
from hub.core.config import HubSettings
from hub.services.digest_scheduler import DigestScheduler
from hub.storage.base_digests import SubscriptionSpec
from hub.storage.sqlite import SqliteStorage
from tests.hub.digest_data import AUCKLAND, fill
from tests.hub.test_digest_send import Mailbox, smtp_server
from tests.integration.test_workers import Worker, leader_and_follower
from tests.support import wait_until

pytestmark = pytest.mark.integration
SPEC = SubscriptionSpec("location", "akl-1", "email", "manager@example.com", 0, 8, AUCKLAND)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Tuesday 01:00 in Auckland: Monday 08:00's slot has passed

__all__ = ["smtp_server"]


def settings(db: Path, port: int) -> HubSettings:
    return HubSettings(db=db, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", smtp_from="hq@example.com")


def test_two_schedulers_racing_for_one_slot_send_it_once(tmp_path: Path, smtp_server: tuple[Mailbox, int]) -> None:
    box, port = smtp_server
    db = tmp_path / "hub.sqlite"
    storage = fill(db)
    sub = storage.create_subscription(SPEC, NOW - timedelta(days=8), None)
    storage.close()
    # Two workers that both believe they lead (a leader that lost its lock, mid-pass): only the claim fences them.
    # Each checks its leadership after reading the due slots and before claiming: the barrier there makes both
    # read the slot as due before either claims it, so the race happens on every run, not only under load.
    both_read, waited = threading.Barrier(2), set()

    def believes_it_leads() -> bool:
        if threading.get_ident() not in waited:  # each worker's first check only
            waited.add(threading.get_ident())
            both_read.wait(10)
        return True

    workers = [DigestScheduler(SqliteStorage(db), settings(db, port), holds=believes_it_leads, now=lambda: NOW)
               for _ in range(2)]  # fmt: skip
    sent: list[int] = []

    def run(worker: DigestScheduler) -> None:
        sent.append(worker.run_once())

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(sent) == [0, 1] and len(box.messages) == 1
    assert sum(w.stats.lost_claims for w in workers) == 1
    envelope, message = box.messages[0]
    assert envelope.rcpt_tos == ["manager@example.com"]
    assert "akl-1" in message["X-Touchpoint-Digest"] and "week=2026-W47" in message["X-Touchpoint-Digest"]
    assert [w.run_once() for w in workers] == [0, 0]  # the slot is taken; the next is a week away
    record = workers[0].storage.digest_subscription(sub.subscription_id)
    assert record is not None and record.last_sent_at == datetime(2026, 11, 22, 19, 0, tzinfo=UTC)  # Mon 08:00 NZDT
    assert record.last_delivered_at == NOW and record.last_error is None
    for w in workers:
        w.storage.close()


def test_a_failed_send_gives_the_slot_back_and_it_goes_out_later(
    tmp_path: Path, smtp_server: tuple[Mailbox, int]
) -> None:
    box, port = smtp_server
    db = tmp_path / "hub.sqlite"
    storage = fill(db)
    sub = storage.create_subscription(SPEC, NOW - timedelta(days=8), None)
    down = DigestScheduler(storage, settings(db, free_port()), now=lambda: NOW)  # nothing listens there
    assert down.run_once() == 0 and down.stats.failed == 1
    failed = storage.digest_subscription(sub.subscription_id)
    assert failed is not None and failed.last_sent_at is None and "SMTP 127.0.0.1" in (failed.last_error or "")
    up = DigestScheduler(storage, settings(db, port), now=lambda: NOW)
    assert up.run_once() == 1 and len(box.messages) == 1
    assert up.run_once() == 0
    storage.close()


def test_two_hub_workers_send_a_due_digest_once_and_a_new_leader_does_not_send_it_again(
    tmp_path: Path, mosquitto: MosquittoBroker, smtp_server: tuple[Mailbox, int]
) -> None:
    box, port = smtp_server
    workdir = tmp_path / "hub"
    workdir.mkdir()
    storage = fill(workdir / "hub.sqlite")
    # Subscribed 8 days ago for this weekday an hour ago, Auckland time: a slot has passed unsent, due at once.
    now = datetime.now(UTC)
    local = now.astimezone(ZoneInfo(AUCKLAND)) - timedelta(hours=1)
    spec = SubscriptionSpec("location", "akl-1", "email", "ops@example.com", local.weekday(), local.hour, AUCKLAND)
    storage.create_subscription(spec, now - timedelta(days=8), None)
    storage.close()
    env = {**os.environ, "TOUCHPOINT_HUB_SMTP_HOST": "127.0.0.1", "TOUCHPOINT_HUB_SMTP_PORT": str(port),
           "TOUCHPOINT_HUB_SMTP_SECURITY": "none", "TOUCHPOINT_CLOCK_OK": "1"}  # fmt: skip
    workers = [Worker(workdir, mosquitto.url, name, "--digest-interval-s", "0.3") for name in ("hub-a", "hub-b")]
    for w in workers:
        w.env = env
        w.start()
    try:
        wait_until(lambda: len(box.messages) == 1, 30, "the scheduled digest e-mail")
        leader, follower = leader_and_follower(*workers)
        leader.kill()
        wait_until(lambda: follower.health()["role"] == "leader", 15, "the follower to take over")
        threading.Event().wait(2.0)  # several scheduling passes of the new leader
        assert len(box.messages) == 1
        assert box.messages[0][0].rcpt_tos == ["ops@example.com"]
        row = follower.sql("SELECT last_delivered_at, last_error FROM digest_subscriptions")
        assert row[0][0] is not None and row[0][1] is None
    finally:
        for w in workers:
            w.stop()
