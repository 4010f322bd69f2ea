"""End to end: an action logged on the kiosk's manager view reaches the hub once and shows on its dashboard.

Everything is real: the Kivy kiosk in a real window (Xvfb), its store file, the device agent process,
Mosquitto, the hub process (``touchpoint-hub serve``), and headless Chromium reading the location page.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from edge_agent.actions import SYNCED, action_counts, pending_actions
from edge_agent.store import DeviceStore
from hub.broker import MosquittoBroker, MosquittoConfig, find_mosquitto, free_port
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS, LAPTOP, login
from tests.kiosk.kivy_rig import KioskCase
from tests.support import Agent, Hub, wait_until, write_device_config

TZ = "Europe/Helsinki"


class KioskToDashboardTest(KioskCase):
    def test_an_action_logged_on_the_kiosk_reaches_the_hub_once_and_its_dashboard(self) -> None:
        if find_mosquitto() is None or not CHROMIUM.exists():
            pytest.fail("needs mosquitto and /usr/bin/chromium: run scripts/test (it installs them)")
        broker = MosquittoBroker(MosquittoConfig(free_port(), data_dir=self.tmp / "broker", persistence=False))
        broker.start()
        self.addCleanup(broker.stop)
        (self.tmp / "hub").mkdir()
        hub = Hub(self.tmp / "hub", broker.url)
        hub.start()
        self.addCleanup(hub.stop)
        registered = hub.request("POST", "/api/v1/locations", json={
            "location_id": "test-store", "name": "Test Store", "region": "nordics", "timezone": TZ,
        })  # fmt: skip
        assert registered.status_code == 201, registered.text
        # The kiosk and the agent share the device's store file, as on a Pi.
        config_path = write_device_config(self.tmp / "device", "kiosk-test", "test-store", TZ, broker.url)
        self.db_path = self.tmp / "device" / "kiosk-test.sqlite"
        agent = Agent(config_path)
        agent.start()
        self.addCleanup(agent.stop)

        root = self.open_manager()
        self.tap(root.manager.log_action)
        self.tap(root.action_log.chips[0])  # reason: waiting time
        self.tap(root.action_log.chips[0])  # "We opened a second till at lunch."
        assert root.action_log.title.text.startswith("Logged, starting today")
        with DeviceStore(self.db_path, TZ) as store:
            [action] = pending_actions(store)
        self.pump_until(lambda: self.counts() == {SYNCED: 1}, 30, "the hub's ack of the action")

        rows = hub.sql("SELECT id, location_id, text, reason, logged_by, device_id, started_on FROM actions")
        assert rows == [(action.id, "test-store", "We opened a second till at lunch.", "queue",
                         "manager@kiosk-test", "kiosk-test", action.started_on.isoformat())]  # fmt: skip
        wait_until(lambda: "hub acked 1 actions" in agent.log(), 10, "the agent's log of the ack")
        time.sleep(3)  # longer than the agent's ack timeout: nothing is resent, nothing stored twice
        assert hub.sql("SELECT COUNT(*) FROM actions") == [(1,)]
        assert agent.log().count("sent 1 actions to the hub") == 1

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_context(viewport=LAPTOP).new_page()  # type: ignore[arg-type]
                login(page, hub.url, hub.token("admin"))
                page.goto(f"{hub.url}/locations/test-store")
                shown = page.get_by_test_id("actions").locator("tbody tr")
                assert shown.count() == 1
                row = page.get_by_test_id(f"action-{action.id}")
                assert row.get_by_test_id("action-text").inner_text() == "We opened a second till at lunch."
                assert row.get_by_test_id("action-logged-by").inner_text() == "manager@kiosk-test"
                assert row.get_by_test_id("action-started").inner_text() == action.started_on.isoformat()
                assert row.get_by_test_id("action-verdict").get_attribute("data-value") == "not measured"
            finally:
                browser.close()

    # --- helpers ---------------------------------------------------------------

    def counts(self) -> dict[int, int]:
        with DeviceStore(self.db_path, TZ) as store:
            return action_counts(store)

    def pump_until(self, done: Any, timeout: float, what: str) -> None:
        """Wait for the agent while the kiosk keeps drawing frames, as it does on a Pi."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            self.advance_frames(1)
            time.sleep(0.1)
