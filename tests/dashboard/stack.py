"""A small real fleet for the dashboard tests: Mosquitto, the hub, agents and taps at known times.

Three stores in three zones and regions. Helsinki has two kiosks, one of
which is stopped (offline); Tokyo's kiosk reports an unsynchronised clock and
has too few answers for a reliable score (small sample).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from edge_agent.config import load_config
from edge_agent.store import DeviceStore
from hub.broker import MosquittoBroker, MosquittoConfig, free_port
from hub.storage.base import Role
from hub.storage.sqlite import SqliteStorage
from tests.support import ENV, Agent, Hub, backlog, wait_until, write_device_config

CURRENT_DAYS_AGO = (1, 2, 3, 4, 5, 6)  # inside the default 28-day window
PREVIOUS_DAYS_AGO = (33, 34, 36)  # inside the 28 days before it


@dataclass(frozen=True)
class Site:
    location_id: str
    name: str
    region: str
    timezone: str
    devices: tuple[str, ...]
    hours: tuple[int, ...]  # local hours with taps, every tapped day
    weights: tuple[int, int, int, int]  # how often each face is pressed now
    previous_weights: tuple[int, int, int, int]


SITES = (
    Site("hel-kamppi", "Helsinki Kamppi", "europe/nordics", "Europe/Helsinki", ("hel-1", "hel-2"),
         (9, 12, 12, 13, 17, 18), (1, 2, 5, 8), (2, 3, 5, 5)),
    Site("nyc-5th", "New York 5th Ave", "americas/us", "America/New_York", ("nyc-1",),
         (8, 11, 12, 17, 17, 19), (3, 3, 4, 4), (1, 2, 4, 6)),
    Site("tyo-shibuya", "Tokyo Shibuya", "apac/japan", "Asia/Tokyo", ("tyo-1",), (10, 15, 20), (0, 1, 2, 3),
         (0, 1, 2, 3)),
)  # fmt: skip
REASONS = ("queue", "queue", "staff", "cleanliness", "price")
OFFLINE_DEVICE = "hel-2"
SKEWED_CLOCK_DEVICE = "tyo-1"


@dataclass(frozen=True)
class Tap:
    location_id: str
    device_id: str
    at: datetime  # aware, in the store's zone
    value: int
    reason: str | None = None  # the follow-up answer after a negative face


def plan_taps(now: datetime, seed: int = 1) -> list[Tap]:
    """Deterministic taps: each site's hours on each chosen day, faces drawn from its weights.

    Days count back from each site's own local today, so every tap is in the past wherever ``now``
    falls in the day (from UTC's today, New York's "yesterday" evening was still ahead at 00:30 UTC).
    """
    rng = random.Random(seed)
    taps: list[Tap] = []
    for site in SITES:
        zone = ZoneInfo(site.timezone)
        today = now.astimezone(zone).date()
        for days_ago, weights in [(d, site.weights) for d in CURRENT_DAYS_AGO] + [
            (d, site.previous_weights) for d in PREVIOUS_DAYS_AGO
        ]:
            day = today - timedelta(days=days_ago)
            for i, hour in enumerate(site.hours):
                for k in range(3 if site.location_id != "tyo-shibuya" else 1):
                    at = datetime.combine(day, time(hour, (7 * i + 13 * k) % 60), zone)
                    value = rng.choices(range(4), weights)[0]
                    device = site.devices[(i + k) % len(site.devices)]
                    reason = rng.choice(REASONS) if value <= 1 and rng.random() < 0.8 else None
                    taps.append(Tap(site.location_id, device, at, value, reason))
    return taps


@dataclass
class Fleet:
    broker: MosquittoBroker
    hub: Hub
    agents: dict[str, Agent]
    taps: list[Tap]
    tokens: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        for agent in self.agents.values():
            agent.stop()
        self.hub.stop()
        self.broker.stop()


def create_token(hub: Hub, role: Role, name: str, region: str | None = None) -> str:
    """A token written straight to the hub's file (what `touchpoint-hub token create` does, minus a process)."""
    storage = SqliteStorage(hub.db)
    try:
        return storage.create_token(name, role, region)[1]
    finally:
        storage.close()


def register_sites(hub: Hub, admin_token: str) -> None:
    """Name, region and zone of each store, registered through the API as an admin would."""
    for site in SITES:
        body = {"location_id": site.location_id, "name": site.name, "region": site.region, "timezone": site.timezone}
        headers = {"Authorization": f"Bearer {admin_token}"}
        response = httpx.post(hub.url + "/api/v1/locations", json=body, headers=headers, timeout=10)
        assert response.status_code == 201, response.text


def add_offline_rule(hub: Hub, admin_token: str) -> None:
    """Alert at once when a Helsinki kiosk goes offline, so the location page has an alert to show."""
    body = {"name": "Kiosk offline", "kind": "device_offline", "scope_kind": "location", "scope": "hel-kamppi",
            "params": {"minutes": 0}}  # fmt: skip
    headers = {"Authorization": f"Bearer {admin_token}"}
    response = httpx.post(hub.url + "/api/v1/alerts/rules", json=body, headers=headers, timeout=10)
    assert response.status_code == 201, response.text


def counted_at_hub(hub: Hub) -> int:
    return int(hub.sql("SELECT COALESCE(SUM(count), 0) FROM rollup_day")[0][0])


def start_fleet(workdir: Path, now: datetime | None = None) -> Fleet:
    now = now or datetime.now(UTC)
    broker = MosquittoBroker(MosquittoConfig(free_port(), data_dir=workdir / "broker", persistence=False))
    broker.start()
    hub_dir = workdir / "hub"
    hub_dir.mkdir(parents=True, exist_ok=True)
    hub = Hub(hub_dir, broker.url)
    hub.args += ["--alert-interval-s", "0.3"]  # the offline alert fires within a blink
    fleet = Fleet(broker, hub, {}, plan_taps(now))
    try:
        hub.start()
        fleet.tokens = {
            "admin": create_token(hub, "admin", "HQ admin"),
            "analyst": create_token(hub, "analyst", "HQ analytics"),
            "nordics": create_token(hub, "analyst", "Nordics analyst", "europe"),
        }
        register_sites(hub, fleet.tokens["admin"])
        add_offline_rule(hub, fleet.tokens["admin"])
        sites = {s.location_id: s for s in SITES}
        configs: dict[str, Path] = {}
        for site in SITES:
            for device in site.devices:
                configs[device] = write_device_config(
                    workdir / "devices", device, site.location_id, site.timezone, broker.url
                )
        by_device: dict[str, list[Tap]] = {}
        for tap in fleet.taps:
            by_device.setdefault(tap.device_id, []).append(tap)
        for device, taps in by_device.items():  # back-fill, as the demo's simulator does
            zone = sites[taps[0].location_id].timezone
            with DeviceStore(load_config(configs[device]).store.path, zone, synchronous="NORMAL") as store:
                for tap in taps:
                    store.record(tap.value, "default", 4, source="sim", reason=tap.reason, now=tap.at)
        for device, config in configs.items():
            # The skewed device's clock check fails, as on a Pi that booted without network time.
            skewed = device == SKEWED_CLOCK_DEVICE
            agent = Agent(config, {**ENV, "TOUCHPOINT_CLOCK_OK": "0"}) if skewed else Agent(config)
            fleet.agents[device] = agent
            agent.start()
        stores = [load_config(c).store.path for c in configs.values()]
        wait_until(lambda: all(backlog(p) == 0 for p in stores), 60, "device backlogs to drain")
        wait_until(lambda: counted_at_hub(hub) == len(fleet.taps), 30, "every tap to be counted at the hub")
        fleet.agents[OFFLINE_DEVICE].stop()
        wait_until(lambda: _online(hub) == _expected_online(), 30, "device states to settle")
        wait_until(lambda: hub.get("/api/v1/alerts", role="admin")["rows"], 30, "the offline alert to fire")
    except BaseException:
        fleet.stop()
        raise
    return fleet


def _expected_online() -> dict[str, bool]:
    return {d: d != OFFLINE_DEVICE for s in SITES for d in s.devices}


def _online(hub: Hub) -> dict[str, object]:
    return {row["device_id"]: row["online"] for row in hub.get("/api/v1/devices", role="admin")["rows"]}


def local_slots(taps: list[Tap], location_id: str, first: date, last: date) -> Counter[tuple[int, int]]:
    """(weekday, local hour) -> taps, for the location's taps on local days first..last."""
    out: Counter[tuple[int, int]] = Counter()
    for tap in taps:
        if tap.location_id == location_id and first <= tap.at.date() <= last:
            out[(tap.at.weekday(), tap.at.hour)] += 1
    return out


def local_days(taps: list[Tap], location_id: str, first: date, last: date) -> set[date]:
    return {t.at.date() for t in taps if t.location_id == location_id and first <= t.at.date() <= last}


def negative_reasons(taps: list[Tap], location_id: str, first: date, last: date) -> Counter[str]:
    """Reasons given after a negative face (the two lowest), on the location's local days first..last."""
    return Counter(
        t.reason
        for t in taps
        if t.location_id == location_id and t.reason and t.value <= 1 and first <= t.at.date() <= last
    )
