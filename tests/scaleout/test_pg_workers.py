"""Two hub workers on two hosts over one PostgreSQL: kill -9, a cut link, replays, a leader dying mid-webhook.

Each worker is a real ``touchpoint-hub serve --db postgresql://... --share-group hub`` process in its own
network namespace; Mosquitto and PostgreSQL run in a third. Mosquitto drops what a dead group member had
in flight (it is not handed to the other member): the devices' resend of unacked batches is what brings
it back, and the hub's ``ON CONFLICT`` is what keeps a batch that arrives twice from counting twice.
Afterwards every tap is counted once, every alert fires once, every webhook is delivered once, and both
workers' APIs give the same numbers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.test_alerts import record
from tests.integration.test_exactly_once import ALL_TIME, assert_exact, record_taps
from tests.netns import NetnsUnavailable, check_available
from tests.scaleout.rig import (
    TAKEOVER_BOUND_S,
    BatchCapture,
    Infra,
    Scaleout,
    WebhookReceiver,
    hub_total,
    rollup_totals,
    same_numbers,
)
from tests.support import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    try:
        check_available()
    except NetnsUnavailable as exc:
        pytest.fail(str(exc))
    scratch = Path(tempfile.mkdtemp(prefix="tp-pg-scaleout-"))  # not under pytest's tmp (see tests/pg_fixtures.py)
    running = Infra(tmp_path_factory.mktemp("scaleout"), scratch / "data")
    yield running
    running.close()
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def setup(infra: Infra, request: pytest.FixtureRequest) -> Iterator[Scaleout]:
    with infra.scaleout(re.sub(r"\W", "_", request.node.name)[:60]) as running:
        yield running


def start_devices(setup: Scaleout, taps: int) -> list[tuple[str, Path]]:
    """Three devices at two locations, ``taps`` recorded on each before its agent starts."""
    devices = [("kiosk-a", "store-hel", "Europe/Helsinki"), ("kiosk-b", "store-hel", "Europe/Helsinki"),
               ("kiosk-c", "store-nyc", "America/New_York")]  # fmt: skip
    out = []
    for i, (device_id, location, tz) in enumerate(devices):
        agent, config = setup.device(device_id, location, tz)
        record_taps(config, taps, seed=i)
        agent.start()
        out.append((location, config))
    return out


def assert_exactly_once_everywhere(setup: Scaleout, devices: list[tuple[str, Path]]) -> None:
    """Every tap counted once (events, each rollup, the API), and both workers' APIs agree."""
    w1, w2 = setup.workers["w1"], setup.workers["w2"]
    assert_exact(w1, devices)  # drains the devices; events vs the stores by id; /api/v1/scores vs their truth
    totals = rollup_totals(w1)
    assert totals["rollup_day"] == totals["rollup_hour"] == totals["rollup_month"] == totals["events"], totals
    token = w1.token()  # one token, valid on both workers: they share the database
    paths = [
        ("/api/v1/scores", {"group_by": "location", **ALL_TIME}),
        ("/api/v1/scores", {"group_by": "day", **ALL_TIME}),
        ("/api/v1/locations", {}),
        ("/api/v1/alerts", {}),
    ]
    on_w1, on_w2 = same_numbers([w1, w2], token, *paths)
    assert on_w1 == on_w2, "the two workers' APIs disagree"
    assert sum(sum(row["counts"]) for row in on_w1[0]["rows"]) == totals["events"]


def unread_bytes(setup: Scaleout, host: str) -> int:
    """Bytes the broker sent to ``host``'s hub that its kernel holds unread (ss Recv-Q towards port 1883)."""
    out = subprocess.run(
        [*setup.rig.command_prefix(host), "ss", "-tnH", "dst", f"{setup.broker.host}:1883"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return sum(int(line.split()[1]) for line in out.splitlines() if line.strip())


def test_a_worker_killed_mid_ingest_loses_nothing_the_devices_resend_what_it_held(setup: Scaleout) -> None:
    w1, w2 = setup.start_workers()
    clean = setup.broker.clean_starts
    wait_until(lambda: clean("hub-w1") == clean("hub-w2") == [True], 10, "both workers' clean sessions in the log")
    devices = start_devices(setup, 1500)
    wait_until(lambda: hub_total(w1) >= 600 and w1.metric("touchpoint_ingest_events_inserted_total") > 0, 60,
               "both workers to ingest a first part")  # fmt: skip
    assert w1.proc is not None
    os.kill(w1.proc.pid, signal.SIGSTOP)  # frozen: the broker keeps handing it batches it will never ack
    wait_until(lambda: unread_bytes(setup, "w1") > 0, 20, "batches delivered to w1 and not acked")
    w1.kill()  # kill -9: Mosquitto drops what w1 held, and its clean session with it
    before = hub_total(w2)
    assert before < 4500, "the kill must land mid-ingest"
    for i, (_, config) in enumerate(devices):
        record_taps(config, 200, seed=100 + i)  # taps go on while w1 is dead
    wait_until(lambda: hub_total(w2) > before + 300, 60, "w2 to ingest on alone")
    w1.start()  # it rejoins the group with a new clean session
    wait_until(lambda: clean("hub-w1") == [True, True], 10, "w1's second clean session in the log")
    assert_exactly_once_everywhere(setup, devices)


def test_the_leader_cut_off_loses_its_lock_and_nothing_is_lost(setup: Scaleout) -> None:
    w1, w2 = setup.start_workers()
    assert w1.role() == "leader"
    devices = start_devices(setup, 1200)
    wait_until(lambda: hub_total(w2) >= 500, 60, "a first part to arrive")
    setup.rig.cut("w1")  # w1's cable pulled: its broker, lock and pool connections all go silent
    wait_until(lambda: w2.role() == "leader", TAKEOVER_BOUND_S, "w2 to take the lock of the cut-off leader")
    at_takeover = hub_total(w2)
    assert at_takeover < 3600, "the cut must land mid-ingest"
    for i, (_, config) in enumerate(devices):
        record_taps(config, 150, seed=100 + i)
    wait_until(lambda: hub_total(w2) > at_takeover + 300, 60, "ingest to go on through w2")
    setup.rig.restore("w1")
    wait_until(lambda: w1.role() == "follower", 30, "w1 back, as a follower")
    assert w2.role() == "leader"
    assert_exactly_once_everywhere(setup, devices)
    assert w1.metric("touchpoint_leader_losses_total") >= 1


def test_replayed_batches_count_once_whichever_worker_gets_them(setup: Scaleout) -> None:
    capture = BatchCapture(setup.broker.host)
    try:
        w1, w2 = setup.start_workers()
        devices = start_devices(setup, 400)
        assert_exact(w1, devices)
        batches = capture.taken()
        replayed_events = sum(len(json.loads(p)["events"]) for _, p in batches)
        assert replayed_events >= 1200

        def duplicates() -> float:
            return sum(w.metric("touchpoint_ingest_duplicates_total") for w in (w1, w2))

        seen = duplicates()
        for i, (_, config) in enumerate(devices):
            record_taps(config, 100, seed=100 + i)  # new taps arrive between the replayed ones
        capture.replay(batches)
        wait_until(lambda: duplicates() >= seen + 2 * replayed_events, 60, "every replayed event acked as a duplicate")
        assert all(w.metric("touchpoint_ingest_duplicates_total") > 0 for w in (w1, w2)), "each worker got copies"
    finally:
        capture.close()
    assert_exactly_once_everywhere(setup, devices)


def test_the_leader_killed_while_a_webhook_is_pending_is_delivered_once_by_the_new_leader(
    setup: Scaleout,
) -> None:
    receiver = WebhookReceiver(setup.rig.root_address, statuses=[500, 200])
    try:
        w1, w2 = setup.start_workers()
        assert w1.role() == "leader"
        response = w2.request(  # rules are made through either worker
            "POST", "/api/v1/alerts/rules",
            json={"kind": "pct_negative", "scope_kind": "location", "scope": "store-k", "webhook_url": receiver.url},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        rule_id = int(response.json()["rule_id"])
        agent, config = setup.device("kiosk-k", "store-k")
        agent.start()
        record(config, [0, 0, 1, 0])
        wait_until(receiver.received, 30, "the first (failing) webhook POST")
        failed = "SELECT attempts FROM webhook_deliveries WHERE last_error IS NOT NULL AND status = 'pending'"
        wait_until(lambda: w1.sql(failed) == [(1,)], 10, "the failed attempt to be recorded")
        w1.kill()  # the leader dies with the delivery pending
        wait_until(lambda: w2.role() == "leader", TAKEOVER_BOUND_S, "w2 to lead")
        wait_until(lambda: len(receiver.received()) == 2, 30, "the new leader's retry")
        delivered = "SELECT status, attempts FROM webhook_deliveries"
        wait_until(lambda: w2.sql(delivered) == [("delivered", 2)], 10, "the delivery to be recorded")
        passes = w2.metric("touchpoint_alert_evaluations_total")
        w1.start()  # back, as a follower
        wait_until(lambda: w2.metric("touchpoint_alert_evaluations_total") >= passes + 3, 15, "3 more passes")
        assert w1.role() == "follower"
    finally:
        receiver.close()
    posts = receiver.received()
    assert [status for _, _, status in posts] == [500, 200]
    assert {body["idempotency_key"] for body, _, _ in posts} == {key for _, key, _ in posts}
    [key] = {key for _, key, _ in posts}
    assert key and key.startswith("touchpoint-alert-")
    assert posts[0][0] == posts[1][0], "the retry carries the same body"
    assert w2.sql("SELECT COUNT(*) FROM alert_events WHERE rule_id = ?", (rule_id,)) == [(1,)], "one episode"
    assert w2.sql("SELECT COUNT(*) FROM webhook_deliveries") == [(1,)]
    assert w2.metric("touchpoint_alerts_fired_total") == 0, "the new leader fired nothing again"
    assert_exactly_once_everywhere(setup, [("store-k", config)])
    alerts_on = [httpx.get(w.url + "/api/v1/alerts", headers={"Authorization": f"Bearer {w1.token()}"}, timeout=10)
                 for w in (w1, w2)]  # fmt: skip
    assert alerts_on[0].json() == alerts_on[1].json() and len(alerts_on[0].json()["rows"]) == 1
