"""Dashboard fixtures: one real fleet (broker, hub, agents) and one headless Chromium for the whole package."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from hub.broker import find_mosquitto
from tests.dashboard.stack import Fleet, start_fleet

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]  # fmt: skip
LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture(scope="package")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run scripts/test (it installs it) or apt-get install mosquitto")
    running = start_fleet(tmp_path_factory.mktemp("dashboard"))
    yield running
    running.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium is missing for the dashboard tests: run "
            "`apt-get update && apt-get install -y --no-install-recommends chromium`"
        )
    with sync_playwright() as playwright:
        # launch() runs Chromium on a fresh temporary profile directory, removed on close.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser context per test: its own cookies, at laptop size."""
    ctx = browser.new_context(viewport=LAPTOP)  # type: ignore[arg-type]
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def login(page: Page, base_url: str, token: str, path: str = "/login") -> None:
    """Sign in through the form as a person would."""
    page.goto(base_url + path)
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("login-submit").click()
    page.wait_for_load_state()


def api_get(fleet: Fleet, who: str, path: str, **params: Any) -> Any:
    """GET an API path with one of the fleet's tokens (admin, analyst, nordics), as curl would."""
    headers = {"Authorization": f"Bearer {fleet.tokens[who]}"}
    response = httpx.get(fleet.hub.url + path, params=params, headers=headers, timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def api(fleet: Fleet) -> Callable[..., Any]:
    """GET an API path with the admin token."""
    return lambda path, **params: api_get(fleet, "admin", path, **params)
