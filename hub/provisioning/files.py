"""Writing generated files safely: atomically, with the right mode and owner.

Mosquitto 2 drops from root to the ``mosquitto`` user before it reads its
password and ACL files (and on every reload), so those files and the TLS
server key must be readable by that user's group, and by nobody else.
"""

from __future__ import annotations

import grp
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger("touchpoint.hub.provisioning")

MOSQUITTO_GROUP = "mosquitto"
SECRET = 0o600  # only the owner (root, or the device's service user)
BROKER_SECRET = 0o640  # root and the mosquitto group
PUBLIC = 0o644


def mosquitto_gid() -> int | None:
    """The mosquitto group id when we are root and the group exists; else None (files stay ours)."""
    if os.geteuid() != 0:
        return None
    try:
        return grp.getgrnam(MOSQUITTO_GROUP).gr_gid
    except KeyError:
        return None


def write_file(path: Path, data: str | bytes, mode: int, *, gid: int | None = None) -> Path:
    """Write ``path`` atomically (temp file + rename) with ``mode`` and, if given, group ``gid``.

    The mode is set before any data is written, so a secret is never readable by others, even briefly.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        if gid is not None:
            os.fchown(fd, -1, gid)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def make_dir(path: Path, mode: int = 0o750, *, gid: int | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    if gid is not None:
        os.chown(path, -1, gid)
    return path


def db_owner(db: Path) -> tuple[int, int] | None:
    """Who should own the hub database: its current owner, else its directory's (the hub's service user)."""
    for path in (db, db.parent):
        try:
            st = path.stat()
        except OSError:
            continue
        return st.st_uid, st.st_gid
    return None


def keep_db_owner(db: Path, owner: tuple[int, int] | None) -> None:
    """As root, give files SQLite created (the db, -wal, -shm) back to the hub's user, so it can still write."""
    if owner is None or os.geteuid() != 0:
        return
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        try:
            st = path.stat()
        except OSError:
            continue
        if (st.st_uid, st.st_gid) != owner:
            os.chown(path, *owner)
