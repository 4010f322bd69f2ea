"""A private X server for running the kiosk without a screen (tests, benchmarks, CI).

Kivy needs a real window to lay out and draw; on a machine without a display
we start ``Xvfb`` on a display number of its choosing and stop it again afterwards. Kept
free of Kivy imports so it can run before Kivy reads its environment.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.xscreen import XConnection


def kivy_test_env(home: str | None = None) -> str:
    """Set the variables Kivy reads at import (no argv parsing, a throwaway home, quiet logs); returns KIVY_HOME."""
    home = home or tempfile.mkdtemp(prefix="kivy-home-")
    os.environ["KIVY_NO_ARGS"] = "1"
    os.environ["KIVY_HOME"] = home
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    return home


@dataclass
class XServer:
    """An Xvfb we started (``process`` set) or one that was already there (``process`` None).

    ``connection`` is held while it runs, as xinit holds one on the Pi: otherwise
    the server resets whenever its last client leaves, and refuses whoever
    connects during the reset (one ``xset`` after another, say).
    """

    display: str
    process: subprocess.Popen[bytes] | None = None
    connection: XConnection | None = None

    def stop(self) -> None:
        if self.connection is not None:
            self.connection.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_xvfb(
    width: int = 1280, height: int = 800, timeout_s: float = 30.0, args: Sequence[str] = ("-nolisten", "tcp")
) -> XServer:
    """Start ``Xvfb -screen 0 WxHx24 ARGS`` on a display number it picks itself, once it accepts clients.

    ``-displayfd``: Xvfb writes the number it bound once it is ready, so two
    test runs never race for the same display and nobody polls for a socket.
    """
    binary = shutil.which("Xvfb")
    if binary is None:
        raise RuntimeError("Xvfb is not installed: apt-get install xvfb xauth")
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen(
            [binary, "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24", *args],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        ready, _, _ = select.select([pipe], [], [], timeout_s)
        number = pipe.readline().strip() if ready else b""
    if number.isdigit():
        display = f":{number.decode()}"
        server = XServer(display, process, XConnection(display))
        if server.connection:
            return server
    else:
        server = XServer("", process)
    server.stop()
    raise RuntimeError(f"Xvfb did not start within {timeout_s:.0f} s")


def ensure_display(width: int = 1280, height: int = 800) -> XServer:
    """Use ``$DISPLAY`` if set, else start our own Xvfb and point ``DISPLAY`` at it (call before Kivy's Window)."""
    existing = os.environ.get("DISPLAY")
    if existing:
        return XServer(existing)
    server = start_xvfb(width, height)
    os.environ["DISPLAY"] = server.display
    return server
