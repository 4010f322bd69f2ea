"""``GET /api/v1/reasons``: which follow-up reasons shoppers gave, by polarity, per location or region."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from edge_agent.scores import Polarity
from hub.services.analytics_query import check_range, check_region_level, select
from hub.services.analytics_scope import Scope
from hub.storage.base import Storage
from hub.storage.base_analytics import ReasonGroupBy, ReasonQuery


@dataclass(frozen=True)
class ReasonRequest:
    start: date
    end: date
    group_by: ReasonGroupBy = "location"
    location: str | None = None
    region: str | None = None
    question: str | None = None
    polarity: Polarity | None = None
    region_level: int | None = None


def reason_rows(storage: Storage, scope: Scope, req: ReasonRequest) -> list[dict[str, object]]:
    """Rows ``{keys, question_id, polarity, reason, n, share}``, most frequent first within each group.

    ``share`` is the reason's % of the answers with a reason in the same group, question and polarity.
    """
    check_range(req.start, req.end)
    check_region_level(req.region_level, req.group_by == "region")
    selection = select(storage, scope, req.location, req.region)
    query = ReasonQuery(req.start, req.end, selection, req.group_by, req.region_level, req.question, req.polarity)
    rows = storage.reason_counts(query)
    totals: Counter[tuple[object, ...]] = Counter()
    for row in rows:
        totals[(*row.keys.values(), row.question_id, row.polarity)] += row.n
    return [
        {
            **row.keys,
            "question_id": row.question_id,
            "polarity": row.polarity,
            "reason": row.reason,
            "n": row.n,
            "share": round(100 * row.n / totals[(*row.keys.values(), row.question_id, row.polarity)], 2),
        }
        for row in rows
    ]
