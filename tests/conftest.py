"""Shared fixtures: a real Mosquitto on a free loopback port, a real hub process, real agents."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge_agent import clock
from hub.broker import MosquittoBroker, MosquittoConfig, find_mosquitto, free_port
from tests.support import Agent, Hub, write_device_config

pytest_plugins = ["tests.pg_fixtures", "tests.netns", "tests.integration.hq_rig"]

# Taps recorded in this process vouch for the clock, as tests.support.ENV does for the processes the tests
# start: CI containers often report an unsynchronised kernel clock, and the hub quarantines such taps.
os.environ.setdefault("TOUCHPOINT_CLOCK_OK", "1")


@pytest.fixture
def unsynchronised_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's real clock, without the test override; skips where the kernel reports it synchronised.

    Tests of what an installer sees on an unsynchronised device (containers, many VMs, a Pi before NTP) run
    on the real condition, never a faked one.
    """
    monkeypatch.delenv("TOUCHPOINT_CLOCK_OK", raising=False)
    monkeypatch.delenv("TOUCHPOINT_CLOCK_OFFSET_S", raising=False)
    found = clock.verdict("ntp")
    if found.why != "unsynchronised":
        pytest.skip(f"needs a kernel clock reported as unsynchronised; this machine's is trusted ({found.why})")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """Mosquitto with persistence off: a restart forgets sessions and queued messages."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run scripts/test (it installs it) or apt-get install mosquitto")
    broker = MosquittoBroker(MosquittoConfig(free_port(), data_dir=tmp_path / "broker", persistence=False))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def hub(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[Hub]:
    workdir = tmp_path / "hub"
    workdir.mkdir()
    process = Hub(workdir, mosquitto.url)
    process.start()
    yield process
    process.stop()


AgentFactory = Callable[..., tuple[Agent, Path]]


@pytest.fixture
def make_agent(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[AgentFactory]:
    """``make_agent(device_id, location_id, tz)`` -> (agent, device config path); agent not started."""
    agents: list[Agent] = []

    def factory(device_id: str, location_id: str, tz: str = "UTC", **sync: object) -> tuple[Agent, Path]:
        config = write_device_config(tmp_path / "devices", device_id, location_id, tz, mosquitto.url, **sync)
        agent = Agent(config)
        agents.append(agent)
        return agent, config

    yield factory
    for agent in agents:
        agent.stop()
