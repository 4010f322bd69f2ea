"""The kiosk with a GPIO button panel: presses go through the kiosk's own Recorder and show on its screen.

gpiozero's MockFactory stands in for the Raspberry Pi's pins (a pin driven low
is a pressed button); the panel, recorder, store and screen are all real.
"""

from __future__ import annotations

import time

import pytest

from edge_agent.pin import hash_pin
from kiosk.ui import root as kiosk_root
from tests.kiosk.kivy_rig import KioskCase

gpiozero = pytest.importorskip("gpiozero")
from gpiozero.pins.mock import MockFactory  # noqa: E402

BUTTONS = [5, 6, 13, 19]
FEEDBACK = kiosk_root.FEEDBACK_S + 0.01


class PanelWiringTest(KioskCase):
    def setUp(self) -> None:
        super().setUp()
        previous = gpiozero.Device.pin_factory
        self.factory = MockFactory()
        gpiozero.Device.pin_factory = self.factory
        self.addCleanup(setattr, gpiozero.Device, "pin_factory", previous)

    def press(self, pin: int) -> None:
        self.factory.pin(pin).drive_low()
        self.factory.pin(pin).drive_high()
        self.advance_frames(2)  # the panel's callback hops to Kivy's thread with Clock.schedule_once

    def test_panel_press_shares_the_recorder_and_shows_the_follow_up(self) -> None:
        root = self.start(self.make_config(panel={"buttons": BUTTONS}))
        assert root.services.panel is not None
        assert root.services.panel.recorder is root.services.recorder

        self.tap(root.question.buttons[3])  # a counted touch answer
        self.later(FEEDBACK)
        self.later(3.1)
        assert root.sm.current == "question"
        self.press(BUTTONS[1])  # 3.4 s later on the panel: the SAME recorder flags it as misuse

        rows = self.rows()
        assert [(r["value"], r["source"], r["misuse"]) for r in rows] == [(3, "touch", 0), (1, "button", 1)]
        assert root.sm.current == "follow_up"
        self.tap(root.follow_up.chips["price"])
        assert root.sm.current == "thank_you"
        assert [r["reason"] for r in self.rows()] == [None, "price"]

    def test_panel_manager_combination_opens_the_pin_pad(self) -> None:
        root = self.start(self.make_config(panel={"buttons": BUTTONS}, manager_pin_hash=hash_pin("2468")))
        for pin in (BUTTONS[0], BUTTONS[-1]):
            self.factory.pin(pin).drive_low()
        self.clock.advance(5.1)
        deadline = time.monotonic() + 5
        while root.sm.current != "pin" and time.monotonic() < deadline:
            self.advance_frames(1)  # the panel's ticker thread notices the hold on its own schedule
        assert root.sm.current == "pin"
        for pin in (BUTTONS[0], BUTTONS[-1]):
            self.factory.pin(pin).drive_high()
        self.advance_frames(2)
        assert self.rows() == []  # the combination never records an answer
