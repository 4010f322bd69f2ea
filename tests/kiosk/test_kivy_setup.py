"""Kivy's settings before the window exists: geometry from the real X screen, and a single touch provider.

Applied to a copy of Kivy's own default config, so the Kivy UI tests in the
same process keep theirs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kivy import kivy_config_fn
from kivy.config import ConfigParser

from edge_agent.config import KioskConfig
from kiosk.headless import XServer, start_xvfb
from kiosk.kivy_setup import configure_kivy, plan_window
from kiosk.xscreen import x_screen_size


@pytest.fixture(scope="module")
def odd_screen() -> Iterator[XServer]:
    """An X screen of a size nobody defaults to, so a right answer cannot be a coincidence."""
    server = start_xvfb(1024, 600)
    yield server
    server.stop()


def kivy_defaults() -> ConfigParser:
    """Kivy's default config for this platform, as Kivy wrote it to KIVY_HOME on first import.

    Read from the file: Kivy's test base class empties the global Config's [input] section.
    """
    config = ConfigParser(name="")
    config.read(kivy_config_fn)
    assert config.has_section("graphics") and config.has_section("input"), kivy_config_fn
    return config


def test_the_x_screen_size_comes_from_the_x_server(odd_screen: XServer) -> None:
    assert x_screen_size(odd_screen.display) == (1024, 600)
    assert x_screen_size(":65000") is None  # no such server
    assert x_screen_size("") is None


def test_fullscreen_under_x_is_a_borderless_window_covering_the_screen_at_0_0(
    odd_screen: XServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", odd_screen.display)
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    config = kivy_defaults()
    plan = configure_kivy(KioskConfig(), windowed=False, config=config)
    graphics = dict(config.items("graphics"))
    wanted = {"fullscreen": "0", "borderless": "1", "position": "custom", "left": "0", "top": "0"}
    assert {key: graphics[key] for key in wanted} == wanted
    assert (graphics["width"], graphics["height"]) == ("1024", "600")
    assert graphics["show_cursor"] == "0"
    assert "1024x600 at 0,0" in plan.description


def test_without_x_sdl_sizes_a_fullscreen_window(odd_screen: XServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", odd_screen.display)
    monkeypatch.setenv("SDL_VIDEODRIVER", "kmsdrm")  # a Pi without X: SDL knows the display itself
    config = kivy_defaults()
    configure_kivy(KioskConfig(), windowed=False, config=config)
    assert (config.get("graphics", "fullscreen"), config.get("graphics", "borderless")) == ("auto", "1")
    monkeypatch.delenv("SDL_VIDEODRIVER")
    monkeypatch.delenv("DISPLAY")
    assert plan_window(KioskConfig(), False, None).graphics == {"fullscreen": "auto", "borderless": "1"}


def test_a_desktop_trial_gets_a_normal_window_whatever_the_screen() -> None:
    for kiosk, windowed in ((KioskConfig(), True), (KioskConfig(fullscreen=False, window_size=(1280, 800)), False)):
        graphics = plan_window(kiosk, windowed, (1920, 1080)).graphics
        assert graphics["fullscreen"] == graphics["borderless"] == "0"
        assert graphics["position"] == "auto"
    assert plan_window(KioskConfig(), True, None).graphics["width"] == "800"
    assert plan_window(KioskConfig(window_size=(1280, 800)), True, None).graphics["height"] == "800"


def test_only_the_mouse_provider_turns_input_into_touches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under X the touchscreen is the X pointer; Kivy's Linux default also reads /dev/input: double taps."""
    monkeypatch.delenv("DISPLAY", raising=False)
    config = kivy_defaults()
    assert config.get("input", "%(name)s").startswith("probesysfs")  # what Kivy adds on Linux
    config.set("input", "mtdev_touch", "mtdev,/dev/input/event3")  # and what an installer might add
    configure_kivy(KioskConfig(), windowed=False, config=config)
    assert config.items("input") == [("mouse", "mouse,disable_multitouch")]
    assert config.get("kivy", "exit_on_escape") == "0"
