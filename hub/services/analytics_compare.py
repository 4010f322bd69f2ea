"""``compare=previous_period``: each row against the equally long period just before, with significance.

% positive is compared with a two-proportion z-test and the Happy Index with
Welch's t-test on the answers' counts, both two-sided at the 95% level, from
the shared score module.
"""

from __future__ import annotations

from datetime import date, timedelta

from edge_agent.scores import Score, Significance, polarity, score, two_proportion_z_test, welch_t_test
from hub.storage.base import CountsRow


def previous_period(start: date, end: date) -> tuple[date, date]:
    """``2026-03-08..2026-03-14`` -> ``2026-03-01..2026-03-07``."""
    length = timedelta(days=(end - start).days + 1)
    return start - length, end - length


def _key(row: CountsRow, shift: timedelta) -> tuple[object, ...]:
    keys = dict(row.keys)
    if "day" in keys and shift:  # a day is compared with the same day one period earlier
        keys["day"] = (date.fromisoformat(str(keys["day"])) + shift).isoformat()
    return (*keys.items(), row.question_id, row.scale)


def _positives(counts: list[int], scale: int) -> int:
    return sum(c for value, c in enumerate(counts) if polarity(value, scale) == "positive")


def _delta(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else round(now - before, 2)


def _verdicts(tests: dict[str, Significance | None]) -> tuple[dict[str, bool | None], dict[str, float | None]]:
    significant = {name: None if t is None else t.significant for name, t in tests.items()}
    p_values = {name: None if t is None else round(t.p_value, 4) for name, t in tests.items()}
    return significant, p_values


def comparison(now: Score, before: Score) -> dict[str, object]:
    """``previous``, ``delta``, ``significant`` and ``p_value`` for one row (None where a side has no answers)."""
    scale = now.question_scale
    significant, p_values = _verdicts(
        {
            "happy_index": welch_t_test(now.counts, before.counts),
            "pct_positive": two_proportion_z_test(
                _positives(now.counts, scale), now.n, _positives(before.counts, scale), before.n
            ),
        }
    )
    return {
        "previous": before.as_dict(),
        "delta": {
            "happy_index": _delta(now.happy_index, before.happy_index),
            "pct_positive": _delta(now.pct_positive, before.pct_positive),
        },
        "significant": significant,
        "p_value": p_values,
    }


def compared_rows(current: list[CountsRow], previous: list[CountsRow], period_days: int) -> list[dict[str, object]]:
    """Score rows of the current period, each with its comparison; groups only in the previous period are left out."""
    shift = timedelta(days=period_days)
    before = {_key(row, shift): row for row in previous}
    out = []
    for row in current:
        match = before.get(_key(row, timedelta(0)))
        now = score(row.counts, row.scale)
        then = score(match.counts if match else [0] * row.scale, row.scale)
        out.append({**row.keys, "question_id": row.question_id, **now.as_dict(), **comparison(now, then)})
    return out
