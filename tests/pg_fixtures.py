"""PostgreSQL fixtures: one private cluster per test session, a fresh empty database per test.

Registered from tests/conftest.py (``pytest_plugins``). The cluster comes from scripts/lib/pgcluster.py,
the same code scripts/demo, scripts/chaos and scripts/bench use.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

LIB = str(Path(__file__).resolve().parents[1] / "scripts" / "lib")
if LIB not in sys.path:
    sys.path.insert(0, LIB)

from pgcluster import PgCluster, PgMissing  # noqa: E402  (needs scripts/lib on the path)

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgCluster]:
    """A running PostgreSQL on a free 127.0.0.1 port for the whole session; stopped at the end."""
    try:
        cluster = PgCluster(tmp_path_factory.mktemp("postgres") / "data")
    except PgMissing as exc:
        pytest.fail(f"{exc} (scripts/test installs it when run as root)")
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """URL of a new empty database (``tp_<n>``) owned by role ``touchpoint``; dropped after the test."""
    name = f"tp_{next(_database_numbers)}"
    url = pg_cluster.create_database(name)
    yield url
    pg_cluster.drop_database(name)
