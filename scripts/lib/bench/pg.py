"""The benchmark's own PostgreSQL: one private cluster (scripts/lib/pgcluster.py) and the CPU its processes use.

The data directory lives under the results directory, like the SQLite scores database, so the 10 M-event
PostgreSQL copy is kept between runs; the ingest sections get fresh databases in it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pgcluster import PgCluster

from bench.common import CLK_TCK, say


class BenchPg:
    """A running cluster at ``datadir`` (initialised on first use), stopped by :meth:`stop`."""

    def __init__(self, datadir: Path) -> None:
        self.cluster = PgCluster(datadir)
        self.cluster.start()
        say(f"PostgreSQL at {self.cluster.host}:{self.cluster.port} (data {datadir})")

    def fresh_database(self, name: str) -> str:
        """An empty database ``name`` (dropped first if it exists); its URL."""
        self.cluster.drop_database(name)
        return self.cluster.create_database(name)

    def database(self, name: str) -> str:
        """The URL of ``name``, created empty if it does not exist yet."""
        exists = self.cluster.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip()
        return self.cluster.url(name) if exists else self.cluster.create_database(name)

    def server_cpu_s(self) -> float:
        """User + system CPU seconds of the server: the postmaster, its exited children and its live ones."""
        pid_file = self.cluster.datadir / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        total = 0.0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited meanwhile: its time is in the postmaster's children's time
            pid, ppid = int(entry.name), int(fields[1])
            if pid == postmaster:
                total += sum(int(x) for x in fields[11:15])  # its own and its reaped children's time
            elif ppid == postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / CLK_TCK

    def stop(self) -> None:
        self.cluster.stop()
