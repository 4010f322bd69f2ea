"""The screens after an answer: follow-up reasons, thank-you, and the error state.

The error state exists so a tap that did not reach the store is never thanked:
the shopper is told, in words, to tell staff.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from edge_agent.survey import Survey
from kiosk.ui import theme
from kiosk.ui.widgets import CheckMark, FlatButton, WarningSign, fit_text

MAX_REASONS = 6


class FollowUpScreen(Screen):  # type: ignore[misc]
    """Up to six reason chips and Skip; calls ``on_reason(reason_id)`` or ``on_reason(None)`` for Skip."""

    def __init__(self, on_reason: Callable[[str | None], None], **kwargs: Any) -> None:
        super().__init__(name="follow_up", **kwargs)
        self._on_reason = on_reason
        self.title = Label(color=theme.INK, bold=True, halign="center", valign="middle", size_hint=(None, None))
        self.add_widget(self.title)
        self.chips: dict[str, FlatButton] = {}
        self.skip = FlatButton(size_hint=(None, None), fill=list(theme.BACKGROUND), ink=list(theme.MUTED))
        self.skip.bind(on_release=lambda _b: self._on_reason(None))
        self.add_widget(self.skip)
        self.bind(size=self._layout)

    def show(self, survey: Survey, lang: str) -> None:
        for chip in self.chips.values():
            self.remove_widget(chip)
        self.chips = {}
        follow_up = survey.question.follow_up
        reasons = follow_up.reasons[:MAX_REASONS] if follow_up else []
        for reason in reasons:
            chip = FlatButton(text=survey.text(reason.text, lang), size_hint=(None, None))
            chip.bind(on_release=lambda _b, rid=reason.id: self._on_reason(rid))
            self.chips[reason.id] = chip
            self.add_widget(chip)
        self.title.text = survey.ui("follow_up", lang)
        self.skip.text = survey.ui("skip", lang)
        self._layout()

    def _layout(self, *_: Any) -> None:
        w, h = self.size
        u = theme.unit(w, h)
        target = theme.min_target()
        margin = max(12.0, 0.04 * min(w, h))
        gap = max(10.0, 0.025 * min(w, h))
        skip_h = max(target, 0.13 * min(w, h))
        skip_w = max(target * 2, 0.28 * w)
        self.skip.size = (skip_w, skip_h)
        self.skip.pos = ((w - skip_w) / 2, margin)
        self.skip.font_size = max(14.0, 24 * u)
        title_h = 0.2 * h
        fit_text(self.title, w - 2 * margin, title_h, 40 * u, 18 * u)
        self.title.pos = (margin, h - margin - title_h)
        n = len(self.chips)
        if n == 0:
            return
        cols = 3 if w >= h and n > 4 else 2 if n > 1 else 1
        rows = math.ceil(n / cols)
        area_bottom = margin + skip_h + gap * 1.5
        area_top = h - margin - title_h - gap
        chip_w = (w - 2 * margin - (cols - 1) * gap) / cols
        chip_h = max(target, min(0.2 * h, (area_top - area_bottom - (rows - 1) * gap) / rows))
        block_h = rows * chip_h + (rows - 1) * gap
        y0 = area_bottom + max(0.0, (area_top - area_bottom - block_h) / 2)
        for i, chip in enumerate(self.chips.values()):
            row, col = divmod(i, cols)
            chip.size = (chip_w, chip_h)
            chip.pos = (margin + col * (chip_w + gap), y0 + (rows - 1 - row) * (chip_h + gap))
            fit_text(chip, chip_w - 16, chip_h - 8, 28 * u, 14 * u)
            chip.size = (chip_w, chip_h)


class ThankYouScreen(Screen):  # type: ignore[misc]
    """A tick and the survey's thank-you text: the same for every answer (a frown would look like a verdict)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(name="thank_you", **kwargs)
        self.tick = CheckMark(size_hint=(None, None))
        self.label = Label(color=theme.INK, bold=True, halign="center", valign="middle", size_hint=(None, None))
        self.add_widget(self.tick)
        self.add_widget(self.label)
        self.bind(size=self._layout)

    def show(self, survey: Survey, lang: str) -> None:
        self.label.text = survey.ui("thank_you", lang)
        self._layout()

    def _layout(self, *_: Any) -> None:
        w, h = self.size
        u = theme.unit(w, h)
        margin = max(12.0, 0.05 * min(w, h))
        d = min(0.42 * h, 0.5 * w)
        self.tick.size = (d, d)
        self.tick.pos = ((w - d) / 2, h * 0.40)
        fit_text(self.label, w - 2 * margin, h * 0.40 - margin, 72 * u, 24 * u)
        self.label.pos = (margin, margin)


class MessageScreen(Screen):  # type: ignore[misc]
    """A warning sign, a plain-words message and a small detail line for staff; optionally a Back button."""

    def __init__(self, name: str, on_back: Callable[[], None] | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.sign = WarningSign(size_hint=(None, None))
        self.message = Label(color=theme.INK, bold=True, halign="center", valign="middle", size_hint=(None, None))
        self.detail = Label(color=theme.MUTED, halign="center", valign="top", size_hint=(None, None))
        for widget in (self.sign, self.message, self.detail):
            self.add_widget(widget)
        self.back: FlatButton | None = None
        if on_back is not None:
            self.back = FlatButton(text="Back", size_hint=(None, None))
            self.back.bind(on_release=lambda _b: on_back())
            self.add_widget(self.back)
        self.bind(size=self._layout)

    def show(self, message: str, detail: str = "") -> None:
        self.message.text = message
        self.detail.text = detail
        self._layout()

    def _layout(self, *_: Any) -> None:
        w, h = self.size
        u = theme.unit(w, h)
        margin = max(12.0, 0.05 * min(w, h))
        sign = 0.26 * h
        self.sign.size = (sign, sign)
        self.sign.pos = ((w - sign) / 2, h - margin - sign)
        message_h = 0.32 * h
        fit_text(self.message, w - 2 * margin, message_h, 38 * u, 16 * u)
        self.message.pos = (margin, h - margin - sign - message_h - 0.02 * h)
        bottom = margin
        if self.back is not None:
            target = theme.min_target()
            bh, bw = max(target, 0.12 * h), max(target * 2, 0.22 * w)
            self.back.size = (bw, bh)
            self.back.pos = ((w - bw) / 2, margin)
            self.back.font_size = max(14.0, 22 * u)
            bottom = margin + bh + 0.02 * h
        fit_text(self.detail, w - 2 * margin, max(10.0, self.message.y - bottom - 0.02 * h), 18 * u, 11 * u)
        self.detail.pos = (margin, bottom)
