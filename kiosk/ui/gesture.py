"""The hidden manager gesture: one finger held still in the top-left corner.

A long hold is something a shopper tapping a face never does by accident,
unlike a burst of quick taps (children love those). The root widget checks
:attr:`CornerHold.since` against its clock and opens the PIN pad after
``HOLD_S`` seconds; moving out of the corner or lifting the finger cancels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.uix.widget import Widget


class CornerHold(Widget):  # type: ignore[misc]
    """An invisible square in the top-left corner that notes when a finger went down and stayed."""

    def __init__(self, now: Callable[[], float], enabled: Callable[[], bool], **kwargs: Any) -> None:
        super().__init__(size_hint=(None, None), pos_hint={"x": 0, "top": 1}, **kwargs)
        self._now = now
        self._enabled = enabled
        self.since: float | None = None

    def on_touch_down(self, touch: Any) -> bool:
        if not self._enabled() or not self.collide_point(*touch.pos):
            return False
        touch.grab(self)
        self.since = self._now()
        return True

    def on_touch_move(self, touch: Any) -> bool:
        if touch.grab_current is not self:
            return False
        if not self.collide_point(*touch.pos):
            self.since = None
        return True

    def on_touch_up(self, touch: Any) -> bool:
        if touch.grab_current is not self:
            return False
        touch.ungrab(self)
        self.since = None
        return True
