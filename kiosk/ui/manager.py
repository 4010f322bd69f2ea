"""The manager view: today's figures from the local store, offline, plus Back and Exit kiosk.

It renders :func:`edge_agent.report.manager_summary` through
:mod:`kiosk.summary_view`, so it always agrees with ``touchpoint-agent report``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Line, Rectangle
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk import summary_view as view
from kiosk.ui import theme
from kiosk.ui.widgets import FaceIcon, FlatButton, NumberButton, fit_text


def _text_texture(text: str, size: float, colour: theme.RGBA) -> Any:
    label = CoreLabel(text=text, font_size=size, color=colour)
    label.refresh()
    return label.texture


class HourBars(Widget):  # type: ignore[misc]
    """Answers per local hour today as bars (height = n, colour = that hour's Happy Index band)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bars: list[tuple[int, int, str]] = []
        self.bind(pos=self._redraw, size=self._redraw)

    def set_bars(self, bars: list[tuple[int, int, str]]) -> None:
        self.bars = bars
        self._redraw()

    def _redraw(self, *_: Any) -> None:
        self.canvas.clear()
        hours = [h for h, _n, _b in self.bars]
        first = min([8, *hours]) if hours else 8
        last = max([20, *hours]) if hours else 20
        slots = last - first + 1
        slot_w = self.width / slots
        font = max(9.0, min(self.height * 0.075, slot_w * 0.55))
        axis_h = font * 1.6
        top_pad = font * 1.4
        x0, y0 = self.x, self.y + axis_h
        plot_h = max(1.0, self.height - axis_h - top_pad)
        peak = max([1, *(n for _h, n, _b in self.bars)])
        with self.canvas:
            Color(*theme.OUTLINE)
            Line(points=[x0, y0, x0 + self.width, y0], width=1.2)
            for hour, n, band in self.bars:
                bar_h = plot_h * n / peak
                bx = x0 + (hour - first) * slot_w + slot_w * 0.15
                Color(*theme.BAND_COLOURS.get(band, theme.OUTLINE))
                Rectangle(pos=(bx, y0), size=(slot_w * 0.7, bar_h))
                texture = _text_texture(str(n), font, theme.INK)
                Color(1, 1, 1, 1)
                Rectangle(texture=texture, size=texture.size, pos=(bx + (slot_w * 0.7 - texture.width) / 2, y0 + bar_h))
            step = 1 if slot_w > font * 2.2 else 2 if slot_w * 2 > font * 2.2 else 3
            for hour in range(first, last + 1, step):
                texture = _text_texture(f"{hour:02d}", font, theme.MUTED)
                Color(1, 1, 1, 1)
                cx = x0 + (hour - first + 0.5) * slot_w
                Rectangle(texture=texture, size=texture.size, pos=(cx - texture.width / 2, self.y + font * 0.2))


def _label(**kwargs: Any) -> Label:
    kwargs.setdefault("color", theme.INK)
    kwargs.setdefault("halign", "left")
    kwargs.setdefault("valign", "middle")
    return Label(size_hint=(None, None), **kwargs)


class ManagerScreen(Screen):  # type: ignore[misc]
    """Figures for the kiosk's question today, per hour, reasons, history and sync health."""

    def __init__(
        self,
        on_back: Callable[[], None],
        on_exit: Callable[[], None],
        on_log_action: Callable[[], None] | None = None,
        on_alerts: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name="manager", **kwargs)
        self.summary: dict[str, Any] | None = None
        self.title = _label(bold=True)
        # "You said, we did": the one accent-coloured button here (the boot-path test finds it by that).
        self.log_action = FlatButton(
            text="Log an action", bold=True, size_hint=(None, None), fill=list(theme.ACCENT), ink=[1, 1, 1, 1]
        )
        self.log_action.border = list(theme.ACCENT)
        self.log_action.bind(on_release=lambda _b: on_log_action() if on_log_action else None)
        self.alerts = FlatButton(text="Alerts", size_hint=(None, None))  # the store's open alerts (alert_inbox.py)
        self.alerts.bind(on_release=lambda _b: on_alerts() if on_alerts else None)
        self.back = FlatButton(text="Back", size_hint=(None, None))
        self.back.bind(on_release=lambda _b: on_back())
        self.exit = FlatButton(
            text="Exit kiosk", bold=True, size_hint=(None, None), fill=list(theme.DANGER), ink=[1, 1, 1, 1]
        )
        self.exit.bind(on_release=lambda _b: on_exit())
        self.caption = _label(text="Happy Index today", color=theme.MUTED)
        self.happy_index_label = _label(bold=True, halign="left")
        self.ci_label = _label(color=theme.MUTED)
        self.positive_label = _label()
        self.n_label = _label(bold=True)
        self.note_label = _label(color=theme.MUTED)
        self.chart_caption = _label(text="Answers per hour today", color=theme.MUTED)
        self.chart = HourBars(size_hint=(None, None))
        self.reasons_label = _label()
        self.history_label = _label()
        self.sync_label = _label()
        self.icons: list[Widget] = []
        self.count_labels: list[Label] = []
        for widget in (
            self.title, self.log_action, self.alerts, self.back, self.exit, self.caption, self.happy_index_label,
            self.ci_label, self.positive_label, self.n_label, self.note_label, self.chart_caption, self.chart,
            self.reasons_label, self.history_label, self.sync_label,
        ):  # fmt: skip
            self.add_widget(widget)
        self.bind(size=self._layout)

    def show(self, summary: dict[str, Any], question_id: str | None, reason_names: dict[str, str]) -> None:
        """Render ``summary`` (a :func:`manager_summary` dict) for ``question_id``."""
        self.summary = summary
        self.title.text = f"Manager view \u00b7 {summary['day']} ({summary['timezone']})"
        for widget in (*self.icons, *self.count_labels):
            self.remove_widget(widget)
        self.icons, self.count_labels = [], []
        q = view.pick_question(summary, question_id)
        if q is None:
            self.happy_index_label.text = "-"
            self.ci_label.text = ""
            self.positive_label.text = ""
            self.n_label.text = "n = 0"
            self.note_label.text = "No answers yet today"
            self.happy_index_label.color = theme.MUTED
            self.chart.set_bars([])
        else:
            head = view.headline(q)
            self.happy_index_label.text = head.happy_index
            self.happy_index_label.color = theme.BAND_COLOURS.get(head.band, theme.INK)
            self.ci_label.text = head.happy_index_ci
            self.positive_label.text = head.pct_positive + (f"\n{head.nps}" if head.nps else "")
            self.n_label.text = f"n = {head.n}"
            self.note_label.text = "Fewer than 30 answers: treat with care" if head.small_sample else ""
            for value, count in enumerate(head.counts):
                icon: Widget = (
                    FaceIcon(value, head.scale, size_hint=(None, None))
                    if head.scale in (4, 5)
                    else NumberButton(value, head.scale, size_hint=(None, None))
                )
                label = _label(text=str(count), bold=True, halign="center")
                self.icons.append(icon)
                self.count_labels.append(label)
                self.add_widget(icon)
                self.add_widget(label)
            self.chart.set_bars(view.hour_bars(summary, head.question_id))
        qid = q["question_id"] if q else (question_id or "")
        self.reasons_label.text = view.reasons_line(summary, reason_names)
        self.history_label.text = view.history_line(summary, qid)
        self.sync_label.text = view.sync_line(summary)
        healthy = summary["sync"]["connected"] and summary["sync"]["clock_ok"]
        self.sync_label.color = theme.INK if healthy else theme.DANGER
        self._layout()

    def set_open_alerts(self, n: int) -> None:
        self.alerts.text = f"Alerts ({n})" if n else "Alerts"

    def show_unavailable(self, message: str) -> None:
        """No figures (the store is down), but Back and Exit kiosk still work."""
        self.summary = None
        self.title.text = "Manager view"
        for widget in (*self.icons, *self.count_labels):
            self.remove_widget(widget)
        self.icons, self.count_labels = [], []
        self.happy_index_label.text = "-"
        self.happy_index_label.color = theme.MUTED
        for label in (self.ci_label, self.positive_label, self.reasons_label, self.history_label):
            label.text = ""
        self.n_label.text = ""
        self.note_label.text = ""
        self.sync_label.text = message
        self.sync_label.color = theme.DANGER
        self.chart.set_bars([])
        self._layout()

    def _layout(self, *_: Any) -> None:
        w, h = self.size
        u = theme.unit(w, h)
        target = theme.min_target()
        margin = max(10.0, 0.03 * min(w, h))
        gap = max(8.0, 0.02 * min(w, h))
        bar_h = max(target, 0.13 * min(w, h))
        bw = max(target * 1.6, 0.14 * w)
        self.exit.size = (bw * 1.2, bar_h)
        self.exit.pos = (w - margin - bw * 1.2, h - margin - bar_h)
        self.back.size = (bw, bar_h)
        self.back.pos = (self.exit.x - gap - bw, h - margin - bar_h)
        self.log_action.size = (bw * 1.5, bar_h)
        self.log_action.pos = (self.back.x - gap - bw * 1.5, h - margin - bar_h)
        self.alerts.size = (bw * 1.2, bar_h)
        self.alerts.pos = (self.log_action.x - gap - bw * 1.2, h - margin - bar_h)
        for button in (self.log_action, self.alerts, self.back, self.exit):
            button.font_size = max(14.0, 20 * u)
        fit_text(self.title, self.alerts.x - margin - gap, bar_h, 24 * u, 12 * u)
        self.title.pos = (margin, h - margin - bar_h)

        footer_line = 0.065 * h
        footer = [self.sync_label, self.history_label, self.reasons_label]
        for i, label in enumerate(footer):
            fit_text(label, w - 2 * margin, footer_line, 17 * u, 10 * u)
            label.pos = (margin, margin + i * footer_line)
        body_bottom = margin + 3 * footer_line + gap
        body_top = h - margin - bar_h - gap
        if w >= h:  # figures on the left, chart on the right
            left_w = 0.42 * (w - 2 * margin)
            figures_bottom = body_bottom
            chart_x, chart_top = margin + left_w + gap * 2, body_top
            chart_w = w - margin - chart_x
        else:  # rotated: figures above the chart
            left_w = w - 2 * margin
            figures_bottom = body_bottom + (body_top - body_bottom) * 0.45
            chart_x, chart_top = margin, figures_bottom - gap
            chart_w = w - 2 * margin
        self._layout_figures(margin, left_w, figures_bottom, body_top, u)
        chart_h = chart_top - body_bottom
        fit_text(self.chart_caption, chart_w, chart_h * 0.10, 18 * u, 10 * u)
        self.chart_caption.pos = (chart_x, chart_top - chart_h * 0.10)
        self.chart.size = (chart_w, chart_h * 0.88)
        self.chart.pos = (chart_x, body_bottom)

    def _layout_figures(self, margin: float, left_w: float, body_bottom: float, body_top: float, u: float) -> None:
        body_h = body_top - body_bottom
        rows = [
            (self.caption, 0.10, 18),
            (self.happy_index_label, 0.24, 64),
            (self.ci_label, 0.09, 16),
            (self.positive_label, 0.13 if "\n" not in self.positive_label.text else 0.18, 17),
            (self.n_label, 0.10, 22),
            (self.note_label, 0.08, 14),
        ]
        y = body_top
        for label, share, font in rows:
            fit_text(label, left_w, body_h * share, font * u, 10 * u)
            y -= body_h * share
            label.pos = (margin, y)
        icons_h = max(0.0, y - body_bottom)
        n = len(self.icons)
        if n:
            cell = min(left_w / n, icons_h * 0.62)
            for i, (icon, label) in enumerate(zip(self.icons, self.count_labels, strict=True)):
                x = margin + i * (left_w / n) + (left_w / n - cell) / 2
                icon.size = (cell, cell)
                icon.pos = (x, body_bottom + icons_h - cell)
                if isinstance(icon, NumberButton):
                    icon.font_size = max(9.0, cell * 0.45)
                fit_text(label, left_w / n, icons_h - cell, 18 * u, 9 * u)
                label.pos = (margin + i * (left_w / n), body_bottom)
