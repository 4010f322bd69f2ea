"""The demo's kiosks: one device per simulated store, its config, and weeks of history in its store."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge_agent import clock
from edge_agent.config import load_config
from edge_agent.store import DeviceStore

from simulate import SimLocation, backfill


@dataclass(frozen=True)
class DemoDevice:
    loc: SimLocation
    device_id: str
    config: Path

    def open_store(self) -> DeviceStore:
        """The store as the device's own kiosk opens it: its zone and clock trust from its config."""
        return DeviceStore.for_device(load_config(self.config))


def clock_trust_here() -> clock.ClockTrust:
    """``ntp``, as on a kiosk, where this machine's clock is synchronised; else ``rtc``.

    Many VMs and containers have a correct clock that the kernel never calls synchronised. A kiosk
    there would hold its taps for an hour; the demo's kiosks trust the clock instead, and say so.
    """
    return "ntp" if clock.verdict("ntp").ok else "rtc"


def make_device(
    data: Path, index: int, loc: SimLocation, broker_url: str, mqtt_version: str, trust: clock.ClockTrust
) -> DemoDevice:
    """A device directory with its ``device.toml``, as a provisioning bundle would give it."""
    device_id = f"kiosk-{index + 1}"
    dev_dir = data / "devices" / device_id
    dev_dir.mkdir(parents=True)
    config = dev_dir / "device.toml"
    config.write_text(
        f'device_id = "{device_id}"\nlocation_id = "{loc.location_id}"\ntimezone = "{loc.timezone}"\n'
        f'[store]\npath = "device.sqlite"\n'
        f'[broker]\nurl = "{broker_url}"\nmqtt_version = "{mqtt_version}"\n'
        f'[clock]\ntrust = "{trust}"\n'
    )
    return DemoDevice(loc, device_id, config)


def fill_history(device: DemoDevice, days: int, seed: int, now: datetime | None = None) -> int:
    """``days`` of past taps, recorded through the real store API, ending yesterday (local)."""
    # History goes in with synchronous=NORMAL: a simulator's shortcut, never a kiosk's.
    config = load_config(device.config)
    store = DeviceStore(config.store.path, config.timezone, synchronous="NORMAL", clock_trust=config.clock.trust)
    try:
        return backfill(store, device.loc, days, random.Random(seed), now or datetime.now(UTC))
    finally:
        store.close()
