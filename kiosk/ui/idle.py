"""The idle screen: the store's score of the week and its actions, one slide at a time, while nobody taps.

It only shows :class:`kiosk.idle_view.Slide` s; which slide when, and what a touch does (the first
touch anywhere goes to the question and is never an answer), belong to :mod:`kiosk.ui.idle_mode`.
A wide band of the accent colour across the top marks it (the boot-path test finds it by that).
"""

from __future__ import annotations

from typing import Any

from kivy.graphics import Color, Rectangle
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from kiosk.idle_view import Slide
from kiosk.ui import theme
from kiosk.ui.widgets import fit_text

IDLE = "idle"


def _label(colour: theme.RGBA, bold: bool = False) -> Label:
    return Label(color=colour, bold=bold, halign="center", valign="middle", size_hint=(None, None))


class IdleScreen(Screen):  # type: ignore[misc]
    """A title on the accent band, a big figure (score slides), the body text and a hint to touch."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(name=IDLE, **kwargs)
        self.slide: Slide | None = None
        with self.canvas.before:
            Color(*theme.ACCENT)
            self._band = Rectangle()
        self.title = _label((1, 1, 1, 1), bold=True)
        self.figure = _label(theme.INK, bold=True)
        self.body = _label(theme.INK)
        self.hint = _label(theme.MUTED)
        for label in (self.title, self.figure, self.body, self.hint):
            self.add_widget(label)
        self.bind(size=self._layout, pos=self._layout)

    def show(self, slide: Slide) -> None:
        self.slide = slide
        self.title.text = slide.title
        self.figure.text = slide.figure
        self.figure.color = theme.BAND_COLOURS.get(slide.band, theme.INK) if slide.band != "none" else theme.INK
        self.body.text = slide.body
        self.body.bold = slide.kind == "action"
        self.hint.text = slide.hint
        self._layout()

    def _layout(self, *_: Any) -> None:
        w, h = self.size
        u = theme.unit(w, h)
        margin = max(12.0, 0.05 * min(w, h))
        band_h = 0.24 * h
        self._band.pos = (self.x, self.y + h - band_h)
        self._band.size = (w, band_h)
        fit_text(self.title, w - 2 * margin, band_h - margin, 44 * u, 18 * u)
        self.title.pos = (margin, h - band_h + margin / 2)
        hint_h = 0.12 * h
        fit_text(self.hint, w - 2 * margin, hint_h, 22 * u, 12 * u)
        self.hint.pos = (margin, margin / 2)
        middle_bottom, middle_top = margin / 2 + hint_h, h - band_h - margin / 2
        middle_h = middle_top - middle_bottom
        figure_h = 0.5 * middle_h if self.figure.text else 0.0
        if figure_h:
            fit_text(self.figure, w - 2 * margin, figure_h, 120 * u, 40 * u)
            self.figure.pos = (margin, middle_top - figure_h)
        else:
            self.figure.size = (0, 0)
        fit_text(self.body, w - 2 * margin, middle_h - figure_h, (30 if figure_h else 46) * u, 14 * u)
        self.body.pos = (margin, middle_bottom)
