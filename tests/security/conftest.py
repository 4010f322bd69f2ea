"""Fixtures: a provisioned fleet of two devices in two stores, behind a real Mosquitto with TLS and ACLs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.broker import find_mosquitto
from tests.security.support import Fleet, new_fleet, traversable_tmp


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    """Devices kiosk-a (store-1) and kiosk-b (store-2), the hub login, and the generated broker running."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run scripts/test (it installs it) or apt-get install mosquitto")
    with traversable_tmp() as root:
        fleet = new_fleet(root)
        fleet.add("kiosk-a", "store-1")
        fleet.add("kiosk-b", "store-2", "America/New_York")
        fleet.start_broker()
        try:
            yield fleet
        finally:
            assert fleet.broker is not None
            fleet.broker.stop()
