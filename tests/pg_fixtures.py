"""PostgreSQL fixtures: one private cluster per test session, a fresh empty database per test.

Registered from tests/conftest.py (``pytest_plugins``). The cluster comes from scripts/lib/pgcluster.py,
the same code scripts/demo, scripts/chaos and scripts/bench use.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

LIB = str(Path(__file__).resolve().parents[1] / "scripts" / "lib")
if LIB not in sys.path:
    sys.path.insert(0, LIB)

from pgcluster import PgCluster, PgMissing  # noqa: E402  (needs scripts/lib on the path)

_database_numbers = itertools.count(1)


@contextlib.contextmanager
def _scratch_dir() -> Iterator[Path]:
    """A new directory for a data directory, outside pytest's tmp_path (see ``pg_datadir``); removed after."""
    scratch = Path(tempfile.mkdtemp(prefix="tp-pg-"))
    try:
        yield scratch / "data"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def pg_datadir() -> Iterator[Path]:
    """A path for a PgCluster's data directory that a test starts itself (stop the cluster before the end).

    Not under ``tmp_path``: as root the server runs as the postgres user, and every new pytest session on the
    machine resets /tmp/pytest-of-root to 0700, which would lock a running server out of its own files.
    """
    with _scratch_dir() as datadir:
        yield datadir


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A running PostgreSQL on a free 127.0.0.1 port for the whole session; stopped at the end.

    Shared by every test: a test that stops, kills or cuts off its server starts its own PgCluster.
    """
    with _scratch_dir() as datadir:
        try:
            cluster = PgCluster(datadir)
        except PgMissing as exc:
            pytest.fail(f"{exc} (scripts/test installs it when run as root)")
        with cluster:
            yield cluster


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """URL of a new empty database (``tp_<n>``) owned by role ``touchpoint``; dropped after the test."""
    name = f"tp_{next(_database_numbers)}"
    url = pg_cluster.create_database(name)
    yield url
    pg_cluster.drop_database(name)
