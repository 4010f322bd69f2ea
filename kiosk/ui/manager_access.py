"""Manager access on the kiosk: the PIN pad behind the hidden gesture, the manager view and Exit.

A mixin of :class:`kiosk.ui.root.KioskRoot`, which owns the screens, the timer and the store;
kept apart so the shopper's flow and the manager's door each read on their own.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from edge_agent.actions import log_action
from edge_agent.alert_inbox import KioskAlert, note_alert, open_alerts
from edge_agent.config import DeviceConfig
from edge_agent.pin import PinGuard
from edge_agent.recorder import Tap
from edge_agent.report import manager_summary
from edge_agent.store import StoreError
from edge_agent.survey import Survey
from kiosk.action_presets import Texts, main_text
from kiosk.services import KioskServices
from kiosk.ui.action_log import LOG_ACTION, ActionLogScreen
from kiosk.ui.alert_inbox import ALERTS, AlertsScreen
from kiosk.ui.flow import MessageScreen
from kiosk.ui.manager import ManagerScreen
from kiosk.ui.pinpad import PinScreen

log = logging.getLogger("touchpoint.kiosk")

PIN, MANAGER, NO_MANAGER = "pin", "manager", "no_manager"
PIN_IDLE_S = 30.0
MANAGER_IDLE_S = 120.0
MANAGER_REFRESH_S = 10.0


class ManagerAccess:
    """What the manager's door needs of the root widget, and the door itself."""

    config: DeviceConfig
    now: Callable[[], float]
    guard: PinGuard
    sm: Any
    pin: PinScreen
    manager: ManagerScreen
    action_log: ActionLogScreen
    alerts_screen: AlertsScreen
    no_manager: MessageScreen
    services: KioskServices | None
    survey: Survey | None
    store_error: str | None
    busy: bool
    current_tap: Tap | None
    exit_requested: bool
    _on_exit: Callable[[], None] | None
    _next_manager_refresh: float
    _set_timer: Callable[..., None]
    show_question: Callable[..., None]

    def open_manager_access(self, via: str) -> None:
        """The hidden gesture (or the panel's button combination) was made: PIN pad, or why not."""
        self.busy = False
        self.current_tap = None
        if self.config.kiosk.manager_pin_hash is None:
            log.warning("manager access requested (%s) but kiosk.manager_pin_hash is not set", via)
            self.no_manager.show(
                "Manager access is disabled",
                "Set kiosk.manager_pin_hash in device.toml to enable it.\n"
                "Make it with: touchpoint-agent pin-hash (the PIN itself is never stored).",
            )
            self.sm.current = NO_MANAGER
            self._set_timer(PIN_IDLE_S, self.show_question)
            return
        log.info("manager PIN pad opened (%s)", via)
        self.pin.reset()
        self.sm.current = PIN
        self._show_lock()
        self._set_timer(PIN_IDLE_S, self.show_question, rearm=True)

    def _show_lock(self) -> None:
        left = self.guard.locked_for(self.now())
        if left > 0:
            self.pin.set_status(f"Too many wrong PINs. Try again in {left:.0f} s.")
        elif self.pin.status.text.startswith("Too many"):
            self.pin.set_status("")

    def submit_pin(self, pin: str) -> None:
        now = self.now()
        if self.guard.locked_for(now) > 0:
            log.warning("manager PIN entered during lock-out; ignored")
            self._show_lock()
            return
        if self.guard.attempt(pin, now):
            log.info("manager PIN accepted: manager view opened")
            self.pin.reset()
            self._render_manager()
            self.sm.current = MANAGER
            self._set_timer(MANAGER_IDLE_S, self.show_question, rearm=True)
            return
        log.warning("wrong manager PIN (%d failed in a row)", self.guard.failures)
        self.pin.set_status("Wrong PIN")
        self._show_lock()

    def _render_manager(self) -> None:
        self._next_manager_refresh = self.now() + MANAGER_REFRESH_S
        if self.services is None:
            self.manager.show_unavailable(f"Store unavailable: {self.store_error}")
            return
        store = self.services.store
        try:
            # Our own connection: the store's belongs to the Recorder, which a panel thread may be using.
            with store.reopen() as reader:
                summary = manager_summary(reader)
        except (StoreError, sqlite3.Error) as exc:
            log.error("cannot read today's figures: %s", exc)
            self.manager.show_unavailable(f"Cannot read the store: {exc}")
            return
        names: dict[str, str] = {}
        qid = None
        if self.survey is not None:
            qid = self.survey.question.id
            if self.survey.question.follow_up is not None:
                names = {r.id: self.survey.text(r.text, "en") for r in self.survey.question.follow_up.reasons}
        self.manager.show(summary, qid, names)
        self.manager.set_open_alerts(len(self._open_alerts()))

    # --- the store's open alerts (kiosk/ui/alert_inbox.py) ---------------------------------

    def _open_alerts(self) -> list[KioskAlert]:
        if self.services is None:
            return []
        try:
            with self.services.store.reopen() as reader:
                return open_alerts(reader.db)
        except (StoreError, sqlite3.Error) as exc:
            log.error("cannot read the store's alerts: %s", exc)
            return []

    def open_alerts_view(self, message: str = "") -> None:
        """ "Alerts" on the manager view: the open alerts HQ pushed, with this kiosk's own notes overlaid."""
        self.alerts_screen.show(self._open_alerts(), message)
        self.sm.current = ALERTS
        self._set_timer(MANAGER_IDLE_S, self.show_question, rearm=True)

    def note_manager_alert(self, alert_id: int, text: str | None) -> None:
        """Acknowledge (``text`` None) or comment on an alert: stored here first, sent to HQ exactly once."""
        if self.services is None:
            self.open_alerts_view(f"Not saved: the store is unavailable ({self.store_error}).")
            return
        kind = "ack" if text is None else "comment"
        try:
            with self.services.store.reopen() as writer:
                if text is None:
                    note_alert(writer, alert_id, "ack", author=f"manager@{self.config.device_id}")
                else:
                    note_alert(writer, alert_id, "comment", author=f"manager@{self.config.device_id}", text=text)
        except (StoreError, sqlite3.Error, ValueError) as exc:
            log.error("alert %d %s NOT stored: %s", alert_id, kind, exc)
            self.open_alerts_view(f"Not saved: {exc}")
            return
        log.info("alert %d %s stored on the device: %s", alert_id, kind, text or "")
        self.open_alerts_view("Acknowledged; HQ sees it when the kiosk is online." if text is None else
                              "Comment saved; HQ sees it when the kiosk is online.")  # fmt: skip

    def open_action_log(self) -> None:
        """ "Log an action" on the manager view: reason, then text (kiosk/ui/action_log.py)."""
        if self.survey is None:
            return
        self.action_log.start(self.survey)
        self.sm.current = LOG_ACTION
        self._set_timer(MANAGER_IDLE_S, self.show_question, rearm=True)

    def log_manager_action(self, reason: str | None, texts: Texts) -> None:
        """Store the chosen action on the device, starting today; the agent takes it to HQ (exactly once)."""
        assert self.survey is not None
        text = main_text(texts, self.survey.languages)
        if self.services is None:
            self.action_log.show_done(f"Not logged: the store is unavailable ({self.store_error}).")
            return
        try:
            with self.services.store.reopen() as writer:  # the Recorder's connection may be busy on a panel thread
                action = log_action(
                    writer, text, location_id=self.config.location_id, reason=reason, texts=texts,
                    logged_by=f"manager@{self.config.device_id}",
                )  # fmt: skip
        except (StoreError, sqlite3.Error, ValueError) as exc:
            log.error("action NOT logged: %s", exc)
            self.action_log.show_done(f"Not logged: {exc}")
            return
        log.info("action logged: id %s reason %s started %s: %s", action.id, reason, action.started_on, text)
        self.action_log.show_done(
            f"Logged, starting today: \u201c{text}\u201d\n"
            "Shoppers see it on the idle screen; it reaches HQ when the kiosk is online."
        )

    def close_action_log(self) -> None:
        self._render_manager()
        self.sm.current = MANAGER
        self._set_timer(MANAGER_IDLE_S, self.show_question, rearm=True)

    def exit_kiosk(self) -> None:
        log.warning("manager chose Exit kiosk")
        self.exit_requested = True
        if self._on_exit is not None:
            self._on_exit()
