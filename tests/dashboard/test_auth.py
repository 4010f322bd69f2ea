"""Login, session cookie, logout, revocation, rate limit and redirects, through a real browser and real HTTP."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page

from tests.dashboard.conftest import login
from tests.dashboard.stack import Fleet, create_token
from tests.support import ENV

pytestmark = pytest.mark.integration
PAGES = ["/", "/devices", "/locations/hel-kamppi"]


def test_pages_without_a_session_redirect_to_login_and_come_back_after_it(fleet: Fleet, page: Page) -> None:
    for path in PAGES:
        response = httpx.get(fleet.hub.url + path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login"), path
    bogus = httpx.get(fleet.hub.url + "/", cookies={"tp_session": "forged"}, follow_redirects=False)
    assert bogus.status_code == 303
    page.goto(fleet.hub.url + "/devices")
    assert page.url == f"{fleet.hub.url}/login?next=%2Fdevices"
    page.get_by_test_id("token-input").fill(fleet.tokens["admin"])
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(fleet.hub.url + "/devices")


def test_login_sets_an_http_only_same_site_cookie_with_an_expiry(fleet: Fleet, context: BrowserContext) -> None:
    page = context.new_page()
    login(page, fleet.hub.url, fleet.tokens["analyst"])
    assert page.url == fleet.hub.url + "/"
    assert page.get_by_test_id("viewer-name").inner_text() == "HQ analytics"
    (cookie,) = [c for c in context.cookies() if c["name"] == "tp_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    assert cookie["secure"] is False  # plain http here; https requests get Secure
    assert abs(cookie["expires"] - (time.time() + 12 * 3600)) < 300
    assert len(cookie["value"]) >= 43  # 256 random bits
    # Only the SHA-256 of the session id is stored, never the id itself.
    stored = [r[0] for r in fleet.hub.sql("SELECT session_hash FROM sessions")]
    assert hashlib.sha256(cookie["value"].encode()).hexdigest() in stored
    assert cookie["value"] not in stored
    assert page.evaluate("document.cookie") == ""  # invisible to scripts


def test_a_wrong_token_shows_the_form_again_without_echoing_it(fleet: Fleet, page: Page) -> None:
    secret = "tp_not-a-real-token-0123456789"
    login(page, fleet.hub.url, secret)
    assert page.url.startswith(fleet.hub.url + "/login")
    assert page.get_by_test_id("login-error").inner_text() == "Unknown or revoked token."
    assert secret not in page.content()
    assert page.get_by_test_id("token-input").input_value() == ""


def test_logout_ends_the_session_on_the_server(fleet: Fleet, context: BrowserContext) -> None:
    page = context.new_page()
    login(page, fleet.hub.url, fleet.tokens["admin"])
    (cookie,) = [c for c in context.cookies() if c["name"] == "tp_session"]
    page.get_by_test_id("logout").click()
    page.wait_for_url(fleet.hub.url + "/login")
    assert not [c for c in context.cookies() if c["name"] == "tp_session"]
    replay = httpx.get(fleet.hub.url + "/", cookies={"tp_session": cookie["value"]}, follow_redirects=False)
    assert replay.status_code == 303, "a logged-out session id must not work again"


def test_revoking_the_token_ends_its_sessions(fleet: Fleet, page: Page) -> None:
    token = create_token(fleet.hub, "analyst", "short-lived")
    login(page, fleet.hub.url, token)
    assert page.url == fleet.hub.url + "/"
    token_id = fleet.hub.sql("SELECT MAX(token_id) FROM tokens")[0][0]
    args = [sys.executable, "-m", "hub.cli", "token", "revoke", "--db", str(fleet.hub.db), str(token_id)]
    subprocess.run(args, check=True, capture_output=True, env=ENV)
    page.reload()
    assert page.url.startswith(fleet.hub.url + "/login")


def test_failed_logins_are_rate_limited_per_client_address(fleet: Fleet) -> None:
    # uvicorn trusts X-Forwarded-For from loopback (a reverse proxy there), so each test address is its own client.
    def attempt(token: str, address: str) -> httpx.Response:
        return httpx.post(
            fleet.hub.url + "/login",
            data={"token": token, "next": "/"},
            headers={"X-Forwarded-For": address},
            follow_redirects=False,
        )

    for _ in range(5):
        assert attempt("tp_guess", "203.0.113.7").status_code == 403
    blocked = attempt("tp_guess", "203.0.113.7")
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    assert "Too many failed logins" in blocked.text
    assert attempt(fleet.tokens["admin"], "203.0.113.7").status_code == 429, "blocked means blocked, even when right"
    assert attempt(fleet.tokens["admin"], "203.0.113.8").status_code == 303, "other clients are not affected"


def test_a_cross_site_login_post_is_refused(fleet: Fleet) -> None:
    response = httpx.post(
        fleet.hub.url + "/login",
        data={"token": fleet.tokens["admin"]},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
