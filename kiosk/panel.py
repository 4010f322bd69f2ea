"""The physical smiley button panel: gpiozero buttons and LEDs in front of the Recorder (no Kivy here).

Behaviour, and why:

* Button ``i`` (BCM pin ``buttons[i]``, pulled up, pressed = to ground) records
  value ``i`` with source "button"; 0 is the most negative face. Each is a
  gpiozero ``DigitalInputDevice(pull_up=True)``: a ``Button`` minus the hold
  thread per button that we would not use (our hold timing runs on our clock)
  and that makes closing take 0.1 s per button.
* Debounce is our own :class:`~kiosk.debounce.Debouncer` (gpiozero's
  ``bounce_time`` does nothing on mock pins and varies between pin libraries,
  so it is left off and our tested code is the only filter).
* A button's LED lights for ``led_on_ms`` only after the Recorder returned,
  i.e. the tap is durable. If it was not stored, the button LED stays dark (never
  thank a shopper for a lost answer) and the status LED blinks fast until a
  later press is stored again. The status LED is steady on while running.
* The manager gesture is the ``manager_combo`` buttons held together for
  ``manager_hold_s``. So that it never records answers, buttons outside the
  combination record on the press (instant feedback), while buttons in it
  record on their release (once the contact has settled), and only if no
  other combination button went down meanwhile. Pressing two combination
  buttons together therefore records nothing, even when held only briefly.
* The gesture calls ``on_manager`` (the touchscreen app opens its manager
  view); with no callback, a screenless panel shows today's Happy Index band
  on the LEDs: green blinks the top (most positive) button 3 times, amber the
  middle one(s), red the bottom one, and no answers yet blinks all LEDs once.
  Without button LEDs the status LED blinks 3/2/1 times (green/amber/red) or
  once long (none).

Callbacks run in gpiozero's callback thread or the panel's ticker thread;
a GUI must hop to its own thread. Exceptions they raise are logged, never
propagated into gpiozero.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from gpiozero import LED, DigitalInputDevice

from edge_agent.config import ConfigError, PanelConfig
from edge_agent.recorder import Recorder, Tap
from edge_agent.report import manager_summary
from edge_agent.scores import band as score_band
from edge_agent.store import StoreError
from kiosk.debounce import Debouncer

log = logging.getLogger("touchpoint.panel")

TICK_S = 0.02  # how often the ticker checks releases and the manager hold
ERROR_BLINK_S = 0.1  # status LED fast blink: a press was not stored
BAND_BLINKS = {"green": 3, "amber": 3, "red": 3, "none": 1}
STATUS_BAND_BLINKS = {"green": 3, "amber": 2, "red": 1, "none": 1}


def combo_buttons(config: PanelConfig) -> frozenset[int]:
    """The manager combination as button indexes 0..n-1 (the config allows -1 for the last button)."""
    try:
        return config.combo_indexes()
    except ValueError as exc:
        raise ConfigError(f"panel.{exc}") from None


def band_leds(band: str, n: int) -> list[int]:
    """Which button LEDs show a band: top for green, middle for amber, bottom for red, all for none."""
    return {"green": [n - 1], "amber": sorted({(n - 1) // 2, n // 2}), "red": [0]}.get(band, list(range(n)))


class SmileyPanel:
    """4 or 5 smiley buttons with optional LEDs, feeding one Recorder."""

    def __init__(
        self,
        config: PanelConfig,
        recorder: Recorder,
        on_tap: Callable[[Tap], None] | None = None,
        on_manager: Callable[[], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        pin_factory: Any = None,
        tick_s: float | None = TICK_S,
    ) -> None:
        """``tick_s=None`` starts no ticker thread: the caller drives :meth:`poll` (tests with a fake clock)."""
        if not config.buttons:
            raise ConfigError("panel.buttons: is empty; a panel needs 4 or 5 GPIO pins")
        self.config = config
        self.recorder = recorder
        self.on_tap, self.on_manager, self.on_error = on_tap, on_manager, on_error
        self._clock = clock
        self._n = len(config.buttons)
        self._combo = combo_buttons(config)
        self._led_on_s = config.led_on_ms / 1000
        self._debouncer = Debouncer(config.debounce_ms / 1000, clock)
        self._lock = threading.Lock()  # button state
        self._status_lock = threading.Lock()  # status LED mode
        self._down = [False] * self._n
        self._pending: set[int] = set()  # combination buttons pressed, waiting for their release
        self._combo_since: float | None = None
        self._combo_fired = False
        self._status_error = False
        self._closed = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._buttons: list[Any] = []
        self._leds: list[Any] = []
        self._status: Any = None
        try:
            for pin in config.buttons:
                self._buttons.append(DigitalInputDevice(pin, pull_up=True, bounce_time=None, pin_factory=pin_factory))
            for pin in config.leds or []:
                self._leds.append(LED(pin, pin_factory=pin_factory))
            if config.status_led is not None:
                self._status = LED(config.status_led, pin_factory=pin_factory)
        except BaseException:
            self._close_devices()
            raise
        for i, button in enumerate(self._buttons):
            button.when_activated = partial(self._on_edge, i, True)
            button.when_deactivated = partial(self._on_edge, i, False)
        if self._status is not None:
            self._status.on()
        if tick_s is not None:
            self._ticker = threading.Thread(target=self._tick, args=(tick_s,), name="panel-ticker", daemon=True)
            self._ticker.start()
        log.info(
            "panel ready: buttons on GPIO %s, LEDs %s, status LED %s, manager combination %s held %.0f s",
            config.buttons,
            config.leds or "none",
            config.status_led if config.status_led is not None else "none",
            sorted(self._combo) or "off",
            config.manager_hold_s,
        )

    # --- input ---------------------------------------------------------------

    def _on_edge(self, index: int, pressed: bool) -> None:
        """gpiozero callback for every raw edge, bounces included."""
        record = False
        with self._lock:
            if self._closed:
                return
            self._down[index] = pressed
            accepted = self._debouncer.edge(index, pressed)
            if index in self._combo:
                self._update_combo()
                if pressed and sum(self._down[j] for j in self._combo) >= 2:
                    # Combination buttons down together: a manager gesture, never an answer.
                    self._pending -= self._combo
                elif accepted:
                    # Still pending means released and settled but not yet polled: that press counts too.
                    record = index in self._pending
                    self._pending.add(index)
            elif accepted:
                record = True
        if pressed and not accepted:
            log.debug("button %d: press edge ignored (contact bounce)", index)
        if record:
            self._record(index)

    def _update_combo(self) -> None:
        if all(self._down[j] for j in self._combo):
            if self._combo_since is None:
                self._combo_since = self._clock()
        else:
            self._combo_since = None
            self._combo_fired = False

    def poll(self) -> None:
        """Record settled releases of combination buttons and fire a completed manager hold."""
        taps: list[int] = []
        fire = False
        with self._lock:
            if self._closed:
                return
            for i in sorted(self._pending):
                if not self._down[i] and self._debouncer.settled(i):
                    self._pending.discard(i)
                    taps.append(i)
            since = self._combo_since
            if since is not None and not self._combo_fired and self._clock() - since >= self.config.manager_hold_s:
                self._combo_fired = True
                self._pending -= self._combo
                fire = True
        for i in taps:
            self._record(i)
        if fire:
            self._manager()

    def _tick(self, tick_s: float) -> None:
        while not self._stop.wait(tick_s):
            try:
                self.poll()
            except Exception:
                log.exception("panel ticker failed; continuing")

    # --- recording -------------------------------------------------------------

    def _record(self, index: int) -> None:
        try:
            question = self.recorder.survey().question
            if question.scale != self._n:
                raise ValueError(
                    f"the survey question {question.id!r} has a {question.scale}-point scale "
                    f"but this panel has {self._n} buttons"
                )
            tap = self.recorder.tap(index, "button")
        except (StoreError, ValueError) as exc:
            log.error("button %d pressed but NOT recorded: %s", index, exc)
            self._failed(exc)
            return
        except Exception as exc:
            log.exception("button %d pressed but NOT recorded", index)
            self._failed(exc)
            return
        log.info(
            "button %d: recorded value %d, id %s, seq %d%s",
            index,
            tap.event.value,
            tap.event.id,
            tap.event.seq,
            ", misuse (within the response interval)" if tap.misuse else "",
        )
        self._set_status_error(False)
        if self._leds:
            try:
                self._leds[index].blink(on_time=self._led_on_s, off_time=0, n=1, background=True)
            except Exception:  # closed meanwhile: the tap is stored, only the light is lost
                log.debug("button %d LED failed", index, exc_info=True)
        self._call(self.on_tap, tap)

    def _failed(self, exc: Exception) -> None:
        self._set_status_error(True)
        self._call(self.on_error, exc)

    def _set_status_error(self, error: bool) -> None:
        with self._status_lock:
            if error == self._status_error or self._closed:
                return
            self._status_error = error
            if self._status is None:
                return
            if error:
                self._status.blink(on_time=ERROR_BLINK_S, off_time=ERROR_BLINK_S, background=True)
            else:
                self._status.on()

    # --- manager -----------------------------------------------------------------

    def _manager(self) -> None:
        log.info("manager combination held for %.0f s", self.config.manager_hold_s)
        if self.on_manager is not None:
            self._call(self.on_manager)
            return
        try:
            self.show_band()
        except (StoreError, sqlite3.Error) as exc:
            log.error("cannot read today's score for the manager: %s", exc)
            self._failed(exc)

    def today_band(self) -> str:
        """Today's Happy Index band for the current question (else the first one answered today)."""
        store = self.recorder.store
        # Our own connection: the store's belongs to the Recorder, which may be writing right now.
        with store.reopen() as reader:
            questions = manager_summary(reader)["questions"]
        current = self.recorder.survey().question
        mine = [q for q in questions if q["question_id"] == current.id and q["scale"] == current.scale]
        chosen = mine[0] if mine else (questions[0] if questions else None)
        return score_band(None if chosen is None else chosen["happy_index"])

    def show_band(self) -> str:
        """Blink today's band on the LEDs (the manager view of a panel without a screen); returns it."""
        band = self.today_band()
        log.info("today's Happy Index band: %s", band)
        on = self._led_on_s
        if self._leds:
            for i in band_leds(band, self._n):
                self._leds[i].blink(on_time=on, off_time=on, n=BAND_BLINKS[band], background=True)
        elif self._status is not None:
            long = band == "none"
            self._status_pattern(on * (3 if long else 1), on, STATUS_BAND_BLINKS[band])
        return band

    def _status_pattern(self, on_s: float, off_s: float, n: int) -> None:
        """Blink the status LED ``n`` times, then back to steady on; an error signal takes over at once."""
        status = self._status

        def step(state: bool) -> bool:
            with self._status_lock:
                if self._status_error or self._closed:
                    return False
                if state:
                    status.on()
                else:
                    status.off()
                return True

        def run() -> None:
            if not step(False) or self._stop.wait(off_s):
                return
            for _ in range(n):
                if not step(True) or self._stop.wait(on_s) or not step(False) or self._stop.wait(off_s):
                    return
            step(True)

        threading.Thread(target=run, name="panel-status", daemon=True).start()

    # --- plumbing ----------------------------------------------------------------

    def _call(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            log.exception("panel callback %r failed", callback)

    def close(self) -> None:
        """Stop the ticker, switch the LEDs off and release the GPIO pins."""
        with self._lock, self._status_lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(timeout=2)
        self._close_devices()
        log.info("panel closed")

    def _close_devices(self) -> None:
        outputs = [*self._leds, *([self._status] if self._status is not None else [])]
        for device, is_output in [*((d, True) for d in outputs), *((d, False) for d in self._buttons)]:
            try:
                if is_output:
                    device.off()
                device.close()
            except Exception:
                log.debug("closing %r failed", device, exc_info=True)

    def __enter__(self) -> SmileyPanel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
