"""The SQLite backend: the embedded default for one machine and for the demo."""

from hub.storage.sql.sessions import hash_token
from hub.storage.sqlite.storage import SqliteStorage

__all__ = ["SqliteStorage", "hash_token"]
