"""The X screen's size, asked of the X server itself through libX11 (ctypes, no extra package).

The kiosk needs it because, on the Pi's bare X server with no window manager,
SDL >= 2.26 cannot make a window fullscreen: it only asks a window manager
(``_NET_WM_STATE_FULLSCREEN``) and nobody answers. Read after the session's
``xrandr -o``, the size is already the rotated one. Kept free of Kivy imports.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from functools import lru_cache

log = logging.getLogger("touchpoint.kiosk")


@lru_cache(maxsize=1)
def _libx11() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("X11") or "libX11.so.6"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    lib.XOpenDisplay.restype = ctypes.c_void_p
    lib.XDefaultScreen.argtypes = [ctypes.c_void_p]
    lib.XDefaultScreen.restype = ctypes.c_int
    for getter in (lib.XDisplayWidth, lib.XDisplayHeight):
        getter.argtypes = [ctypes.c_void_p, ctypes.c_int]
        getter.restype = ctypes.c_int
    lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    lib.XCloseDisplay.restype = ctypes.c_int
    return lib


class XConnection:
    """An open connection to an X server (``handle`` is libX11's ``Display *``); falsy when it could not open.

    Also what xinit keeps for its whole session: an X server resets when its
    last client leaves, and a client connecting during the reset is refused.
    """

    def __init__(self, display: str) -> None:
        lib = _libx11()
        if lib is None:
            log.warning("libX11 not found: cannot connect to the X display %s", display)
        self._lib = lib
        self.handle: int | None = lib.XOpenDisplay(display.encode()) if lib is not None and display else None

    def __bool__(self) -> bool:
        return bool(self.handle)

    def screen_size(self) -> tuple[int, int] | None:
        if self._lib is None or not self.handle:
            return None
        screen = self._lib.XDefaultScreen(self.handle)
        size = (int(self._lib.XDisplayWidth(self.handle, screen)), int(self._lib.XDisplayHeight(self.handle, screen)))
        return size if size[0] > 0 and size[1] > 0 else None

    def close(self) -> None:
        if self._lib is not None and self.handle:
            self._lib.XCloseDisplay(self.handle)
        self.handle = None


def x_screen_size(display: str | None = None) -> tuple[int, int] | None:
    """(width, height) of the default screen of ``display`` (default ``$DISPLAY``); None if there is no X."""
    connection = XConnection(display if display is not None else os.environ.get("DISPLAY", ""))
    try:
        return connection.screen_size()
    finally:
        connection.close()
