"""The store manager's figures, from the local store, offline: the terminal report and the kiosk's manager view.

Both render :func:`manager_summary`, so the screen and ``touchpoint-agent report`` always agree.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from edge_agent.clock_advice import clock_state
from edge_agent.scores import score
from edge_agent.store import DeviceStore


def _scores(counts: dict[tuple[str, int], list[int]]) -> list[dict[str, Any]]:
    return [{"question_id": qid, **score(c, scale).as_dict()} for (qid, scale), c in sorted(counts.items())]


def manager_summary(store: DeviceStore, day: str | None = None) -> dict[str, Any]:
    """A local day's scores (default today) per question, its hours and reasons, the week, and sync health."""
    day = day or store.today()
    d = date.fromisoformat(day)
    yesterday = (d - timedelta(days=1)).isoformat()
    week_start = (d - timedelta(days=6)).isoformat()
    today_counts = store.day_counts(day)
    verdict = store.clock_verdict()
    hours: dict[str, list[dict[str, Any]]] = {}
    for qid, scale in today_counts:
        per_hour = store.hour_counts(day, qid)
        hours[qid] = [
            {"hour": h, **score(per_hour.get(h, [0] * scale), scale).as_dict()} for h in range(24) if h in per_hour
        ]
    sync = store.sync_counts()
    return {
        "day": day,
        "timezone": store.timezone,
        "questions": _scores(today_counts),
        "hours": hours,
        "negative_reasons": [{"reason": r, "n": n} for r, n in store.negative_reasons(day, day)],
        "yesterday": _scores(store.day_counts(yesterday)),
        "last_7_days": _scores(store.range_counts(week_start, day)),
        "sync": {
            "connected": store.meta("agent_connected") == "1",
            "backlog": sync.pending,
            "synced": sync.synced,
            "rejected": sync.rejected,
            "last_sync": store.last_sync(),
            "clock_ok": verdict.ok,
            "clock": clock_state(verdict),
        },
    }


def day_report(store: DeviceStore, day: str | None = None) -> dict[str, Any]:
    return manager_summary(store, day)


def _ci(ci: object) -> str:
    if not isinstance(ci, list | tuple):
        return "n/a"
    low, high = ci
    return f"{low:.1f}-{high:.1f}"


def _score_lines(q: dict[str, Any], indent: str = "    ") -> list[str]:
    lines = [f"{indent}counts (most negative first): " + " ".join(str(c) for c in q["counts"])]
    if q["n"]:
        lines.append(f"{indent}Happy Index {q['happy_index']:.1f}  (95% CI {_ci(q['happy_index_ci'])})")
        lines.append(f"{indent}% positive  {q['pct_positive']:.1f}  (95% CI {_ci(q['pct_positive_ci'])})")
        if "nps" in q:
            lines.append(f"{indent}NPS         {q['nps']:.1f}  (95% CI {_ci(q['nps_ci'])})")
        if q["small_sample"]:
            lines.append(f"{indent}(fewer than 30 answers: treat with care)")
    return lines


def format_report(report: dict[str, Any], device_id: str, location_id: str) -> str:
    lines = [f"Touchpoint {location_id} / {device_id} - {report['day']} ({report['timezone']})"]
    if not report["questions"]:
        lines.append("  no answers yet today")
    for q in report["questions"]:
        lines.append(f"  question {q['question_id']} ({q['scale']}-point), n = {q['n']}")
        lines += _score_lines(q)
        for h in report["hours"].get(q["question_id"], []):
            index = "n/a" if h["happy_index"] is None else f"{h['happy_index']:.0f}"
            lines.append(f"      {h['hour']:02d}:00  n={h['n']:<4} index {index:>4}  " + "#" * min(h["n"], 40))
    if report["negative_reasons"]:
        top = ", ".join(f"{r['reason']} ({r['n']})" for r in report["negative_reasons"])
        lines.append(f"  reasons behind negative answers: {top}")
    for label, key in (("yesterday", "yesterday"), ("last 7 days", "last_7_days")):
        for q in report[key]:
            index = "n/a" if q["happy_index"] is None else f"{q['happy_index']:.1f}"
            lines.append(f"  {label}: {q['question_id']} n = {q['n']}, Happy Index {index}")
    s = report["sync"]
    lines.append(
        f"  sync: {'connected' if s['connected'] else 'not connected'}, backlog {s['backlog']}, "
        f"synced {s['synced']}, rejected {s['rejected']}, last sync {s['last_sync'] or 'never'}, "
        f"clock {s['clock']}"
    )
    return "\n".join(lines)
