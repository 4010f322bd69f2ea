"""Logging an action from the manager view, with a finger only: the reason, then a ready-made text.

Step one offers the survey's follow-up reasons and "No particular reason"; step two the preset texts
for that reason (:mod:`kiosk.action_presets`), in the manager's language; a tap on one logs it
(``on_log(reason_id, texts)``), starting today, and says so. Works offline: the action is stored on
the device and reaches HQ when the agent next can send it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from edge_agent.survey import Survey
from kiosk.action_presets import Texts, presets
from kiosk.ui import theme
from kiosk.ui.widgets import FlatButton, fit_text

LOG_ACTION = "log_action"
NO_REASON = "No particular reason"


class ActionLogScreen(Screen):  # type: ignore[misc]
    """Reason chips, then preset texts, then a confirmation; Cancel/Back go to the manager view."""

    def __init__(self, on_log: Callable[[str | None, Texts], None], on_done: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(name=LOG_ACTION, **kwargs)
        self._on_log = on_log
        self._on_done = on_done
        self.step = "reason"
        self.survey: Survey | None = None
        self.reason: str | None = None
        self.title = Label(color=theme.INK, bold=True, halign="center", valign="middle", size_hint=(None, None))
        self.add_widget(self.title)
        self.chips: list[FlatButton] = []
        self.back = FlatButton(size_hint=(None, None), fill=list(theme.BACKGROUND), ink=list(theme.MUTED))
        self.back.bind(on_release=lambda _b: self._go_back())
        self.add_widget(self.back)
        self.bind(size=self._layout)

    def _lang(self) -> str:
        assert self.survey is not None
        return "en" if "en" in self.survey.languages else self.survey.languages[0]

    def _set_chips(self, items: Sequence[tuple[str, Callable[[], None]]]) -> None:
        for chip in self.chips:
            self.remove_widget(chip)
        self.chips = []
        for text, action in items:
            chip = FlatButton(text=text, size_hint=(None, None))
            chip.bind(on_release=lambda _b, act=action: act())
            self.chips.append(chip)
            self.add_widget(chip)
        self._layout()

    def start(self, survey: Survey) -> None:
        """Step one: which reason does the action address?"""
        self.survey, self.step, self.reason = survey, "reason", None
        self.title.text = "Log an action: what did shoppers tell you about?"
        self.back.text = "Cancel"
        follow_up = survey.question.follow_up
        reasons = [(survey.text(r.text, self._lang()), r.id) for r in (follow_up.reasons if follow_up else [])]
        items = [(name, partial(self.choose_reason, rid)) for name, rid in reasons]
        items.append((NO_REASON, partial(self.choose_reason, None)))
        self._set_chips(items)

    def choose_reason(self, reason_id: str | None) -> None:
        """Step two: what was done? (shown to shoppers on the idle screen)"""
        assert self.survey is not None
        self.step, self.reason = "text", reason_id
        self.title.text = "What did you change? Shoppers will see it on this screen."
        self.back.text = "Back"
        lang, languages = self._lang(), self.survey.languages
        options = presets(reason_id, languages)
        self._set_chips([(t.get(lang) or next(iter(t.values())), partial(self._on_log, reason_id, t)) for t in options])

    def show_done(self, message: str) -> None:
        """The action is stored (or why not): one button back to the manager view."""
        self.step = "done"
        self.title.text = message
        self.back.text = ""
        self._set_chips([("Back to the manager view", self._on_done)])

    def _go_back(self) -> None:
        if self.step == "text" and self.survey is not None:
            self.start(self.survey)
        else:
            self._on_done()

    def _layout(self, *_: Any) -> None:
        w, h = self.size
        u = theme.unit(w, h)
        target = theme.min_target()
        margin = max(12.0, 0.04 * min(w, h))
        gap = max(10.0, 0.025 * min(w, h))
        back_h = max(target, 0.13 * min(w, h)) if self.back.text else 0.0
        back_w = max(target * 2, 0.28 * w)
        self.back.size = (back_w, back_h)
        self.back.pos = ((w - back_w) / 2, margin)
        self.back.opacity = 1 if self.back.text else 0
        self.back.disabled = not self.back.text
        self.back.font_size = max(14.0, 22 * u)
        title_h = 0.22 * h if self.step != "done" else 0.4 * h
        fit_text(self.title, w - 2 * margin, title_h, 32 * u, 14 * u)
        self.title.pos = (margin, h - margin - title_h)
        n = len(self.chips)
        if n == 0:
            return
        cols = 1 if self.step != "reason" else (3 if w >= h and n > 4 else 2 if n > 1 else 1)
        rows = math.ceil(n / cols)
        area_bottom = margin + back_h + gap * 1.5
        area_top = h - margin - title_h - gap
        chip_w = (w - 2 * margin - (cols - 1) * gap) / cols
        chip_h = max(target, min(0.18 * h, (area_top - area_bottom - (rows - 1) * gap) / rows))
        block_h = rows * chip_h + (rows - 1) * gap
        y0 = area_bottom + max(0.0, (area_top - area_bottom - block_h) / 2)
        for i, chip in enumerate(self.chips):
            row, col = divmod(i, cols)
            chip.size = (chip_w, chip_h)
            chip.pos = (margin + col * (chip_w + gap), y0 + (rows - 1 - row) * (chip_h + gap))
            fit_text(chip, chip_w - 16, chip_h - 8, 24 * u, 12 * u)
            chip.size = (chip_w, chip_h)
