"""The PostgreSQL backend: several hub workers, on several hosts, over one database."""

from hub.storage.postgres.storage import PostgresStorage

__all__ = ["PostgresStorage"]
