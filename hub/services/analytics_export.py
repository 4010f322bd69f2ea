"""``GET /api/v1/events``: raw events by local day, as JSON pages or one streamed CSV.

JSON pages are keyset-paginated on the events' integer pk. Rows never move
and new events always get a larger pk, so following ``next_cursor`` returns
every event exactly once, even while devices keep syncing. The cursor is bound
to its query, so it cannot be replayed against other filters by mistake.

The CSV streams chunk by chunk and never holds the result in memory. Text cells
that a spreadsheet would run as a formula get a leading ``'`` (OWASP, CSV injection).
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import date

from hub.services.analytics_errors import BadCursor
from hub.services.analytics_query import check_range, select
from hub.services.analytics_scope import Scope
from hub.storage.base import Storage
from hub.storage.base_analytics import EXPORT_COLUMNS, EventQuery, ExportRow

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
CSV_CHUNK_ROWS = 2000
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def event_query(
    storage: Storage, scope: Scope, start: date, end: date, location: str | None, region: str | None
) -> EventQuery:
    check_range(start, end)
    return EventQuery(start, end, select(storage, scope, location, region))


# --- JSON pages ---------------------------------------------------------------


def _fingerprint(query: EventQuery) -> str:
    text = f"{query.start}|{query.end}|{query.selection.region}|{query.selection.location_id}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(after_pk: int, query: EventQuery) -> str:
    raw = json.dumps({"after": after_pk, "q": _fingerprint(query)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: EventQuery) -> int:
    """The pk to continue after; BadCursor for anything that is not this query's ``next_cursor``."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after, fingerprint = data["after"], data["q"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise BadCursor("cursor: not a cursor from this endpoint; pass the previous page's next_cursor as is") from None
    if not isinstance(after, int) or after < 0 or fingerprint != _fingerprint(query):
        raise BadCursor("cursor: it belongs to another query; keep from, to, location and region as on the first page")
    return after


def _json_row(row: ExportRow) -> dict[str, object]:
    out = dict(zip(EXPORT_COLUMNS, row, strict=True))
    out["misuse"] = bool(out["misuse"])
    return out


def event_page(storage: Storage, query: EventQuery, cursor: str | None, limit: int) -> dict[str, object]:
    """One page; ``next_cursor`` is null once there is nothing after it."""
    after = 0 if cursor is None else decode_cursor(cursor, query)
    page = storage.event_page(query, after, limit + 1)  # one extra row tells whether another page follows
    more = len(page) > limit
    page = page[:limit]
    return {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "limit": limit,
        "rows": [_json_row(row) for _, row in page],
        "next_cursor": encode_cursor(page[-1][0], query) if more else None,
    }


# --- CSV ----------------------------------------------------------------------


def csv_cell(value: object) -> object:
    """A text cell starting with = + - @ tab or CR gets a leading ' so a spreadsheet shows it, never runs it."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(storage: Storage, query: EventQuery) -> Iterator[bytes]:
    """The header, then one UTF-8 block per chunk of rows read from storage."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue().encode()
    for chunk in storage.iter_events(query, CSV_CHUNK_ROWS):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([csv_cell(value) for value in row] for row in chunk)
        yield buffer.getvalue().encode()


def csv_filename(query: EventQuery) -> str:
    where = query.selection.location_id or (query.selection.region or "all").replace("/", "_")
    return f"touchpoint-events_{where}_{query.start}_{query.end}.csv"
