"""Which hub worker does the singleton work (alert evaluation, webhook delivery, config push).

Every worker ingests and serves the API; exactly one at a time holds
leadership. The lock lives beside the data, so it dies with the worker:

- SQLite: ``flock`` on ``<db>.leader.lock`` on its own file descriptor. The
  kernel drops it when the process dies (even on ``kill -9``), so the hub
  processes sharing one file (``--share-group``) elect a new one at once.
  Not for network file systems, where SQLite itself is unsafe too.
- PostgreSQL: a session advisory lock on its own connection
  (``hub.storage.postgres.leader.PgAdvisoryLeader``), dropped by the server
  when that connection ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import socket
from pathlib import Path
from typing import Protocol

from hub.core.config import database_backend

LEADER_LOCK_NAME = "touchpoint-hub-leader"
LOCK_SUFFIX = ".leader.lock"


class Leadership(Protocol):
    def try_acquire(self) -> bool:
        """Non-blocking; True while this worker holds leadership (idempotent)."""
        ...

    def holds(self) -> bool:
        """Still held?"""
        ...

    def release(self) -> None: ...


class FileLockLeader:
    """``flock(LOCK_EX | LOCK_NB)`` on a lock file beside the SQLite database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def beside(cls, db: str) -> FileLockLeader:
        return cls(Path(db + LOCK_SUFFIX))

    def try_acquire(self) -> bool:
        if self._fd is not None:
            if self.holds():
                return True
            self.release()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        if not self.holds():  # the file was removed or replaced between open and flock
            self.release()
            return False
        # For people: who holds it. The lock itself is the flock, not this text.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        return True

    def holds(self) -> bool:
        """True while our descriptor is locked and is still the file at ``path``.

        A lock file deleted or replaced by hand would let a second worker lock
        a new file: the inode check notices that and gives leadership up.
        """
        if self._fd is None:
            return False
        try:
            mine, there = os.fstat(self._fd), os.stat(self.path)
        except OSError:
            return False
        return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing the descriptor drops the flock


def leadership_for(db: str) -> Leadership:
    """The lock that elects one leader among the workers sharing the database ``db``."""
    if database_backend(db) == "postgresql":
        module = importlib.import_module("hub.storage.postgres.leader")  # only PostgreSQL hubs need psycopg
        leader: Leadership = module.PgAdvisoryLeader(db, name=LEADER_LOCK_NAME)
        return leader
    return FileLockLeader.beside(db)
