"""The week-ahead forecast as an inline SVG: answers per local day with their 80% and 95% bands.

Drawn like :mod:`hub.dashboard.charts`: on the server, every text escaped, numbers formatted here.
Each day is a column: a light bar for the 95% interval, a darker one for 80%, a line at the
expected count; the expected Happy Index is printed above it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

from hub.dashboard.charts import DASH, WEEKDAYS, _n
from hub.services.forecast import HourForecast


def forecast_chart(days: Sequence[HourForecast], width: int = 900, height: int = 240) -> Markup:
    """One column per local day (``hour`` ignored); the y axis is answers per day."""
    left, right, top, bottom = 40.0, 14.0, 26.0, 34.0
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([d.answers.p95[1] for d in days] + [1.0])
    ceiling = 4 * _nice(peak / 4)  # four grid steps of a round size

    def y(v: float) -> float:
        return top + plot_h * (1 - min(ceiling, max(0.0, v)) / ceiling)

    col = plot_w / max(1, len(days))
    out = [
        f'<svg class="chart forecast" data-testid="forecast-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Expected answers per day with 80% and 95% intervals">'
    ]
    for i in range(5):
        v = ceiling * i / 4
        out.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_n(y(v))}" y2="{_n(y(v))}"/>')
        out.append(f'<text class="axis" x="{left - 6}" y="{_n(y(v) + 4)}" text-anchor="end">{v:g}</text>')
    for i, d in enumerate(days):
        a = d.answers
        x0 = left + col * i + col * 0.2
        w = col * 0.6
        hi = d.happy_index
        tip = (
            f"{d.day.isoformat()} · {a.expected:.0f} answers expected (80% {a.p80[0]:.0f}{DASH}{a.p80[1]:.0f}; "
            f"95% {a.p95[0]:.0f}{DASH}{a.p95[1]:.0f})"
            + ("" if hi is None else f" · Happy Index {hi.expected:.1f} (80% {hi.p80[0]:.0f}{DASH}{hi.p80[1]:.0f})")
        )
        out.append(
            f'<g data-testid="forecast-day" data-day="{d.day.isoformat()}" data-expected="{a.expected:.2f}" '
            f'data-p80="{a.p80[0]:.2f},{a.p80[1]:.2f}" data-p95="{a.p95[0]:.2f},{a.p95[1]:.2f}" '
            f'data-happy-index="{"" if hi is None else f"{hi.expected:.2f}"}"><title>{escape(tip)}</title>'
            f'<rect class="fc95" x="{_n(x0)}" y="{_n(y(a.p95[1]))}" width="{_n(w)}" '
            f'height="{_n(y(a.p95[0]) - y(a.p95[1]))}" rx="3"/>'
            f'<rect class="fc80" x="{_n(x0 + w * 0.15)}" y="{_n(y(a.p80[1]))}" width="{_n(w * 0.7)}" '
            f'height="{_n(y(a.p80[0]) - y(a.p80[1]))}" rx="2"/>'
            f'<line class="fc-mid" x1="{_n(x0)}" x2="{_n(x0 + w)}" y1="{_n(y(a.expected))}" y2="{_n(y(a.expected))}"/>'
        )
        if hi is not None:
            out.append(
                f'<text class="fc-hi" x="{_n(x0 + w / 2)}" y="{_n(top - 10)}" text-anchor="middle">'
                f"HI {hi.expected:.0f}</text>"
            )
        out.append(
            f'<text class="axis" x="{_n(x0 + w / 2)}" y="{height - 18}" text-anchor="middle">'
            f"{WEEKDAYS[d.day.weekday()]}</text>"
            f'<text class="axis" x="{_n(x0 + w / 2)}" y="{height - 5}" text-anchor="middle">{_label(d.day)}</text></g>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def _nice(x: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten that is at least ``x``."""
    power = 10.0 ** math.floor(math.log10(max(x, 1e-9)))
    return next(m * power for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * power >= x)


def _label(day: date) -> str:
    return f"{day:%b} {day.day}"
