"""Full-page screenshots of every page at laptop and tablet size, for the README and for review.

Each page and each of its tables must fit the viewport's width: a tablet never scrolls sideways.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from tests.dashboard.conftest import LAPTOP, SCREENSHOTS, TABLET, login
from tests.dashboard.stack import Fleet

pytestmark = pytest.mark.integration


def shoot(page: Page, name: str) -> None:
    size = page.viewport_size
    assert size is not None
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than a {size['width']}px screen"
    clipped = page.evaluate(
        "[...document.querySelectorAll('.table-wrap')].filter(e => e.scrollWidth > e.clientWidth).length"
    )
    assert clipped == 0, f"a table on {name} needs sideways scrolling at {size['width']}px"
    path = SCREENSHOTS / f"dashboard-{name}-{size['width']}x{size['height']}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


@pytest.mark.parametrize("viewport", [LAPTOP, TABLET], ids=["laptop", "tablet"])
def test_screenshots_of_every_page(fleet: Fleet, browser: Browser, viewport: dict[str, int]) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        page.goto(fleet.hub.url + "/login")
        shoot(page, "login")
        login(page, fleet.hub.url, fleet.tokens["admin"])
        shoot(page, "fleet")
        page.goto(fleet.hub.url + "/locations/hel-kamppi")
        shoot(page, "location")
        page.goto(fleet.hub.url + "/devices")
        shoot(page, "devices")
    finally:
        context.close()
