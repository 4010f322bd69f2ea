"""The hub's storage: the contract (:mod:`hub.storage.base`) and its two backends."""

from __future__ import annotations

from pathlib import Path

from hub.storage.base import Storage

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def postgres_url(db: str | Path) -> str | None:
    """The PostgreSQL URL that ``db`` names, or None for a SQLite path.

    A URL that went through ``Path`` lost one slash of ``//``: it is put back.
    """
    text = str(db)
    for scheme in POSTGRES_SCHEMES:
        if text.startswith(scheme):
            return text
        if isinstance(db, Path) and text.startswith(scheme[:-1]):
            return scheme + text[len(scheme) - 1 :]
    return None


def open_storage(db: str | Path) -> Storage:
    """``postgresql://...`` (or ``postgres://...``) opens PostgreSQL; anything else is a SQLite file path."""
    url = postgres_url(db)
    if url is not None:
        from hub.storage.postgres import PostgresStorage  # psycopg is needed only for PostgreSQL

        return PostgresStorage(url)
    from hub.storage.sqlite import SqliteStorage

    return SqliteStorage(Path(db))


class NoDatabase(LookupError):
    """A command that reads a hub's data was given a SQLite path with no database behind it."""


def open_existing(db: str | Path) -> Storage:
    """Like :func:`open_storage`, but a SQLite path must already hold a database.

    Read-only commands (forecast, digest, effect) would otherwise create an empty file for a mistyped path and
    then report nothing, which looks like a hub without data.
    """
    if postgres_url(db) is None and not Path(db).is_file():
        raise NoDatabase(f"--db: no hub database at {db} (give the hub's SQLite file or its postgresql:// URL)")
    return open_storage(db)
