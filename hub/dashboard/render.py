"""Jinja2 rendering with autoescaping, display filters and strict security headers on every page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from edge_agent import __version__
from edge_agent.scores import band
from hub.dashboard import charts
from hub.dashboard.charts_forecast import forecast_chart

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# No script at all, styles only from our own file: an injected tag could do nothing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def signed(value: object, digits: int = 1) -> str:
    """A change with its sign; a true minus sign reads better than a hyphen."""
    if not isinstance(value, int | float):
        return "—"
    text = f"{abs(value):.{digits}f}"
    if float(text) == 0:
        return f"±{text}"
    return f"+{text}" if value > 0 else f"\u2212{text}"


def ago(ts: object, now: datetime | None = None) -> str:
    """'4 min ago' from an ISO timestamp; the exact time goes in the element's title."""
    if not isinstance(ts, str) or not ts:
        return "never"
    try:
        then = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return ts
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    if seconds < 45:
        return "just now"
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def short_ts(ts: object) -> str:
    return ts.replace("T", " ")[:19] + " UTC" if isinstance(ts, str) and ts else "—"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=charts.fmt, signed=signed, ago=ago, short_ts=short_ts, band=band)
    env.globals.update(
        ci_bar=charts.ci_bar,
        ci_text=charts.ci_text,
        trend_chart=charts.trend_chart,
        forecast_chart=forecast_chart,
        heatmap=charts.heatmap,
        heat_legend=charts.heat_legend,
        version=__version__,
        css_version=int((STATIC / "dashboard.css").stat().st_mtime) if (STATIC / "dashboard.css").exists() else 0,
    )
    return env


_ENV = _environment()


def page(
    name: str, context: Mapping[str, object], status: int = 200, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    html = _ENV.get_template(name).render({"note": None, "viewer": None, "nav": "", **context})
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
