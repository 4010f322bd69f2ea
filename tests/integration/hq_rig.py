"""The HQ API's rig: stores in several time zones whose taps, recorded at known local times, reach one real hub
through real agents and Mosquitto; and the counts every test expects, computed from those taps alone.

The ``hq`` fixture (one hub per test module and backend) is registered as a plugin in tests/conftest.py.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from edge_agent.config import load_config
from edge_agent.store import DeviceStore
from hub.broker import MosquittoBroker, MosquittoConfig, find_mosquitto, free_port
from tests.support import ENV, Agent, Hub, backlog, wait_until, write_device_config

CURRENT = (date(2026, 3, 9), date(2026, 3, 15))  # Monday..Sunday; US clocks went forward on the 8th
PREVIOUS = (date(2026, 3, 2), date(2026, 3, 8))
EVIL = '=HYPERLINK("http://evil.example","click")'


@dataclass(frozen=True)
class Site:
    location_id: str
    zone: str
    region: str | None  # None: never registered, known from its events only


SITES = [
    Site("hel-1", "Europe/Helsinki", "nordics/finland/helsinki"),
    Site("hel-2", "Europe/Helsinki", "nordics/finland/helsinki"),
    Site("sto-1", "Europe/Stockholm", "nordics/sweden/stockholm"),
    Site("nyc-1", "America/New_York", "americas/us/nyc"),
    Site("pop-up", "Asia/Tokyo", None),
    Site("lab-1", "UTC", None),  # only for the registration test; its taps are in January
]
REGION = {s.location_id: s.region for s in SITES}


@dataclass(frozen=True)
class Tap:
    location: str
    local: datetime  # wall time at the location
    value: int
    question: str = "default"
    scale: int = 4
    reason: str | None = None
    misuse: bool = False


def weekdays_at(location: str, monday: date, hours: range, values: list[int], **kw: Any) -> list[Tap]:
    """One tap per hour on Monday..Friday, values in order."""
    slots = [
        datetime.combine(monday + timedelta(d), datetime.min.time()) + timedelta(hours=h)
        for d in range(5)
        for h in hours
    ]
    return [Tap(location, when, value, **kw) for when, value in zip(slots, values, strict=True)]


def recorded_taps() -> list[Tap]:
    taps = [
        # hel-1: mostly unhappy the week before, all happy this week: a significant change.
        *weekdays_at("hel-1", PREVIOUS[0], range(9, 17), [0] * 30 + [3] * 10),
        *weekdays_at("hel-1", CURRENT[0], range(9, 17), [3] * 40),
        # hel-2: 21/40 -> 20/40 positive: no significant change.
        *weekdays_at("hel-2", PREVIOUS[0], range(10, 18), [3, 1] * 19 + [3, 3]),
        *weekdays_at("hel-2", CURRENT[0], range(10, 18), [3, 1] * 20),
        # sto-1: a weekend, and a 0-10 question with a reason that a spreadsheet would run.
        *[Tap("sto-1", datetime(2026, 3, 14, 11 + i), v) for i, v in enumerate([2, 3, 1, 0])],
        Tap("sto-1", datetime(2026, 3, 15, 12), 10, "nps", 11),
        Tap("sto-1", datetime(2026, 3, 15, 13), 9, "nps", 11),
        Tap("sto-1", datetime(2026, 3, 15, 14), 7, "nps", 11, reason="price"),
        Tap("sto-1", datetime(2026, 3, 15, 15), 3, "nps", 11, reason=EVIL),
        # nyc-1: late evening and just after midnight, local days; the previous week has the DST switch.
        Tap("nyc-1", datetime(2026, 3, 9, 23, 30), 0, reason="+1"),
        Tap("nyc-1", datetime(2026, 3, 10, 0, 30), 1, reason="-2"),
        Tap("nyc-1", datetime(2026, 3, 15, 8, 15), 3, reason="@SUM(A1)"),
        Tap("nyc-1", datetime(2026, 3, 7, 23, 45), 0, reason="queue"),
        Tap("nyc-1", datetime(2026, 3, 8, 10, 0), 2),
        # pop-up: a misuse press is stored, never counted.
        Tap("pop-up", datetime(2026, 3, 11, 10, 0), 3),
        Tap("pop-up", datetime(2026, 3, 11, 10, 0, 2), 0, misuse=True),
        Tap("pop-up", datetime(2026, 3, 12, 18, 0), 1, reason="queue"),
        # outside both periods
        Tap("hel-1", datetime(2026, 3, 16, 9), 0),
        Tap("hel-1", datetime(2026, 3, 1, 9), 0),
        Tap("lab-1", datetime(2026, 1, 15, 12), 2),
    ]
    return [with_hel1_reason(t) for t in taps]


def with_hel1_reason(tap: Tap) -> Tap:
    """hel-1 gives reasons too: "queue" after a 0 at 09:00, "friendly staff" after a 3 at 12:00."""
    if tap.location != "hel-1" or (tap.value, tap.local.hour) not in ((0, 9), (3, 12)):
        return tap
    reason = "queue" if tap.value == 0 else "friendly staff"
    return Tap(tap.location, tap.local, tap.value, tap.question, tap.scale, reason, tap.misuse)


TAPS = recorded_taps()


def cut(region: str | None, level: int | None) -> str:
    if region is None:
        return "(none)"
    return region if level is None else "/".join(region.split("/")[:level])


def expected(group_by: str, span: tuple[date, date], level: int | None = None) -> dict[tuple[object, ...], list[int]]:
    """Counts per (keys..., question, scale), straight from the recorded taps."""
    out: dict[tuple[object, ...], list[int]] = {}
    for t in TAPS:
        if t.misuse or not span[0] <= t.local.date() <= span[1]:
            continue
        keys: tuple[object, ...] = {
            "location": (t.location,),
            "region": (cut(REGION[t.location], level),),
            "day": (t.location, t.local.date().isoformat()),
            "hour": (t.location, t.local.hour),
            "weekday_hour": (t.local.weekday(), t.local.hour),
            "all": (),
        }[group_by]
        counts = out.setdefault((*keys, t.question, t.scale), [0] * t.scale)
        counts[t.value] += 1
    return out


@dataclass
class HQ:
    hub: Hub
    broker: MosquittoBroker
    workdir: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, scope: str | None = None, role: str = "analyst") -> str:
        """A token of ``role``, limited to the region ``scope`` if given."""
        key = f"{role}:{scope}"
        if key not in self.tokens:
            args = [sys.executable, "-m", "hub.cli", "token", "create", "--db", str(self.hub.db), "--role", role]
            args += ["--region", scope] if scope else []
            out = subprocess.run(args, check=True, capture_output=True, text=True, env=ENV).stdout
            self.tokens[key] = out.strip().splitlines()[-1]
        return self.tokens[key]

    def call(self, path: str, scope: str | None = None, role: str = "analyst", **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(scope, role)}"}
        return httpx.get(self.hub.url + path, params=params, headers=headers, timeout=30)

    def rows(self, path: str, scope: str | None = None, **params: Any) -> list[dict[str, Any]]:
        response = self.call(path, scope, **params)
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["rows"]
        return rows


def record(workdir: Path, broker: MosquittoBroker, site: Site, taps: list[Tap], **sync: Any) -> tuple[Agent, Path]:
    """Write the taps into a device store, as a kiosk would, and return its (not yet started) agent."""
    config_path = write_device_config(
        workdir, f"dev-{site.location_id}", site.location_id, site.zone, broker.url, **sync
    )
    store_path = load_config(config_path).store.path
    with DeviceStore(store_path, site.zone, synchronous="NORMAL") as store:  # test back-fill
        for t in taps:
            when = t.local.replace(tzinfo=ZoneInfo(site.zone))
            store.record(t.value, t.question, t.scale, reason=t.reason, misuse=t.misuse, now=when)
    return Agent(config_path), store_path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hq(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[HQ]:
    """One hub for the module, on each backend: ``touchpoint-hub serve --db postgresql://...`` for the second."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run scripts/test (it installs it) or apt-get install mosquitto")
    today = datetime.now(UTC).date()
    assert today > CURRENT[1] + timedelta(days=1), f"the taps are dated March 2026; on {today} the hub quarantines them"
    base = tmp_path_factory.mktemp("hq")
    broker = MosquittoBroker(MosquittoConfig(free_port(), data_dir=base / "broker", persistence=False))
    broker.start()
    (base / "hub").mkdir()
    db = None
    if request.param == "postgresql":
        db = request.getfixturevalue("pg_cluster").create_database(f"hq_{uuid.uuid4().hex[:8]}")
    hub = Hub(base / "hub", broker.url, db)
    hub.start()
    state = HQ(hub, broker, base)
    agents: list[Agent] = []
    try:
        for site in SITES:
            if site.region is not None:
                body = {"location_id": site.location_id, "name": site.location_id.upper(), "region": site.region}
                response = hub.request("POST", "/api/v1/locations", json={**body, "timezone": site.zone})
                assert response.status_code == 201, response.text
        stores = []
        for site in SITES:
            agent, store = record(base / "devices", broker, site, [t for t in TAPS if t.location == site.location_id])
            agent.start()
            agents.append(agent)
            stores.append(store)
        wait_until(lambda: all(backlog(s) == 0 for s in stores), 60, "every agent to sync its taps")
        assert hub.sql("SELECT COUNT(*) FROM events")[0][0] == len(TAPS)
        yield state
    finally:
        for agent in agents:
            agent.stop()
        hub.stop()
        broker.stop()


def as_counts(rows: list[dict[str, Any]], keys: list[str]) -> dict[tuple[object, ...], list[int]]:
    return {(*(r[k] for k in keys), r["question_id"], r["scale"]): r["counts"] for r in rows}
