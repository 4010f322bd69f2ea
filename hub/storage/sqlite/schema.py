"""The hub's schema steps (:mod:`hub.storage.sql.schema`) as SQLite migrations, numbered by ``user_version``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from edge_agent.migrate import Migration
from hub.storage.sql.schema import STEPS, Step, render


def _apply(step: Step) -> Callable[[sqlite3.Connection], None]:
    def apply(db: sqlite3.Connection) -> None:
        for sql in step.statements:
            db.execute(render(sql, "sqlite"))

    return apply


MIGRATIONS = [Migration(step.version, step.description, _apply(step)) for step in STEPS]
