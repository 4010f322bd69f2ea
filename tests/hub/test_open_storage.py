"""Choosing the backend from ``--db``: a path opens SQLite, a URL opens PostgreSQL, a missing file is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.storage import NoDatabase, open_existing, open_storage


def test_a_missing_sqlite_file_is_refused_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo.sqlite"
    with pytest.raises(NoDatabase, match=r"no hub database at .*typo\.sqlite"):
        open_existing(missing)
    assert not missing.exists()


def test_an_existing_sqlite_file_opens(tmp_path: Path) -> None:
    open_storage(tmp_path / "hub.sqlite").close()
    storage = open_existing(str(tmp_path / "hub.sqlite"))
    try:
        assert storage.backend == "sqlite"
    finally:
        storage.close()


def test_a_postgresql_url_opens_postgresql(pg_url: str) -> None:
    storage = open_existing(pg_url)
    try:
        assert storage.backend == "postgresql"
    finally:
        storage.close()
