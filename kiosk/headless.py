"""A private X server for running the kiosk without a screen (tests, benchmarks, CI).

Kivy needs a real window to lay out and draw; on a machine without a display
we start ``Xvfb`` on a free display number and stop it again afterwards. Kept
free of Kivy imports so it can run before Kivy reads its environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

X_SOCKET_DIR = Path("/tmp/.X11-unix")


def kivy_test_env(home: str | None = None) -> str:
    """Set the variables Kivy reads at import (no argv parsing, a throwaway home, quiet logs); returns KIVY_HOME."""
    home = home or tempfile.mkdtemp(prefix="kivy-home-")
    os.environ["KIVY_NO_ARGS"] = "1"
    os.environ["KIVY_HOME"] = home
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    return home


def _free_display(start: int = 90) -> int:
    for number in range(start, start + 200):
        if not Path(f"/tmp/.X{number}-lock").exists() and not (X_SOCKET_DIR / f"X{number}").exists():
            return number
    raise RuntimeError(f"no free X display number between :{start} and :{start + 199}")


@dataclass
class XServer:
    """An Xvfb we started (``process`` set) or one that was already there (``process`` None)."""

    display: str
    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_xvfb(width: int = 1280, height: int = 800, timeout_s: float = 10.0) -> XServer:
    """Start ``Xvfb :N -screen 0 WxHx24`` on a free display and wait until it accepts clients."""
    binary = shutil.which("Xvfb")
    if binary is None:
        raise RuntimeError("Xvfb is not installed: apt-get install xvfb xauth")
    for _ in range(5):  # another process may grab the same number between our check and Xvfb's start
        number = _free_display()
        process = subprocess.Popen(
            [binary, f":{number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        socket = X_SOCKET_DIR / f"X{number}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and process.poll() is None and not socket.exists():
            time.sleep(0.02)
        if process.poll() is None and socket.exists():
            return XServer(f":{number}", process)
        if process.poll() is None:
            process.kill()
        process.wait()
    raise RuntimeError("Xvfb did not start")


def ensure_display(width: int = 1280, height: int = 800) -> XServer:
    """Use ``$DISPLAY`` if set, else start our own Xvfb and point ``DISPLAY`` at it (call before Kivy's Window)."""
    existing = os.environ.get("DISPLAY")
    if existing:
        return XServer(existing)
    server = start_xvfb(width, height)
    os.environ["DISPLAY"] = server.display
    return server
