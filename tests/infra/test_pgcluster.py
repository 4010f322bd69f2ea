"""The private PostgreSQL cluster (scripts/lib/pgcluster.py) and the pg_cluster / pg_url fixtures."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest
from pgcluster import PgCluster, PgError, find_pg_bin


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_find_pg_bin_gives_a_directory_with_the_server_tools() -> None:
    bin_dir = find_pg_bin()
    for tool in ("initdb", "pg_ctl", "psql", "postgres"):
        assert (bin_dir / tool).is_file(), tool


def test_cluster_starts_serves_psycopg_and_stops(pg_datadir: Path) -> None:
    with PgCluster(pg_datadir) as cluster:
        url = cluster.create_database("app")
        assert url == f"postgresql://touchpoint@127.0.0.1:{cluster.port}/app"
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1, current_user, current_database()").fetchone() == (1, "touchpoint", "app")
            assert conn.execute("SHOW fsync").fetchone() == ("on",)
            assert conn.execute("SHOW max_connections").fetchone() == ("200",)
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert _accepts(cluster.port)
    assert not _accepts(cluster.port)
    cluster.stop()  # idempotent


def test_restart_keeps_data_and_a_template_copies_it(pg_datadir: Path) -> None:
    cluster = PgCluster(pg_datadir)
    cluster.start()
    try:
        with psycopg.connect(cluster.create_database("origin")) as conn:
            conn.execute("CREATE TABLE taps (n int)")
            conn.execute("INSERT INTO taps VALUES (7)")
        cluster.stop()
        cluster.start()  # the data directory is kept: no initdb the second time
        with psycopg.connect(cluster.create_database("copy", template="origin")) as conn:
            assert conn.execute("SELECT n FROM taps").fetchall() == [(7,)]
    finally:
        cluster.stop()


def test_a_failed_start_shows_the_server_log(pg_datadir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cluster = PgCluster(pg_datadir, port=taken.getsockname()[1])
        with pytest.raises(PgError, match=r"did not start(.|\n)*server\.log(.|\n)*Address already in use"):
            cluster.start()


def test_a_chosen_port_bound_by_someone_else_before_the_start_is_chosen_again(pg_datadir: Path) -> None:
    """The free port picked at construction can be taken before pg_ctl binds it (an outgoing connection's
    ephemeral port, another server): the cluster picks another instead of failing."""
    cluster = PgCluster(pg_datadir)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", cluster.port))
        taken.listen()
        cluster.start()
        try:
            assert cluster.port != taken.getsockname()[1]
            with psycopg.connect(cluster.create_database("app")) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        finally:
            cluster.stop()


def test_bad_database_names_are_refused_before_reaching_sql(pg_cluster: PgCluster) -> None:
    with pytest.raises(ValueError, match="database name 'x; DROP"):
        pg_cluster.create_database("x; DROP DATABASE postgres")


_seen_databases: list[str] = []


def test_pg_url_gives_each_test_its_own_empty_database(pg_cluster: PgCluster, pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        conn.execute("CREATE TABLE marker (n int)")
    name = pg_url.rsplit("/", 1)[1]
    _seen_databases.append(name)
    other = pg_cluster.create_database(name + "_other")
    with psycopg.connect(other) as conn:
        assert conn.execute("SELECT to_regclass('marker')").fetchone() == (None,)
    assert name in pg_cluster.psql("SELECT datname FROM pg_database").split()


def test_pg_url_databases_differ_between_tests_and_are_dropped_after(pg_cluster: PgCluster, pg_url: str) -> None:
    # Runs after the test above (file order): its database is gone and this one is new.
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('marker')").fetchone() == (None,)
    databases = pg_cluster.psql("SELECT datname FROM pg_database").split()
    assert _seen_databases, "run the whole module: the test above records its database"
    assert _seen_databases[0] not in databases
    assert pg_url.rsplit("/", 1)[1] in databases
