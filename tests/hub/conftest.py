"""tests/hub: the ``storage`` fixture (both backends) from tests/hub/backends.py."""

from tests.hub.backends import backend, db, storage

__all__ = ["backend", "db", "storage"]
