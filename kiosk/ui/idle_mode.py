"""When the idle screen shows, what it rotates through, and how it gives way to a shopper.

A mixin of :class:`kiosk.ui.root.KioskRoot`. Once the question has rested for the idle time (the
device's ``kiosk.idle_screen_after_s``, else the survey's idle timeout), the kiosk rotates the
store's score of the week and its latest actions, every :data:`SLIDE_S` seconds, in each of the
survey's languages in turn, read from the device's own store so it works offline. The first touch
anywhere brings the question back and is never recorded as an answer (the root swallows it before
any button sees it). Switched off by ``kiosk.idle_screen = false`` on the device or
``"idle_screen": false`` in the survey; with nothing to show (too few answers, no actions) the
question simply stays.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from edge_agent.actions import latest_actions
from edge_agent.config import DeviceConfig
from edge_agent.store import StoreError
from edge_agent.survey import Survey
from edge_agent.week_score import week_score
from kiosk.idle_view import Slide, build_slides
from kiosk.services import KioskServices
from kiosk.ui.idle import IDLE, IdleScreen

log = logging.getLogger("touchpoint.kiosk")

SLIDE_S = 8.0
MAX_ACTIONS = 3  # the latest actions shown; more would make the rotation too long to watch


class IdleMode:
    """What the idle screen needs of the root widget, and its rotation."""

    config: DeviceConfig
    sm: Any
    idle: IdleScreen
    services: KioskServices | None
    survey: Survey | None
    _set_timer: Callable[..., None]
    show_question: Callable[..., None]
    _slides: list[Slide]
    _slide_at: int

    def idle_enabled(self) -> bool:
        return self.config.kiosk.idle_screen and self.survey is not None and self.survey.idle_screen

    def arm_idle(self) -> None:
        """The question is at rest: show the idle screen if it stays so for the idle time."""
        if self.idle_enabled():
            assert self.survey is not None
            after = self.config.kiosk.idle_screen_after_s or self.survey.idle_timeout_s
            self._set_timer(after, self.show_idle, rearm=True)

    def read_slides(self) -> list[Slide]:
        """The slides from the store as it is now; none if it cannot be read (the question stays)."""
        if self.services is None or self.survey is None:
            return []
        question = self.survey.question
        try:
            # Our own connection: the store's belongs to the Recorder, which a panel thread may be using.
            with self.services.store.reopen() as reader:
                week = week_score(reader, question.id, question.scale)
                actions = latest_actions(reader, MAX_ACTIONS)
        except (StoreError, sqlite3.Error) as exc:
            log.error("idle screen: cannot read the store: %s", exc)
            return []
        return build_slides(self.survey, week, actions)

    def show_idle(self) -> None:
        slides = self.read_slides()
        if not slides:
            self.arm_idle()  # nothing to show yet: look again after another idle time
            return
        self._slides, self._slide_at = slides, 0
        log.info("idle screen: %d slides (%s)", len(slides), ", ".join(sorted({s.kind for s in slides})))
        self._show_slide()

    def _show_slide(self) -> None:
        self.idle.show(self._slides[self._slide_at])
        self.sm.current = IDLE
        self._set_timer(SLIDE_S, self._next_slide)

    def _next_slide(self) -> None:
        self._slide_at += 1
        if self._slide_at >= len(self._slides):  # a full round: read again (new taps, a new action)
            self._slides, self._slide_at = self.read_slides(), 0
            if not self._slides:
                self.show_question()
                return
        self._show_slide()

    def wake_from_idle(self) -> None:
        """A touch on the idle screen: the question, with that touch spent (not an answer)."""
        log.info("idle screen touched: back to the question")
        self.show_question()
