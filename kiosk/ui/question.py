"""The question screen: the question, a row of big answer targets and the language switch.

Layout is computed from the screen size on every resize (800x480 up to
1280x800, landscape or portrait); answer targets never go below 15 mm.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from edge_agent.survey import Survey
from kiosk.ui import theme
from kiosk.ui.widgets import FACE_SHARE, FlatButton, NumberButton, SmileyButton, fit_text

AnswerButton = SmileyButton | NumberButton


class QuestionScreen(Screen):  # type: ignore[misc]
    """Calls ``on_answer(value)`` when an answer is released and ``on_language(code)`` for the switch."""

    def __init__(self, on_answer: Callable[[int], None], on_language: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(name="question", **kwargs)
        self._on_answer = on_answer
        self._on_language = on_language
        self.question_label = Label(
            color=theme.INK, bold=True, halign="center", valign="middle", size_hint=(None, None)
        )
        self.add_widget(self.question_label)
        self.buttons: list[AnswerButton] = []
        self.language_buttons: dict[str, FlatButton] = {}
        self.points = 4
        self.bind(size=self._layout)

    def show(self, survey: Survey, lang: str) -> None:
        """(Re)build for ``survey`` in ``lang``: new survey, new language or a reset after an answer."""
        question = survey.question
        self.question_label.text = survey.text(question.text, lang)
        if self.points != question.scale or not self.buttons:
            for button in self.buttons:
                self.remove_widget(button)
            self.points = question.scale
            self.buttons = [self._answer_button(value, question.scale) for value in range(question.scale)]
            for button in self.buttons:
                self.add_widget(button)
        codes = survey.languages if len(survey.languages) > 1 else []
        if list(self.language_buttons) != codes:
            for button in self.language_buttons.values():
                self.remove_widget(button)
            self.language_buttons = {}
            for code in codes:
                button = FlatButton(text=code.upper(), bold=True, size_hint=(None, None))
                button.bind(on_release=lambda _b, c=code: self._on_language(c))
                self.language_buttons[code] = button
                self.add_widget(button)
        for code, button in self.language_buttons.items():
            button.selected = code == lang
        self.reset()
        self._layout()

    def _answer_button(self, value: int, points: int) -> AnswerButton:
        button: AnswerButton = SmileyButton(value, points, size_hint=(None, None)) if points in (4, 5) else (
            NumberButton(value, points, size_hint=(None, None))
        )  # fmt: skip
        button.bind(on_release=lambda b: self._on_answer(b.value))
        return button

    def mark_chosen(self, value: int) -> None:
        """Instant feedback once the answer is stored: the chosen target grows and gets a ring."""
        for button in self.buttons:
            button.chosen = button.value == value

    def reset(self) -> None:
        for button in self.buttons:
            button.chosen = False

    def _layout(self, *_: Any) -> None:
        w, h = self.size
        u = theme.unit(w, h)
        target = theme.min_target()
        margin = max(12.0, 0.04 * min(w, h))
        gap = max(10.0, 0.03 * min(w, h))
        top = h - margin
        if self.language_buttons:
            bh = max(target, 0.12 * min(w, h))
            bw = max(target, bh * 1.3)
            x = w - margin - len(self.language_buttons) * bw - (len(self.language_buttons) - 1) * gap * 0.5
            for button in self.language_buttons.values():
                button.size = (bw, bh)
                button.pos = (x, h - margin - bh)
                button.font_size = max(14.0, 22 * u)
                x += bw + gap * 0.5
            top = h - margin - bh - gap * 0.5
        answers_top = self._layout_answers(w, h, margin, gap, target)
        fit_text(self.question_label, w - 2 * margin, top - answers_top - gap, 44 * u, 18 * u)
        self.question_label.pos = (margin, answers_top + gap * 0.5)

    def _layout_answers(self, w: float, h: float, margin: float, gap: float, target: float) -> float:
        """Place the answer targets in the lower part of the screen; returns their top edge."""
        n = len(self.buttons)
        if n == 0:
            return margin
        area_top = h * (0.58 if w >= h else 0.52)
        if self.points in (4, 5):
            cell = min((w - 2 * margin - (n - 1) * gap) / n, area_top - 2 * margin)
            cell = max(cell, target / FACE_SHARE)
            rows, cols, cw, ch = 1, n, cell, cell
        else:
            small_gap = gap * 0.4
            cols = n
            cw = (w - 2 * margin - (cols - 1) * small_gap) / cols
            if cw < target:  # too narrow for one row of 11 at 15 mm: two rows
                cols = math.ceil(n / 2)
                cw = (w - 2 * margin - (cols - 1) * small_gap) / cols
            cw = max(cw, target)
            rows = math.ceil(n / cols)
            ch = max(target, min(cw * 1.25, (area_top - 2 * margin) / rows - small_gap))
            gap = small_gap
        block_h = rows * ch + (rows - 1) * gap
        y0 = max(margin, (area_top - block_h) / 2)
        for i, button in enumerate(self.buttons):
            row, col = divmod(i, cols)
            in_row = min(cols, n - row * cols)
            row_w = in_row * cw + (in_row - 1) * gap
            x0 = (w - row_w) / 2
            button.size = (cw, ch)
            button.pos = (x0 + col * (cw + gap), y0 + (rows - 1 - row) * (ch + gap))
            if isinstance(button, NumberButton):
                button.font_size = max(16.0, ch * 0.42)
        return y0 + block_h
