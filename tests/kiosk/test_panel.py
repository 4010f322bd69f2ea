"""kiosk.panel.SmileyPanel with gpiozero's MockFactory pins and a real SQLite store.

Button pins are driven like a contact to ground (``drive_low`` = pressed); the
store file is read back through a separate connection, as the sync agent would.
Time for debounce and the manager hold comes from an injected clock; LED
blinks run in gpiozero's threads in real time, so those checks wait for them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPin
from msgspec.structs import replace

from edge_agent.config import PanelConfig
from edge_agent.recorder import Recorder, Tap
from edge_agent.store import DeviceStore, StoreError
from edge_agent.survey import Survey, default_survey
from kiosk.panel import SmileyPanel, band_leds

BUTTONS = [5, 6, 13, 19]
LEDS = [20, 21, 22, 23]
STATUS = 24
TOP, BOTTOM = 3, 0  # button indexes; the default manager combination is [0, -1] = {0, 3}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def eventually(check: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def states(pin: MockPin) -> list[bool]:
    return [bool(s.state) for s in pin.states]


def blinked(times: int) -> list[bool]:
    return [False] + [True, False] * times


def survey(interval: float = 0.0) -> Survey:
    """A 4-point survey; interval 0 unless a test is about misuse."""
    return replace(default_survey(), response_interval_s=interval)


pytestmark = pytest.mark.usefixtures("panel_clock_ok")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "device.sqlite"


@pytest.fixture
def store(db_path: Path) -> Iterator[DeviceStore]:
    with DeviceStore(db_path, "Europe/Helsinki") as s:
        yield s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def panel_config(**overrides: Any) -> PanelConfig:
    values: dict[str, Any] = {
        "buttons": BUTTONS,
        "leds": LEDS,
        "status_led": STATUS,
        "debounce_ms": 50,
        "led_on_ms": 50,
        "manager_hold_s": 2.0,
    }
    values.update(overrides)
    return PanelConfig(**values)


class Rig:
    """A panel on mock pins, with everything its callbacks reported."""

    def __init__(self, factory: MockFactory, store: DeviceStore, clock: FakeClock, **kw: Any) -> None:
        self.factory, self.clock, self.db_path = factory, clock, store.path
        self.taps: list[Tap] = []
        self.errors: list[Exception] = []
        self.manager_calls = 0
        on_manager = kw.pop("on_manager", self._on_manager)
        interval = kw.pop("interval", 0.0)
        self.recorder = Recorder(store, kw.pop("survey", lambda: survey(interval)), clock=clock)
        self.panel = SmileyPanel(
            kw.pop("config", panel_config()),
            self.recorder,
            on_tap=self.taps.append,
            on_manager=on_manager,
            on_error=self.errors.append,
            clock=clock,
            tick_s=kw.pop("tick_s", None),
        )

    def _on_manager(self) -> None:
        self.manager_calls += 1

    def button(self, index: int) -> MockPin:
        return self.factory.pin(BUTTONS[index])

    def led(self, index: int) -> MockPin:
        return self.factory.pin(LEDS[index])

    @property
    def status(self) -> MockPin:
        return self.factory.pin(STATUS)

    def press(self, index: int, hold: float = 0.12) -> None:
        """A clean press and release, then long enough for the release to settle."""
        self.button(index).drive_low()
        self.clock.advance(hold)
        self.button(index).drive_high()
        self.clock.advance(0.06)
        self.panel.poll()

    def bounce(self, index: int, toggles: int = 5, gap: float = 0.002) -> None:
        """``toggles`` press/release pairs within ``toggles * 2 * gap`` seconds, ending released."""
        for _ in range(toggles):
            self.button(index).drive_low()
            self.clock.advance(gap)
            self.button(index).drive_high()
            self.clock.advance(gap)

    def rows(self) -> list[tuple[int, str, int]]:
        return rows(self.db_path)


def rows(db_path: Path) -> list[tuple[int, str, int]]:
    """The stored taps, read through a separate connection as the sync agent would."""
    conn = sqlite3.connect(str(db_path))
    try:
        return conn.execute("SELECT value, source, misuse FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


@pytest.fixture
def rig(factory: MockFactory, store: DeviceStore, clock: FakeClock) -> Iterator[Rig]:
    r = Rig(factory, store, clock)
    yield r
    r.panel.close()


# --- recording ---------------------------------------------------------------------


def test_presses_become_button_events_in_the_store(rig: Rig, db_path: Path) -> None:
    for index in (1, 2, TOP, BOTTOM):
        rig.press(index)
        rig.clock.advance(0.5)
    assert rig.rows() == [(1, "button", 0), (2, "button", 0), (3, "button", 0), (0, "button", 0)]
    conn = sqlite3.connect(str(db_path))
    try:
        assert {r[0] for r in conn.execute("SELECT question_id FROM events")} == {"default"}
    finally:
        conn.close()
    assert [t.event.value for t in rig.taps] == [1, 2, 3, 0]
    assert rig.errors == []


def test_a_button_outside_the_combination_records_on_the_press(rig: Rig) -> None:
    rig.button(1).drive_low()
    assert rig.rows() == [(1, "button", 0)]  # before the release: instant feedback
    rig.button(1).drive_high()


def test_a_combination_button_records_once_its_release_has_settled(rig: Rig) -> None:
    rig.button(TOP).drive_low()
    rig.clock.advance(0.12)
    rig.panel.poll()
    assert rig.rows() == []  # held: it may be the start of the manager gesture
    rig.button(TOP).drive_high()
    rig.clock.advance(0.03)
    rig.panel.poll()
    assert rig.rows() == []  # released but not settled: could be a bounce
    rig.clock.advance(0.03)
    rig.panel.poll()
    assert rig.rows() == [(3, "button", 0)]


@pytest.mark.parametrize("index", [1, BOTTOM], ids=["plain-button", "combination-button"])
def test_a_bounce_burst_is_one_event_and_a_later_press_another(rig: Rig, index: int) -> None:
    rig.bounce(index, toggles=5, gap=0.002)  # 10 edges in 20 ms
    rig.clock.advance(0.06)
    rig.panel.poll()
    assert rig.rows() == [(index, "button", 0)]
    rig.clock.advance(0.3)
    rig.press(index)
    assert rig.rows() == [(index, "button", 0), (index, "button", 0)]


def test_the_release_bounce_of_a_long_press_adds_nothing(rig: Rig) -> None:
    rig.button(2).drive_low()
    rig.clock.advance(0.8)
    for _ in range(3):
        rig.button(2).drive_high()
        rig.clock.advance(0.001)
        rig.button(2).drive_low()
        rig.clock.advance(0.001)
    rig.button(2).drive_high()
    rig.clock.advance(0.1)
    rig.panel.poll()
    assert rig.rows() == [(2, "button", 0)]


# --- LEDs ----------------------------------------------------------------------------


def test_the_button_led_lights_only_once_the_tap_is_in_the_file(
    store: DeviceStore, clock: FakeClock, db_path: Path
) -> None:
    """A pin class that counts the stored rows at the instant an LED turns on."""
    seen: list[tuple[str, int]] = []

    class ProbePin(MockPin):  # type: ignore[misc]
        def _change_state(self, value: bool) -> bool:
            changed = bool(super()._change_state(value))
            if changed and value and self._function == "output":
                conn = sqlite3.connect(str(db_path))
                try:
                    seen.append((self.info.name, conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]))
                finally:
                    conn.close()
            return changed

    previous = Device.pin_factory
    factory = MockFactory(pin_class=ProbePin)
    Device.pin_factory = factory
    rig = Rig(factory, store, clock)
    try:
        rig.press(1)
        eventually(lambda: states(rig.led(1)) == blinked(1), what="LED 1 on then off")
        rig.clock.advance(1)
        rig.press(2)
        eventually(lambda: states(rig.led(2)) == blinked(1), what="LED 2 on then off")
        # Status LED on at start with no rows; each button LED only after its row was committed.
        assert seen == [("GPIO24", 0), ("GPIO21", 1), ("GPIO22", 2)]
        on_for = rig.led(1).states[2].timestamp
        assert 0.045 <= on_for < 0.5  # led_on_ms = 50
        assert states(rig.led(0)) == [False] and states(rig.led(3)) == [False]
    finally:
        rig.panel.close()
        factory.reset()
        Device.pin_factory = previous


def test_the_status_led_is_steady_on_while_running_and_off_when_closed(rig: Rig) -> None:
    assert states(rig.status) == [False, True]
    rig.press(1)
    time.sleep(0.1)
    assert states(rig.status) == [False, True]
    rig.panel.close()
    assert states(rig.status) == [False, True, False]


def test_misuse_is_stored_flagged_and_looks_the_same_to_the_shopper(
    factory: MockFactory, store: DeviceStore, clock: FakeClock
) -> None:
    rig = Rig(factory, store, clock, interval=5.0)
    try:
        rig.press(2)
        eventually(lambda: states(rig.led(2)) == blinked(1), what="first blink")
        rig.clock.advance(1.0)  # within the 5 s response interval
        rig.press(2)
        eventually(lambda: states(rig.led(2)) == blinked(2), what="second blink")
        assert rig.rows() == [(2, "button", 0), (2, "button", 1)]
        assert [t.misuse for t in rig.taps] == [False, True]
        first_on, second_on = rig.led(2).states[2].timestamp, rig.led(2).states[4].timestamp
        assert abs(first_on - second_on) < 0.1
        assert rig.errors == []
    finally:
        rig.panel.close()


def test_a_tap_the_store_refuses_gets_no_thanks_and_a_status_error(rig: Rig, store: DeviceStore, db_path: Path) -> None:
    """Another connection holds the write lock past our busy timeout: a real 'database is locked'."""
    store.db.execute("PRAGMA busy_timeout = 50")
    blocker = sqlite3.connect(str(db_path), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        rig.press(1)
        assert len(rig.errors) == 1 and isinstance(rig.errors[0], StoreError)
        assert "database is locked" in str(rig.errors[0])
        eventually(lambda: len(rig.status.states) >= 6, what="status LED fast blink")
        assert states(rig.led(1)) == [False]  # never thanked
        assert rig.taps == []
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert rig.rows() == []
    rig.clock.advance(1)
    rig.press(1)  # the store works again
    assert rig.rows() == [(1, "button", 0)]
    eventually(lambda: states(rig.led(1)) == blinked(1), what="LED after recovery")
    assert rig.status.state is True
    settled = len(rig.status.states)
    time.sleep(0.3)
    assert len(rig.status.states) == settled and rig.status.state is True  # steady again, not blinking


def test_a_survey_with_another_scale_is_refused_not_misrecorded(
    factory: MockFactory, store: DeviceStore, clock: FakeClock
) -> None:
    five = panel_config(buttons=[*BUTTONS, 26], leds=None)
    rig = Rig(factory, store, clock, config=five)  # the survey is the 4-point default
    try:
        rig.press(2)
        assert rig.rows() == []
        assert len(rig.errors) == 1 and isinstance(rig.errors[0], ValueError)
        assert "4-point scale but this panel has 5 buttons" in str(rig.errors[0])
        eventually(lambda: len(rig.status.states) >= 4, what="status LED error blink")
    finally:
        rig.panel.close()


def test_a_failing_on_tap_callback_does_not_lose_the_tap(
    factory: MockFactory, store: DeviceStore, clock: FakeClock
) -> None:
    rig = Rig(factory, store, clock)

    def broken(_tap: Tap) -> None:
        raise RuntimeError("UI went away")

    rig.panel.on_tap = broken
    try:
        rig.press(1)
        rig.clock.advance(0.5)
        rig.press(2)
        assert rig.rows() == [(1, "button", 0), (2, "button", 0)]
        eventually(lambda: states(rig.led(2)) == blinked(1), what="LED despite the callback")
    finally:
        rig.panel.close()


# --- manager combination ---------------------------------------------------------------


def hold_combination(rig: Rig, seconds: float, bounce: bool = False) -> None:
    rig.button(BOTTOM).drive_low()
    if bounce:
        rig.clock.advance(0.001)
        rig.button(BOTTOM).drive_high()
        rig.clock.advance(0.001)
        rig.button(BOTTOM).drive_low()
    rig.clock.advance(0.15)  # the second finger is a little late
    rig.panel.poll()
    rig.button(TOP).drive_low()
    rig.clock.advance(seconds)
    rig.panel.poll()


def release_combination(rig: Rig) -> None:
    rig.button(TOP).drive_high()
    rig.clock.advance(0.3)
    rig.button(BOTTOM).drive_high()
    rig.clock.advance(0.3)
    rig.panel.poll()


def test_holding_the_combination_opens_the_manager_and_records_nothing(rig: Rig) -> None:
    hold_combination(rig, 1.9)
    assert rig.manager_calls == 0
    rig.clock.advance(0.1)
    rig.panel.poll()
    assert rig.manager_calls == 1
    rig.clock.advance(5)
    rig.panel.poll()
    assert rig.manager_calls == 1  # once per hold
    release_combination(rig)
    assert rig.rows() == []
    assert all(states(rig.led(i)) == [False] for i in range(4))  # the app shows the manager view, not LEDs
    hold_combination(rig, 2.0, bounce=True)  # a new hold opens it again
    release_combination(rig)
    assert rig.manager_calls == 2
    assert rig.rows() == []


def test_a_brief_press_of_both_combination_buttons_records_nothing(rig: Rig) -> None:
    hold_combination(rig, 0.4)
    release_combination(rig)
    assert (rig.rows(), rig.manager_calls) == ([], 0)
    rig.clock.advance(1)
    rig.press(TOP)  # and the buttons work normally afterwards
    assert rig.rows() == [(3, "button", 0)]


def test_the_ticker_fires_the_manager_in_real_time(factory: MockFactory, store: DeviceStore) -> None:
    """Production wiring: monotonic clock and the panel's own ticker thread, no poll() from the test."""
    called = threading.Event()
    panel = SmileyPanel(panel_config(manager_hold_s=1.0), Recorder(store, survey), on_manager=called.set)
    try:
        started = time.monotonic()
        factory.pin(BUTTONS[BOTTOM]).drive_low()
        factory.pin(BUTTONS[TOP]).drive_low()
        assert called.wait(5), "on_manager was not called"
        assert time.monotonic() - started >= 1.0
        factory.pin(BUTTONS[TOP]).drive_high()
        factory.pin(BUTTONS[BOTTOM]).drive_high()
        time.sleep(0.2)  # several ticks after the releases settled
        assert rows(store.path) == []
        factory.pin(BUTTONS[TOP]).drive_low()  # a normal press of a combination button, recorded by the ticker
        factory.pin(BUTTONS[TOP]).drive_high()
        eventually(lambda: rows(store.path) == [(3, "button", 0)], what="the ticker recording the release")
    finally:
        panel.close()


@pytest.mark.parametrize(
    ("values", "band", "lit"),
    [
        ([3, 3, 2], "green", [TOP]),  # Happy Index 88.9
        ([3, 1, 2], "amber", [1, 2]),  # 66.7: both middle faces of four
        ([0, 1], "red", [BOTTOM]),  # 16.7
        ([], "none", [0, 1, 2, 3]),
    ],
)
def test_without_a_screen_the_combination_blinks_todays_band(
    factory: MockFactory, store: DeviceStore, clock: FakeClock, values: list[int], band: str, lit: list[int]
) -> None:
    for v in values:
        store.record(v, "default", 4)
        store.record(0, "aaa-other", 4)  # another question, sorted first, all red: not the one shown
    rig = Rig(factory, store, clock, on_manager=None)
    try:
        assert rig.panel.today_band() == band
        hold_combination(rig, 2.0)
        release_combination(rig)
        times = 1 if band == "none" else 3
        for i in range(4):
            expected = blinked(times) if i in lit else [False]
            eventually(lambda i=i, e=expected: states(rig.led(i)) == e, what=f"LED {i} showing {band}")
        assert len(rig.rows()) == 2 * len(values)  # the gesture itself recorded nothing
    finally:
        rig.panel.close()


def test_the_band_falls_back_to_another_question_answered_today(rig: Rig, store: DeviceStore) -> None:
    """After a survey change the current question may have no answers yet; yesterday's question did today."""
    for v in (0, 0, 1):
        store.record(v, "old-question", 4)
    assert rig.panel.today_band() == "red"
    store.record(3, "default", 4)
    assert rig.panel.today_band() == "green"


def test_without_button_leds_the_status_led_blinks_the_band(
    factory: MockFactory, store: DeviceStore, clock: FakeClock
) -> None:
    for v in (3, 3, 3):
        store.record(v, "default", 4)
    rig = Rig(factory, store, clock, on_manager=None, config=panel_config(leds=None))
    try:
        hold_combination(rig, 2.0)
        # steady on, off for the pattern, 3 blinks (green), steady on again
        eventually(lambda: states(rig.status) == [False, True] + [False, True] * 3 + [False, True], what="pattern")
        time.sleep(0.2)
        assert rig.status.state is True and len(rig.status.states) == 10
    finally:
        rig.panel.close()


def test_band_leds_for_five_buttons() -> None:
    assert band_leds("green", 5) == [4]
    assert band_leds("amber", 5) == [2]
    assert band_leds("red", 5) == [0]
    assert band_leds("none", 5) == [0, 1, 2, 3, 4]


# --- configuration and lifecycle ---------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"buttons": []}, "panel.buttons: is empty"),
        ({"manager_combo": [0, 4]}, "manager_combo: button index 4 does not exist on a 4-button panel"),
        ({"manager_combo": [0, -5]}, "manager_combo: button index -5"),
        ({"manager_combo": [3, -1]}, "manager_combo: names the same button twice"),
    ],
)
def test_unusable_panel_configs_are_refused(
    factory: MockFactory, store: DeviceStore, overrides: dict[str, Any], message: str
) -> None:
    """Bad combinations are caught by the config model itself, so `touchpoint-agent check` sees them too."""
    with pytest.raises(ValueError, match=message):
        SmileyPanel(panel_config(leds=None, **overrides), Recorder(store, survey), tick_s=None)


def test_a_single_button_combination_records_short_presses_and_not_the_hold(
    factory: MockFactory, store: DeviceStore, clock: FakeClock
) -> None:
    rig = Rig(factory, store, clock, config=panel_config(manager_combo=[1]))
    try:
        rig.press(1)
        assert rig.rows() == [(1, "button", 0)]
        rig.clock.advance(1)
        rig.button(1).drive_low()
        rig.clock.advance(2.0)
        rig.panel.poll()
        assert rig.manager_calls == 1
        rig.button(1).drive_high()
        rig.clock.advance(0.1)
        rig.panel.poll()
        assert rig.rows() == [(1, "button", 0)]
    finally:
        rig.panel.close()


def test_close_releases_the_pins_and_ignores_later_presses(
    factory: MockFactory, store: DeviceStore, clock: FakeClock
) -> None:
    rig = Rig(factory, store, clock)
    rig.panel.close()
    rig.panel.close()  # idempotent
    rig.button(1).drive_low()
    rig.button(1).drive_high()
    assert rig.rows() == []
    again = Rig(factory, store, clock)  # the same pins can be claimed again
    try:
        again.press(1)
        assert again.rows() == [(1, "button", 0)]
    finally:
        again.panel.close()


def test_with_the_default_pin_factory_from_the_environment(
    factory: MockFactory, store: DeviceStore, clock: FakeClock
) -> None:
    """No pin_factory argument: gpiozero's Device.pin_factory (GPIOZERO_PIN_FACTORY) is used."""
    panel = SmileyPanel(panel_config(), Recorder(store, survey), clock=clock, tick_s=None)
    try:
        factory.pin(BUTTONS[2]).drive_low()
        factory.pin(BUTTONS[2]).drive_high()
        assert rows(store.path) == [(2, "button", 0)]
    finally:
        panel.close()


def test_the_panel_module_does_not_import_kivy() -> None:
    import ast

    import kiosk.panel

    tree = ast.parse(Path(kiosk.panel.__file__).read_text())
    imported = {
        (n.module or "") if isinstance(n, ast.ImportFrom) else a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    }
    assert not any(name.split(".")[0] == "kivy" or name.startswith("kiosk.app") for name in imported)


def test_a_new_press_before_the_poll_does_not_swallow_the_previous_one(rig: Rig) -> None:
    """A combination button released and settled, pressed again before the ticker looked: two answers."""
    rig.button(TOP).drive_low()
    rig.clock.advance(0.1)
    rig.button(TOP).drive_high()
    rig.clock.advance(0.06)  # settled, but no poll yet
    rig.button(TOP).drive_low()
    assert rig.rows() == [(3, "button", 0)]
    rig.clock.advance(0.1)
    rig.button(TOP).drive_high()
    rig.clock.advance(0.06)
    rig.panel.poll()
    assert rig.rows() == [(3, "button", 0), (3, "button", 0)]
