"""The kiosk's root widget: screens, the answer flow, timers, manager access and store recovery.

Flow: question -> (answer stored) -> follow-up or thank-you -> question. A tap
is written by the Recorder *before* any feedback; if the store refuses it the
shopper sees the error state, never a thank-you.

All timing (feedback, idle reset, thank-you, PIN lock-out, survey polling,
store retries, the manager gesture) runs off one injectable monotonic clock
checked by a Kivy Clock tick, so tests can move time deterministically.

Manager gesture: hold one finger still in the top-left corner (a square of at
least 15 mm) for :data:`HOLD_S` seconds on the question, follow-up, thank-you or
error screen. It opens the PIN pad; with no ``kiosk.manager_pin_hash`` it says
manager access is disabled.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from edge_agent.config import DeviceConfig
from edge_agent.pin import PinGuard
from edge_agent.recorder import Tap
from edge_agent.store import StoreError
from edge_agent.survey import Survey
from kiosk.idle_view import Slide
from kiosk.services import KioskServices, PanelHooks, open_services
from kiosk.ui import theme
from kiosk.ui.action_log import ActionLogScreen
from kiosk.ui.alert_inbox import AlertsScreen
from kiosk.ui.flow import FollowUpScreen, MessageScreen, ThankYouScreen
from kiosk.ui.gesture import CornerHold
from kiosk.ui.idle import IDLE, IdleScreen
from kiosk.ui.idle_mode import IdleMode
from kiosk.ui.manager import ManagerScreen
from kiosk.ui.manager_access import MANAGER, NO_MANAGER, PIN, ManagerAccess
from kiosk.ui.pinpad import PinScreen
from kiosk.ui.question import QuestionScreen

log = logging.getLogger("touchpoint.kiosk")

QUESTION, FOLLOW_UP, THANK_YOU, ERROR = "question", "follow_up", "thank_you", "error"
SHOPPER_SCREENS = (QUESTION, FOLLOW_UP, THANK_YOU, ERROR, IDLE)
HOLD_S = 3.0  # manager gesture: seconds held in the corner
FEEDBACK_S = 0.25  # the chosen face stays enlarged this long before the next screen
ERROR_SHOW_S = 8.0  # a failed save is explained this long, then the question comes back for a retry


@dataclass
class _Timer:
    deadline: float
    action: Callable[[], None]
    rearm_s: float | None  # a touch anywhere restarts it (someone is still there)


class KioskRoot(ManagerAccess, IdleMode, FloatLayout):  # type: ignore[misc]
    """Everything on the screen; :meth:`shutdown` stops its clock and closes the store."""

    def __init__(
        self,
        config: DeviceConfig,
        *,
        now: Callable[[], float] = time.monotonic,
        tick_s: float = 0,
        survey_poll_s: float = 2.0,
        store_retry_s: float = 5.0,
        feedback_s: float = FEEDBACK_S,
        on_exit: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.now = now
        self.survey_poll_s = survey_poll_s
        self.store_retry_s = store_retry_s
        self.feedback_s = feedback_s
        self._on_exit = on_exit
        self.exit_requested = False
        self.guard = PinGuard(config.kiosk.manager_pin_hash)
        self.services: KioskServices | None = None
        self.survey: Survey | None = None
        self.lang = "en"
        self.current_tap: Tap | None = None
        self.busy = False  # an answer is stored and its feedback is showing: ignore further taps
        self.store_error: str | None = None
        self._timer: _Timer | None = None
        self._next_retry = 0.0
        self._next_poll = 0.0
        self._next_manager_refresh = 0.0
        self._slides: list[Slide] = []
        self._slide_at = 0

        with self.canvas.before:
            Color(*theme.BACKGROUND)
            self._background = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._on_resize, size=self._on_resize)

        self.sm = ScreenManager(transition=NoTransition())
        self.question = QuestionScreen(on_answer=self.answer, on_language=self.choose_language)
        self.follow_up = FollowUpScreen(on_reason=self.give_reason)
        self.thank_you = ThankYouScreen()
        self.pin = PinScreen(on_submit=self.submit_pin, on_cancel=self.show_question)
        self.manager = ManagerScreen(
            on_back=self.show_question,
            on_exit=self.exit_kiosk,
            on_log_action=self.open_action_log,
            on_alerts=self.open_alerts_view,
        )
        self.alerts_screen = AlertsScreen(
            on_ack=lambda aid: self.note_manager_alert(aid, None),
            on_comment=self.note_manager_alert,
            on_back=self.close_action_log,
        )
        self.action_log = ActionLogScreen(on_log=self.log_manager_action, on_done=self.close_action_log)
        self.idle = IdleScreen()
        self.error = MessageScreen(ERROR)
        self.no_manager = MessageScreen(NO_MANAGER, on_back=self.show_question)
        for screen in (self.question, self.follow_up, self.thank_you, self.pin, self.manager, self.error):
            self.sm.add_widget(screen)
        for screen in (self.no_manager, self.action_log, self.alerts_screen, self.idle):
            self.sm.add_widget(screen)
        self.add_widget(self.sm)
        self.corner = CornerHold(now, enabled=lambda: self.sm.current in SHOPPER_SCREENS)
        self.add_widget(self.corner)

        self._open_store()
        self._ticker = Clock.schedule_interval(self.tick, tick_s)

    # --- lifecycle ---------------------------------------------------------

    def shutdown(self) -> None:
        """Stop ticking and close the store and panel (App.on_stop, test teardown)."""
        self._ticker.cancel()
        if self.services is not None:
            self.services.close()
            self.services = None

    def _on_resize(self, *_: Any) -> None:
        self._background.pos = self.pos
        self._background.size = self.size
        side = max(theme.min_target(), 0.12 * min(self.width, self.height))
        self.corner.size = (side, side)

    def _open_store(self) -> None:
        hooks = PanelHooks(
            on_tap=lambda tap: Clock.schedule_once(partial(self._panel_tap, tap)),
            on_manager=lambda: Clock.schedule_once(lambda _dt: self.open_manager_access("button panel")),
            on_error=lambda exc: Clock.schedule_once(partial(self._panel_error, exc)),
        )
        try:
            services = open_services(self.config, self.now, hooks)
        except StoreError as exc:
            self._next_retry = self.now() + self.store_retry_s
            message = str(exc)
            if message != self.store_error:
                log.error("device store unavailable, retrying every %.0f s: %s", self.store_retry_s, message)
            self.store_error = message
            if self.sm.current in SHOPPER_SCREENS:
                self._show_store_down()
            return
        if self.store_error is not None:
            log.info("device store available again: %s", self.config.store.path)
        self.store_error = None
        self.services = services
        self.survey = services.surveys.current()
        self.lang = self.default_language()
        log.info(
            "kiosk ready: store %s (backlog %d), survey %s",
            self.config.store.path,
            services.store.backlog(),
            services.surveys.describe(),
        )
        self.show_question()

    def _show_store_down(self) -> None:
        self._timer = None
        self.busy = False
        self.error.show(
            theme.kiosk_text("not_ready", self.lang),
            f"{self.store_error}\nRetrying every {self.store_retry_s:.0f} s.",
        )
        self.sm.current = ERROR

    # --- the clock ---------------------------------------------------------

    def tick(self, _dt: float = 0.0) -> None:
        """Fire whatever is due on the injected clock; Kivy calls this every ``tick_s`` (0: every frame).

        A handful of comparisons per frame: cheap, and no timer fires a frame late.
        """
        now = self.now()
        if self.corner.since is not None and now - self.corner.since >= HOLD_S:
            self.corner.since = None
            self.open_manager_access("corner hold")
        timer = self._timer
        if timer is not None and now >= timer.deadline:
            self._timer = None
            timer.action()
        if self.services is None:
            if now >= self._next_retry:
                self._open_store()
        elif now >= self._next_poll:
            self._next_poll = now + self.survey_poll_s
            self._poll_survey()
        if self.sm.current == PIN:
            self._show_lock()
        if self.sm.current == MANAGER and now >= self._next_manager_refresh:
            self._render_manager()

    def _set_timer(self, seconds: float, action: Callable[[], None], rearm: bool = False) -> None:
        self._timer = _Timer(self.now() + seconds, action, seconds if rearm else None)

    def on_touch_down(self, touch: Any) -> bool:
        timer = self._timer
        if timer is not None and timer.rearm_s is not None:
            timer.deadline = self.now() + timer.rearm_s
        if self.sm.current == IDLE:  # the first touch anywhere wakes the kiosk; no button ever sees it
            self.wake_from_idle()
            return True
        return bool(super().on_touch_down(touch))

    def _poll_survey(self) -> None:
        assert self.services is not None
        try:
            changed = self.services.surveys.refresh()
        except Exception:
            log.exception("survey refresh failed; keeping the current survey")
            return
        if not changed:
            return
        self.survey = self.services.surveys.current()
        log.info("survey reloaded: %s", self.services.surveys.describe())
        if self.lang not in self.survey.languages:
            self.lang = self.default_language()
        if self.sm.current == QUESTION and not self.busy:
            self.question.show(self.survey, self.lang)

    # --- the shopper's flow ------------------------------------------------

    def default_language(self) -> str:
        assert self.survey is not None
        wanted = self.config.kiosk.default_language
        return wanted if wanted in self.survey.languages else self.survey.languages[0]

    def show_question(self, reset_language: bool = True) -> None:
        """The resting state: the question in the default language, nothing pending."""
        self._timer = None
        self.busy = False
        self.current_tap = None
        if self.services is None or self.survey is None:
            self._show_store_down()
            return
        if reset_language:
            self.lang = self.default_language()
        self.question.show(self.survey, self.lang)
        self.sm.current = QUESTION
        self.arm_idle()

    def choose_language(self, code: str) -> None:
        if self.survey is None or self.busy or self.sm.current != QUESTION:
            return
        self.lang = code
        log.info("language switched to %s", code)
        self.question.show(self.survey, code)
        if code != self.default_language():
            self._set_timer(self.survey.idle_timeout_s, self.show_question, rearm=True)
        else:
            self.arm_idle()

    def answer(self, value: int) -> None:
        """A face was tapped: store it first; feedback and the next screen only once it is durable."""
        if self.busy or self.services is None or self.sm.current != QUESTION:
            return
        try:
            tap = self.services.recorder.tap(value, "touch")
        except StoreError as exc:
            log.error("touch tap value %d NOT stored: %s", value, exc)
            self.show_save_failed(str(exc))
            return
        except Exception as exc:
            log.exception("touch tap value %d NOT stored", value)
            self.show_save_failed(str(exc))
            return
        self._log_tap(tap)
        self.busy = True
        self.question.mark_chosen(value)
        self._set_timer(self.feedback_s, partial(self.after_tap, tap))

    def _log_tap(self, tap: Tap) -> None:
        e = tap.event
        log.info(
            "tap stored: id %s seq %d value %d/%d source %s misuse %s follow-up %s",
            e.id, e.seq, e.value, e.scale, e.source, tap.misuse, tap.follow_up,
        )  # fmt: skip

    def after_tap(self, tap: Tap) -> None:
        """The stored tap's next screen: follow-up reasons if the survey asks for them, else thank-you."""
        assert self.survey is not None
        self.busy = False
        if tap.follow_up and self.survey.question.follow_up is not None:
            self.current_tap = tap
            self.follow_up.show(self.survey, self.lang)
            self.sm.current = FOLLOW_UP
            self._set_timer(self.survey.idle_timeout_s, self._follow_up_timed_out, rearm=True)
        else:
            self.show_thank_you(tap)

    def _follow_up_timed_out(self) -> None:
        tap = self.current_tap
        tap_id = tap.event.id if tap else None
        log.info("follow-up unanswered for tap %s: back to the question (it syncs without a reason)", tap_id)
        self.show_question()

    def give_reason(self, reason_id: str | None) -> None:
        """A reason chip (or Skip, ``None``) for the tap on the follow-up screen."""
        tap = self.current_tap
        if tap is None or self.services is None or self.sm.current != FOLLOW_UP:
            return
        self.current_tap = None
        try:
            attached = self.services.recorder.answer_follow_up(tap, reason_id)
        except (StoreError, sqlite3.Error) as exc:
            # The answer itself is stored; only its reason is lost.
            log.error("follow-up reason %s for tap %s NOT stored: %s", reason_id, tap.event.id, exc)
        else:
            if attached:
                log.info("follow-up answered: tap %s reason %s", tap.event.id, reason_id or "skipped")
            else:
                log.warning("follow-up for tap %s came after it synced; reason %s dropped", tap.event.id, reason_id)
        self.show_thank_you(tap)

    def show_thank_you(self, tap: Tap) -> None:
        assert self.survey is not None
        self.thank_you.show(self.survey, self.lang)
        self.sm.current = THANK_YOU
        self._set_timer(self.survey.thank_you_s, self.show_question)

    def show_save_failed(self, detail: str) -> None:
        """The error state for a tap that is not stored: no thank-you, ask the shopper to tell staff."""
        self.busy = False
        self.current_tap = None
        self.question.reset()
        self.error.show(theme.kiosk_text("save_failed", self.lang), detail)
        self.sm.current = ERROR
        self._set_timer(ERROR_SHOW_S, self.show_question)

    # --- the button panel (callbacks hop here from gpiozero threads) --------

    def _panel_tap(self, tap: Tap, _dt: float = 0.0) -> None:
        if self.sm.current not in SHOPPER_SCREENS or self.survey is None:
            return  # the manager is busy on the screen; the panel's LED already thanked the shopper
        self.busy = False
        self.question.reset()
        self.after_tap(tap)

    def _panel_error(self, exc: Exception, _dt: float = 0.0) -> None:
        if self.sm.current in SHOPPER_SCREENS:
            self.show_save_failed(str(exc))
