"""The store's open alerts on the manager view: acknowledge one, or add a ready-made comment, offline.

The alerts are those the hub pushed with the config (``edge_agent/alert_inbox.py``); a tap on
"Acknowledge" or a comment stores a note on the device first, shows it at once, and the agent takes
it to HQ exactly once. Praise episodes carry a green "Good news" pill, the others a red "Firing" one
(grey once resolved).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from edge_agent.alert_inbox import KioskAlert
from kiosk.ui import theme
from kiosk.ui.widgets import FlatButton, fit_text

ALERTS = "alerts"
SHOWN = 4
COMMENTS = ("Looking into it", "Fixed", "Staff told", "Not an issue")


def pill(alert: KioskAlert) -> tuple[str, theme.RGBA]:
    if alert.good_news:
        return "Good news", theme.GREEN
    if alert.alert.state == "firing":
        return "Firing", theme.DANGER
    return "Resolved", theme.OUTLINE


def status_text(alert: KioskAlert) -> str:
    parts = [f"Acknowledged by {alert.acknowledged_by}" if alert.acknowledged else "Not acknowledged"]
    if alert.alert.assignee:
        parts.append(f"assigned to {alert.alert.assignee}")
    said = [c.text for c in alert.alert.comments] + alert.pending_comments
    if said:
        parts.append(f"last comment: \u201c{said[-1]}\u201d")
    return "; ".join(parts)


class AlertRow:
    """The widgets of one alert: pill, message, status, Acknowledge and Comment."""

    def __init__(self, alert: KioskAlert, on_ack: Callable[[], None], on_comment: Callable[[], None]) -> None:
        text, colour = pill(alert)
        self.alert = alert
        self.pill = FlatButton(text=text, bold=True, size_hint=(None, None), fill=list(colour), ink=[1, 1, 1, 1])
        self.pill.border = list(colour)
        self.pill.disabled = True
        self.message = Label(color=theme.INK, halign="left", valign="middle", size_hint=(None, None),
                             text=f"{alert.alert.rule_name}: {alert.alert.message}")  # fmt: skip
        self.status = Label(color=theme.MUTED, halign="left", valign="middle", size_hint=(None, None),
                            text=status_text(alert))  # fmt: skip
        self.ack = FlatButton(text="Acknowledged" if alert.acknowledged else "Acknowledge", size_hint=(None, None))
        self.ack.disabled = alert.acknowledged
        self.ack.bind(on_release=lambda _b: on_ack())
        self.comment = FlatButton(text="Comment", size_hint=(None, None))
        self.comment.bind(on_release=lambda _b: on_comment())

    @property
    def widgets(self) -> list[Any]:
        return [self.pill, self.message, self.status, self.ack, self.comment]


class AlertsScreen(Screen):  # type: ignore[misc]
    """The open alerts, or the comment choices for one of them; Back returns to the manager view."""

    def __init__(
        self,
        on_ack: Callable[[int], None],
        on_comment: Callable[[int, str], None],
        on_back: Callable[[], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(name=ALERTS, **kwargs)
        self._on_ack, self._on_comment, self._on_back = on_ack, on_comment, on_back
        self.alerts: list[KioskAlert] = []
        self.rows: list[AlertRow] = []
        self.choosing: int | None = None  # the alert a comment is being chosen for
        self.chips: list[FlatButton] = []
        self.title = Label(color=theme.INK, bold=True, halign="left", valign="middle", size_hint=(None, None))
        self.back = FlatButton(text="Back", size_hint=(None, None))
        self.back.bind(on_release=lambda _b: self._go_back())
        for widget in (self.title, self.back):
            self.add_widget(widget)
        self.bind(size=self._layout)

    def show(self, alerts: list[KioskAlert], message: str = "") -> None:
        self.alerts, self.choosing = alerts, None
        for widget in [w for row in self.rows for w in row.widgets] + self.chips:
            self.remove_widget(widget)
        self.rows, self.chips = [], []
        n = len(alerts)
        self.title.text = message or (f"Open alerts for this store: {n}" if n else "No open alerts for this store")
        for alert in alerts[:SHOWN]:
            aid = alert.alert.alert_id
            row = AlertRow(alert, partial(self._on_ack, aid), partial(self.choose_comment, aid))
            self.rows.append(row)
            for widget in row.widgets:
                self.add_widget(widget)
        self._layout()

    def choose_comment(self, alert_id: int) -> None:
        for widget in [w for row in self.rows for w in row.widgets]:
            widget.opacity, widget.disabled = 0, True
        self.choosing = alert_id
        self.title.text = "Add a comment: HQ sees it with the alert"
        for text in COMMENTS:
            chip = FlatButton(text=text, size_hint=(None, None))
            chip.bind(on_release=lambda _b, t=text: self._on_comment(alert_id, t))
            self.chips.append(chip)
            self.add_widget(chip)
        self._layout()

    def _go_back(self) -> None:
        if self.choosing is not None:
            self.show(self.alerts)
        else:
            self._on_back()

    def _layout(self, *_: Any) -> None:
        w, h = self.size
        u = theme.unit(w, h)
        target = theme.min_target()
        margin = max(10.0, 0.03 * min(w, h))
        gap = max(6.0, 0.015 * min(w, h))
        bar_h = max(target, 0.12 * min(w, h))
        bw = max(target * 1.6, 0.14 * w)
        self.back.size = (bw, bar_h)
        self.back.pos = (w - margin - bw, h - margin - bar_h)
        self.back.font_size = max(14.0, 20 * u)
        fit_text(self.title, w - 3 * margin - bw, bar_h, 24 * u, 12 * u)
        self.title.pos = (margin, h - margin - bar_h)
        top = h - margin - bar_h - gap
        if self.chips:
            chip_h = max(target, min(0.15 * h, (top - margin) / len(self.chips) - gap))
            for i, chip in enumerate(self.chips):
                chip.size = (w - 2 * margin, chip_h)
                chip.pos = (margin, top - (i + 1) * (chip_h + gap))
                chip.font_size = max(14.0, 22 * u)
            return
        row_h = max(target * 1.6, (top - margin) / SHOWN - gap)
        for i, row in enumerate(self.rows):
            y = top - (i + 1) * (row_h + gap)
            button_w = max(target * 2, 0.17 * w)
            pill_w = max(target * 1.6, 0.14 * w)
            text_w = w - 2 * margin - pill_w - 2 * button_w - 4 * gap
            row.pill.size = (pill_w, row_h * 0.5)
            row.pill.pos = (margin, y + row_h * 0.25)
            row.pill.font_size = max(12.0, 16 * u)
            fit_text(row.message, text_w, row_h * 0.55, 18 * u, 10 * u)
            row.message.pos = (margin + pill_w + gap, y + row_h * 0.45)
            fit_text(row.status, text_w, row_h * 0.45, 14 * u, 9 * u)
            row.status.pos = (margin + pill_w + gap, y)
            for j, button in enumerate((row.ack, row.comment)):
                button.size = (button_w, min(row_h, max(target, row_h * 0.8)))
                button.pos = (w - margin - (2 - j) * button_w - (1 - j) * gap, y + (row_h - button.height) / 2)
                button.font_size = max(13.0, 18 * u)
