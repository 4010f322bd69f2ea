"""Inline SVG charts drawn on the server: no JavaScript, no chart library, nothing fetched by the browser.

Every text that reaches the markup goes through :func:`markupsafe.escape`;
numbers are formatted here, so the templates only place the returned markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from itertools import pairwise

from markupsafe import Markup, escape

from edge_agent.scores import BAND_AMBER_BELOW, BAND_RED_BELOW, band

DASH = "\u2013"  # en dash, for ranges
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
BAND_COLOURS = {"red": "#d1495b", "amber": "#e59a32", "green": "#2a9d6f", "none": "#9aa3ad"}
NO_DATA = "#eceff3"
# Heat map colour stops on the Happy Index: red at 0, amber at the amber band, green at 100.
_STOPS = ((0.0, (196, 62, 72)), (BAND_RED_BELOW, (235, 142, 60)), (BAND_AMBER_BELOW, (236, 200, 90)),
          (85.0, (120, 186, 120)), (100.0, (34, 139, 96)))  # fmt: skip

Score = Mapping[str, object]


def _f(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _ci(row: Score, key: str = "happy_index_ci") -> tuple[float, float] | None:
    ci = row.get(key)
    if isinstance(ci, list | tuple) and len(ci) == 2:
        lo, hi = _f(ci[0]), _f(ci[1])
        if lo is not None and hi is not None:
            return lo, hi
    return None


def _n(x: float) -> str:
    """Compact coordinates keep the page small."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def fmt(value: object, digits: int = 1) -> str:
    number = _f(value)
    return "—" if number is None else f"{number:.{digits}f}"


def ci_text(row: Score, key: str = "happy_index_ci") -> str:
    ci = _ci(row, key)
    return "" if ci is None else f"95% CI {ci[0]:.1f}{DASH}{ci[1]:.1f}"


def heat_colour(happy_index: float) -> str:
    """Piecewise-linear colour between the stops, so the bands read the same as the leaderboard's."""
    value = min(100.0, max(0.0, happy_index))
    for (x0, c0), (x1, c1) in pairwise(_STOPS):
        if value <= x1:
            t = (value - x0) / (x1 - x0)
            r, g, b = (round(a + (z - a) * t) for a, z in zip(c0, c1, strict=True))
            return f"#{r:02x}{g:02x}{b:02x}"
    return "#228b60"


def ci_bar(row: Score | None, testid: str, width: int = 200, height: int = 26) -> Markup:
    """Happy Index as a dot on a 0-100 track with its 95% CI whisker, over faint band zones."""
    pad = 6.0
    span = width - 2 * pad

    def x(v: float) -> float:
        return pad + span * min(100.0, max(0.0, v)) / 100

    mid = height / 2
    parts = [
        f'<svg class="cibar" data-testid="{escape(testid)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img">'
    ]
    value = None if row is None else _f(row.get("happy_index"))
    title = "no answers" if value is None or row is None else f"Happy Index {value:.1f} ({ci_text(row)})"
    parts.append(f"<title>{escape(title)}</title>")
    for lo, hi, name in ((0.0, BAND_RED_BELOW, "red"), (BAND_RED_BELOW, BAND_AMBER_BELOW, "amber"),
                         (BAND_AMBER_BELOW, 100.0, "green")):  # fmt: skip
        parts.append(
            f'<rect x="{_n(x(lo))}" y="{_n(mid - 4)}" width="{_n(x(hi) - x(lo))}" height="8" '
            f'fill="{BAND_COLOURS[name]}" fill-opacity="0.13"/>'
        )
    if value is not None and row is not None:
        ci = _ci(row)
        colour = BAND_COLOURS[band(value)]
        if ci is not None:
            x0, x1 = x(ci[0]), x(ci[1])
            parts.append(
                f'<path d="M{_n(x0)} {_n(mid)}H{_n(x1)}M{_n(x0)} {_n(mid - 6)}V{_n(mid + 6)}'
                f'M{_n(x1)} {_n(mid - 6)}V{_n(mid + 6)}" stroke="#3b4653" stroke-width="1.6" fill="none"/>'
            )
        parts.append(
            f'<circle cx="{_n(x(value))}" cy="{_n(mid)}" r="5.5" fill="{colour}" stroke="#fff" stroke-width="1.5"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _segments(days: Sequence[date], rows: Mapping[str, Score]) -> list[list[tuple[int, Score]]]:
    """Runs of consecutive days that have answers: a gap in the data is a gap in the line."""
    runs: list[list[tuple[int, Score]]] = []
    current: list[tuple[int, Score]] = []
    for i, day in enumerate(days):
        row = rows.get(day.isoformat())
        if row is not None and _f(row.get("happy_index")) is not None:
            current.append((i, row))
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def trend_chart(
    days: Sequence[date],
    rows: Mapping[str, Score],
    width: int = 900,
    height: int = 260,
    markers: Sequence[tuple[date, str]] = (),
) -> Markup:
    """Daily Happy Index line with its shaded 95% CI band; hollow points mark small samples (n < 30).

    ``markers``: (day, label) of actions, drawn as dashed vertical lines on the days they started.
    """
    left, right, top, bottom = 34.0, 14.0, 12.0, 28.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (plot_w / 2 if len(days) <= 1 else plot_w * i / (len(days) - 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - min(100.0, max(0.0, v)) / 100)

    out = [
        f'<svg class="chart trend" data-testid="trend-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Daily Happy Index with 95% confidence band">'
    ]
    for v in (0, 25, 50, 75, 100):
        out.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_n(y(v))}" y2="{_n(y(v))}"/>')
        out.append(f'<text class="axis" x="{left - 6}" y="{_n(y(v) + 4)}" text-anchor="end">{v}</text>')
    step = max(1, -(-len(days) // 7))
    for i in range(0, len(days), step):
        d = days[i]
        out.append(f'<text class="axis" x="{_n(x(i))}" y="{height - 8}" text-anchor="middle">{d:%b} {d.day}</text>')
    index = {d: i for i, d in enumerate(days)}
    for day, label in markers:
        if day in index:
            mx = _n(x(index[day]))
            out.append(
                f'<g class="marker" data-testid="action-marker" data-day="{day.isoformat()}">'
                f"<title>{escape(f'{day.isoformat()} · {label}')}</title>"
                f'<line x1="{mx}" x2="{mx}" y1="{top}" y2="{_n(top + plot_h)}"/>'
                f'<path d="M{mx} {top}l-4 -6h8z"/></g>'
            )
    for run in _segments(days, rows):
        upper, lower = [], []
        for i, row in run:
            value = _f(row.get("happy_index")) or 0.0
            lo, hi = _ci(row) or (value, value)
            upper.append(f"{_n(x(i))} {_n(y(hi))}")
            lower.append(f"{_n(x(i))} {_n(y(lo))}")
        if len(run) == 1:
            out.append(f'<path class="band-whisker" d="M{upper[0]}L{lower[0]}"/>')
        else:
            out.append(f'<path class="band" d="M{"L".join(upper)}L{"L".join(reversed(lower))}Z"/>')
            line = "L".join(f"{_n(x(i))} {_n(y(_f(row.get('happy_index')) or 0.0))}" for i, row in run)
            out.append(f'<path class="line" d="M{line}"/>')
    for run in _segments(days, rows):
        for i, row in run:
            value = _f(row.get("happy_index")) or 0.0
            small = bool(row.get("small_sample"))
            tip = f"{days[i].isoformat()} · Happy Index {value:.1f} · {ci_text(row)} · n = {row.get('n')}"
            out.append(
                f'<circle class="point{" small" if small else ""}" data-testid="trend-point" '
                f'data-day="{days[i].isoformat()}" data-value="{row.get("happy_index")}" data-n="{row.get("n")}" '
                f'cx="{_n(x(i))}" cy="{_n(y(value))}" r="4"><title>{escape(tip)}</title></circle>'
            )
    out.append("</svg>")
    return Markup("".join(out))


def heatmap(cells: Mapping[tuple[int, int], Score], width: int = 760) -> Markup:
    """Weekday x local hour grid coloured by Happy Index; each cell prints its index, its title gives n."""
    left, top, gap = 40.0, 18.0, 2.0
    cell_w = (width - left) / 24 - gap
    cell_h = 24.0
    height = top + 7 * (cell_h + gap)
    out = [
        f'<svg class="chart heat" data-testid="heatmap" viewBox="0 0 {width} {_n(height)}" role="img" '
        f'aria-label="Happy Index by weekday and local hour">'
    ]
    for hour in range(0, 24, 3):
        out.append(f'<text class="axis" x="{_n(left + hour * (cell_w + gap))}" y="12">{hour:02d}:00</text>')
    for wd, name in enumerate(WEEKDAYS):
        y0 = top + wd * (cell_h + gap)
        out.append(f'<text class="axis" x="0" y="{_n(y0 + cell_h / 2 + 4)}">{name}</text>')
        for hour in range(24):
            x0 = left + hour * (cell_w + gap)
            row = cells.get((wd, hour))
            value = None if row is None else _f(row.get("happy_index"))
            n = 0 if row is None else row.get("n")
            slot = f"{name} {hour:02d}:00{DASH}{(hour + 1) % 24:02d}:00"
            tip = f"{slot} · no answers" if value is None else f"{slot} · Happy Index {value:.1f} · n = {n}"
            fill = NO_DATA if value is None else heat_colour(value)
            out.append(
                f'<g data-testid="heat-cell" data-weekday="{wd}" data-hour="{hour}" data-n="{n}" '
                f'data-value="{"" if row is None or value is None else row.get("happy_index")}">'
                f"<title>{escape(tip)}</title>"
                f'<rect x="{_n(x0)}" y="{_n(y0)}" width="{_n(cell_w)}" height="{_n(cell_h)}" rx="3" fill="{fill}"/>'
            )
            if value is not None:
                ink = "#fff" if value < 40 or value > 88 else "#1f2933"
                out.append(
                    f'<text class="cell" x="{_n(x0 + cell_w / 2)}" y="{_n(y0 + cell_h / 2 + 3.5)}" '
                    f'text-anchor="middle" fill="{ink}">{value:.0f}</text>'
                )
            out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))


def heat_legend(steps: Sequence[float] = (0, 25, 50, 70, 85, 100)) -> Markup:
    """Swatches of the heat map's colour scale (SVG, since the page allows no inline styles)."""
    parts = ['<svg class="heat-legend" viewBox="0 0 330 16" width="330" height="16" aria-hidden="true">']
    x = 0
    for v in steps:
        parts.append(f'<rect x="{x}" y="2" width="12" height="12" rx="2" fill="{heat_colour(v)}"/>')
        parts.append(f'<text class="axis" x="{x + 16}" y="12">{v:g}</text>')
        x += 40
    parts.append(f'<rect x="{x}" y="2" width="12" height="12" rx="2" fill="{NO_DATA}"/>')
    parts.append(f'<text class="axis" x="{x + 16}" y="12">none</text></svg>')
    return Markup("".join(parts))
