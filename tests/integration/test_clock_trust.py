"""Two real agents on this machine's real, unsynchronised clock: ``trust = "ntp"`` holds and says so, ``"rtc"`` sends.

Nothing is faked: the agents judge the kernel's clock state as a device in the field would. The test
skips where the kernel reports the clock synchronised (tests/conftest.py, ``unsynchronised_clock``).
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hub.broker import MosquittoBroker
from tests.support import REAL_CLOCK_ENV, Agent, Hub, wait_until, write_device_config

HOLDING = (
    "WARNING touchpoint.agent: clock not trusted: the kernel reports the clock as not synchronised (no NTP); "
    "holding 1 tap of this boot until it is (each for up to an hour, then sent and quarantined at the hub). "
    "Fix: enable time sync (`timedatectl set-ntp true` / systemd-timesyncd or chrony), or if this device has a "
    'battery-backed RTC or a correct host clock set `[clock] trust = "rtc"` in device.toml.'
)
TRUSTED = 'INFO touchpoint.agent: clock trusted: [clock] trust = "rtc" and the date is plausible'


def tap(config: Path) -> None:
    args = [sys.executable, "-m", "edge_agent.cli", "tap", "--config", str(config), "--value", "3"]
    subprocess.run(args, env=REAL_CLOCK_ENV, check=True, capture_output=True, timeout=60)


def device(hub: Hub, device_id: str) -> dict[str, object]:
    rows = {row["device_id"]: row for row in hub.get("/api/v1/devices", role="admin")["rows"]}
    return dict(rows.get(device_id, {}))


def start(tmp_path: Path, broker: MosquittoBroker, device_id: str, trust: str) -> Agent:
    config = write_device_config(tmp_path / "devices", device_id, "store-1", "UTC", broker.url, clock_trust=trust)
    tap(config)
    agent = Agent(config, REAL_CLOCK_ENV)
    agent.start()
    return agent


@pytest.mark.usefixtures("unsynchronised_clock")
def test_ntp_trust_holds_and_says_why_while_rtc_trust_delivers(
    tmp_path: Path, mosquitto: MosquittoBroker, hub: Hub
) -> None:
    held, sent = start(tmp_path, mosquitto, "dev-ntp", "ntp"), start(tmp_path, mosquitto, "dev-rtc", "rtc")
    try:
        wait_until(lambda: hub.sql("SELECT device_id, clock_ok FROM events"), 30, "the rtc device's tap")
        assert hub.sql("SELECT device_id, clock_ok FROM events") == [("dev-rtc", 1)]
        status = wait_until(lambda: device(hub, "dev-ntp").get("held"), 30, "the ntp device's status")
        assert (status, device(hub, "dev-ntp")["clock_ok"], device(hub, "dev-ntp")["backlog"]) == (1, False, 1)
        wait_until(lambda: device(hub, "dev-rtc").get("backlog") == 0, 30, "the rtc device's status")
        assert (device(hub, "dev-rtc")["clock_ok"], device(hub, "dev-rtc")["held"]) == (True, 0)
        assert hub.sql("SELECT COUNT(*) FROM quarantine") == [(0,)]  # held on the device, not yet quarantined
        assert [line.split(" ", 2)[2] for line in held.log().splitlines() if ": clock " in line] == [HOLDING]
        assert [line.split(" ", 2)[2] for line in sent.log().splitlines() if ": clock " in line] == [TRUSTED]
        page = devices_page(hub)
    finally:
        held.stop()
        sent.stop()
    ntp_cell = re.search(r'<span [^>]*data-testid="clock-dev-ntp"[^>]*>([^<]*)</span>', page)
    assert ntp_cell is not None, page
    assert 'data-clock-ok="false" data-held="1"' in ntp_cell.group(0)
    assert html.unescape(ntp_cell.group(1)) == "Not synced · 1 held"
    assert 'data-testid="clock-dev-rtc" data-clock-ok="true"' in page


def devices_page(hub: Hub) -> str:
    """/devices as a browser gets it: log in with a token, follow the redirect, read the HTML."""
    with httpx.Client(base_url=hub.url, follow_redirects=True, timeout=10) as client:
        response = client.post("/login", data={"token": hub.token("admin"), "next": "/devices"})
        response.raise_for_status()
        assert response.url.path == "/devices"
        return response.text
