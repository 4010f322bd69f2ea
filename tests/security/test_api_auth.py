"""No one without a token reads HQ data: every /api/* route, over real HTTP to a real hub.

The routes are enumerated from the app itself, so a route added later is covered without
editing this test: each must answer 401 without a token and with a made-up one, and each
route that depends on ``require_admin`` must answer 403 to an analyst token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from hub.api.deps import require_admin
from hub.app import create_app
from hub.broker import MosquittoBroker, MosquittoConfig, free_port
from hub.core.config import HubSettings
from tests.support import Hub

pytestmark = pytest.mark.integration
BOGUS = "tp_" + "x" * 43


def _depends_on(dependant: Any, target: Callable[..., Any]) -> bool:
    return any(d.call is target or _depends_on(d, target) for d in dependant.dependencies)


def _flatten(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI >= 0.16x wraps included routers
            yield from _flatten(route.original_router.routes)


APP = create_app(HubSettings(db=Path("/nonexistent/unused.sqlite")), with_ingest=False)


def api_routes() -> list[tuple[str, str, bool]]:
    """(method, concrete path, admin only) for every /api route of the app."""
    found = []
    for route in _flatten(APP.routes):
        if not route.path.startswith("/api/"):
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, path, _depends_on(route.dependant, require_admin)))
    return found


ROUTES = api_routes()


def test_the_route_list_is_complete() -> None:
    paths = {path for _, path, _ in ROUTES}
    assert {"/api/v1/scores", "/api/v1/devices", "/api/v1/dead-letters", "/api/v1/tokens"} <= paths
    assert ("DELETE", "/api/v1/tokens/1", True) in ROUTES
    documented = {
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, ops in APP.openapi()["paths"].items()
        if path.startswith("/api/")
        for method in ops
    }
    assert documented <= {(m, p) for m, p, _ in ROUTES}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """One real hub (uvicorn) and broker for the whole module: these tests only read and add tokens."""
    root = tmp_path_factory.mktemp("api-auth")
    broker = MosquittoBroker(MosquittoConfig(free_port(), data_dir=root / "broker"))
    broker.start()
    (root / "hub").mkdir()
    process = Hub(root / "hub", broker.url)
    try:
        process.start()
        yield process
    finally:
        process.stop()
        broker.stop()


@pytest.fixture
def http(hub: Hub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub.url, timeout=10) as client:
        yield client


def test_every_api_route_needs_a_token(hub: Hub, http: httpx.Client) -> None:
    wrong = []
    for method, path, _ in ROUTES:
        for headers in ({}, {"Authorization": f"Bearer {BOGUS}"}, {"Authorization": "Basic dXNlcjpwdw=="}):
            response = http.request(method, path, headers=headers, json={})
            if response.status_code != 401 or BOGUS in response.text:
                wrong.append(f"{method} {path} {headers or 'no token'}: {response.status_code} {response.text[:100]}")
    assert wrong == []


def test_admin_routes_refuse_an_analyst_token(hub: Hub, http: httpx.Client) -> None:
    headers = {"Authorization": f"Bearer {hub.token('analyst')}"}
    admin_routes = [(m, p) for m, p, admin in ROUTES if admin]
    assert admin_routes
    wrong = []
    for method, path in admin_routes:
        response = http.request(method, path, headers=headers, json={})
        if response.status_code != 403:
            wrong.append(f"{method} {path}: {response.status_code}")
    assert wrong == []


def test_tokens_can_be_created_listed_without_secrets_and_revoked_over_the_api(hub: Hub, http: httpx.Client) -> None:
    admin = {"Authorization": f"Bearer {hub.token('admin')}"}
    created = http.post("/api/v1/tokens", headers=admin, json={"name": "BI tool", "role": "analyst"})
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    secret, token_id = body["secret"], body["token_id"]
    assert secret.startswith("tp_") and body["role"] == "analyst" and body["revoked_at"] is None
    mine = {"Authorization": f"Bearer {secret}"}
    assert http.get("/api/v1/locations", headers=mine).status_code == 200

    listing = http.get("/api/v1/tokens", headers=admin)
    assert listing.status_code == 200
    rows = listing.json()["rows"]
    assert [r["name"] for r in rows if r["token_id"] == token_id] == ["BI tool"]
    assert all(set(r) == {"token_id", "name", "role", "region", "created_at", "revoked_at"} for r in rows)
    assert secret not in listing.text
    stored = hub.sql("SELECT token_hash FROM tokens WHERE token_id = ?", (token_id,))[0][0]
    assert stored not in listing.text and secret not in stored
    raw = hub.db.read_bytes() + hub.db.with_name(hub.db.name + "-wal").read_bytes()
    assert secret.encode() not in raw, "tokens are stored hashed"

    assert http.delete(f"/api/v1/tokens/{token_id}", headers=admin).status_code == 204
    assert http.get("/api/v1/locations", headers=mine).status_code == 401
    assert http.delete(f"/api/v1/tokens/{token_id}", headers=admin).status_code == 404
    revoked = [r for r in http.get("/api/v1/tokens", headers=admin).json()["rows"] if r["token_id"] == token_id]
    assert revoked[0]["revoked_at"] is not None


def test_token_creation_is_validated(hub: Hub, http: httpx.Client) -> None:
    admin = {"Authorization": f"Bearer {hub.token('admin')}"}
    bad = http.post("/api/v1/tokens", headers=admin, json={"name": "x", "role": "admin", "region": "nordics"})
    assert bad.status_code == 422 and "region applies to analyst tokens only" in bad.text
    assert http.post("/api/v1/tokens", headers=admin, json={"name": "x", "role": "root"}).status_code == 422
    regional = http.post(
        "/api/v1/tokens", headers=admin, json={"name": "Nordics", "role": "analyst", "region": "nordics"}
    )
    assert regional.status_code == 201 and regional.json()["region"] == "nordics"


def test_a_regional_token_gets_403_outside_its_region(hub: Hub, http: httpx.Client) -> None:
    admin = {"Authorization": f"Bearer {hub.token('admin')}"}
    for location_id, region, tz in (("hel-1", "nordics/helsinki", "Europe/Helsinki"), ("nyc-1", "americas", "UTC")):
        body = {"location_id": location_id, "name": location_id, "timezone": tz, "region": region}
        assert http.post("/api/v1/locations", headers=admin, json=body).status_code in (201, 409)
    created = http.post("/api/v1/tokens", headers=admin, json={"name": "N", "role": "analyst", "region": "nordics"})
    nordics = {"Authorization": f"Bearer {created.json()['secret']}"}
    assert http.get("/api/v1/locations/hel-1", headers=nordics).status_code == 200
    assert http.get("/api/v1/locations/nyc-1", headers=nordics).status_code == 403
    scores = {"from": "2026-11-01", "to": "2026-11-30", "location": "nyc-1"}
    assert http.get("/api/v1/scores", headers=nordics, params=scores).status_code == 403
    assert [r["location_id"] for r in http.get("/api/v1/locations", headers=nordics).json()["rows"]] == ["hel-1"]
