"""The digest as an HTML e-mail, with the dashboard's own charts.

The charts are the dashboard's server-rendered SVG (:func:`hub.dashboard.charts.trend_chart`
and :func:`~hub.dashboard.charts.ci_bar`), called with the same API rows, so the
e-mail and the location page draw the same picture. Their styles are the
dashboard stylesheet's ``.chart`` rules, read from it with its colour
variables resolved, so there is one definition of how a chart looks.

Why SVG plus a table, not a PNG: Apple Mail, iOS Mail and Thunderbird draw
inline SVG; Gmail and Outlook drop it. Every client draws a ``<table>`` with
coloured cells, so each chart is followed by a table-bar version of the same
numbers (one row per day, a bar as wide as the Happy Index), which also serves
screen readers and is what is left where the SVG was dropped. A PNG would need a
rasteriser with native libraries (cairo) in the hub install, and mail clients
block attached images by default, while tables always show. Layout and colours
are inline styles, the only styling every client keeps.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup, escape

from edge_agent.scores import band
from hub.dashboard import charts
from hub.services.digest import AlertFact, Digest, DigestSection, QuestionScore, Row
from hub.services.digest_text import change_text, interval, number

STYLESHEET = Path(charts.__file__).parent / "static" / "dashboard.css"
FONT = "system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif"
MUTED = "#687685"
CARD = "background:#fff;border:1px solid #e2e7ed;border-radius:12px;padding:16px 18px;margin:0 0 14px"


@lru_cache(maxsize=1)
def chart_css() -> str:
    """The dashboard's ``.chart`` rules with ``var(--x)`` replaced by their ``:root`` values."""
    css = STYLESHEET.read_text(encoding="utf-8")
    root = re.search(r":root\s*\{(.*?)\}", css, re.S)
    variables = dict(re.findall(r"--([\w-]+):\s*([^;]+);", root.group(1))) if root else {}
    rules = [line for line in css.splitlines() if line.startswith((".chart", ".cibar"))]
    resolved = re.sub(r"var\(--([\w-]+)\)", lambda m: variables.get(m.group(1), m.group(0)), "\n".join(rules))
    return resolved


def _h(text: object) -> Markup:
    return escape(str(text))


def _count(row: Row) -> int:
    n = row.get("n")
    return n if isinstance(n, int) else 0


def _card(title: str, body: Markup | str, testid: str) -> Markup:
    return Markup(
        f'<div style="{CARD}" data-testid="{testid}"><h2 style="font-size:16px;margin:0 0 10px">{_h(title)}</h2>'
        f"{body}</div>"
    )


def table_bars(rows: Sequence[tuple[str, object, object]], testid: str) -> Markup:
    """``(label, happy_index, n)`` rows as a table with a coloured bar per row: a chart every mail client draws."""
    out = [f'<table role="table" data-testid="{testid}" cellpadding="0" cellspacing="0" width="100%" '
           f'style="border-collapse:collapse;font-size:13px">']  # fmt: skip
    for label, value, n in rows:
        width = max(0.0, min(100.0, float(value))) if isinstance(value, int | float) else 0.0
        colour = charts.BAND_COLOURS[band(value if isinstance(value, int | float) else None)]
        bar = (
            f'<table cellpadding="0" cellspacing="0" width="100%"><tr><td width="{width:.0f}%" bgcolor="{colour}" '
            f'style="background:{colour};height:10px;font-size:0;line-height:0">&nbsp;</td>'
            f'<td style="font-size:0;line-height:0">&nbsp;</td></tr></table>'
            if width
            else ""
        )
        out.append(
            f'<tr><td style="padding:2px 8px 2px 0;white-space:nowrap;color:{MUTED}">{_h(label)}</td>'
            f'<td style="padding:2px 8px;text-align:right;white-space:nowrap">{number(value)}</td>'
            f'<td width="60%" style="padding:2px 0">{bar}</td>'
            f'<td style="padding:2px 0 2px 8px;text-align:right;color:{MUTED};white-space:nowrap">n = {_h(n)}</td></tr>'
        )
    out.append("</table>")
    return Markup("".join(out))


def score_card(digest: Digest, score: QuestionScore, with_chart: bool) -> Markup:
    row = score.current
    index = row.get("happy_index")
    colour = charts.BAND_COLOURS[band(index if isinstance(index, int | float) else None)]
    kpis = Markup(
        f'<p style="margin:0 0 6px"><span data-testid="happy-index" style="font-size:30px;font-weight:700;'
        f'color:{colour}">{number(index)}</span> <span style="color:{MUTED}">Happy Index'
        f"{_h(interval(row, 'happy_index_ci'))}</span></p>"
        f"{charts.ci_bar(row, 'digest-cibar', width=260)}"
        f'<p style="margin:8px 0 0"><b data-testid="pct-positive">{number(row.get("pct_positive"))}%</b> positive'
        f"{_h(interval(row, 'pct_positive_ci'))} &middot; <b>{number(row.get('pct_negative'))}%</b> negative "
        f'&middot; <b data-testid="n">{_h(row.get("n"))}</b> answers</p>'
        f'<p style="margin:4px 0 0;color:{MUTED}">Against the week before: Happy Index '
        f"{_h(change_text(row, 'happy_index'))}; % positive {_h(change_text(row, 'pct_positive'))}</p>"
    )
    body = kpis
    if with_chart:
        days = [*digest.week.previous().days(), *digest.week.days()]
        body += Markup('<div style="margin-top:14px">') + charts.trend_chart(days, score.days, width=640, height=220)
        body += Markup("</div>")
        daily = [(f"{d:%a %d %b}", score.days.get(d.isoformat(), {}).get("happy_index"),
                  score.days.get(d.isoformat(), {}).get("n", 0)) for d in days]  # fmt: skip
        body += Markup(f'<p style="margin:12px 0 4px;color:{MUTED}">Daily Happy Index, both weeks</p>')
        body += table_bars(daily, "daily-bars")
    return _card(f"Score, question {score.question_id}", body, f"score-{score.question_id}")


def reasons_card(reasons: Sequence[Row]) -> Markup:
    if not reasons:
        return _card("Top reasons after negative answers", Markup("<p>None given this week.</p>"), "reasons")
    top = max(_count(r) for r in reasons) or 1
    rows = []
    for r in reasons:
        width = 100 * _count(r) / top
        rows.append(
            f'<tr><td style="padding:3px 8px 3px 0">{_h(r.get("reason"))}</td><td width="55%">'
            f'<table cellpadding="0" cellspacing="0" width="100%"><tr><td width="{width:.0f}%" bgcolor="#d1495b" '
            f'style="background:#d1495b;height:10px;font-size:0">&nbsp;</td><td style="font-size:0">&nbsp;</td></tr>'
            f'</table></td><td style="padding:3px 0 3px 8px;text-align:right">{_h(r.get("n"))} '
            f'<span style="color:{MUTED}">({number(r.get("share"))}%)</span></td></tr>'
        )
    table = f'<table width="100%" cellpadding="0" cellspacing="0" style="font-size:14px">{"".join(rows)}</table>'
    return _card("Top reasons after negative answers", Markup(table), "reasons")


def alerts_card(title: str, alerts: Sequence[AlertFact], testid: str, empty: str) -> Markup:
    if not alerts:
        return _card(title, Markup(f'<p style="color:{MUTED}">{_h(empty)}</p>'), testid)
    items = "".join(
        f'<li style="margin:0 0 6px"><b>{_h(a.rule_name)}</b> <span style="color:{MUTED}">[{_h(a.kind)}] since '
        f"{_h(a.fired_at)}</span><br>{_h(a.message)}</li>"
        for a in alerts
    )
    return _card(f"{title} ({len(alerts)})", Markup(f'<ul style="margin:0;padding-left:18px">{items}</ul>'), testid)


def section_card(section: DigestSection) -> Markup:
    testid = f"section-{section.key}"
    if section.rows is None:
        return _card(section.title, Markup(f'<p style="color:{MUTED}">{_h(section.note)}</p>'), testid)
    keys: list[str] = list(dict.fromkeys(k for row in section.rows for k in row))
    head = "".join(f'<th style="text-align:left;padding:2px 8px 2px 0">{_h(k)}</th>' for k in keys)
    body = "".join(
        "<tr>" + "".join(f'<td style="padding:2px 8px 2px 0">{_h(row.get(k, ""))}</td>' for k in keys) + "</tr>"
        for row in section.rows
    )
    note = f'<p style="color:{MUTED}">{_h(section.note)}</p>' if section.note else ""
    table = f'<table style="font-size:13px;border-collapse:collapse"><tr>{head}</tr>{body}</table>{note}'
    return _card(section.title, Markup(table if section.rows else f"<p>Nothing to report.</p>{note}"), testid)


def locations_card(rows: Sequence[Row]) -> Markup:
    bars = table_bars([(str(r.get("location_id")), r.get("happy_index"), r.get("n")) for r in rows], "location-bars")
    return _card("Locations, best first", bars, "locations")


def render_html(digest: Digest) -> str:
    """A complete HTML document: inline styles, the dashboard's SVG charts, and their table fallbacks."""
    parts: list[Markup] = []
    if not digest.scores:
        parts.append(_card("Score", Markup("<p>No answers this week.</p>"), "score-none"))
    for i, score in enumerate(digest.scores):
        parts.append(score_card(digest, score, with_chart=i == 0))
    if digest.locations:
        parts.append(locations_card(digest.locations))
    parts.append(reasons_card(digest.reasons))
    parts.append(alerts_card("Open alerts", digest.open_alerts, "open-alerts", "No open alerts."))
    parts.append(alerts_card("Good news: praise this week", digest.praise, "praise", "No praise episodes this week."))
    parts += [section_card(s) for s in digest.sections]
    zones = ", ".join(digest.timezones)
    generated = digest.generated_at.astimezone(UTC)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{_h(digest.subject)}</title>'
        f"<style>{chart_css()}</style></head>"
        f'<body style="margin:0;background:#f3f5f8;color:#1c2733;font:15px/1.45 {FONT}">'
        '<div style="max-width:680px;margin:0 auto;padding:18px">'
        f'<h1 style="font-size:22px;margin:0 0 2px">{_h(digest.name)}</h1>'
        f'<p style="margin:0 0 14px;color:{MUTED}">Weekly digest &middot; {_h(digest.week.label())} '
        f"({_h(digest.week.iso_week())}) &middot; local days in {_h(zones)}</p>"
        + "".join(parts)
        + f'<p style="color:{MUTED};font-size:12px">Generated {generated:%Y-%m-%d %H:%M} UTC by the Touchpoint hub.</p>'
        "</div></body></html>"
    )
