"""Text for the manager screen, from :func:`edge_agent.report.manager_summary` and nothing else.

Numbers are formatted exactly as ``touchpoint-agent report`` prints them
(one decimal, ``low-high`` intervals), so the screen and the terminal agree.
No Kivy here: the wording is testable without a window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge_agent.scores import band


def _num(value: object) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _ci(ci: object) -> str:
    if not isinstance(ci, list | tuple):
        return "n/a"
    low, high = ci
    return f"{low:.1f}-{high:.1f}"


@dataclass(frozen=True)
class Headline:
    """The big numbers for one question today."""

    question_id: str
    scale: int
    n: int
    counts: list[int]
    happy_index: str
    happy_index_ci: str
    pct_positive: str
    nps: str | None
    band: str
    small_sample: bool


def pick_question(summary: dict[str, Any], question_id: str | None) -> dict[str, Any] | None:
    """Today's scores of the kiosk's current question, else of the most answered one, else None."""
    questions: list[dict[str, Any]] = summary["questions"]
    for q in questions:
        if q["question_id"] == question_id:
            return q
    return max(questions, key=lambda q: int(q["n"]), default=None)


def headline(q: dict[str, Any]) -> Headline:
    return Headline(
        question_id=str(q["question_id"]),
        scale=int(q["scale"]),
        n=int(q["n"]),
        counts=[int(c) for c in q["counts"]],
        happy_index=_num(q["happy_index"]),
        happy_index_ci=f"95% CI {_ci(q['happy_index_ci'])}",
        pct_positive=f"{_num(q['pct_positive'])} % positive  (95% CI {_ci(q['pct_positive_ci'])})",
        nps=f"NPS {_num(q['nps'])}  (95% CI {_ci(q['nps_ci'])})" if "nps" in q else None,
        band=band(q["happy_index"]),
        small_sample=bool(q["small_sample"]),
    )


def hour_bars(summary: dict[str, Any], question_id: str) -> list[tuple[int, int, str]]:
    """(hour, n, band) for each local hour of today with answers."""
    return [(int(h["hour"]), int(h["n"]), band(h["happy_index"])) for h in summary["hours"].get(question_id, [])]


def reasons_line(summary: dict[str, Any], names: dict[str, str]) -> str:
    reasons = summary["negative_reasons"]
    if not reasons:
        return "Reasons behind negative answers: none given yet"
    return "Reasons behind negative answers: " + ", ".join(
        f"{names.get(r['reason'], r['reason'])} ({r['n']})" for r in reasons
    )


def history_line(summary: dict[str, Any], question_id: str) -> str:
    parts = []
    for label, key in (("Yesterday", "yesterday"), ("Last 7 days", "last_7_days")):
        rows = [q for q in summary[key] if q["question_id"] == question_id] or summary[key][:1]
        if rows:
            q = rows[0]
            parts.append(f"{label}: n = {q['n']}, Happy Index {_num(q['happy_index'])}")
        else:
            parts.append(f"{label}: no answers")
    return "    ".join(parts)


def sync_line(summary: dict[str, Any]) -> str:
    s = summary["sync"]
    return (
        f"Sync: {'connected' if s['connected'] else 'NOT connected'}, backlog {s['backlog']}, "
        f"last sync {s['last_sync'] or 'never'}, clock {s['clock']}"
    )
