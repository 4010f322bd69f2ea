"""The digest as plain text: the e-mail's text part, ``digest send --dry-run``, and any client that shows no HTML.

Numbers are printed from the API's rows with one decimal, as the dashboard
prints them; the daily chart becomes a bar of block characters per local day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC

from hub.services.digest import AlertFact, Digest, DigestSection, QuestionScore, Row

BAR_WIDTH = 25
DASH = "\u2013"


def number(value: object, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "\u2014"


def signed(value: object) -> str:
    return f"{value:+.1f}" if isinstance(value, int | float) else "\u2014"


def interval(row: Row, key: str) -> str:
    ci = row.get(key)
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return f" (95% CI {number(ci[0])}{DASH}{number(ci[1])})"
    return ""


def _part(row: Row, key: str) -> Mapping[str, object]:
    value = row.get(key)
    return value if isinstance(value, Mapping) else {}


def change_text(row: Row, metric: str) -> str:
    """``+3.2 (significant, p = 0.012)``: the change against the week before and whether it is more than chance."""
    delta = _part(row, "delta").get(metric)
    if delta is None:
        return "no answers the week before" if not _part(row, "previous").get("n") else "\u2014"
    significant = _part(row, "significant").get(metric)
    p_value = _part(row, "p_value").get(metric)
    verdict = "significant" if significant else "not significant"
    return f"{signed(delta)} ({verdict}, p = {number(p_value, 3)})"


def bar(value: object, width: int = BAR_WIDTH) -> str:
    """A Happy Index (0..100) as a bar of block characters, in eighths."""
    if not isinstance(value, int | float):
        return ""
    eighths = round(max(0.0, min(100.0, float(value))) / 100 * width * 8)
    full, rest = divmod(eighths, 8)
    return "\u2588" * full + ("" if rest == 0 else chr(0x2590 - rest))


def score_lines(score: QuestionScore) -> list[str]:
    row = score.current
    previous = _part(row, "previous")
    small = " (small sample: read with care)" if row.get("small_sample") else ""
    return [
        f"Question {score.question_id}: {row.get('n')} answers{small}",
        f"  Happy Index  {number(row.get('happy_index'))}{interval(row, 'happy_index_ci')}",
        f"  % positive   {number(row.get('pct_positive'))}{interval(row, 'pct_positive_ci')}",
        f"  % negative   {number(row.get('pct_negative'))}",
        f"  Change against the week before: Happy Index {change_text(row, 'happy_index')}, "
        f"% positive {change_text(row, 'pct_positive')}",
        f"  The week before: Happy Index {number(previous.get('happy_index'))}, "
        f"% positive {number(previous.get('pct_positive'))}, {previous.get('n', 0)} answers",
    ]


def daily_lines(digest: Digest, score: QuestionScore) -> list[str]:
    """Both weeks, one line per local day: the text twin of the dashboard's trend chart."""
    lines = [f"Daily Happy Index, question {score.question_id} (local days):"]
    for day in [*digest.week.previous().days(), *digest.week.days()]:
        row = score.days.get(day.isoformat(), {})
        value = row.get("happy_index")
        n = row.get("n", 0)
        lines.append(f"  {day:%a %d %b}  {number(value):>5}  {bar(value):<{BAR_WIDTH}}  n = {n}")
        if day == digest.week.previous().end:
            lines.append("  " + "-" * (BAR_WIDTH + 22) + " this week:")
    return lines


def alert_line(alert: AlertFact) -> str:
    where = alert.location_id or "fleet"
    if alert.device_id:
        where += f"/{alert.device_id}"
    return f"  - {alert.rule_name} [{alert.kind}] at {where}, since {alert.fired_at}: {alert.message}"


def section_lines(section: DigestSection) -> list[str]:
    lines = [f"{section.title}:"]
    if section.rows is None:
        return [*lines, f"  {section.note}"]
    if not section.rows:
        lines.append("  nothing to report")
    for row in section.rows:
        lines.append("  - " + ", ".join(f"{k}: {v}" for k, v in row.items()))
    return [*lines, *([f"  {section.note}"] if section.note else [])]


def location_lines(rows: Sequence[Row]) -> list[str]:
    lines = ["Locations, best first (Happy Index, change, answers):"]
    for row in rows:
        change = change_text(row, "happy_index")
        lines.append(f"  {row.get('location_id')}: {number(row.get('happy_index'))}, {change}, n = {row.get('n')}")
    return lines


def render_text(digest: Digest) -> str:
    zones = ", ".join(digest.timezones)
    out = [
        digest.subject,
        "",
        f"{digest.target.kind.capitalize()}: {digest.name} ({digest.target.id})",
        f"Week: {digest.week.label()} ({digest.week.iso_week()}), local days in {zones}",
        "",
    ]
    if not digest.scores:
        out += ["No answers this week.", ""]
    for score in digest.scores:
        out += [*score_lines(score), ""]
    if digest.main is not None:
        out += [*daily_lines(digest, digest.main), ""]
    if digest.locations:
        out += [*location_lines(digest.locations), ""]
    out.append("Top reasons after negative answers:")
    out += [
        f"  {i}. {r.get('reason')}: {r.get('n')} ({number(r.get('share'))}%)" for i, r in enumerate(digest.reasons, 1)
    ]
    out += ["  none given"] if not digest.reasons else []
    out += ["", f"Open alerts ({len(digest.open_alerts)}):"]
    out += [alert_line(a) for a in digest.open_alerts] or ["  none"]
    out += ["", f"Good news: praise this week ({len(digest.praise)}):"]
    out += [alert_line(a) for a in digest.praise] or ["  none"]
    for section in digest.sections:
        out += ["", *section_lines(section)]
    out += ["", f"Generated {digest.generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC by the Touchpoint hub."]
    return "\n".join(out) + "\n"
