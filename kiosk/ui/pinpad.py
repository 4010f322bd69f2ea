"""The manager PIN pad: digits, Del, OK and Cancel; the PIN is never shown, only dots.

Checking the PIN and the lock-out belong to :class:`edge_agent.pin.PinGuard`;
this screen only collects digits and shows what the guard said.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from kiosk.ui import theme
from kiosk.ui.widgets import Dots, FlatButton, fit_text

MAX_DIGITS = 12
KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "Del", "0", "OK")


class PinScreen(Screen):  # type: ignore[misc]
    """Calls ``on_submit(pin)`` on OK and ``on_cancel()`` on Cancel."""

    def __init__(self, on_submit: Callable[[str], None], on_cancel: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(name="pin", **kwargs)
        self._on_submit = on_submit
        self.digits = ""
        self.title = Label(text="Manager PIN", color=theme.INK, bold=True, halign="center", valign="middle")
        self.dots = Dots(size_hint=(None, None))
        self.status = Label(color=theme.DANGER, halign="center", valign="middle", size_hint=(None, None))
        self.title.size_hint = (None, None)
        self.cancel = FlatButton(text="Cancel", size_hint=(None, None))
        self.cancel.bind(on_release=lambda _b: on_cancel())
        self.keys: dict[str, FlatButton] = {}
        for key in KEYS:
            button = FlatButton(text=key, bold=True, size_hint=(None, None))
            if key == "OK":
                button.fill, button.ink, button.border = list(theme.ACCENT), [1, 1, 1, 1], list(theme.ACCENT)
            button.bind(on_release=lambda _b, k=key: self.press(k))
            self.keys[key] = button
        for widget in (self.title, self.dots, self.status, self.cancel, *self.keys.values()):
            self.add_widget(widget)
        self.bind(size=self._layout)

    def reset(self, status: str = "") -> None:
        self.digits = ""
        self.dots.count = 0
        self.set_status(status)

    def set_status(self, text: str) -> None:
        if text != self.status.text:
            self.status.text = text
            self._layout()

    def press(self, key: str) -> None:
        if key == "OK":
            digits, self.digits = self.digits, ""
            self.dots.count = 0
            self._on_submit(digits)
        elif key == "Del":
            self.digits = self.digits[:-1]
        elif len(self.digits) < MAX_DIGITS:
            self.digits += key
        self.dots.count = len(self.digits)

    def _layout(self, *_: Any) -> None:
        w, h = self.size
        u = theme.unit(w, h)
        target = theme.min_target()
        margin = max(12.0, 0.04 * min(w, h))
        gap = max(8.0, 0.02 * min(w, h))
        landscape = w >= h
        pad_w = (w * 0.5 if landscape else w) - 2 * margin
        pad_h = h - 2 * margin if landscape else h * 0.6 - margin
        key = max(target, min((pad_w - 2 * gap) / 3, (pad_h - 3 * gap) / 4))
        kw = min((pad_w - 2 * gap) / 3, key * 1.5)
        block_w, block_h = 3 * kw + 2 * gap, 4 * key + 3 * gap
        x0 = (w - margin - block_w) if landscape else (w - block_w) / 2
        y0 = (h - block_h) / 2 if landscape else margin
        for i, name in enumerate(KEYS):
            row, col = divmod(i, 3)
            button = self.keys[name]
            button.size = (kw, key)
            button.pos = (x0 + col * (kw + gap), y0 + (3 - row) * (key + gap))
            button.font_size = max(16.0, key * 0.38)
        side_w = (w * 0.5 - 2 * margin) if landscape else w - 2 * margin
        top = h - margin
        bottom = margin if landscape else y0 + block_h + gap
        side_h = top - bottom
        fit_text(self.title, side_w, side_h * 0.2, 36 * u, 16 * u)
        self.title.pos = (margin, top - side_h * 0.2)
        self.dots.size = (side_w, side_h * 0.16)
        self.dots.pos = (margin, top - side_h * 0.4)
        fit_text(self.status, side_w, side_h * 0.25, 22 * u, 12 * u)
        self.status.pos = (margin, top - side_h * 0.68)
        ch, cw = max(target, 0.12 * h), max(target * 2, side_w * 0.5)
        self.cancel.size = (cw, ch)
        self.cancel.pos = (margin + (side_w - cw) / 2, bottom)
        self.cancel.font_size = max(14.0, 22 * u)
