"""A hub on PostgreSQL whose server-side sessions all end (as after a cut link or a server restart) keeps working.

After a network cut, PostgreSQL's keepalives end the hub's sessions, but the hub's idle pooled connections
notice only when next used: the first statement on each fails with "server closed the connection". The
ingest worker must take that as a failed attempt and go on (it once died there, on its registry read, and
the worker then held every message the broker gave it without acking any), and an API read must not
answer 500 for it.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from hub.broker import MosquittoBroker
from hub.provisioning.gate import REFRESH_S
from tests.conftest import AgentFactory
from tests.integration.test_exactly_once import ALL_TIME, assert_exact, record_taps
from tests.support import Hub

pytestmark = pytest.mark.integration


def scores(hub: Hub, token: str) -> httpx.Response:
    params = {"group_by": "location", **ALL_TIME}
    return httpx.get(
        hub.url + "/api/v1/scores", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def end_hub_sessions(pg_url: str) -> int:
    """Terminate every other session on the hub's database, as the server does to a peer it lost."""
    with psycopg.connect(pg_url, autocommit=True) as pg:
        rows = pg.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def concurrent_reads(hub: Hub, token: str, pg_url: str, n: int) -> list[httpx.Response]:
    """``n`` score reads at once, each on its own pooled connection: the pool grows, and they then idle.

    A lock on ``locations`` holds every read at its first statement until all ``n`` wait (fast reads
    would otherwise finish before the pool needs to grow), then lets them go.
    """
    with psycopg.connect(pg_url) as locker, ThreadPoolExecutor(n) as pool:
        locker.execute("LOCK TABLE locations IN ACCESS EXCLUSIVE MODE")
        reads = [pool.submit(scores, hub, token) for _ in range(n)]
        deadline = time.monotonic() + 8
        while waiting_on_locks(pg_url) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        locker.commit()
        return [read.result() for read in reads]


def waiting_on_locks(pg_url: str) -> int:
    with psycopg.connect(pg_url, autocommit=True) as pg:
        row = pg.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_ingest_and_api_go_on_after_the_servers_sessions_end(
    tmp_path: Path, mosquitto: MosquittoBroker, pg_url: str, make_agent: AgentFactory
) -> None:
    workdir = tmp_path / "hub"
    workdir.mkdir()
    hub = Hub(workdir, mosquitto.url, pg_url)
    hub.start()
    try:
        agent, config = make_agent("kiosk-a", "store-1")
        record_taps(config, 200, seed=1)
        agent.start()
        devices = [("store-1", config)]
        assert_exact(hub, devices)
        token = hub.token()
        assert [r.status_code for r in concurrent_reads(hub, token, pg_url, 8)] == [200] * 8
        assert end_hub_sessions(pg_url) >= 5, "too few pooled connections to leave some stale for ingest"
        time.sleep(REFRESH_S + 0.5)  # the next message re-reads the device registry, on a dead connection
        statuses = [scores(hub, token).status_code for _ in range(12)]
        assert statuses == [200] * 12, "an API read answered an error for a dead pooled connection"
        record_taps(config, 200, seed=2)
        assert_exact(hub, devices)
        assert "Exception in thread ingest-worker" not in hub.log()
    finally:
        hub.stop()
