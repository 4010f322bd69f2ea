"""The store manager's terminal view: a day's scores from the local store, offline."""

from __future__ import annotations

from typing import Any

from edge_agent.scores import score
from edge_agent.store import DeviceStore


def day_report(store: DeviceStore, day: str | None = None) -> dict[str, Any]:
    """Scores of one local day (default: today in the device's zone), per question, plus sync health."""
    day = day or store.today()
    questions = [
        {"question_id": qid, **score(counts, scale).as_dict()}
        for (qid, scale), counts in sorted(store.day_counts(day).items())
    ]
    sync = store.sync_counts()
    return {
        "day": day,
        "timezone": store.timezone,
        "questions": questions,
        "sync": {
            "backlog": sync.pending,
            "synced": sync.synced,
            "rejected": sync.rejected,
            "last_sync": store.last_sync(),
        },
    }


def _ci(ci: object) -> str:
    if not isinstance(ci, list | tuple):
        return "n/a"
    low, high = ci
    return f"{low:.1f}-{high:.1f}"


def format_report(report: dict[str, Any], device_id: str, location_id: str) -> str:
    lines = [f"Touchpoint {location_id} / {device_id} - {report['day']} ({report['timezone']})"]
    if not report["questions"]:
        lines.append("  no answers yet today")
    for q in report["questions"]:
        lines.append(f"  question {q['question_id']} ({q['scale']}-point), n = {q['n']}")
        lines.append("    counts (most negative first): " + " ".join(str(c) for c in q["counts"]))
        if q["n"]:
            lines.append(f"    Happy Index {q['happy_index']:.1f}  (95% CI {_ci(q['happy_index_ci'])})")
            lines.append(f"    % positive  {q['pct_positive']:.1f}  (95% CI {_ci(q['pct_positive_ci'])})")
            if "nps" in q:
                lines.append(f"    NPS         {q['nps']:.1f}  (95% CI {_ci(q['nps_ci'])})")
            if q["small_sample"]:
                lines.append("    (fewer than 30 answers: treat with care)")
    s = report["sync"]
    lines.append(
        f"  sync: backlog {s['backlog']}, synced {s['synced']}, rejected {s['rejected']}, "
        f"last sync {s['last_sync'] or 'never'}"
    )
    return "\n".join(lines)
