"""Kivy settings that must be in place before its window exists: the window's geometry and one touch provider.

Geometry: the Pi boots a bare X server with no window manager. SDL >= 2.26
(Kivy 2.3.1's wheels bundle SDL 2.30) makes a window fullscreen only by asking
a window manager, so ``fullscreen=auto`` there leaves Kivy's default 800x600
window centred, half off an 800x480 screen, and taps miss what is drawn. So
under X the kiosk asks the X server for its screen size (after the session's
``xrandr -o``, so already rotated) and opens a borderless window of exactly
that size at 0,0: no window manager, no extra package, the same result on
every screen. Without X (SDL's kmsdrm or offscreen drivers) SDL itself knows
the display, and ``fullscreen=auto`` is kept.

Touch: under X a touchscreen arrives as X pointer events, which Kivy's
``mouse`` provider turns into touches. Kivy's default Linux config also reads
/dev/input directly (``%(name)s = probesysfs``: hidinput or mtdev), so every
finger would land twice (kivy#3801). Only ``mouse`` is kept. (Kivy's SDL2 window
always adds its own SDL provider too, but feeds it only on Android and iOS.)
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from edge_agent.config import KioskConfig
from kiosk.xscreen import x_screen_size

log = logging.getLogger("touchpoint.kiosk")

DEFAULT_WINDOW = (800, 480)
TOUCH_PROVIDER = "mouse"
# A right click must not leave Kivy's red multitouch-simulation dots on a shop screen.
TOUCH_PROVIDER_ARGS = "mouse,disable_multitouch"


@dataclass(frozen=True)
class WindowPlan:
    """Kivy ``[graphics]`` options for the window, and a line for the log saying what was chosen."""

    graphics: dict[str, str]
    description: str


def plan_window(kiosk: KioskConfig, windowed: bool, screen: tuple[int, int] | None) -> WindowPlan:
    """The window for ``kiosk``: a desktop window, the X ``screen`` exactly, or SDL's fullscreen without X."""
    if windowed or not kiosk.fullscreen:
        width, height = kiosk.window_size or DEFAULT_WINDOW
        options = {"fullscreen": "0", "borderless": "0", "position": "auto"}
        return WindowPlan({**options, "width": str(width), "height": str(height)}, f"windowed {width}x{height}")
    if screen is not None:
        width, height = screen
        options = {"fullscreen": "0", "borderless": "1", "position": "custom", "left": "0", "top": "0"}
        return WindowPlan(
            {**options, "width": str(width), "height": str(height)},
            f"borderless {width}x{height} at 0,0, the size of the X screen",
        )
    return WindowPlan({"fullscreen": "auto", "borderless": "1"}, "fullscreen=auto (no X screen: SDL sizes it)")


def sdl_x_screen() -> tuple[int, int] | None:
    """The X screen SDL will open its window on, or None when SDL is told to use another video driver."""
    if os.environ.get("SDL_VIDEODRIVER", "x11") != "x11":
        return None
    return x_screen_size()


def keep_one_touch_provider(config: Any) -> None:
    """Drop every ``[input]`` provider but ``mouse`` from Kivy's ``config`` (in memory; config.ini is untouched)."""
    for name in config.options("input"):
        if name != TOUCH_PROVIDER:
            config.remove_option("input", name)
    config.set("input", TOUCH_PROVIDER, TOUCH_PROVIDER_ARGS)


def configure_kivy(kiosk: KioskConfig, windowed: bool, config: Any = None) -> WindowPlan:
    """Apply the kiosk's settings to Kivy's ``config`` (default: Kivy's global Config) before the window exists."""
    if config is None:
        from kivy.config import Config

        config = Config
    config.set("kivy", "exit_on_escape", "0")
    config.set("graphics", "show_cursor", "1" if windowed else "0")
    keep_one_touch_provider(config)
    fullscreen = kiosk.fullscreen and not windowed
    plan = plan_window(kiosk, windowed, sdl_x_screen() if fullscreen else None)
    for key, value in plan.graphics.items():
        config.set("graphics", key, value)
    log.info("kiosk window: %s; touch input: Kivy's %s provider only", plan.description, TOUCH_PROVIDER)
    return plan
