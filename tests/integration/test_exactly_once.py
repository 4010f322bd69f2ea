"""Nothing lost, nothing counted twice: real Mosquitto, real hub and agent processes, killed on purpose."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from edge_agent.config import load_config
from edge_agent.store import DeviceStore
from hub.broker import MosquittoBroker
from tests.conftest import AgentFactory
from tests.support import Hub, backlog, device_truth, wait_until

pytestmark = pytest.mark.integration
ALL_TIME = {"from": "2020-01-01", "to": "2029-12-31"}


def record_taps(config_path: Path, n: int, seed: int) -> None:
    """Taps written by this process while the agent process syncs: two processes, one SQLite file."""
    config = load_config(config_path)
    rng = random.Random(seed)
    with DeviceStore(config.store.path, config.timezone) as store:
        for i in range(n):
            if i % 10 == 9:
                store.record(rng.randrange(11), "nps", 11, source="sim")
            else:
                store.record(rng.choice([0, 1, 2, 3, 3, 2]), "default", 4, source="sim", misuse=(i % 50 == 0))


def hub_counts(hub: Hub, location_id: str) -> Counter[tuple[str, int, int]]:
    rows = hub.get("/api/v1/scores", group_by="location", location=location_id, **ALL_TIME)["rows"]
    out: Counter[tuple[str, int, int]] = Counter()
    for row in rows:
        for value, n in enumerate(row["counts"]):
            if n:
                out[(row["question_id"], row["scale"], value)] += n
    return out


def hub_event_total(hub: Hub) -> int:
    return int(hub.sql("SELECT COUNT(*) FROM events")[0][0])


def assert_exact(hub: Hub, devices: list[tuple[str, Path]]) -> None:
    """Every device event is at the hub exactly once and the rollups equal the devices' truth."""
    stores = [(loc, load_config(cfg).store.path) for loc, cfg in devices]
    wait_until(lambda: all(backlog(p) == 0 for _, p in stores), 60, "device backlogs to drain")
    for location in {loc for loc, _ in stores}:
        truth: Counter[tuple[str, int, int]] = Counter()
        for loc, path in stores:
            if loc == location:
                truth.update(device_truth(path))
        assert hub_counts(hub, location) == truth, f"rollups of {location} differ from the devices' truth"
    device_ids: set[str] = set()
    device_total = 0
    for _, path in stores:
        with DeviceStore(path) as store:
            rows = store.db.execute("SELECT id FROM events").fetchall()
        device_total += len(rows)
        device_ids.update(r[0] for r in rows)
    hub_ids = [r[0] for r in hub.sql("SELECT id FROM events")]
    assert len(hub_ids) == len(set(hub_ids)) == device_total
    assert set(hub_ids) == device_ids


def test_three_devices_thousand_taps_each_arrive_exactly_once(hub: Hub, make_agent: AgentFactory) -> None:
    devices = [("store-hel", "Europe/Helsinki"), ("store-nyc", "America/New_York"), ("store-tyo", "Asia/Tokyo")]
    configs = []
    for i, (location, tz) in enumerate(devices):
        agent, config = make_agent(f"dev-{i}", location, tz)
        agent.start()
        configs.append((location, config))
    for i, (_, config) in enumerate(configs):
        record_taps(config, 1000, seed=i)
    assert_exact(hub, configs)
    assert sum(hub_counts(hub, loc).total() for loc, _ in configs) == 3 * (1000 - 20)  # 20 misuse each
    zones = {row["location_id"]: row["timezone"] for row in hub.get("/api/v1/locations")["rows"]}
    assert zones == {"store-hel": "Europe/Helsinki", "store-nyc": "America/New_York", "store-tyo": "Asia/Tokyo"}


def test_agent_killed_mid_sync_then_restarted_is_exact(hub: Hub, make_agent: AgentFactory) -> None:
    agent, config = make_agent("dev-k", "store-k", "Europe/Helsinki", batch_size=10, max_inflight_batches=2)
    record_taps(config, 3000, seed=7)
    agent.start()
    wait_until(lambda: hub_event_total(hub) >= 300, 30, "the agent to sync a first part")
    agent.kill()
    part = hub_event_total(hub)
    assert 0 < part < 3000, "the kill must land mid-sync"
    record_taps(config, 200, seed=8)  # taps keep coming while the agent is dead
    agent.start()
    assert_exact(hub, [("store-k", config)])


def test_hub_killed_mid_ingest_then_restarted_is_exact(hub: Hub, make_agent: AgentFactory) -> None:
    agent, config = make_agent("dev-h", "store-h", "Asia/Tokyo", batch_size=10, max_inflight_batches=2)
    record_taps(config, 3000, seed=11)
    agent.start()
    wait_until(lambda: hub_event_total(hub) >= 300, 30, "the hub to ingest a first part")
    hub.kill()
    part = hub_event_total(hub)
    assert 0 < part < 3000, "the kill must land mid-ingest"
    record_taps(config, 200, seed=12)
    hub.start()
    assert_exact(hub, [("store-h", config)])


def test_broker_restart_without_persistence_is_exact(
    hub: Hub, make_agent: AgentFactory, mosquitto: MosquittoBroker
) -> None:
    agents = []
    for i in range(2):
        agent, config = make_agent(f"dev-b{i}", "store-b", "America/New_York", batch_size=10, max_inflight_batches=2)
        record_taps(config, 2000, seed=20 + i)
        agents.append(config)
        agent.start()
    wait_until(lambda: hub_event_total(hub) >= 300, 30, "a first part to arrive")
    mosquitto.restart()  # sessions, subscriptions and in-flight messages are forgotten
    assert hub_event_total(hub) < 4000, "the restart must land mid-sync"
    for config in agents:
        record_taps(config, 100, seed=30)
    assert_exact(hub, [("store-b", c) for c in agents])
