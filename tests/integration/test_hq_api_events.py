"""The HQ API's events export, CSV and JSON pages, against the taps of the HQ rig (tests/integration/hq_rig.py).

Every day's events are checked against the taps recorded on that local day; the pages against each other.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta

import pytest

from tests.integration.hq_rig import CURRENT, EVIL, HQ, PREVIOUS, TAPS, Site, Tap, record
from tests.support import backlog, wait_until

pytestmark = pytest.mark.integration


# --- events export -------------------------------------------------------------------------------------


def test_csv_export_escapes_formulas_and_has_every_event_of_the_local_days(hq: HQ) -> None:
    response = hq.call("/api/v1/events", format="csv", **{"from": "2026-03-09", "to": "2026-03-15"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    in_range = [t for t in TAPS if CURRENT[0] <= t.local.date() <= CURRENT[1]]
    assert len(rows) == len(in_range)  # misuse presses included, flagged
    assert sum(r["misuse"] == "1" for r in rows) == 1
    reasons = {r["reason"] for r in rows}
    assert {"'" + EVIL, "'+1", "'-2", "'@SUM(A1)", "price", "friendly staff"} <= reasons
    assert EVIL not in reasons and "+1" not in reasons
    nyc = sorted((r["local_day"], r["local_hour"], r["ts"]) for r in rows if r["location_id"] == "nyc-1")
    assert nyc[:2] == [
        ("2026-03-09", "23", "2026-03-10T03:30:00.000Z"),
        ("2026-03-10", "0", "2026-03-10T04:30:00.000Z"),
    ]
    days = [(r["local_day"], r["location_id"]) for r in rows]
    assert days == sorted(days)  # by local day, then location


def page_ids(hq: HQ, span: dict[str, str], limit: int, pause_s: float = 0.0) -> list[str]:
    """The event ids of every JSON page of ``span``, following ``next_cursor``; ``pause_s`` between pages."""
    ids: list[str] = []
    cursor = None
    while True:
        page = hq.call("/api/v1/events", limit=limit, **span, **({"cursor": cursor} if cursor else {})).json()
        ids += [r["id"] for r in page["rows"]]
        if (cursor := page["next_cursor"]) is None:
            return ids
        time.sleep(pause_s)


def test_json_pages_cover_the_range_exactly_once(hq: HQ) -> None:
    span = {"from": "2026-03-02", "to": "2026-03-15"}
    ids = page_ids(hq, span, limit=7)
    in_range = [t for t in TAPS if PREVIOUS[0] <= t.local.date() <= CURRENT[1]]
    assert len(ids) == len(set(ids)) == len(in_range)
    expected_ids = {
        r[0] for r in hq.hub.sql("SELECT id FROM events WHERE local_day BETWEEN '2026-03-02' AND '2026-03-15'")
    }
    assert set(ids) == expected_ids


def test_json_pagination_while_a_device_is_still_syncing(hq: HQ) -> None:
    """Pages are taken while an agent syncs 600 taps in small batches: no event twice, none skipped."""
    site = Site("sync-1", "Europe/Helsinki", None)
    start = datetime(2026, 2, 10, 8, 0)
    taps = [Tap("sync-1", start + timedelta(seconds=37 * i), i % 4) for i in range(600)]
    agent, store = record(hq.workdir / "devices", hq.broker, site, taps, batch_size=10, max_inflight_batches=1)
    span = {"from": "2026-02-10", "to": "2026-02-11", "location": "sync-1"}

    def at_hub() -> int:
        return int(hq.hub.sql("SELECT COUNT(*) FROM events WHERE location_id = 'sync-1'")[0][0])

    agent.start()
    try:
        wait_until(lambda: at_hub() >= 100, 30, "the first taps to reach the hub")
        before = at_hub()
        ids = page_ids(hq, span, limit=50, pause_s=0.02)
        during = at_hub()
        assert len(ids) == len(set(ids)), "an event came twice"
        assert before < during, "the agent was not syncing while the pages were read"
        # Nothing skipped: every event up to the last one returned came, newer ones are for the next export.
        last = ids[-1]
        upto = {
            r[0]
            for r in hq.hub.sql(
                "SELECT id FROM events WHERE location_id = 'sync-1' AND pk <= (SELECT pk FROM events WHERE id = ?)",
                (last,),
            )
        }
        assert set(ids) == upto and len(ids) >= before
        wait_until(lambda: backlog(store) == 0, 60, "the agent to finish syncing")
    finally:
        agent.stop()
    every = []
    cursor = None
    while True:
        page = hq.call("/api/v1/events", limit=400, **span, **({"cursor": cursor} if cursor else {})).json()
        every += [r["id"] for r in page["rows"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(every) == len(set(every)) == 600
