"""The demo's database: a SQLite file, or with ``--postgres`` a private PostgreSQL server under the data dir.

The server comes from :mod:`pgcluster` (the same code the tests and chaos runs use). ``pg_ctl``
daemonizes it, so neither the children's process group nor ``PR_SET_PDEATHSIG`` reaches it: the
demo stops it itself, and a server left behind by a demo killed with -9 is stopped by the next run
before the data dir is wiped.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from pgcluster import PgCluster, PgError, PgMissing

DATABASE = "touchpoint"


class DemoDatabase:
    def __init__(self, data: Path, postgres: bool) -> None:
        self.sqlite_path = data / "hub.sqlite"
        self.pg_dir = data / "postgres"
        self.cluster: PgCluster | None = None
        self.postgres = postgres
        self.url = ""

    def start(self) -> str:
        """What the hub's ``--db`` gets: the SQLite path, or the URL of a new database on a fresh server."""
        if not self.postgres:
            return str(self.sqlite_path)
        self.cluster = PgCluster(self.pg_dir)
        self.cluster.start()
        self.url = self.cluster.create_database(DATABASE)
        return self.url

    def describe(self) -> str:
        if self.cluster is None:
            return f"SQLite file {self.sqlite_path}"
        return f"PostgreSQL {self.cluster.bin.parent.name} at {self.url} (its data in {self.pg_dir})"

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None


def stop_leftover(data: Path) -> None:
    """A server still running on ``data/postgres`` (its demo was killed with -9): stop it before the wipe."""
    pg_dir = data / "postgres"
    if (pg_dir / "postmaster.pid").exists():
        with contextlib.suppress(PgError, PgMissing):  # should it fail, the wipe goes ahead all the same
            PgCluster(pg_dir).stop()
