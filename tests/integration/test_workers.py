"""Two real ``touchpoint-hub serve`` workers on one SQLite file (``--share-group``): one leader, fail-over, fencing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_agent.protocol import topic
from hub.broker import MosquittoBroker
from tests.conftest import AgentFactory
from tests.integration.test_alerts import WebhookReceiver, create_rule, record
from tests.integration.test_metrics import scrape
from tests.support import Hub, wait_until

pytestmark = pytest.mark.integration
TAKEOVER_BOUND_S = 10.0  # leader_retry_s is 0.5 here: a follower tries twice a second


class Worker(Hub):
    """A hub worker sharing ``workdir``'s database and the ``hub`` share group with its peers."""

    def __init__(self, workdir: Path, broker_url: str, name: str, *extra: str) -> None:
        super().__init__(workdir, broker_url)
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self.args += ["--share-group", "hub", "--client-id", name, "--leader-retry-s", "0.5", *extra]

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(self.url + "/healthz", timeout=5).json()
        return body


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "hub"
    path.mkdir()
    return path


def start_pair(workdir: Path, broker_url: str, *extra: str) -> tuple[Worker, Worker]:
    a, b = Worker(workdir, broker_url, "hub-a", *extra), Worker(workdir, broker_url, "hub-b", *extra)
    a.start()
    b.start()
    return a, b


@pytest.fixture
def pair(workdir: Path, mosquitto: MosquittoBroker) -> Iterator[tuple[Worker, Worker]]:
    a, b = start_pair(workdir, mosquitto.url, "--alert-interval-s", "0.5")
    yield a, b
    a.stop()
    b.stop()


def leader_and_follower(a: Worker, b: Worker) -> tuple[Worker, Worker]:
    roles = {w.name: w.health()["role"] for w in (a, b)}
    assert sorted(roles.values()) == ["follower", "leader"], roles
    return (a, b) if roles["hub-a"] == "leader" else (b, a)


def test_one_leader_does_the_singleton_work_and_a_follower_takes_over_after_kill_9(
    pair: tuple[Worker, Worker], make_agent: AgentFactory
) -> None:
    a, b = pair
    leader, follower = leader_and_follower(a, b)
    assert leader.health()["backend"] == follower.health()["backend"] == "sqlite"
    create_rule(leader, kind="device_offline", params={"minutes": 60})  # something for the leader to evaluate
    agent, config = make_agent("dev-w", "store-w")
    agent.start()
    record(config, [3, 2, 1, 0] * 10)
    wait_until(lambda: leader.sql("SELECT COUNT(*) FROM events")[0][0] == 40, 20, "40 taps through both workers")

    # /metrics: each worker names itself, exactly one is leader, and their ingest counters add up to the truth.
    figures = {w.name: scrape(w) for w in (leader, follower)}
    for w in (leader, follower):
        info = [k for k in figures[w.name] if k.startswith("touchpoint_worker_info{")]
        assert info == [
            f'touchpoint_worker_info{{backend="sqlite",role="{w.health()["role"]}",worker="{w.name}@127.0.0.1:{w.port}"}}'
        ]
    assert figures[leader.name]["touchpoint_leader"] == 1 and figures[follower.name]["touchpoint_leader"] == 0
    assert sum(f["touchpoint_ingest_events_inserted_total"] for f in figures.values()) == 40
    wait_until(lambda: scrape(leader)["touchpoint_alert_evaluations_total"] >= 2, 10, "the leader to evaluate")
    assert scrape(follower)["touchpoint_alert_evaluations_total"] == 0, "a follower does no singleton work"

    leader.kill()  # SIGKILL: no release; the kernel drops its flock
    takeover = wait_until(lambda: follower.health()["role"] == "leader", TAKEOVER_BOUND_S, "the follower to lead")
    assert takeover and f"{follower.name}@127.0.0.1:{follower.port} became leader" in follower.log()
    evaluated = scrape(follower)["touchpoint_alert_evaluations_total"]
    wait_until(lambda: scrape(follower)["touchpoint_alert_evaluations_total"] > evaluated, 5, "the new leader to work")
    assert scrape(follower)["touchpoint_leader"] == 1


def test_a_webhook_fires_once_and_its_retry_after_fail_over_carries_the_same_key(
    workdir: Path, mosquitto: MosquittoBroker, make_agent: AgentFactory
) -> None:
    """The leader's first POST fails and it dies; the new leader retries with the same key, and fires nothing new."""
    receiver = WebhookReceiver(statuses=[500, 200])
    a, b = start_pair(workdir, mosquitto.url, "--alert-interval-s", "0.5", "--webhook-retry-base-s", "3")
    try:
        leader, follower = leader_and_follower(a, b)
        rule_id = create_rule(
            leader, kind="pct_negative", scope_kind="location", scope="store-k", webhook_url=receiver.url
        )
        agent, config = make_agent("dev-k", "store-k")
        agent.start()
        record(config, [0, 0, 1, 0])
        wait_until(receiver.received, 20, "the first (failing) webhook POST")
        failed = "SELECT attempts FROM webhook_deliveries WHERE last_error IS NOT NULL AND status = 'pending'"
        wait_until(lambda: leader.sql(failed) == [(1,)], 10, "the failed attempt to be recorded")
        leader.kill()
        wait_until(lambda: follower.health()["role"] == "leader", TAKEOVER_BOUND_S, "the follower to lead")
        wait_until(lambda: len(receiver.received()) == 2, 20, "the new leader's retry")
        delivered = "SELECT status, attempts FROM webhook_deliveries"
        wait_until(lambda: follower.sql(delivered) == [("delivered", 2)], 10, "the retry to be recorded")
        evaluated = scrape(follower)["touchpoint_alert_evaluations_total"]
        wait_until(lambda: scrape(follower)["touchpoint_alert_evaluations_total"] >= evaluated + 3, 10, "3 passes")
    finally:
        receiver.close()
        a.stop()
        b.stop()
    first, retry = receiver.received()
    [key] = set(receiver.keys)
    assert key and key.startswith("touchpoint-alert-"), receiver.keys
    assert first == retry and first["idempotency_key"] == key
    assert first["alert"]["rule_id"] == rule_id
    episodes = follower.sql("SELECT COUNT(*) FROM alert_events WHERE rule_id = ?", (rule_id,))
    assert episodes == [(1,)], "the alert fired once, whichever worker evaluated it"


def test_after_a_worker_dies_every_new_batch_reaches_the_survivor(workdir: Path, mosquitto: MosquittoBroker) -> None:
    """Workers use clean sessions: a dead member leaves the share group, so nothing new is parked for it.

    With persistent sessions Mosquitto keeps rotating messages to the dead worker's session (see the stack
    notes), and half of these batches would wait there for a worker that never comes back.
    """
    from tests.chaos.mqtt_client import Publisher
    from tests.chaos.test_poison import batch

    a, b = start_pair(workdir, mosquitto.url)
    publisher = Publisher(mosquitto)
    try:
        wait_until(lambda: "subscribed" in a.log_path.read_text() and "subscribed" in b.log_path.read_text(), 20,
                   "both workers subscribed")  # fmt: skip
        a.kill()
        devices = [f"kiosk-{i}" for i in range(10)]
        for device in devices:
            publisher.publish(topic("store-p", device, "events"), batch(device))
        wait_until(lambda: len(publisher.acks) >= len(devices), 20, "an ack for every batch from the survivor")
        assert b.sql("SELECT COUNT(*) FROM events")[0][0] == 3 * len(devices)
    finally:
        publisher.close()
        a.stop()
        b.stop()
